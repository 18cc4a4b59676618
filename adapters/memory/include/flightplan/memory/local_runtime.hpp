#pragma once
// An in-process runtime: memory store, timers, activity execution and a clock, wired to the engine.
// It is a discrete-event simulation: everything that will happen (a timer, an activity's reply, a
// signal an activity sends later) sits on one agenda ordered by (due time, sequence); run() takes
// the earliest item, moves the clock to its time and applies it. With the manual clock this is
// virtual time — a one-hour `wait` costs nothing — and, given a fault-injection seed, a run is
// exactly reproducible.
#include "flightplan/activities/activity.hpp"
#include "flightplan/activities/delivered_signals.hpp"
#include "flightplan/activities/fault_injection.hpp"
#include "flightplan/engine/definition.hpp"
#include "flightplan/engine/machine.hpp"
#include "flightplan/engine/replay.hpp"
#include "flightplan/engine/state.hpp"
#include "flightplan/runtime/clock.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace flightplan::memory {

using runtime::Clock;

struct RuntimeLimits {
  std::int64_t steps_max = 1'000'000;                      // agenda items processed by one run()
  std::int64_t virtual_span_ms_max = 366LL * 24 * 3600 * 1000;  // run() stops past this much time
};

// One workflow as the memory store keeps it.
struct WorkflowRecord {
  engine::DefinitionPtr definition;
  engine::WorkflowState state;
  std::vector<engine::Event> events;
  engine::History history() const;
};

class LocalRuntime final : public activities::ActivityHost {
 public:
  LocalRuntime(activities::ActivityRegistry& registry, activities::FaultInjector faults, Clock& clock,
               RuntimeLimits limits = {});

  // Starts a workflow. Throws OperationError(conflict) if the id exists.
  void start(engine::DefinitionPtr definition, const std::string& workflow_id, nlohmann::json input);
  void signal(const std::string& workflow_id, const std::string& name, nlohmann::json payload);
  void cancel(const std::string& workflow_id, const std::string& reason);

  // Processes the agenda until it is empty, every workflow is final, or a limit is reached.
  // Returns false when a limit stopped it.
  bool run();
  // Processes agenda items due up to now + delta_ms (manual clock: moves time forward exactly).
  void run_for(std::int64_t delta_ms);

  const WorkflowRecord& workflow(const std::string& workflow_id) const;
  bool contains(const std::string& workflow_id) const { return workflows_.count(workflow_id) != 0; }

  // Puts a signal an activity's result carries on the agenda, `delay_ms` from now.
  void send_signal(const std::string& workflow_id, const std::string& signal, nlohmann::json payload,
                   std::int64_t delay_ms);

 private:
  struct ActivityRun {
    std::string workflow_id;
    engine::Command command;
    bool hang = false;
    bool fail = false;
  };
  struct AgendaItem {
    enum class Kind { input, activity } kind = Kind::input;
    std::string workflow_id;
    engine::Input input;
    ActivityRun activity;
  };

  void apply(const std::string& workflow_id, const engine::Input& input);
  void execute_commands(const std::string& workflow_id, const std::vector<engine::Command>& commands);
  void schedule(std::int64_t due_ms, AgendaItem item);
  void run_activity(const ActivityRun& run);
  bool step();
  bool all_final() const;

  activities::ActivityRegistry& registry_;
  activities::FaultInjector faults_;
  Clock& clock_;
  RuntimeLimits limits_;
  std::map<std::string, WorkflowRecord> workflows_;
  std::map<std::pair<std::int64_t, std::int64_t>, AgendaItem> agenda_;  // (due, seq) -> item
  std::int64_t agenda_seq_ = 0;
  // (workflow, timer) -> its agenda key, so a cancelled timer leaves the agenda.
  std::map<std::pair<std::string, std::int64_t>, std::pair<std::int64_t, std::int64_t>> timer_slots_;
  std::set<std::tuple<std::string, std::int64_t, int>> cancelled_attempts_;
  activities::DeliveredSignals delivered_signals_;
};

}  // namespace flightplan::memory

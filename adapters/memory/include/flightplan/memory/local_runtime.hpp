#pragma once
// The production runtime (engine/runtime: Orchestrator, WorkerPool, Supervisor) wired to the memory
// store and driven step by step on one thread: `flightplan run`, the workflow tests and the
// benchmarks use it. Nothing here decides anything about a workflow; it only says who runs next:
// the orchestrator until no input waits, then the workers, then the supervisor, and when nothing can
// move at the current time, the clock jumps to the next due time (a timer, a delayed signal, an
// activity's injected latency). With a manual clock this is virtual time — a one-hour `wait` costs
// nothing — and, given a fault-injection seed, a run is exactly reproducible.
#include "flightplan/activities/activity.hpp"
#include "flightplan/activities/fault_injection.hpp"
#include "flightplan/engine/definition.hpp"
#include "flightplan/engine/machine.hpp"
#include "flightplan/engine/replay.hpp"
#include "flightplan/engine/state.hpp"
#include "flightplan/memory/memory_store.hpp"
#include "flightplan/runtime/clock.hpp"
#include "flightplan/runtime/definitions.hpp"
#include "flightplan/runtime/orchestrator.hpp"
#include "flightplan/runtime/supervisor.hpp"
#include "flightplan/runtime/worker_pool.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace flightplan::memory {

using runtime::Clock;

struct RuntimeLimits {
  std::int64_t steps_max = 1'000'000;                           // scheduling rounds of one run()
  std::int64_t virtual_span_ms_max = 366LL * 24 * 3600 * 1000;  // run() stops past this much time
  // Wall-clock time the expressions of one step may take (OrchestratorSettings). 0: none. Replay
  // tests set 0 so that their histories do not depend on the machine's speed (the memory budget,
  // which is deterministic, still holds).
  std::int64_t expression_time_budget_ms = 250;
};

// One workflow as the store keeps it.
struct WorkflowRecord {
  engine::DefinitionPtr definition;
  engine::WorkflowState state;
  std::vector<engine::Event> events;
  engine::History history() const;
};

class LocalRuntime {
 public:
  // `registry` (with its services' state) and `clock` must outlive the runtime.
  LocalRuntime(activities::ActivityRegistry& registry, activities::FaultInjector faults, Clock& clock,
               RuntimeLimits limits = {});
  ~LocalRuntime();

  // Starts a workflow: its first step is applied (as the API does); run() takes it further. Throws
  // OperationError(conflict) if the id exists with another definition or input.
  void start(engine::DefinitionPtr definition, const std::string& workflow_id, nlohmann::json input);
  // Delivers a signal or a cancellation now, as the API would (through the store's input queue),
  // and applies it; run() takes the workflow further.
  void signal(const std::string& workflow_id, const std::string& name, nlohmann::json payload);
  void cancel(const std::string& workflow_id, const std::string& reason);

  // Runs until every workflow started here is final, or nothing more can happen, or a limit is
  // reached. Returns false when a limit stopped it.
  bool run();
  // Runs everything due up to now + delta_ms (manual clock: moves time forward exactly).
  void run_for(std::int64_t delta_ms);

  // The stored workflow (reloaded: valid until the next call that runs anything).
  const WorkflowRecord& workflow(const std::string& workflow_id) const;
  bool contains(const std::string& workflow_id) const;

  engine::WorkflowStore& store() { return store_; }

 private:
  // Applies the inputs waiting for the orchestrator, nothing else.
  void apply_inputs();
  // Runs everything that can run at the current time; returns whether anything happened.
  bool settle();
  // The earliest time something is due: a timer, a delayed input, a task's injected latency.
  std::optional<std::int64_t> next_due_ms() const;
  // Moves the clock to `due_ms`, keeping the leases of tasks in progress alive on the way.
  void advance_to(std::int64_t due_ms);
  bool all_final() const;

  activities::ActivityRegistry& registry_;
  Clock& clock_;
  RuntimeLimits limits_;
  MemoryStore store_;
  runtime::DefinitionRegistry definitions_;
  std::unique_ptr<runtime::Orchestrator> orchestrator_;
  std::unique_ptr<runtime::WorkerPool> workers_;
  std::unique_ptr<runtime::Supervisor> supervisor_;
  std::vector<std::string> queues_;
  std::vector<runtime::TaskRun> in_progress_;  // begun, acting at their act_at_ms
  std::vector<std::string> started_;           // workflows started here
  mutable std::map<std::string, WorkflowRecord> records_;
};

}  // namespace flightplan::memory

#pragma once
// The simulator's fault injection into the "disk": decorators of the workflow store and of the
// services' store that one simulated process uses. Every call may, as the seed decides,
//   fail before doing anything (OperationError unavailable / ServiceStoreUnavailable),
//   succeed but lose its reply (the call happened, the caller sees the same error),
//   crash the process before or after the call (SimulatedCrash, which is NOT a std::exception, so no
//   runtime code can catch it: it unwinds to the scheduler, which destroys the process),
// and a commit may report a conflict without writing (a racing orchestrator, as far as the caller
// can tell). Faults are injected only here, in the simulated parts — never in the runtime's code.
#include "flightplan/activities/service_store.hpp"
#include "flightplan/engine/store.hpp"

#include <cstdint>
#include <functional>
#include <string>

namespace flightplan::simulation {

// Thrown where a simulated process dies. Deliberately not derived from std::exception.
struct SimulatedCrash {
  std::string where;
};

// What a decorated call may suffer; the scheduler owns the probabilities and the random stream.
enum class Fault { none, fail_before, lose_reply, crash_before, crash_after, conflict };

// Decides the fault of one call named `operation` ("commit", "claim_tasks", "drone.commit" ...).
using FaultPicker = std::function<Fault(const char* operation)>;

class FaultyStore final : public engine::WorkflowStore {
 public:
  FaultyStore(engine::WorkflowStore& disk, FaultPicker pick) : disk_(disk), pick_(std::move(pick)) {}

  std::vector<engine::CommitOutcome> commit(const std::vector<engine::Commit>& commits) override;
  std::optional<engine::StoredWorkflow> load(const std::string& workflow_id) override;
  std::vector<std::optional<engine::StoredWorkflow>> load_many(const std::vector<std::string>& ids) override;
  std::vector<engine::Event> history(const std::string& workflow_id, std::int64_t after_seq,
                                     std::size_t limit) override;
  void enqueue_input(const std::string& workflow_id, const engine::Input& input) override;
  std::vector<engine::QueuedInput> claim_inputs(const std::string& consumer, std::size_t limit,
                                                std::int64_t block_ms, std::int64_t visibility_ms) override;
  void ack_inputs(const std::vector<engine::QueuedInput>& inputs) override;
  void release_inputs(const std::vector<engine::QueuedInput>& inputs) override;
  void dead_letter_input(const engine::QueuedInput& input, const std::string& reason,
                         const std::optional<engine::Input>& replacement) override;
  std::vector<engine::ActivityTask> claim_tasks(const std::string& queue, const std::string& consumer,
                                                std::size_t limit, std::int64_t block_ms,
                                                std::int64_t lease_ms) override;
  engine::LeaseState renew_task(const engine::ActivityTask& task, std::int64_t lease_ms) override;
  bool complete_task(const engine::ActivityTask& task, const engine::Input& outcome,
                     const std::vector<engine::DelayedInput>& later) override;
  bool drop_task(const engine::ActivityTask& task) override;
  void release_task(const engine::ActivityTask& task) override;
  bool dead_letter_task(const engine::ActivityTask& task, const std::string& reason,
                        const engine::Input& failure) override;
  std::vector<engine::DeadLetter> list_dead_letters(std::size_t limit) override;
  std::int64_t count_dead_letters() override;
  std::size_t fire_due_timers(std::int64_t now_ms, std::size_t limit) override;
  engine::WorkflowPage list_workflows(const engine::WorkflowQuery& query) override;
  std::map<engine::WorkflowStatus, std::int64_t> count_workflows(const std::string& name) override;
  std::size_t sweep_expired(std::int64_t now_ms, std::size_t limit) override;
  std::map<std::string, std::int64_t> queue_depths() override;
  std::int64_t input_backlog() override;
  std::optional<std::int64_t> earliest_timer_due_ms() override;
  engine::PutDefinitionOutcome put_definition(const engine::StoredDefinition& definition) override;
  std::vector<engine::StoredDefinition> list_definitions() override;

 private:
  // Runs `call` on the disk under the fault the picker chooses for `operation`.
  template <typename Call>
  auto faulty(const char* operation, Call call);

  engine::WorkflowStore& disk_;
  FaultPicker pick_;
};

class FaultyServiceStore final : public activities::ServiceStore {
 public:
  FaultyServiceStore(activities::ServiceStore& disk, FaultPicker pick) : disk_(disk), pick_(std::move(pick)) {}

  std::vector<std::optional<std::string>> get(std::string_view service, const std::vector<std::string>& ids) override;
  std::size_t count(std::string_view service) override;
  std::optional<std::string> recorded(std::string_view service, const std::string& key) override;
  bool commit(std::string_view service, const std::vector<activities::ServiceRead>& reads,
              const std::vector<activities::ServiceWrite>& writes, const std::string& key,
              const std::string& outcome) override;
  std::optional<std::string> fence(std::string_view service, const std::string& key,
                                   const std::string& tombstone) override;
  std::vector<std::pair<std::string, std::string>> scan(std::string_view service, std::string_view prefix,
                                                        std::size_t limit) override;

 private:
  template <typename Call>
  auto faulty(const char* operation, Call call);

  activities::ServiceStore& disk_;
  FaultPicker pick_;
};

}  // namespace flightplan::simulation

#pragma once
// The storage port: what the durable runtime needs from a store. adapters/memory implements it in
// process, adapters/redis on Redis; one contract suite (tests/contract/) runs against both.
//
// The outbox: a commit writes the new state, appends the new events AND applies the step's commands
// (activity tasks enqueued, timers set or removed) in one atomic operation, so a task is never sent
// for a step that was not recorded, nor a step recorded whose task was lost.
#include "flightplan/engine/machine.hpp"
#include "flightplan/engine/state.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace flightplan::engine {

struct StoredWorkflow {
  WorkflowState state;
  std::int64_t version = 0;  // == state.history_length: the optimistic-concurrency token
  std::string start_digest;  // fingerprint of (definition, input) given at creation: idempotent start
};

// One step to commit. The pointers must stay valid during WorkflowStore::commit().
struct Commit {
  std::string workflow_id;
  std::int64_t expected_version = 0;  // history length the step was computed from; 0 creates
  const WorkflowState* state = nullptr;
  const std::vector<Event>* events = nullptr;
  const std::vector<Command>* commands = nullptr;
  std::string start_digest;  // creation only
};

enum class CommitOutcome {
  committed,
  conflict,  // the stored version differs (or, creating, the workflow exists): nothing was written
};

// An activity task as a worker receives it.
struct ActivityTask {
  std::string workflow_id;
  std::int64_t activity_id = 0;
  int attempt = 0;
  std::string activity;  // "drone.schedule"; its queue is the part before the first dot
  std::string idempotency_key;
  nlohmann::json arguments;
  std::string receipt;   // store-specific handle that acknowledges this delivery
  int deliveries = 1;    // > 1: a redelivery after a worker went silent
};

// An input waiting for an orchestrator.
struct QueuedInput {
  std::string workflow_id;
  Input input;
  std::string receipt;
};

// The queue an activity's tasks go to: the part of its name before the first dot.
std::string queue_of(std::string_view activity);

class WorkflowStore {
 public:
  virtual ~WorkflowStore() = default;

  // Commits each step atomically and independently (a conflict on one does not affect the others);
  // implementations send them together. Throws OperationError(unavailable) when the store cannot be
  // reached; then the outcome of each commit is unknown and the caller reloads before retrying.
  virtual std::vector<CommitOutcome> commit(const std::vector<Commit>& commits) = 0;
  virtual std::optional<StoredWorkflow> load(const std::string& workflow_id) = 0;
  // Loads several workflows at once (one round trip where the store can); same order as `ids`.
  virtual std::vector<std::optional<StoredWorkflow>> load_many(const std::vector<std::string>& ids) {
    std::vector<std::optional<StoredWorkflow>> loaded;
    loaded.reserve(ids.size());
    for (const std::string& id : ids) loaded.push_back(load(id));
    return loaded;
  }
  // Events after `after_seq` (0: from the start), at most `limit`.
  virtual std::vector<Event> history(const std::string& workflow_id, std::int64_t after_seq = 0,
                                     std::size_t limit = 1'000'000) = 0;

  // Inputs for orchestrators (signals, cancellations, activity outcomes, fired timers).
  virtual void enqueue_input(const std::string& workflow_id, const Input& input) = 0;
  // Hands out up to `limit` inputs to `consumer`, waiting up to `block_ms` when there are none.
  // Inputs a consumer claimed but did not acknowledge within `visibility_ms` go to another one.
  virtual std::vector<QueuedInput> claim_inputs(const std::string& consumer, std::size_t limit,
                                                std::int64_t block_ms, std::int64_t visibility_ms) = 0;
  virtual void ack_inputs(const std::vector<QueuedInput>& inputs) = 0;

  // Activity tasks, per queue. Same claiming rules as inputs.
  virtual std::vector<ActivityTask> claim_tasks(const std::string& queue, const std::string& consumer,
                                                std::size_t limit, std::int64_t block_ms,
                                                std::int64_t visibility_ms) = 0;
  // Acknowledges the task and enqueues its outcome (completed / failed) as an input, atomically.
  virtual void complete_task(const ActivityTask& task, const Input& outcome) = 0;
  // Acknowledges the task without an outcome: its reply is lost on purpose (fault injection) or
  // nobody needs it (the workflow is gone). The engine's deadlines take it from there.
  virtual void drop_task(const ActivityTask& task) = 0;

  // Turns timers due at `now_ms` into timer_fired inputs, atomically, so that each timer fires once
  // however many supervisors call this. Returns how many fired.
  virtual std::size_t fire_due_timers(std::int64_t now_ms, std::size_t limit) = 0;
};

}  // namespace flightplan::engine

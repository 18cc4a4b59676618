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
#include <map>
#include <optional>
#include <string>
#include <utility>
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

// Visibility: what lists, counts and dashboards read without loading whole states. A store keeps
// one summary per workflow, written by the same atomic commit as its state, and indexes it by start
// time, status and definition name.
struct WorkflowSummary {
  std::string id;
  std::string name;  // definition name
  std::string version;
  WorkflowStatus status = WorkflowStatus::pending;
  bool paused = false;
  std::int64_t started_ms = 0;
  std::int64_t updated_ms = 0;
  std::int64_t closed_ms = 0;  // 0 while open
  std::int64_t history_length = 0;
  nlohmann::json error;  // {"type", "title", "status"} of the workflow's error, null when none

  static WorkflowSummary of(const WorkflowState& state);
  nlohmann::json to_json() const;
  static WorkflowSummary from_json(const nlohmann::json& value);
};

// A search over summaries: every given filter must match. Results are newest start first; ties by id
// descending. `cursor` continues after the last item of a previous page (opaque to callers).
struct WorkflowQuery {
  std::optional<WorkflowStatus> status;
  std::string name;                 // definition name; empty: any
  std::int64_t started_from_ms = 0;  // inclusive lower bound on started_ms; 0: none
  std::int64_t started_to_ms = 0;    // exclusive upper bound; 0: none
  std::string id_prefix;            // empty: any
  std::size_t limit = 50;           // 1..1000
  std::string cursor;               // empty: first page

  // For store implementations. Throws OperationError(invalid_argument) for a limit outside 1..1000
  // or a negative time bound.
  void check() const;
  // Does `summary` pass every filter (the cursor aside)?
  bool matches(const WorkflowSummary& summary) const;
};

// The list cursor both stores use: "<started_ms>-<id in hex>", the position of the last item of a
// page (hex keeps any id safe in a URL query). decode throws OperationError(invalid_argument)
// naming the cursor when it is malformed.
std::string encode_list_cursor(std::int64_t started_ms, const std::string& id);
std::pair<std::int64_t, std::string> decode_list_cursor(const std::string& cursor);

struct WorkflowPage {
  std::vector<WorkflowSummary> workflows;
  std::string next_cursor;  // empty: no more pages
};

// A workflow definition registered at runtime, kept as its YAML text.
struct StoredDefinition {
  std::string name;
  std::string version;
  std::string source;  // the YAML document as submitted
  std::string digest;  // the compiled definition's digest
  std::int64_t created_ms = 0;
};

enum class PutDefinitionOutcome {
  created,
  unchanged,  // the same name and version with the same digest existed: nothing written
  conflict,   // the same name and version with another digest exists: nothing written
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
  // Tells the store the task's worker is still at it (an activity heartbeat): its visibility window
  // starts again, so a long activity is not redelivered to a second worker while it runs.
  virtual void extend_task(const ActivityTask& task) { (void)task; }

  // Turns timers due at `now_ms` into timer_fired inputs, atomically, so that each timer fires once
  // however many supervisors call this. Returns how many fired.
  virtual std::size_t fire_due_timers(std::int64_t now_ms, std::size_t limit) = 0;

  // --- Visibility (lists and counts for the API and dashboard) ---
  // Throws OperationError(invalid_argument) for a malformed cursor or a limit out of range.
  virtual WorkflowPage list_workflows(const WorkflowQuery& query) = 0;
  // Number of stored workflows per status (statuses with none may be left out); `name` non-empty
  // counts that definition's workflows only.
  virtual std::map<WorkflowStatus, std::int64_t> count_workflows(const std::string& name = "") = 0;
  // Drops index entries of workflows whose retention has passed at `now_ms`; returns how many.
  virtual std::size_t sweep_expired(std::int64_t now_ms, std::size_t limit) = 0;

  // --- Operations figures (metrics) ---
  // Tasks waiting or in flight per activity queue (e.g. {"drone": 3}).
  virtual std::map<std::string, std::int64_t> queue_depths() = 0;
  // Inputs waiting for orchestrators.
  virtual std::int64_t input_backlog() = 0;
  // The due time of the earliest timer not yet fired, if any (timer lag = now - this, when positive).
  virtual std::optional<std::int64_t> earliest_timer_due_ms() = 0;

  // --- Definitions registered at runtime ---
  virtual PutDefinitionOutcome put_definition(const StoredDefinition& definition) = 0;
  // Every stored definition, in registration order (the last of a name is its latest).
  virtual std::vector<StoredDefinition> list_definitions() = 0;
};

}  // namespace flightplan::engine

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

// An activity task as a worker receives it. A claimed task is held under a LEASE: the claiming
// consumer owns this delivery until it reports, until its lease runs out (lease_ms without a
// renewal), or until another consumer takes it over. `consumer` and `deliveries` identify the
// delivery and fence every later call: a holder whose lease moved on can no longer renew, report or
// drop the task.
struct ActivityTask {
  std::string workflow_id;
  std::int64_t activity_id = 0;
  int attempt = 0;
  std::string activity;  // "drone.schedule"; its queue is the part before the first dot
  std::string idempotency_key;
  nlohmann::json arguments;
  std::string receipt;   // store-specific handle that acknowledges this delivery
  int deliveries = 1;    // how many times the task was handed out, this time included
  std::string consumer;  // who holds this delivery
  // The engine cancelled this attempt before this delivery: the worker must not act, only fence
  // the attempt (activities::Activity::cancel) and report what that found.
  bool cancelled = false;
  // The engine gave up on this attempt but retries the activity with the same idempotency key: the
  // worker must not act and reports nothing (the retry does the work, or finds it done).
  bool superseded = false;
  // Report the start as soon as the attempt begins, not with its outcome: the call has a
  // schedule-to-start deadline, which only a start that arrives before it can stop.
  bool report_start = false;
};

// An input waiting for an orchestrator.
struct QueuedInput {
  std::string workflow_id;
  Input input;
  std::string receipt;
  int deliveries = 1;  // how many times the input was handed out, this time included
};

// An input to enqueue later, committed with an activity's outcome: the drone's `delivered` signal
// at landing time. `id` is unique and stable (the activity's idempotency key and an index), so
// committing the same one twice schedules it once.
struct DelayedInput {
  std::string id;
  std::string workflow_id;
  Input input;
  std::int64_t due_ms = 0;
};

// Where a claimed task stands when its holder asks.
enum class LeaseState {
  held,       // still this delivery's: the lease was renewed
  lost,       // expired, taken over or finished by another delivery: do not act, do not report
  cancelled,   // still held, but the engine cancelled the attempt: stop, fence, report
  superseded,  // still held, but the engine retries the activity in a new attempt: stop, drop the task
};

// Work that failed too often to be delivered again, kept for operators with the reason.
struct DeadLetter {
  std::string id;           // store-specific, unique; newest sort last
  std::string kind;         // "task" or "input"
  std::string workflow_id;
  std::string reason;
  int deliveries = 0;
  std::int64_t time_ms = 0;
  nlohmann::json entry;     // the task or input as it was queued

  nlohmann::json to_json() const;
  static DeadLetter from_json(const nlohmann::json& value);
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
  // Inputs a consumer claimed but did not acknowledge within `visibility_ms` go to another one;
  // `deliveries` counts the hand-outs, so an orchestrator can set aside an input that keeps failing.
  virtual std::vector<QueuedInput> claim_inputs(const std::string& consumer, std::size_t limit,
                                                std::int64_t block_ms, std::int64_t visibility_ms) = 0;
  virtual void ack_inputs(const std::vector<QueuedInput>& inputs) = 0;

  // Gives claimed inputs back at once (a draining orchestrator): the next claim may take them.
  virtual void release_inputs(const std::vector<QueuedInput>& inputs) = 0;
  // Moves an input that keeps failing to the dead letters, with `reason`, and enqueues
  // `replacement` (if any) in the same atomic step.
  virtual void dead_letter_input(const QueuedInput& input, const std::string& reason,
                                 const std::optional<Input>& replacement) = 0;

  // Activity tasks, per queue. Same claiming rules as inputs; `lease_ms` is the claimed tasks'
  // lease. A task whose attempt the engine cancelled (a cancel_activity command) is still handed
  // out, flagged `cancelled`, so that a worker fences and reports it.
  virtual std::vector<ActivityTask> claim_tasks(const std::string& queue, const std::string& consumer,
                                                std::size_t limit, std::int64_t block_ms,
                                                std::int64_t lease_ms) = 0;
  // If `task`'s delivery still holds its lease (and the lease has not run out), renews it for
  // another `lease_ms` and says whether the attempt was cancelled meanwhile; otherwise `lost`.
  virtual LeaseState renew_task(const ActivityTask& task, std::int64_t lease_ms) = 0;
  // If `task`'s delivery is still the current one: acknowledges it, enqueues its outcome
  // (completed / failed / cancelled) as an input and schedules `later`, atomically; returns true.
  // Otherwise (another delivery took over or already reported) does nothing and returns false.
  virtual bool complete_task(const ActivityTask& task, const Input& outcome,
                             const std::vector<DelayedInput>& later = {}) = 0;
  // As complete_task, without an outcome: the reply is lost on purpose (fault injection). The
  // engine's deadlines take it from there.
  virtual bool drop_task(const ActivityTask& task) = 0;
  // Gives a claimed task back at once (a draining worker that will not run it).
  virtual void release_task(const ActivityTask& task) = 0;
  // If `task`'s delivery is still the current one: acknowledges it, keeps it among the dead letters
  // with `reason`, and enqueues `failure` for its workflow, atomically; returns true.
  virtual bool dead_letter_task(const ActivityTask& task, const std::string& reason, const Input& failure) = 0;
  // The newest dead letters first, at most `limit`; and how many are kept.
  virtual std::vector<DeadLetter> list_dead_letters(std::size_t limit) = 0;
  virtual std::int64_t count_dead_letters() = 0;

  // Turns timers due at `now_ms` into timer_fired inputs, and delayed inputs due then into inputs,
  // atomically, so that each fires once however many supervisors call this. Returns how many.
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

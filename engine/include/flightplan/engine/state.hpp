#pragma once
// The persisted state of one workflow instance. It is always the fold of the workflow's history:
// replaying the recorded inputs through the engine rebuilds it exactly (tests assert this).
// Everything here serialises to JSON and back without loss.
#include "flightplan/engine/error.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flightplan::engine {

enum class WorkflowStatus {
  pending,              // accepted, not yet started by the engine
  running,              // at least one activity in flight or work to do
  waiting,              // only waiting for signals or timers
  compensating,         // running compensations after a fault, timeout or cancellation
  completed,
  faulted,              // ended with an error and nothing to compensate
  compensated,          // ended with an error; every compensation succeeded
  compensation_failed,  // ended with an error; some compensation failed: needs an operator
  cancelled,
  timed_out,
  terminated,           // ended by an operator: nothing compensated, pending work abandoned
};

std::string_view to_string(WorkflowStatus status);
std::optional<WorkflowStatus> parse_workflow_status(std::string_view text);
bool is_final(WorkflowStatus status);

enum class TimerKind {
  wait,               // a `wait` task
  task_timeout,       // a task's `timeout.after`
  workflow_timeout,   // the workflow's `timeout.after`
  try_retry,          // backoff before re-running a `try` block
  activity_retry,     // backoff before the next attempt of an activity
  schedule_to_start,  // activity deadlines
  start_to_close,
  heartbeat,
  schedule_to_close,
  abandoned_wait,     // how long a closing workflow waits for its cancelled attempts to report
};

std::string_view to_string(TimerKind kind);
std::optional<TimerKind> parse_timer_kind(std::string_view text);

// Where a list node's parent is not another node.
inline constexpr std::int64_t root_parent = -1;          // the workflow's top-level `do`
inline constexpr std::int64_t compensation_parent = -2;  // a compensation run by the saga

// One node of the execution tree: either a task list being run in sequence, or a task instance.
// Fields unused by a node's kind keep their default values (and are not serialised).
struct Node {
  enum class Kind { list, task };
  std::int64_t id = 0;
  std::int64_t parent = root_parent;
  Kind kind = Kind::task;
  nlohmann::json vars = nlohmann::json::object();  // jq variables this node introduces

  // List nodes.
  std::string list_ref;     // TaskList::reference
  int index = 0;            // index of the running task
  std::int64_t child = 0;   // id of the running child node, 0 when none

  // Task nodes.
  int task_id = -1;
  nlohmann::json raw_input;
  nlohmann::json input;     // after input.from
  std::int64_t started_ms = 0;
  std::int64_t timeout_timer = 0;
  int attempt = 0;                 // try: attempt of the try block
  std::int64_t first_attempt_ms = 0;
  std::int64_t activity_id = 0;    // call: the activity in flight
  std::int64_t timer_id = 0;       // wait / try_retry timer
  std::string phase;               // try: "try", "retry_wait", "catch"; "input": its input.from failed
  std::vector<std::int64_t> children;  // fork branches (task nodes), 0 once finished
  nlohmann::json results;          // fork outputs / listen consumed events / for items
  int remaining = 0;               // fork: branches still running; listen(all): filters unmatched
  int item_index = 0;              // for: current item
  std::vector<bool> matched;       // listen(all): which filters a signal has matched
  nlohmann::json error;            // try: the caught error while catching
};

struct PendingActivity {
  std::int64_t id = 0;
  std::int64_t node = 0;
  std::string name;
  int attempt = 1;
  nlohmann::json arguments;
  std::string idempotency_key;
  std::int64_t first_scheduled_ms = 0;
  std::int64_t scheduled_ms = 0;
  std::int64_t started_ms = 0;  // 0 until the worker reports it started
  // Deadline timers of the current attempt (0 = none) and the backoff timer between attempts.
  std::int64_t schedule_to_start_timer = 0;
  std::int64_t start_to_close_timer = 0;
  std::int64_t heartbeat_timer = 0;
  std::int64_t schedule_to_close_timer = 0;
  std::int64_t retry_timer = 0;
};

struct Timer {
  std::int64_t id = 0;
  std::int64_t due_ms = 0;
  TimerKind kind = TimerKind::wait;
  std::int64_t node = 0;
  std::int64_t activity_id = 0;
  bool recorded = false;  // a timer_started event was recorded (activity deadlines are not)
};

// A completed task that declared `compensate`, remembered for the saga.
struct CompensationRecord {
  int task_id = -1;
  std::string reference;
  nlohmann::json output;
};

// An activity the engine gave up on while it may have acted (an attempt in flight when it was
// cancelled, one that timed out, a reply lost before a retry), of a task that declares `compensate`.
// A fence task (attempt `attempt`) asks the service whether the idempotency key has an effect; if
// it has, it is undone before the workflow closes. Kept until the fence reports (or the wait runs out).
struct AbandonedAttempt {
  std::int64_t activity_id = 0;
  int attempt = 0;
  int task_id = -1;
  std::string reference;
  nlohmann::json input;  // the task's input and its scope's variables, for its `output.as`
  nlohmann::json vars = nlohmann::json::object();
  // What a fence task needs (activities::Activity::cancel): the activity and its key.
  std::string activity;
  std::string idempotency_key;
  nlohmann::json arguments;
  bool fence_only = true;  // `attempt` is the fence task's (kept in the state format for clarity)
};

struct CompensationState {
  std::string cause;  // "faulted", "timed_out", "cancelled", or "closing" (undoing late results only)
  std::vector<CompensationRecord> remaining;  // newest first
  std::string current_reference;
  CompensationRecord current;  // the compensation running now (task_id -1 when none)
  nlohmann::json failures = nlohmann::json::array();
  std::vector<CompensationRecord> failed;  // the records behind `failures`, same order: what a retry re-runs
  // Waiting for abandoned attempts to report before the first compensation: a late result is the
  // newest effect of all, so it is undone first.
  bool waiting = false;
  int ran = 0;  // compensations started; none (nothing to undo after all) ends with the cause's own status
  // How the workflow ends once the compensations succeeded, when not "compensated": the final
  // event a completed workflow had ready ({"status", "event", "data"}); null otherwise.
  nlohmann::json then;
  std::vector<Node> fault_path;  // for a faulted end with nothing compensated: what a retry re-opens
};

struct WorkflowState {
  std::string id;
  std::string name;
  std::string version;
  std::string digest;
  std::string correlation_id;  // the id of the request that started it (HTTP X-Request-Id), if any
  WorkflowStatus status = WorkflowStatus::pending;
  nlohmann::json input;
  nlohmann::json output;
  nlohmann::json error;  // WorkflowError JSON, null when none
  nlohmann::json context = nlohmann::json::object();
  std::int64_t started_ms = 0;
  std::int64_t updated_ms = 0;
  std::int64_t closed_ms = 0;
  std::int64_t history_length = 0;  // sequence number of the last event
  std::int64_t next_id = 1;         // ids of nodes, activities and timers
  std::int64_t workflow_timer = 0;
  std::map<std::int64_t, Node> nodes;
  std::map<std::int64_t, PendingActivity> activities;
  std::map<std::int64_t, Timer> timers;
  std::vector<CompensationRecord> compensable;  // completion order
  std::optional<CompensationState> compensation;
  std::map<std::int64_t, AbandonedAttempt> abandoned;  // by activity id
  std::vector<CompensationRecord> late_results;        // acts of abandoned attempts, arrival order
  std::int64_t abandoned_timer = 0;                    // the abandoned_wait timer, 0 when none
  std::vector<nlohmann::json> signals;  // received, not yet consumed (bounded)
  std::vector<std::string> recent_input_ids;  // ids of the last signals/cancels/controls (bounded)
  bool paused = false;                        // an operator paused it: inputs are held, not applied
  std::vector<nlohmann::json> held_inputs;    // Input JSON received while paused, in arrival order
  // Kept only while the status is `faulted`: the nodes the fault unwound, the failing task first and
  // the root list last, as they were when the fault reached them. A retry rebuilds the tree from them.
  std::vector<Node> fault_path;

  nlohmann::json to_json() const;
  static WorkflowState from_json(const nlohmann::json& value);
};

}  // namespace flightplan::engine

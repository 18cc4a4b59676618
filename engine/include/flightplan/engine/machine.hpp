#pragma once
// The engine's one entry point: apply(definition, state, input) -> new state + history events +
// commands. Pure and deterministic: time arrives inside the input, ids come from the state, jitter
// from hashes. The caller commits the state, the events and the commands together, atomically.
#include "flightplan/engine/definition.hpp"
#include "flightplan/engine/error.hpp"
#include "flightplan/engine/state.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace flightplan::engine {

// Something that happened to a workflow from outside: the only way its state changes.
struct Input {
  enum class Type {
    start,
    activity_started,
    activity_completed,
    activity_failed,
    activity_heartbeat,
    timer_fired,
    signal,
    cancel,
    // Operator controls (see docs/engine.md). `name` carries the operator's reason.
    terminate,  // ends the workflow at once as `terminated`: no compensation, pending work cancelled
    pause,      // holds every later non-control input (recorded, not applied) until resume
    resume,     // applies the held inputs in arrival order
    retry,      // re-opens a faulted or compensation_failed workflow at the task that failed
    // A worker fenced a cancelled attempt before it acted: it never will (activities::Activity::cancel).
    activity_cancelled,
    // Fails the workflow with `error`: what replaces an input that could not be applied and went to
    // the dead letters (the runtime's poison handling).
    fault,
  };
  Type type = Type::start;
  std::int64_t time_ms = 0;
  std::string workflow_id;   // start
  nlohmann::json payload;    // start: workflow input; completed: result; signal: payload; heartbeat: details
  std::int64_t activity_id = 0;
  int attempt = 0;
  WorkflowError error;       // activity_failed, fault
  bool retryable = true;     // activity_failed
  std::int64_t timer_id = 0;
  std::string name;          // signal name; cancel and controls: reason; activity inputs: worker identity
  // Activity completed, failed or heartbeat: when the attempt began (0: not given). A worker reports
  // the start with the attempt's first outcome or heartbeat rather than as an input of its own (one
  // input and one commit fewer per step); the engine then applies the start first, at that time,
  // exactly as if activity_started had come on its own.
  std::int64_t started_ms = 0;
  // Signals, cancellations and controls may carry an id (the queue entry they came from): an id the workflow
  // has already seen is not accepted again, so a redelivered signal is not received twice.
  std::string id;

  static Input start(std::string workflow_id, nlohmann::json input, std::int64_t time_ms);
  static Input signal(std::string name, nlohmann::json payload, std::int64_t time_ms);
  static Input cancel(std::string reason, std::int64_t time_ms);
  static Input timer_fired(std::int64_t timer_id, std::int64_t time_ms);
  static Input terminate(std::string reason, std::int64_t time_ms);
  static Input pause(std::string reason, std::int64_t time_ms);
  static Input resume(std::string reason, std::int64_t time_ms);
  static Input retry(std::string reason, std::int64_t time_ms);
  // Is this one of the operator controls above (which are never held by a pause)?
  bool is_control() const;

  // Inputs travel through queues between processes as JSON. from_json throws
  // OperationError(invalid_argument) naming what is wrong.
  nlohmann::json to_json() const;
  static Input from_json(const nlohmann::json& value);
};

// "activity_completed", "signal", ...: the type's name in an input's JSON.
std::string_view to_string(Input::Type type);

// One history event. `seq` starts at 1 and has no gaps.
struct Event {
  std::int64_t seq = 0;
  std::int64_t time_ms = 0;
  std::string type;       // e.g. "activity_scheduled"
  std::string reference;  // task reference ("/do/2/scheduleDrone"), "/" for the workflow
  nlohmann::json data = nlohmann::json::object();

  nlohmann::json to_json() const;
  static Event from_json(const nlohmann::json& value);
  friend bool operator==(const Event&, const Event&) = default;
};

// What the runtime must do after a commit. Leaves through the store's outbox.
struct Command {
  enum class Type { schedule_activity, cancel_activity, start_timer, cancel_timer, workflow_closed };
  Type type = Type::schedule_activity;
  std::int64_t activity_id = 0;
  int attempt = 0;
  std::string activity;          // schedule: activity name
  std::string idempotency_key;   // schedule
  nlohmann::json arguments;      // schedule
  std::int64_t timer_id = 0;
  std::int64_t due_ms = 0;       // start_timer
  WorkflowStatus status = WorkflowStatus::completed;  // workflow_closed
  // cancel_activity: true when no later attempt will use the activity's idempotency key (the
  // activity is abandoned), so a worker must fence the key; false when a retry follows with the same
  // key (the timed-out attempt is superseded: its task must not act, and the retry decides).
  bool fence = true;
  // schedule_activity: not to run, only to fence the idempotency key (activities::Activity::cancel)
  // and report what that finds: the engine gave up on an activity one of whose earlier attempts may
  // have acted without a report.
  bool fence_only = false;
  // schedule_activity: the call has a schedule-to-start deadline, so its worker reports the start
  // at once (engine::ActivityTask::report_start) rather than with the outcome.
  bool report_start = false;

  nlohmann::json to_json() const;
};

struct Step {
  bool accepted = false;  // false: the input had no effect (stale timer, unknown activity ...)
  std::vector<Event> events;
  std::vector<Command> commands;
};

struct EngineLimits {
  std::int64_t history_events_max = 100'000;  // beyond it the workflow faults: runaway loop
  std::size_t buffered_signals_max = 1000;
  std::size_t recent_input_ids_max = 64;  // signal/cancel/control ids remembered to drop redeliveries
  // Inputs held while paused. Past it heartbeats and signals are not accepted; activity results,
  // timer firings and cancellations are always held, since dropping them would lose work.
  std::size_t held_inputs_max = 10'000;
  std::int64_t default_start_to_close_ms = 10 * 60 * 1000;  // when an activity call sets no deadline
  // Cancelled attempts of compensable tasks a workflow tracks at most (beyond, their late results
  // are not undone), and how long a closing workflow waits for them to report.
  std::size_t abandoned_attempts_max = 100;
  std::int64_t abandoned_wait_ms = 60'000;
  // Memory one jq evaluation may use, its input and result included. Deterministic, so part of what
  // replay must match: a history replays only under the budget it was recorded with.
  std::size_t expression_memory_bytes_max = expression_memory_bytes_max_default;
};

// Applies one input. `state` is updated in place; on an exception (an engine bug: invariant broken)
// the caller must discard it. A start input on a non-pending state, or any other input on a pending
// or finished one, is not accepted; the one exception is a retry, which re-opens a faulted or
// compensation_failed workflow (docs/engine.md, "Operator controls").
//
// `control`, when given, lets another thread stop the step's expressions (the runtime's time budget):
// once interrupted, the expression running fails, and so does every later one of this apply; the
// engine turns those failures into the workflow's usual expression fault. Precondition: no other
// apply uses `control` at the same time.
Step apply(const Definition& definition, WorkflowState& state, const Input& input,
           const EngineLimits& limits = {}, EvaluationControl* control = nullptr);

// Is this event type the record of an input? (Replay feeds exactly these back.)
bool is_input_event(std::string_view type);
// Rebuilds the input an input event records. Precondition: is_input_event(event.type).
Input input_from_event(const Event& event, const std::string& workflow_id);

}  // namespace flightplan::engine

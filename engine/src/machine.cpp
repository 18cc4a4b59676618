#include "flightplan/engine/machine.hpp"

#include "flightplan/engine/duration.hpp"
#include "machine_impl.hpp"

#include <algorithm>
#include <cassert>
#include <mutex>

namespace flightplan::engine {

using nlohmann::json;

Input Input::start(std::string workflow_id, json input, std::int64_t time_ms) {
  Input in;
  in.type = Type::start;
  in.workflow_id = std::move(workflow_id);
  in.payload = std::move(input);
  in.time_ms = time_ms;
  return in;
}

Input Input::signal(std::string name, json payload, std::int64_t time_ms) {
  Input in;
  in.type = Type::signal;
  in.name = std::move(name);
  in.payload = std::move(payload);
  in.time_ms = time_ms;
  return in;
}

Input Input::cancel(std::string reason, std::int64_t time_ms) {
  Input in;
  in.type = Type::cancel;
  in.name = std::move(reason);
  in.time_ms = time_ms;
  return in;
}

Input Input::timer_fired(std::int64_t timer_id, std::int64_t time_ms) {
  Input in;
  in.type = Type::timer_fired;
  in.timer_id = timer_id;
  in.time_ms = time_ms;
  return in;
}

namespace {

Input control(Input::Type type, std::string reason, std::int64_t time_ms) {
  Input in;
  in.type = type;
  in.name = std::move(reason);
  in.time_ms = time_ms;
  return in;
}

}  // namespace

Input Input::terminate(std::string reason, std::int64_t time_ms) { return control(Type::terminate, std::move(reason), time_ms); }
Input Input::pause(std::string reason, std::int64_t time_ms) { return control(Type::pause, std::move(reason), time_ms); }
Input Input::resume(std::string reason, std::int64_t time_ms) { return control(Type::resume, std::move(reason), time_ms); }
Input Input::retry(std::string reason, std::int64_t time_ms) { return control(Type::retry, std::move(reason), time_ms); }

bool Input::is_control() const {
  return type == Type::terminate || type == Type::pause || type == Type::resume || type == Type::retry;
}

namespace {

constexpr std::pair<Input::Type, std::string_view> input_type_names[] = {
    {Input::Type::start, "start"},
    {Input::Type::activity_started, "activity_started"},
    {Input::Type::activity_completed, "activity_completed"},
    {Input::Type::activity_failed, "activity_failed"},
    {Input::Type::activity_heartbeat, "activity_heartbeat"},
    {Input::Type::timer_fired, "timer_fired"},
    {Input::Type::signal, "signal"},
    {Input::Type::cancel, "cancel"},
    {Input::Type::terminate, "terminate"},
    {Input::Type::pause, "pause"},
    {Input::Type::resume, "resume"},
    {Input::Type::retry, "retry"},
    {Input::Type::activity_cancelled, "activity_cancelled"},
    {Input::Type::fault, "fault"},
};

}  // namespace

std::string_view to_string(Input::Type type) {
  for (const auto& [value, label] : input_type_names)
    if (value == type) return label;
  return "unknown";
}

json Input::to_json() const {
  const std::string_view type_name = to_string(type);
  json out{{"type", type_name}, {"time_ms", time_ms}};
  if (!workflow_id.empty()) out["workflow_id"] = workflow_id;
  if (!payload.is_null()) out["payload"] = payload;
  if (activity_id != 0) out["activity_id"] = activity_id;
  if (attempt != 0) out["attempt"] = attempt;
  if (type == Type::activity_failed) {
    out["error"] = error.to_json();
    out["retryable"] = retryable;
  }
  if (type == Type::fault) out["error"] = error.to_json();
  if (timer_id != 0) out["timer_id"] = timer_id;
  if (!name.empty()) out["name"] = name;
  if (!id.empty()) out["id"] = id;
  if (started_ms != 0) out["started_ms"] = started_ms;
  return out;
}

Input Input::from_json(const json& value) {
  try {
    Input in;
    const std::string type_name = value.at("type").get<std::string>();
    bool known = false;
    for (const auto& [type_value, label] : input_type_names) {
      if (label == type_name) {
        in.type = type_value;
        known = true;
      }
    }
    if (!known) throw OperationError(ErrorCategory::invalid_argument, "unknown input type '" + type_name + "'");
    in.time_ms = value.at("time_ms").get<std::int64_t>();
    in.workflow_id = value.value("workflow_id", "");
    in.payload = value.value("payload", json());
    in.activity_id = value.value("activity_id", std::int64_t{0});
    in.attempt = value.value("attempt", 0);
    if (in.type == Type::activity_failed) {
      in.error = WorkflowError::from_json(value.at("error"));
      in.retryable = value.value("retryable", true);
    }
    if (in.type == Type::fault) in.error = WorkflowError::from_json(value.at("error"));
    in.timer_id = value.value("timer_id", std::int64_t{0});
    in.name = value.value("name", "");
    in.id = value.value("id", "");
    in.started_ms = value.value("started_ms", std::int64_t{0});
    return in;
  } catch (const json::exception& e) {
    throw OperationError(ErrorCategory::invalid_argument, std::string("invalid input: ") + e.what());
  }
}

json Event::to_json() const {
  return json{{"seq", seq},   {"time", format_timestamp(time_ms)}, {"time_ms", time_ms},
              {"type", type}, {"ref", reference},                  {"data", data}};
}

Event Event::from_json(const json& value) {
  Event event;
  event.seq = value.at("seq").get<std::int64_t>();
  event.time_ms = value.at("time_ms").get<std::int64_t>();
  event.type = value.at("type").get<std::string>();
  event.reference = value.at("ref").get<std::string>();
  event.data = value.value("data", json::object());
  return event;
}

json Command::to_json() const {
  switch (type) {
    case Type::schedule_activity:
    {
      json out{{"type", "schedule_activity"}, {"activity_id", activity_id},     {"attempt", attempt},
               {"activity", activity},        {"idempotency_key", idempotency_key}, {"arguments", arguments}};
      if (fence_only) out["fence_only"] = true;
      if (report_start) out["report_start"] = true;
      return out;
    }
    case Type::cancel_activity:
      return json{{"type", "cancel_activity"}, {"activity_id", activity_id}, {"attempt", attempt}, {"fence", fence}};
    case Type::start_timer:
      return json{{"type", "start_timer"}, {"timer_id", timer_id}, {"due_ms", due_ms}};
    case Type::cancel_timer:
      return json{{"type", "cancel_timer"}, {"timer_id", timer_id}};
    case Type::workflow_closed:
      return json{{"type", "workflow_closed"}, {"status", to_string(status)}};
  }
  return json{};
}

namespace {

// The events that record an operator control, and the control each records.
constexpr std::pair<std::string_view, Input::Type> control_events[] = {
    {"workflow_terminated", Input::Type::terminate},
    {"workflow_paused", Input::Type::pause},
    {"workflow_resumed", Input::Type::resume},
    {"workflow_retried", Input::Type::retry},
};

}  // namespace

bool is_input_event(std::string_view type) {
  for (const auto& [event_type, input_type] : control_events)
    if (type == event_type) return true;
  return type == "workflow_started" || type == "activity_started" || type == "activity_completed" ||
         type == "activity_failed" || type == "activity_heartbeat" || type == "timer_fired" ||
         type == "signal_received" || type == "workflow_cancel_requested" || type == "input_held" ||
         type == "activity_completed_late" || type == "activity_failed_late" ||
         type == "activity_cancel_confirmed" || type == "fault_received";
}

Input input_from_event(const Event& event, const std::string& workflow_id) {
  assert(is_input_event(event.type));
  const json& d = event.data;
  Input in;
  in.time_ms = event.time_ms;
  if (event.type == "workflow_started") {
    Input start = Input::start(workflow_id, d.at("input"), event.time_ms);
    start.id = d.value("correlation_id", std::string{});
    return start;
  }
  if (event.type == "timer_fired") return Input::timer_fired(d.at("timer_id").get<std::int64_t>(), event.time_ms);
  // The held input itself, with the time it arrived (the event's own time).
  if (event.type == "input_held") return Input::from_json(d.at("input"));
  for (const auto& [event_type, input_type] : control_events) {
    if (event.type != event_type) continue;
    Input recorded = control(input_type, d.value("reason", ""), event.time_ms);
    recorded.id = d.value("input_id", "");
    return recorded;
  }
  if (event.type == "signal_received" || event.type == "workflow_cancel_requested") {
    Input in_event = event.type == "signal_received"
                         ? Input::signal(d.at("signal"), d.value("payload", json()), event.time_ms)
                         : Input::cancel(d.value("reason", ""), event.time_ms);
    in_event.id = d.value("input_id", "");
    return in_event;
  }
  if (event.type == "fault_received") {
    in.type = Input::Type::fault;
    in.error = WorkflowError::from_json(d.at("error"));
    return in;
  }
  in.activity_id = d.at("activity_id").get<std::int64_t>();
  in.attempt = d.at("attempt").get<int>();
  if (event.type == "activity_cancel_confirmed") {
    in.type = Input::Type::activity_cancelled;
  } else if (event.type == "activity_started") {
    in.type = Input::Type::activity_started;
    in.name = d.value("worker", "");
  } else if (event.type == "activity_completed" || event.type == "activity_completed_late") {
    in.type = Input::Type::activity_completed;
    in.payload = d.value("result", json());
  } else if (event.type == "activity_failed" || event.type == "activity_failed_late") {
    in.type = Input::Type::activity_failed;
    in.error = WorkflowError::from_json(d.at("error"));
    in.retryable = d.value("retryable", true);
  } else {
    in.type = Input::Type::activity_heartbeat;
    in.payload = d.value("details", json());
  }
  return in;
}

Step apply(const Definition& definition, WorkflowState& state, const Input& input, const EngineLimits& limits,
           EvaluationControl* control) {
  Step step;
  detail::Machine machine(definition, state, limits, control, input.time_ms, step);
  machine.handle(input);
  return step;
}

namespace detail {

Machine::Machine(const Definition& definition, WorkflowState& state, const EngineLimits& limits,
                 EvaluationControl* control, std::int64_t now_ms, Step& step)
    : definition_(definition),
      state_(state),
      limits_(limits),
      budget_{limits.expression_memory_bytes_max, control},
      now_ms_(now_ms),
      step_(step) {
  runtime_argument_ = json{{"name", "flightplan"}, {"version", "0.1.0"}};
}

void Machine::handle(const Input& input) {
  const bool started = state_.status != WorkflowStatus::pending;
  if (input.type == Input::Type::start) {
    if (started) return;
    on_start(input);
  } else {
    if (!started) return;
    workflow_argument_ = workflow_argument();
    // Controls decide for themselves whether they apply (a retry is meant for a final workflow).
    if (input.is_control()) on_control(input);
    else if (is_final(state_.status)) return;
    else if (state_.paused) hold(input);
    else apply_input(input);
  }
  if (!step_.accepted) return;
  drain();
  state_.updated_ms = now_ms_;
  update_status();
}

void Machine::apply_input(const Input& input) {
  if (is_activity_input(input) && state_.abandoned.count(input.activity_id) != 0) {
    on_abandoned_outcome(input);
    return;
  }
  if (input.started_ms != 0 && (input.type == Input::Type::activity_completed ||
                                input.type == Input::Type::activity_failed ||
                                input.type == Input::Type::activity_heartbeat))
    start_first(input);
  switch (input.type) {
    case Input::Type::activity_started: on_activity_started(input); break;
    case Input::Type::activity_completed: on_activity_completed(input); break;
    case Input::Type::activity_failed: on_activity_failed(input); break;
    case Input::Type::activity_heartbeat: on_activity_heartbeat(input); break;
    case Input::Type::timer_fired: on_timer(input); break;
    case Input::Type::signal: on_signal(input); break;
    case Input::Type::cancel: on_cancel(input); break;
    case Input::Type::fault: on_fault(input); break;
    case Input::Type::activity_cancelled: break;  // only an abandoned attempt waits for it
    case Input::Type::start:
    case Input::Type::terminate:
    case Input::Type::pause:
    case Input::Type::resume:
    case Input::Type::retry: assert(false && "handled by handle()"); break;
  }
}

void Machine::on_start(const Input& input) {
  step_.accepted = true;
  state_.id = input.workflow_id;
  state_.name = definition_.document.name;
  state_.version = definition_.document.version;
  state_.digest = definition_.digest;
  state_.input = input.payload;
  state_.started_ms = now_ms_;
  state_.status = WorkflowStatus::running;
  // The definition's digest is kept in the state and the history's header, not in this event:
  // replay compares behaviour, so a comment or formatting change must not count as a divergence.
  json started{{"input", input.payload}, {"workflow", state_.name}, {"version", state_.version}};
  // The start's id is the caller's correlation id (an HTTP X-Request-Id): kept so that every later
  // log line about this workflow can name the request that began it.
  if (!input.id.empty()) {
    state_.correlation_id = input.id;
    started["correlation_id"] = input.id;
  }
  emit("workflow_started", "/", std::move(started));
  workflow_argument_ = workflow_argument();
  // The workflow-level expressions run with a scope-less pseudo node.
  Node scope;
  scope.id = 0;
  json first_input = input.payload;
  try {
    if (definition_.timeout)
      state_.workflow_timer = start_timer(TimerKind::workflow_timeout,
                                          now_ms_ + resolve_duration(*definition_.timeout, scope), 0, 0, true, "/");
    if (definition_.input_from) first_input = evaluate(*definition_.input_from, input.payload, scope);
  } catch (const ExpressionError& e) {
    fail_workflow("faulted", make_error(error_types::expression, 400, "Invalid workflow input", e.what(), "/input"));
    return;
  }
  start_list(*definition_.do_, root_parent, std::move(first_input));
}

void Machine::on_timer(const Input& input) {
  auto it = state_.timers.find(input.timer_id);
  if (it == state_.timers.end()) return;  // cancelled or already fired: a stale delivery
  const Timer timer = it->second;
  state_.timers.erase(it);
  step_.accepted = true;
  emit("timer_fired", "/", json{{"timer_id", timer.id}, {"kind", to_string(timer.kind)}});
  Node* node = find_node(timer.node);
  switch (timer.kind) {
    case TimerKind::workflow_timeout:
      state_.workflow_timer = 0;
      fail_workflow("timed_out", make_error(error_types::timeout, 408, "Workflow timed out",
                                            "the workflow's timeout elapsed", "/"));
      return;
    case TimerKind::wait:
      assert(node != nullptr);
      node->timer_id = 0;
      finish_task(*node, node->input, task_of(*node).then);
      return;
    case TimerKind::task_timeout:
      assert(node != nullptr);
      node->timeout_timer = 0;
      fault_task(*node, make_error(error_types::timeout, 408, "Task timed out",
                                   "the task's timeout elapsed", task_of(*node).reference));
      return;
    case TimerKind::try_retry: {
      assert(node != nullptr);
      node->timer_id = 0;
      node->attempt += 1;
      node->phase = "try";
      emit("task_retried", task_of(*node).reference, json{{"attempt", node->attempt}});
      const auto& body = std::get<TryTask>(task_of(*node).body);
      start_list(*body.try_, node->id, node->input);
      return;
    }
    case TimerKind::activity_retry:
      on_activity_retry_timer(timer);
      return;
    case TimerKind::abandoned_wait:
      state_.abandoned_timer = 0;
      stop_waiting_for_abandoned(true);
      return;
    default:
      on_activity_timer(timer);
      return;
  }
}

bool Machine::seen_before(const std::string& input_id) {
  if (input_id.empty()) return false;
  auto& ids = state_.recent_input_ids;
  if (std::find(ids.begin(), ids.end(), input_id) != ids.end()) return true;
  ids.push_back(input_id);
  if (ids.size() > limits_.recent_input_ids_max) ids.erase(ids.begin());
  return false;
}

void Machine::on_signal(const Input& input) {
  if (seen_before(input.id)) return;
  step_.accepted = true;
  json data{{"signal", input.name}, {"payload", input.payload}};
  if (!input.id.empty()) data["input_id"] = input.id;
  emit("signal_received", "/", std::move(data));
  const json signal{{"type", input.name}, {"data", input.payload}, {"time", format_timestamp(now_ms_)}};
  // Offer the signal to waiting listeners in creation order; the first that takes it consumes it.
  for (auto& [id, node] : state_.nodes) {
    if (node.kind != Node::Kind::task || !std::holds_alternative<ListenTask>(task_of(node).body)) continue;
    if (offer_signal(node, signal)) return;
  }
  if (state_.compensation) return;  // nobody will listen any more
  if (state_.signals.size() >= limits_.buffered_signals_max) {
    emit("signal_discarded", "/", json{{"signal", state_.signals.front().at("type")},
                                       {"reason", "buffer of unconsumed signals is full"}});
    state_.signals.erase(state_.signals.begin());
  }
  state_.signals.push_back(signal);
}

void Machine::on_cancel(const Input& input) {
  if (seen_before(input.id)) return;
  step_.accepted = true;
  json data{{"reason", input.name}};
  if (!input.id.empty()) data["input_id"] = input.id;
  emit("workflow_cancel_requested", "/", std::move(data));
  if (state_.compensation) return;  // already undoing: let the compensations finish
  fail_workflow("cancelled", make_error(error_types::cancelled, 499, "Workflow cancelled", input.name, "/"));
}

void Machine::on_fault(const Input& input) {
  step_.accepted = true;
  emit("fault_received", "/", json{{"error", input.error.to_json()}});
  if (state_.compensation) return;  // already undoing: the fault changes nothing more
  fail_workflow("faulted", input.error);
}

// Operator controls. Each is the first event of its step (so replay can feed it back), and each
// carries an optional queue-entry id that drops a redelivered control like a redelivered signal.

namespace {
// flightplan's own error type for a workflow an operator ended.
constexpr std::string_view terminated_error_type = "https://flightplan.dev/errors/terminated";
}  // namespace

void Machine::on_control(const Input& input) {
  switch (input.type) {
    case Input::Type::terminate: on_terminate(input); break;
    case Input::Type::pause: on_pause(input); break;
    case Input::Type::resume: on_resume(input); break;
    case Input::Type::retry: on_retry(input); break;
    default: assert(false && "not a control"); break;
  }
}

json Machine::control_data(const Input& input) const {
  json data{{"reason", input.name}};
  if (!input.id.empty()) data["input_id"] = input.id;
  return data;
}

void Machine::on_terminate(const Input& input) {
  if (is_final(state_.status) || seen_before(input.id)) return;
  step_.accepted = true;
  state_.error = make_error(terminated_error_type, 499, "Workflow terminated", input.name, "/").to_json();
  json data = control_data(input);
  data["error"] = state_.error;
  if (!state_.held_inputs.empty()) data["held_inputs_dropped"] = state_.held_inputs.size();
  emit("workflow_terminated", "/", std::move(data));
  // No compensation: an operator terminates precisely when the workflow's own logic is not to be
  // trusted any more. Compensations not yet run stay listed in `compensation` for the record.
  outcomes_.clear();
  cancel_all_nodes();
  cancel_timer(state_.workflow_timer);
  // Nothing is undone: attempts that may still act and late results are left as they are.
  cancel_timer(state_.abandoned_timer);
  state_.abandoned.clear();
  state_.late_results.clear();
  state_.paused = false;
  state_.held_inputs.clear();
  close_workflow(WorkflowStatus::terminated);
}

void Machine::on_pause(const Input& input) {
  if (is_final(state_.status) || state_.paused || seen_before(input.id)) return;
  step_.accepted = true;
  emit("workflow_paused", "/", control_data(input));
  state_.paused = true;
}

void Machine::on_resume(const Input& input) {
  if (!state_.paused || seen_before(input.id)) return;
  step_.accepted = true;
  std::vector<json> held = std::move(state_.held_inputs);
  state_.held_inputs.clear();
  json data = control_data(input);
  data["held_inputs"] = held.size();
  emit("workflow_resumed", "/", std::move(data));
  state_.paused = false;
  // Each held input is applied at the time it arrived, as it would have been without the pause:
  // deadlines that passed meanwhile have passed. Their events follow workflow_resumed in this step.
  const std::int64_t resumed_ms = now_ms_;
  for (const json& held_json : held) {
    if (is_final(state_.status)) break;  // an earlier held input ended it; the rest no longer apply
    const Input held_input = Input::from_json(held_json);
    now_ms_ = held_input.time_ms;
    apply_input(held_input);
    drain();
    update_status();
  }
  now_ms_ = resumed_ms;
}

void Machine::on_retry(const Input& input) {
  const bool faulted = state_.status == WorkflowStatus::faulted && !state_.fault_path.empty();
  const bool compensation_failed = state_.status == WorkflowStatus::compensation_failed &&
                                   state_.compensation && !state_.compensation->failed.empty();
  if ((!faulted && !compensation_failed) || seen_before(input.id)) return;
  step_.accepted = true;
  json data = control_data(input);
  data["from"] = to_string(state_.status);
  state_.closed_ms = 0;
  if (compensation_failed) {
    json references = json::array();
    for (const auto& record : state_.compensation->failed) references.push_back(record.reference);
    data["compensations"] = std::move(references);
    emit("workflow_retried", "/", std::move(data));
    state_.status = WorkflowStatus::compensating;
    retry_compensations();
    return;
  }
  data["task"] = definition_.task(state_.fault_path.front().task_id).reference;
  emit("workflow_retried", "/", std::move(data));
  state_.status = WorkflowStatus::running;
  state_.error = nullptr;
  if (definition_.timeout) {
    // A fresh window from now: the old deadline may be long past, and retrying into an immediate
    // timeout would make the retry useless.
    Node scope;
    scope.id = 0;
    try {
      const std::int64_t due_ms = now_ms_ + resolve_duration(*definition_.timeout, scope);
      state_.workflow_timer = start_timer(TimerKind::workflow_timeout, due_ms, 0, 0, true, "/");
    } catch (const ExpressionError& e) {
      state_.fault_path.clear();
      fail_workflow("faulted",
                    make_error(error_types::expression, 400, "Invalid workflow timeout", e.what(), "/"));
      return;
    }
  }
  reopen_at_fault();
}

bool Machine::holdable(const Input& input) const {
  const bool full = state_.held_inputs.size() >= limits_.held_inputs_max;
  auto redelivered = [&](const std::string& id) {
    if (id.empty()) return false;
    const auto& ids = state_.recent_input_ids;
    if (std::find(ids.begin(), ids.end(), id) != ids.end()) return true;
    for (const json& held : state_.held_inputs)
      if (held.value("id", "") == id) return true;
    return false;
  };
  switch (input.type) {
    // Only inputs that could still apply are held. One stale now stays stale: timer and activity
    // ids are never reused and an attempt number only grows.
    case Input::Type::timer_fired: return state_.timers.count(input.timer_id) != 0;
    case Input::Type::activity_started:
    case Input::Type::activity_completed:
    case Input::Type::activity_failed:
    case Input::Type::activity_heartbeat:
    case Input::Type::activity_cancelled: {
      if (auto abandoned = state_.abandoned.find(input.activity_id); abandoned != state_.abandoned.end())
        return abandoned->second.attempt == input.attempt;
      if (input.type == Input::Type::activity_cancelled) return false;
      auto it = state_.activities.find(input.activity_id);
      if (it == state_.activities.end()) return false;
      const PendingActivity& activity = it->second;
      if (activity.attempt != input.attempt || activity.retry_timer != 0) return false;
      if (input.type == Input::Type::activity_started && activity.started_ms != 0) return false;
      return !(full && input.type == Input::Type::activity_heartbeat);
    }
    case Input::Type::signal: return !full && !redelivered(input.id);
    case Input::Type::cancel: return !redelivered(input.id);
    case Input::Type::fault: return true;
    default: return false;
  }
}

void Machine::hold(const Input& input) {
  if (!holdable(input)) return;
  step_.accepted = true;
  json record = input.to_json();
  emit("input_held", "/", json{{"input", record}});
  state_.held_inputs.push_back(std::move(record));
}

Event& Machine::emit(std::string type, std::string reference, json data) {
  Event event;
  event.seq = ++state_.history_length;
  event.time_ms = now_ms_;
  event.type = std::move(type);
  event.reference = std::move(reference);
  event.data = std::move(data);
  if (state_.history_length > limits_.history_events_max) history_limit_hit_ = true;
  step_.events.push_back(std::move(event));
  return step_.events.back();
}

Node& Machine::add_node(Node::Kind kind, std::int64_t parent) {
  Node node;
  node.id = next_id();
  node.kind = kind;
  node.parent = parent;
  auto [it, inserted] = state_.nodes.emplace(node.id, std::move(node));
  assert(inserted);
  return it->second;
}

Node* Machine::find_node(std::int64_t id) {
  auto it = state_.nodes.find(id);
  return it == state_.nodes.end() ? nullptr : &it->second;
}

void Machine::drain() {
  while (!outcomes_.empty()) {
    if (history_limit_hit_ && !is_final(state_.status)) {
      // A runaway loop: stop interpreting, end the workflow. Compensation would add more events
      // to a history already over its limit, so it is skipped; the error says why.
      outcomes_.clear();
      cancel_all_nodes();
      state_.error = make_error(error_types::runtime, 500, "History limit exceeded",
                                "the workflow produced more than " + std::to_string(limits_.history_events_max) +
                                    " events; is a loop unbounded?", "/")
                         .to_json();
      finalize(WorkflowStatus::faulted, "workflow_faulted", json{{"error", state_.error}});
      return;
    }
    Outcome outcome = std::move(outcomes_.front());
    outcomes_.pop_front();
    dispatch(outcome);
  }
}

void Machine::dispatch(Outcome& outcome) {
  if (is_final(state_.status)) return;
  if (outcome.ok && outcome.directive.kind == FlowDirective::Kind::end && !state_.compensation) {
    complete_workflow(std::move(outcome.output));
    return;
  }
  if (outcome.parent == root_parent) {
    if (outcome.ok) complete_workflow(std::move(outcome.output));
    else fail_workflow("faulted", std::move(outcome.error), std::move(outcome.trail));
    return;
  }
  if (outcome.parent == compensation_parent) {
    on_compensation_outcome(outcome);
    return;
  }
  Node* parent = find_node(outcome.parent);
  if (parent == nullptr) return;  // the parent was cancelled meanwhile (fork compete, timeout)
  if (parent->kind == Node::Kind::list) on_list_outcome(*parent, outcome);
  else on_task_outcome(*parent, outcome);
}

void Machine::update_status() {
  if (is_final(state_.status)) return;
  if (state_.compensation) state_.status = WorkflowStatus::compensating;
  else if (!state_.activities.empty() || !state_.abandoned.empty() || !outcomes_.empty())
    state_.status = WorkflowStatus::running;
  else state_.status = WorkflowStatus::waiting;
}

std::vector<Binding> Machine::bindings(const Node& scope, const json* output) {
  static const json null_value;
  std::vector<Binding> result{
      {"context", &state_.context},
      {"input", scope.task_id >= 0 ? &scope.input : &null_value},
      {"output", output != nullptr ? output : &null_value},
      {"workflow", &workflow_argument_},
      {"runtime", &runtime_argument_},
      {"secrets", &secrets_argument_},
  };
  // Scoped variables: innermost first, so an inner `for` shadows an outer one of the same name.
  for (const Node* n = &scope; n != nullptr;) {
    for (auto it = n->vars.begin(); it != n->vars.end(); ++it) result.push_back({it.key(), &it.value()});
    if (n->parent <= 0) break;
    n = find_node(n->parent);
  }
  return result;
}

json Machine::workflow_argument() const {
  return json{{"id", state_.id},
              {"definition", {{"name", state_.name}, {"version", state_.version},
                              {"namespace", definition_.document.namespace_}}},
              {"input", state_.input},
              {"startedAt", {{"iso8601", format_timestamp(state_.started_ms)},
                             {"epoch", {{"seconds", state_.started_ms / 1000}, {"milliseconds", state_.started_ms}}}}}};
}

json Machine::task_argument(const Node& node) const {
  if (node.task_id < 0) return nullptr;
  const Task& task = task_of(node);
  return json{{"name", task.name},
              {"reference", task.reference},
              {"input", node.input},
              {"startedAt", {{"iso8601", format_timestamp(node.started_ms)},
                             {"epoch", {{"seconds", node.started_ms / 1000}, {"milliseconds", node.started_ms}}}}}};
}

json Machine::evaluate(const ValueTemplate& value, const json& dot, const Node& scope, const json* output) {
  if (value.is_constant()) return value.raw();
  const json task = task_argument(scope);
  auto b = bindings(scope, output);
  b.push_back({"task", &task});
  return value.render(dot, b, budget_);
}

json Machine::evaluate(const Expression& expression, const json& dot, const Node& scope, const json* output) {
  const json task = task_argument(scope);
  auto b = bindings(scope, output);
  b.push_back({"task", &task});
  return expression.evaluate(dot, b, budget_);
}

bool Machine::test(const Expression& expression, const json& dot, const Node& scope, const json* output) {
  const json task = task_argument(scope);
  auto b = bindings(scope, output);
  b.push_back({"task", &task});
  return expression.test(dot, b, budget_);
}

std::int64_t Machine::resolve_duration(const DurationSpec& spec, const Node& scope) {
  if (!spec.expression) return spec.fixed_ms;
  const json value = evaluate(*spec.expression, scope.task_id >= 0 ? scope.input : state_.input, scope);
  std::string reason;
  auto ms = parse_duration_ms(value.is_number_float() ? json(static_cast<std::int64_t>(value.get<double>())) : value,
                              &reason);
  // A computed deadline already in the past (negative) fires at once rather than failing.
  if (!ms && value.is_number() && value.get<double>() < 0) return 0;
  if (!ms) throw ExpressionError("duration expression `" + spec.expression->source() + "` gave " + value.dump() +
                                 ": " + reason);
  return *ms;
}

std::int64_t Machine::start_timer(TimerKind kind, std::int64_t due_ms, std::int64_t node, std::int64_t activity,
                                  bool recorded, const std::string& reference) {
  Timer timer{next_id(), due_ms, kind, node, activity, recorded};
  state_.timers.emplace(timer.id, timer);
  Command command;
  command.type = Command::Type::start_timer;
  command.timer_id = timer.id;
  command.due_ms = due_ms;
  step_.commands.push_back(std::move(command));
  if (recorded)
    emit("timer_started", reference,
         json{{"timer_id", timer.id}, {"kind", to_string(kind)}, {"due", format_timestamp(due_ms)}, {"due_ms", due_ms}});
  return timer.id;
}

void Machine::cancel_timer(std::int64_t& timer_id) {
  if (timer_id == 0) return;
  auto it = state_.timers.find(timer_id);
  if (it != state_.timers.end()) {
    if (it->second.recorded) emit("timer_cancelled", "/", json{{"timer_id", timer_id}});
    state_.timers.erase(it);
    Command command;
    command.type = Command::Type::cancel_timer;
    command.timer_id = timer_id;
    step_.commands.push_back(std::move(command));
  }
  timer_id = 0;
}

void Machine::cancel_subtree(std::int64_t node_id) {
  Node* node = find_node(node_id);
  if (node == nullptr) return;
  if (node->child != 0) cancel_subtree(node->child);
  for (std::int64_t child : node->children)
    if (child != 0) cancel_subtree(child);
  node = find_node(node_id);  // children are erased; our own entry is still valid, refresh anyway
  if (node->activity_id != 0) drop_activity(node->activity_id, true);
  cancel_timer(node->timer_id);
  cancel_timer(node->timeout_timer);
  if (node->kind == Node::Kind::task) emit("task_cancelled", task_of(*node).reference);
  state_.nodes.erase(node_id);
}

void Machine::cancel_all_nodes() {
  // Cancel from the roots so each subtree goes children first.
  std::vector<std::int64_t> roots;
  for (const auto& [id, node] : state_.nodes)
    if (node.parent < 0) roots.push_back(id);
  for (std::int64_t id : roots) cancel_subtree(id);
  assert(state_.nodes.empty());
  for (auto it = state_.activities.begin(); it != state_.activities.end();) drop_activity((it++)->first, true);
}

}  // namespace detail
}  // namespace flightplan::engine

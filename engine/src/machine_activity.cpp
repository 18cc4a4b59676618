// Activity calls: scheduling attempts, their four deadlines, retries by policy, and results.
#include "flightplan/engine/duration.hpp"
#include "flightplan/engine/retry.hpp"
#include "machine_impl.hpp"

#include <algorithm>

#include <cassert>

namespace flightplan::engine::detail {

const CallActivityTask& Machine::call_of(const PendingActivity& activity) {
  const Node* node = find_node(activity.node);
  assert(node != nullptr);
  return std::get<CallActivityTask>(task_of(*node).body);
}

void Machine::start_activity(Node& node, const CallActivityTask& call, json arguments) {
  const Task& task = task_of(node);
  PendingActivity activity;
  activity.id = next_id();
  activity.node = node.id;
  activity.name = call.activity;
  activity.attempt = 1;
  activity.arguments = std::move(arguments);
  // Stable across attempts: a retried attempt after a lost reply must not repeat the side effect.
  activity.idempotency_key = state_.id + "/" + task.reference + "/" + std::to_string(activity.id);
  activity.first_scheduled_ms = now_ms_;
  node.activity_id = activity.id;
  auto [it, inserted] = state_.activities.emplace(activity.id, std::move(activity));
  assert(inserted);
  if (call.options.schedule_to_close_ms > 0)
    it->second.schedule_to_close_timer = start_timer(TimerKind::schedule_to_close,
                                                     now_ms_ + call.options.schedule_to_close_ms, node.id,
                                                     it->second.id, false, task.reference);
  dispatch_attempt(it->second, call);
}

void Machine::dispatch_attempt(PendingActivity& activity, const CallActivityTask& call) {
  activity.scheduled_ms = now_ms_;
  activity.started_ms = 0;
  const std::string& reference = task_of(*find_node(activity.node)).reference;
  json data{{"activity_id", activity.id},
            {"activity", activity.name},
            {"attempt", activity.attempt},
            {"idempotency_key", activity.idempotency_key}};
  if (activity.attempt == 1) data["arguments"] = activity.arguments;  // later attempts reuse them
  if (call.options.schedule_to_start_ms > 0) {
    activity.schedule_to_start_timer = start_timer(TimerKind::schedule_to_start,
                                                   now_ms_ + call.options.schedule_to_start_ms, activity.node,
                                                   activity.id, false, reference);
    data["schedule_to_start_deadline_ms"] = now_ms_ + call.options.schedule_to_start_ms;
  }
  emit("activity_scheduled", reference, std::move(data));
  Command command;
  command.type = Command::Type::schedule_activity;
  command.activity_id = activity.id;
  command.attempt = activity.attempt;
  command.activity = activity.name;
  command.idempotency_key = activity.idempotency_key;
  command.arguments = activity.arguments;
  command.report_start = call.options.schedule_to_start_ms > 0;
  step_.commands.push_back(std::move(command));
}

PendingActivity* Machine::find_attempt(const Input& input) {
  auto it = state_.activities.find(input.activity_id);
  if (it == state_.activities.end()) return nullptr;
  PendingActivity& activity = it->second;
  // A reply for an earlier attempt, or while waiting out a backoff, is stale.
  if (activity.attempt != input.attempt || activity.retry_timer != 0) return nullptr;
  return &activity;
}

void Machine::on_activity_started(const Input& input) {
  PendingActivity* activity = find_attempt(input);
  if (activity == nullptr || activity->started_ms != 0) return;
  step_.accepted = true;
  const CallActivityTask& call = call_of(*activity);
  const std::string& reference = task_of(*find_node(activity->node)).reference;
  activity->started_ms = now_ms_;
  cancel_timer(activity->schedule_to_start_timer);
  std::int64_t start_to_close_ms = call.options.start_to_close_ms;
  if (start_to_close_ms == 0 && call.options.schedule_to_close_ms == 0)
    start_to_close_ms = limits_.default_start_to_close_ms;
  json data{{"activity_id", activity->id}, {"attempt", activity->attempt}, {"worker", input.name}};
  if (start_to_close_ms > 0) data["start_to_close_deadline_ms"] = now_ms_ + start_to_close_ms;
  if (call.options.heartbeat_ms > 0) data["heartbeat_deadline_ms"] = now_ms_ + call.options.heartbeat_ms;
  emit("activity_started", reference, std::move(data));
  if (start_to_close_ms > 0)
    activity->start_to_close_timer = start_timer(TimerKind::start_to_close, now_ms_ + start_to_close_ms,
                                                 activity->node, activity->id, false, reference);
  if (call.options.heartbeat_ms > 0)
    activity->heartbeat_timer = start_timer(TimerKind::heartbeat, now_ms_ + call.options.heartbeat_ms,
                                            activity->node, activity->id, false, reference);
}

void Machine::start_first(const Input& input) {
  Input started;
  started.type = Input::Type::activity_started;
  started.activity_id = input.activity_id;
  started.attempt = input.attempt;
  started.name = input.name;
  started.time_ms = std::min(input.started_ms, now_ms_);
  // The start's events carry its own time (a replay feeds the activity_started event back as an
  // input at that time); everything after it, the time of the outcome.
  const std::int64_t outcome_ms = now_ms_;
  now_ms_ = started.time_ms;
  on_activity_started(started);
  now_ms_ = outcome_ms;
}

void Machine::on_activity_heartbeat(const Input& input) {
  PendingActivity* activity = find_attempt(input);
  if (activity == nullptr || activity->heartbeat_timer == 0) return;  // nothing to extend
  step_.accepted = true;
  const CallActivityTask& call = call_of(*activity);
  const std::string& reference = task_of(*find_node(activity->node)).reference;
  emit("activity_heartbeat", reference,
       json{{"activity_id", activity->id}, {"attempt", activity->attempt}, {"details", input.payload}});
  cancel_timer(activity->heartbeat_timer);
  activity->heartbeat_timer = start_timer(TimerKind::heartbeat, now_ms_ + call.options.heartbeat_ms,
                                          activity->node, activity->id, false, reference);
}

void Machine::on_activity_completed(const Input& input) {
  PendingActivity* activity = find_attempt(input);
  if (activity == nullptr) return;
  step_.accepted = true;
  Node& node = *find_node(activity->node);
  emit("activity_completed", task_of(node).reference,
       json{{"activity_id", activity->id}, {"attempt", activity->attempt}, {"result", input.payload}});
  drop_activity(activity->id, false);
  finish_task(node, input.payload, task_of(node).then);
}

void Machine::on_activity_failed(const Input& input) {
  PendingActivity* activity = find_attempt(input);
  if (activity == nullptr) return;
  step_.accepted = true;
  WorkflowError error = input.error;
  if (error.type.empty()) error.type = std::string(error_types::runtime);
  emit("activity_failed", task_of(*find_node(activity->node)).reference,
       json{{"activity_id", activity->id},
            {"attempt", activity->attempt},
            {"error", error.to_json()},
            {"retryable", input.retryable}});
  clear_attempt_timers(*activity);
  attempt_failed(*activity, std::move(error), input.retryable);
}

void Machine::on_activity_timer(const Timer& timer) {
  auto it = state_.activities.find(timer.activity_id);
  assert(it != state_.activities.end());
  PendingActivity& activity = it->second;
  const std::string& reference = task_of(*find_node(activity.node)).reference;
  // The fired timer is already out of the map; forget its id so it is not cancelled twice.
  for (std::int64_t* id : {&activity.schedule_to_start_timer, &activity.start_to_close_timer,
                           &activity.heartbeat_timer, &activity.schedule_to_close_timer})
    if (*id == timer.id) *id = 0;
  emit("activity_timed_out", reference,
       json{{"activity_id", activity.id}, {"attempt", activity.attempt}, {"timeout", to_string(timer.kind)}});
  clear_attempt_timers(activity);
  // Tell the worker to give up on the attempt. Whether it must also fence the idempotency key
  // depends on what follows: a retry reuses the key, giving up abandons it.
  const std::size_t cancel_at = step_.commands.size();
  Command cancel;
  cancel.type = Command::Type::cancel_activity;
  cancel.activity_id = activity.id;
  cancel.attempt = activity.attempt;
  step_.commands.push_back(std::move(cancel));
  const std::int64_t activity_id = activity.id;
  WorkflowError error = make_error(error_types::timeout, 408, "Activity timed out",
                                   std::string(activity.name) + " exceeded its " +
                                       std::string(to_string(timer.kind)) + " timeout",
                                   reference);
  // Schedule-to-close spans every attempt: once it fires, no retry can help.
  attempt_failed(activity, std::move(error), timer.kind != TimerKind::schedule_to_close, true);
  const auto still = state_.activities.find(activity_id);
  step_.commands[cancel_at].fence = still == state_.activities.end();
}

void Machine::on_activity_retry_timer(const Timer& timer) {
  auto it = state_.activities.find(timer.activity_id);
  assert(it != state_.activities.end());
  it->second.retry_timer = 0;
  it->second.attempt += 1;
  dispatch_attempt(it->second, call_of(it->second));
}

void Machine::attempt_failed(PendingActivity& activity, WorkflowError error, bool retryable, bool may_still_act) {
  const CallActivityTask& call = call_of(activity);
  const RetryPolicy& policy = call.options.retry ? *call.options.retry : default_activity_retry_policy();
  Node& node = *find_node(activity.node);
  if (retryable && (policy.when || policy.except_when)) {
    const json saved = node.vars;
    node.vars["error"] = error.to_json();
    try {
      if (policy.when) retryable = test(*policy.when, node.input, node);
      if (retryable && policy.except_when) retryable = !test(*policy.except_when, node.input, node);
    } catch (const ExpressionError& e) {
      node.vars = saved;
      drop_activity(activity.id, false);
      fault_task(node, expression_error(node, e.what()));
      return;
    }
    node.vars = saved;
  }
  const double jitter = unit_interval_hash(activity.idempotency_key + "#" + std::to_string(activity.attempt));
  const RetryDecision decision =
      decide_retry(policy, activity.attempt, activity.first_scheduled_ms, now_ms_, jitter, retryable);
  if (!decision.retry) {
    error.detail += error.detail.empty() ? "" : "; ";
    error.detail += "giving up after attempt " + std::to_string(activity.attempt) + ": " + decision.reason;
    // A timed-out attempt was cancelled, but its worker may be acting right now; after a reported
    // failure, an earlier attempt (timed out, its reply lost) may have acted under the same key. A
    // fence finds out. Only a first attempt that failed for sure left nothing behind.
    if (may_still_act || activity.attempt > 1) abandon(activity);
    drop_activity(activity.id, false);
    fault_task(node, std::move(error));
    return;
  }
  if (decision.delay_ms == 0) {
    activity.attempt += 1;
    dispatch_attempt(activity, call);
    return;
  }
  activity.retry_timer = start_timer(TimerKind::activity_retry, now_ms_ + decision.delay_ms, activity.node,
                                     activity.id, false, task_of(node).reference);
  emit("activity_retry_scheduled", task_of(node).reference,
       json{{"activity_id", activity.id},
            {"next_attempt", activity.attempt + 1},
            {"delay_ms", decision.delay_ms},
            {"due", format_timestamp(now_ms_ + decision.delay_ms)}});
}

void Machine::clear_attempt_timers(PendingActivity& activity) {
  cancel_timer(activity.schedule_to_start_timer);
  cancel_timer(activity.start_to_close_timer);
  cancel_timer(activity.heartbeat_timer);
}

void Machine::drop_activity(std::int64_t activity_id, bool cancel_worker) {
  auto it = state_.activities.find(activity_id);
  if (it == state_.activities.end()) return;
  PendingActivity& activity = it->second;
  clear_attempt_timers(activity);
  cancel_timer(activity.schedule_to_close_timer);
  cancel_timer(activity.retry_timer);
  if (cancel_worker) {
    abandon(activity);
    Node* node = find_node(activity.node);
    emit("activity_cancelled", node != nullptr ? task_of(*node).reference : "/",
         json{{"activity_id", activity.id}, {"attempt", activity.attempt}});
    Command command;
    command.type = Command::Type::cancel_activity;
    command.activity_id = activity.id;
    command.attempt = activity.attempt;
    step_.commands.push_back(std::move(command));
  }
  if (Node* node = find_node(activity.node)) node->activity_id = 0;
  state_.activities.erase(it);
}

}  // namespace flightplan::engine::detail

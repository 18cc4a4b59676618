// How a workflow ends: completion, or a fault / timeout / cancellation followed by the saga's
// compensations, newest first, each retried by its own policy.
#include "flightplan/engine/duration.hpp"
#include "machine_impl.hpp"

#include <cassert>

namespace flightplan::engine::detail {

namespace {

WorkflowStatus status_of_cause(const std::string& cause) {
  return cause == "timed_out" ? WorkflowStatus::timed_out
         : cause == "cancelled" ? WorkflowStatus::cancelled
                                : WorkflowStatus::faulted;
}

}  // namespace

void Machine::complete_workflow(json output) {
  cancel_all_nodes();  // `end` may leave fork branches running
  cancel_timer(state_.workflow_timer);
  if (definition_.output_as) {
    Node scope;
    try {
      output = evaluate(*definition_.output_as, output, scope, &output);
    } catch (const ExpressionError& e) {
      fail_workflow("faulted", make_error(error_types::expression, 400, "Invalid workflow output", e.what(), "/output"));
      return;
    }
  }
  state_.output = output;
  if (state_.abandoned.empty() && state_.late_results.empty()) {
    finalize(WorkflowStatus::completed, "workflow_completed", json{{"output", std::move(output)}});
    return;
  }
  // Attempts the workflow gave up on (a timeout it caught, a fork branch it cancelled) acted, or
  // may still: undo that first, then complete.
  CompensationState compensation;
  compensation.cause = "closing";
  compensation.then = json{{"status", to_string(WorkflowStatus::completed)},
                           {"event", "workflow_completed"},
                           {"data", {{"output", std::move(output)}}}};
  state_.compensation = std::move(compensation);
  state_.status = WorkflowStatus::compensating;
  begin_compensation();
}

void Machine::schedule_fence(const AbandonedAttempt& attempt) {
  emit("activity_fence_scheduled", attempt.reference,
       json{{"activity_id", attempt.activity_id}, {"attempt", attempt.attempt},
            {"idempotency_key", attempt.idempotency_key}});
  Command command;
  command.type = Command::Type::schedule_activity;
  command.activity_id = attempt.activity_id;
  command.attempt = attempt.attempt;
  command.activity = attempt.activity;
  command.idempotency_key = attempt.idempotency_key;
  command.arguments = attempt.arguments;
  command.fence_only = true;
  step_.commands.push_back(std::move(command));
}

// The activity may have acted without the engine knowing (an attempt in flight, timed out or with
// a lost reply; every attempt shares the idempotency key): a fence task under the next attempt
// number asks the service, and the workflow does not close before it answers.
void Machine::abandon(const PendingActivity& activity) {
  Node* node = find_node(activity.node);
  if (node == nullptr) return;
  const Task& task = task_of(*node);
  if (!task.compensate) return;  // nothing to undo: a late result is simply stale
  if (state_.abandoned.size() >= limits_.abandoned_attempts_max) {
    emit("attempt_not_tracked", task.reference,
         json{{"activity_id", activity.id}, {"attempt", activity.attempt},
              {"reason", "more than " + std::to_string(limits_.abandoned_attempts_max) +
                             " cancelled attempts are outstanding; a late result of this one is not undone"}});
    return;
  }
  // The scope's variables, innermost last so they win, for the task's `output.as` later.
  std::vector<const Node*> chain;
  for (const Node* n = node; n != nullptr; n = n->parent > 0 ? find_node(n->parent) : nullptr) chain.push_back(n);
  json vars = json::object();
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) vars.update((*it)->vars);
  AbandonedAttempt& abandoned = state_.abandoned[activity.id] =
      AbandonedAttempt{activity.id,   activity.attempt + 1, task.id,           task.reference, node->input,
                       std::move(vars), activity.name,    activity.idempotency_key, activity.arguments, true};
  schedule_fence(abandoned);
}

void Machine::on_abandoned_outcome(const Input& input) {
  auto it = state_.abandoned.find(input.activity_id);
  AbandonedAttempt attempt = it->second;
  if (attempt.attempt != input.attempt || input.type == Input::Type::activity_started ||
      input.type == Input::Type::activity_heartbeat)
    return;  // not an outcome, or one of an earlier attempt: stale
  step_.accepted = true;
  json data{{"activity_id", attempt.activity_id}, {"attempt", attempt.attempt}};
  state_.abandoned.erase(it);
  if (input.type == Input::Type::activity_completed) {
    // The attempt acted after all: its output (through the task's own `output.as`) is what the
    // compensation receives, exactly as if the task had completed.
    data["result"] = input.payload;
    emit("activity_completed_late", attempt.reference, std::move(data));
    const Task& task = definition_.task(attempt.task_id);
    Node scope;
    scope.id = 0;
    scope.parent = root_parent;
    scope.task_id = attempt.task_id;
    scope.input = attempt.input;
    scope.vars = attempt.vars;
    json output = input.payload;
    try {
      if (task.output_as) output = evaluate(*task.output_as, input.payload, scope, &input.payload);
    } catch (const ExpressionError&) {
      output = input.payload;  // its compensation gets the raw result rather than nothing
    }
    state_.late_results.push_back(CompensationRecord{attempt.task_id, attempt.reference, std::move(output)});
  } else if (input.type == Input::Type::activity_failed) {
    data["error"] = input.error.to_json();
    emit("activity_failed_late", attempt.reference, std::move(data));
  } else {
    emit("activity_cancel_confirmed", attempt.reference, std::move(data));
  }
  if (!state_.compensation) return;  // still running: undone when the workflow ends
  merge_late_results();
  if (state_.abandoned.empty()) stop_waiting_for_abandoned(false);
}

void Machine::merge_late_results() {
  CompensationState& compensation = *state_.compensation;
  // Newest first, before everything that completed normally: a late effect is the newest of all.
  for (auto& record : state_.late_results) compensation.remaining.insert(compensation.remaining.begin(), std::move(record));
  state_.late_results.clear();
}

void Machine::stop_waiting_for_abandoned(bool give_up) {
  if (give_up && !state_.abandoned.empty()) {
    json ids = json::array();
    for (const auto& [id, attempt] : state_.abandoned) ids.push_back(id);
    emit("abandoned_attempts_released", "/",
         json{{"activity_ids", ids},
              {"reason", "no report within " + std::to_string(limits_.abandoned_wait_ms) +
                             " ms; a later result will not be undone"}});
    state_.abandoned.clear();
  }
  cancel_timer(state_.abandoned_timer);
  if (!state_.compensation || !state_.compensation->waiting) return;
  state_.compensation->waiting = false;
  merge_late_results();
  next_compensation();
}

void Machine::begin_compensation() {
  merge_late_results();
  if (!state_.abandoned.empty()) {
    json ids = json::array();
    for (const auto& [id, attempt] : state_.abandoned) ids.push_back(id);
    state_.compensation->waiting = true;
    emit("awaiting_abandoned_attempts", "/", json{{"activity_ids", std::move(ids)}});
    state_.abandoned_timer =
        start_timer(TimerKind::abandoned_wait, now_ms_ + limits_.abandoned_wait_ms, 0, 0, true, "/");
    return;
  }
  next_compensation();
}

void Machine::fail_workflow(const std::string& cause, WorkflowError error, std::vector<Node> fault_path) {
  assert(!state_.compensation);
  outcomes_.clear();  // whatever else was about to happen is moot
  cancel_all_nodes();
  cancel_timer(state_.workflow_timer);
  state_.error = error.to_json();
  if (state_.compensable.empty() && state_.late_results.empty() && state_.abandoned.empty()) {
    const WorkflowStatus status = status_of_cause(cause);
    // Kept for an operator's retry, which re-opens the workflow where it failed.
    if (status == WorkflowStatus::faulted) state_.fault_path = std::move(fault_path);
    finalize(status, "workflow_" + std::string(to_string(status)), json{{"error", state_.error}});
    return;
  }
  CompensationState compensation;
  compensation.cause = cause;
  compensation.fault_path = std::move(fault_path);
  json references = json::array();
  for (auto it = state_.compensable.rbegin(); it != state_.compensable.rend(); ++it) {
    compensation.remaining.push_back(*it);
    references.push_back(it->reference);
  }
  state_.compensation = std::move(compensation);
  state_.status = WorkflowStatus::compensating;
  emit("workflow_compensating", "/", json{{"cause", cause}, {"error", state_.error}, {"tasks", references}});
  begin_compensation();
}


void Machine::next_compensation() {
  CompensationState& compensation = *state_.compensation;
  if (compensation.remaining.empty()) {
    compensation.current_reference.clear();
    compensation.current = CompensationRecord{};
    const bool ok = compensation.failures.empty();
    if (ok && !compensation.then.is_null()) {
      const json then = compensation.then;
      finalize(*parse_workflow_status(then.at("status").get<std::string>()), then.at("event").get<std::string>(),
               then.at("data"));
      return;
    }
    if (ok && compensation.ran == 0) {
      // Nothing was undone after all (the attempts waited for had not acted): the workflow ends as
      // it would have without anything to compensate.
      const WorkflowStatus status = status_of_cause(compensation.cause);
      if (status == WorkflowStatus::faulted) state_.fault_path = std::move(compensation.fault_path);
      state_.compensation.reset();
      finalize(status, "workflow_" + std::string(to_string(status)), json{{"error", state_.error}});
      return;
    }
    json data{{"cause", compensation.cause}, {"error", state_.error}};
    if (!ok) data["failures"] = compensation.failures;
    finalize(ok ? WorkflowStatus::compensated : WorkflowStatus::compensation_failed,
             ok ? "workflow_compensated" : "workflow_compensation_failed", std::move(data));
    return;
  }
  CompensationRecord record = std::move(compensation.remaining.front());
  compensation.remaining.erase(compensation.remaining.begin());
  compensation.current_reference = record.reference;
  compensation.current = record;
  compensation.ran += 1;
  emit("compensation_started", record.reference, json{{"input", record.output}});
  const Task& task = definition_.task(record.task_id);
  // A compensation receives the output of the task it undoes as its input.
  start_list(*task.compensate, compensation_parent, std::move(record.output));
}

void Machine::on_compensation_outcome(Outcome& outcome) {
  CompensationState& compensation = *state_.compensation;
  if (outcome.ok) {
    emit("compensation_completed", compensation.current_reference, json{{"output", outcome.output}});
  } else {
    // Keep going: the remaining compensations are independent undo steps, and leaving them undone
    // would only widen what an operator has to repair by hand.
    const json error = outcome.error.to_json();
    compensation.failures.push_back(json{{"task", compensation.current_reference}, {"error", error}});
    compensation.failed.push_back(compensation.current);
    emit("compensation_failed", compensation.current_reference, json{{"error", error}});
  }
  next_compensation();
}

// Retry of compensation_failed: the compensations that failed run again, in the order they ran
// (newest first), each with its own retry policy; those that succeeded are not repeated.
void Machine::retry_compensations() {
  CompensationState& compensation = *state_.compensation;
  compensation.remaining = std::move(compensation.failed);
  compensation.failed.clear();
  compensation.failures = json::array();
  next_compensation();
}

void Machine::finalize(WorkflowStatus status, const std::string& event_type, json data) {
  outcomes_.clear();
  cancel_timer(state_.workflow_timer);
  cancel_timer(state_.abandoned_timer);
  emit(event_type, "/", std::move(data));
  close_workflow(status);
}

void Machine::close_workflow(WorkflowStatus status) {
  state_.status = status;
  state_.closed_ms = now_ms_;
  Command command;
  command.type = Command::Type::workflow_closed;
  command.status = status;
  step_.commands.push_back(std::move(command));
}

}  // namespace flightplan::engine::detail

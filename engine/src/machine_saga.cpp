// How a workflow ends: completion, or a fault / timeout / cancellation followed by the saga's
// compensations, newest first, each retried by its own policy.
#include "flightplan/engine/duration.hpp"
#include "machine_impl.hpp"

#include <cassert>

namespace flightplan::engine::detail {

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
  finalize(WorkflowStatus::completed, "workflow_completed", json{{"output", std::move(output)}});
}

void Machine::fail_workflow(const std::string& cause, WorkflowError error, std::vector<Node> fault_path) {
  assert(!state_.compensation);
  outcomes_.clear();  // whatever else was about to happen is moot
  cancel_all_nodes();
  cancel_timer(state_.workflow_timer);
  state_.error = error.to_json();
  if (state_.compensable.empty()) {
    const WorkflowStatus status = cause == "timed_out"   ? WorkflowStatus::timed_out
                                  : cause == "cancelled" ? WorkflowStatus::cancelled
                                                         : WorkflowStatus::faulted;
    // Kept for an operator's retry, which re-opens the workflow where it failed.
    if (status == WorkflowStatus::faulted) state_.fault_path = std::move(fault_path);
    finalize(status, "workflow_" + std::string(to_string(status)), json{{"error", state_.error}});
    return;
  }
  CompensationState compensation;
  compensation.cause = cause;
  json references = json::array();
  for (auto it = state_.compensable.rbegin(); it != state_.compensable.rend(); ++it) {
    compensation.remaining.push_back(*it);
    references.push_back(it->reference);
  }
  state_.compensation = std::move(compensation);
  state_.status = WorkflowStatus::compensating;
  emit("workflow_compensating", "/", json{{"cause", cause}, {"error", state_.error}, {"tasks", references}});
  next_compensation();
}

void Machine::next_compensation() {
  CompensationState& compensation = *state_.compensation;
  if (compensation.remaining.empty()) {
    compensation.current_reference.clear();
    compensation.current = CompensationRecord{};
    const bool ok = compensation.failures.empty();
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

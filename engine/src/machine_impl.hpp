#pragma once
// Private to the engine: the interpreter behind apply(). One Machine lives for one input. It walks
// the execution tree kept in WorkflowState::nodes, emitting events and commands as it goes.
//
// Completions travel through a FIFO queue of outcomes instead of recursion, so a long run of
// synchronous tasks (set, switch, a for loop over a big array) neither deepens the stack nor
// depends on evaluation order subtleties: the order is the queue's, hence deterministic.
#include "flightplan/engine/definition.hpp"
#include "flightplan/engine/machine.hpp"
#include "flightplan/engine/state.hpp"

#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

namespace flightplan::engine::detail {

using nlohmann::json;

class Machine {
 public:
  Machine(const Definition& definition, WorkflowState& state, const EngineLimits& limits,
          EvaluationControl* control, std::int64_t now_ms, Step& step);
  void handle(const Input& input);

 private:
  // A finished child, waiting for its parent to react.
  struct Outcome {
    std::int64_t parent = 0;
    std::int64_t child = 0;
    bool ok = true;
    json output;
    WorkflowError error;
    FlowDirective directive;
    // A failure only: copies of the nodes it has unwound so far, the failing task first. When it
    // reaches the root they become WorkflowState::fault_path, from which a retry re-opens the tree.
    std::vector<Node> trail;
  };

  // Inputs (machine.cpp).
  void on_start(const Input& input);
  void on_timer(const Input& input);
  void on_signal(const Input& input);
  void on_cancel(const Input& input);
  void on_fault(const Input& input);
  static bool is_activity_input(const Input& input) {
    return input.type == Input::Type::activity_started || input.type == Input::Type::activity_completed ||
           input.type == Input::Type::activity_failed || input.type == Input::Type::activity_heartbeat ||
           input.type == Input::Type::activity_cancelled;
  }
  // Applies one non-control input to an unpaused workflow.
  void apply_input(const Input& input);

  // Operator controls (machine.cpp). Each returns with step_.accepted false when it does not apply.
  void on_control(const Input& input);
  void on_terminate(const Input& input);
  void on_pause(const Input& input);
  void on_resume(const Input& input);
  void on_retry(const Input& input);
  // Records a non-control input that arrived while paused, unless it is stale or a redelivery.
  void hold(const Input& input);
  bool holdable(const Input& input) const;
  json control_data(const Input& input) const;

  // Retry of a faulted workflow: rebuild the tree from WorkflowState::fault_path (machine_tasks.cpp).
  void reopen_at_fault();
  void link_child(Node& parent, std::int64_t child_id, int child_task_id);
  bool rearm_task_timeout(std::int64_t node_id);
  void restart_fork_branches(std::int64_t fork_id, int failing_task_id);
  void rerun_task(const Node& origin);
  // Retry of compensation_failed: run the failed compensations again (machine_saga.cpp).
  void retry_compensations();
  // Records `input_id` among the recent ones; true when it was already there (a redelivery).
  bool seen_before(const std::string& input_id);

  // Plumbing (machine.cpp).
  Event& emit(std::string type, std::string reference, json data = json::object());
  std::int64_t next_id() { return state_.next_id++; }
  Node& add_node(Node::Kind kind, std::int64_t parent);
  Node* find_node(std::int64_t id);
  const Task& task_of(const Node& node) const { return definition_.task(node.task_id); }
  void push(Outcome outcome) { outcomes_.push_back(std::move(outcome)); }
  void drain();
  void dispatch(Outcome& outcome);
  void update_status();

  // Expressions (machine.cpp).
  json evaluate(const ValueTemplate& value, const json& dot, const Node& scope, const json* output = nullptr);
  json evaluate(const Expression& expression, const json& dot, const Node& scope, const json* output = nullptr);
  bool test(const Expression& expression, const json& dot, const Node& scope, const json* output = nullptr);
  std::vector<Binding> bindings(const Node& scope, const json* output);
  json task_argument(const Node& node) const;
  json workflow_argument() const;  // $workflow
  std::int64_t resolve_duration(const DurationSpec& spec, const Node& scope);

  // Lists and tasks (machine_tasks.cpp).
  void start_list(const TaskList& list, std::int64_t parent, json input, json vars = json::object());
  void on_list_outcome(Node& list, Outcome& outcome);
  // Returns the id of the task's node (which may already be finished and erased).
  std::int64_t start_task(const Task& task, std::int64_t parent, json raw_input, json vars = json::object());
  // The second half of start_task, once the node's input exists: task_started, timeout, body.
  void begin_task(Node& node, const Task& task);
  void run_task_body(Node& node, const Task& task);
  void finish_task(Node& node, json raw_output, FlowDirective directive);
  void fault_task(Node& node, WorkflowError error, std::vector<Node> trail = {});
  void on_task_outcome(Node& node, Outcome& outcome);
  void start_for_iteration(Node& node, json data);
  void on_fork_outcome(Node& node, Outcome& outcome);
  void on_try_fault(Node& node, Outcome& outcome);
  void start_switch(Node& node, const SwitchTask& body);
  void start_listen(Node& node);
  bool offer_signal(Node& node, const json& signal);
  WorkflowError expression_error(const Node& node, const std::string& detail) const;

  // Activities (machine_activity.cpp).
  void start_activity(Node& node, const CallActivityTask& call, json arguments);
  void dispatch_attempt(PendingActivity& activity, const CallActivityTask& call);
  void on_activity_started(const Input& input);
  // The start an outcome or heartbeat carries (Input::started_ms), applied first at its own time;
  // nothing when the attempt's start is known already.
  void start_first(const Input& input);
  void on_activity_completed(const Input& input);
  void on_activity_failed(const Input& input);
  void on_activity_heartbeat(const Input& input);
  void on_activity_timer(const Timer& timer);
  void on_activity_retry_timer(const Timer& timer);
  // `may_still_act`: the attempt timed out and its worker may yet act; giving up then abandons it.
  void attempt_failed(PendingActivity& activity, WorkflowError error, bool retryable, bool may_still_act = false);
  PendingActivity* find_attempt(const Input& input);
  void clear_attempt_timers(PendingActivity& activity);
  void drop_activity(std::int64_t activity_id, bool cancel_worker);
  const CallActivityTask& call_of(const PendingActivity& activity);
  // Late results (machine_saga.cpp): remembers an attempt that may still act, if its task compensates.
  void abandon(const PendingActivity& activity);
  // Schedules the task that fences `attempt`'s key and reports what it finds.
  void schedule_fence(const AbandonedAttempt& attempt);
  void on_abandoned_outcome(const Input& input);
  // The newest late results join the front of a running compensation.
  void merge_late_results();
  // An abandoned attempt reported (or the wait ran out: `give_up`): compensate once none is left.
  void stop_waiting_for_abandoned(bool give_up);
  // Starts undoing what is in `compensation` (waiting first for abandoned attempts, if any).
  void begin_compensation();

  // Timers and cancellation (machine.cpp).
  std::int64_t start_timer(TimerKind kind, std::int64_t due_ms, std::int64_t node, std::int64_t activity,
                           bool recorded, const std::string& reference);
  void cancel_timer(std::int64_t& timer_id);
  void cancel_subtree(std::int64_t node_id);
  void cancel_all_nodes();

  // Workflow outcome and the saga (machine_saga.cpp).
  void complete_workflow(json output);
  void fail_workflow(const std::string& cause, WorkflowError error, std::vector<Node> fault_path = {});
  void next_compensation();
  void on_compensation_outcome(Outcome& outcome);
  void finalize(WorkflowStatus status, const std::string& event_type, json data);
  // Sets the final status and tells the runtime (the workflow_closed command).
  void close_workflow(WorkflowStatus status);

  const Definition& definition_;
  WorkflowState& state_;
  const EngineLimits& limits_;
  EvaluationBudget budget_;  // every expression of this step: its memory budget and the step's control
  std::int64_t now_ms_;
  Step& step_;
  std::deque<Outcome> outcomes_;
  json workflow_argument_;
  json runtime_argument_;
  json secrets_argument_ = json::object();
  bool history_limit_hit_ = false;
};

}  // namespace flightplan::engine::detail

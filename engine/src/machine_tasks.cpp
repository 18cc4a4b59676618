// Lists and tasks: how each task type of the DSL starts, finishes and reacts to its children.
#include "flightplan/engine/duration.hpp"
#include "flightplan/engine/retry.hpp"
#include "machine_impl.hpp"

#include <cassert>
#include <utility>

namespace flightplan::engine::detail {

namespace {
template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;
}  // namespace

WorkflowError Machine::expression_error(const Node& node, const std::string& detail) const {
  const std::string reference = node.task_id >= 0 ? task_of(node).reference : "/";
  return make_error(error_types::expression, 400, "Expression evaluation failed", detail, reference);
}

void Machine::start_list(const TaskList& list, std::int64_t parent, json input, json vars) {
  Node& node = add_node(Node::Kind::list, parent);
  node.list_ref = list.reference;
  node.vars = std::move(vars);
  if (Node* owner = find_node(parent)) owner->child = node.id;
  if (list.tasks.empty()) {
    const std::int64_t id = node.id;
    state_.nodes.erase(id);
    push({parent, id, true, std::move(input), {}, {}, {}});
    return;
  }
  start_task(*list.tasks.front(), node.id, std::move(input));
}

void Machine::on_list_outcome(Node& list_node, Outcome& outcome) {
  list_node.child = 0;
  const std::int64_t id = list_node.id;
  const std::int64_t parent = list_node.parent;
  if (!outcome.ok) {
    outcome.trail.push_back(list_node);
    state_.nodes.erase(id);
    push({parent, id, false, {}, std::move(outcome.error), {}, std::move(outcome.trail)});
    return;
  }
  const TaskList& list = definition_.list(list_node.list_ref);
  int next = list_node.index + 1;
  switch (outcome.directive.kind) {
    case FlowDirective::Kind::continue_: break;
    case FlowDirective::Kind::go_to: next = outcome.directive.target_index; break;
    case FlowDirective::Kind::exit: next = static_cast<int>(list.tasks.size()); break;
    case FlowDirective::Kind::end: break;  // handled by dispatch()
  }
  if (next < 0 || next >= static_cast<int>(list.tasks.size())) {
    if (Node* owner = find_node(parent)) owner->child = 0;
    state_.nodes.erase(id);
    push({parent, id, true, std::move(outcome.output), {}, {}, {}});
    return;
  }
  list_node.index = next;
  start_task(*list.tasks[static_cast<std::size_t>(next)], id, std::move(outcome.output));
}

std::int64_t Machine::start_task(const Task& task, std::int64_t parent, json raw_input, json vars) {
  Node& node = add_node(Node::Kind::task, parent);
  const std::int64_t id = node.id;
  node.task_id = task.id;
  node.vars = std::move(vars);
  node.started_ms = now_ms_;
  node.raw_input = std::move(raw_input);
  if (Node* owner = find_node(parent); owner != nullptr && owner->kind == Node::Kind::list) owner->child = node.id;
  try {
    if (task.if_ && !test(*task.if_, node.raw_input, node)) {
      emit("task_skipped", task.reference);
      json output = std::move(node.raw_input);
      state_.nodes.erase(id);
      push({parent, id, true, std::move(output), {}, {}, {}});
      return id;
    }
    // The raw input is only needed until the task's own input exists; dropping it keeps the
    // persisted state (written after every input) small.
    node.input = task.input_from ? evaluate(*task.input_from, node.raw_input, node) : std::move(node.raw_input);
    node.raw_input = nullptr;
  } catch (const ExpressionError& e) {
    emit("task_started", task.reference, json{{"input", node.raw_input}});
    node.phase = "input";  // tells a retry to evaluate the input again from raw_input
    fault_task(node, expression_error(node, e.what()));
    return id;
  }
  begin_task(node, task);
  return id;
}

void Machine::begin_task(Node& node, const Task& task) {
  const std::int64_t id = node.id;
  emit("task_started", task.reference, json{{"input", node.input}});
  try {
    if (task.timeout)
      node.timeout_timer = start_timer(TimerKind::task_timeout, now_ms_ + resolve_duration(*task.timeout, node),
                                       node.id, 0, true, task.reference);
    run_task_body(node, task);
  } catch (const ExpressionError& e) {
    // The node may be gone already if the body finished before the failing evaluation.
    if (Node* still = find_node(id)) fault_task(*still, expression_error(*still, e.what()));
  }
}

void Machine::run_task_body(Node& node, const Task& task) {
  std::visit(
      Overloaded{
          [&](const SetTask& body) { finish_task(node, evaluate(body.value, node.input, node), task.then); },
          [&](const RaiseTask& body) {
            WorkflowError error = WorkflowError::from_json(evaluate(body.error.value, node.input, node));
            if (error.instance.empty()) error.instance = task.reference;
            fault_task(node, std::move(error));
          },
          [&](const SwitchTask& body) { start_switch(node, body); },
          [&](const WaitTask& body) {
            node.timer_id = start_timer(TimerKind::wait, now_ms_ + resolve_duration(body.duration, node), node.id, 0,
                                        true, task.reference);
          },
          [&](const CallActivityTask& body) {
            start_activity(node, body, body.has_with ? evaluate(body.with, node.input, node) : node.input);
          },
          [&](const CallFunctionTask& body) {
            json input = body.has_with ? evaluate(body.with, node.input, node) : node.input;
            const std::int64_t id = node.id;
            const std::int64_t child = start_task(*body.body, id, std::move(input));
            if (Node* self = find_node(id)) self->child = child;
          },
          [&](const DoTask& body) { start_list(*body.tasks, node.id, node.input); },
          [&](const ForTask& body) {
            json items = evaluate(*body.in, node.input, node);
            if (items.is_object()) {
              json values = json::array();
              for (auto& [key, value] : items.items()) values.push_back(value);
              items = std::move(values);
            }
            if (!items.is_array() && !items.is_null())
              throw ExpressionError("for.in `" + body.in->source() + "` must give an array, got " + items.dump());
            node.results = items.is_null() ? json::array() : std::move(items);
            node.item_index = -1;
            start_for_iteration(node, node.input);
          },
          [&](const ForkTask& body) {
            node.remaining = static_cast<int>(body.branches->tasks.size());
            node.results = json::array();
            node.children.assign(body.branches->tasks.size(), 0);
            for (std::size_t i = 0; i < body.branches->tasks.size(); ++i) node.results.push_back(nullptr);
            if (node.remaining == 0) {
              finish_task(node, json::array(), task.then);
              return;
            }
            const std::int64_t id = node.id;
            const json input = node.input;
            for (std::size_t i = 0; i < body.branches->tasks.size(); ++i) {
              if (find_node(id) == nullptr) return;  // a branch's fault took the fork down
              const std::int64_t child = start_task(*body.branches->tasks[i], id, input);
              if (Node* again = find_node(id)) again->children[i] = child;
            }
          },
          [&](const TryTask& body) {
            node.attempt = 1;
            node.first_attempt_ms = now_ms_;
            node.phase = "try";
            start_list(*body.try_, node.id, node.input);
          },
          [&](const ListenTask&) { start_listen(node); },
      },
      task.body);
}

void Machine::finish_task(Node& node, json raw_output, FlowDirective directive) {
  const Task& task = task_of(node);
  json output;
  try {
    output = task.output_as ? evaluate(*task.output_as, raw_output, node, &raw_output) : std::move(raw_output);
    if (task.export_as) state_.context = evaluate(*task.export_as, output, node, &output);
  } catch (const ExpressionError& e) {
    fault_task(node, expression_error(node, e.what()));
    return;
  }
  cancel_timer(node.timeout_timer);
  emit("task_completed", task.reference, json{{"output", output}});
  if (task.compensate && !state_.compensation)
    state_.compensable.push_back(CompensationRecord{task.id, task.reference, output});
  const std::int64_t id = node.id;
  const std::int64_t parent = node.parent;
  state_.nodes.erase(id);
  push({parent, id, true, std::move(output), {}, directive, {}});
}

void Machine::fault_task(Node& node, WorkflowError error, std::vector<Node> trail) {
  trail.push_back(node);  // as it is before its children are cancelled: a retry restarts from here
  const Task& task = task_of(node);
  if (error.instance.empty()) error.instance = task.reference;
  const std::int64_t id = node.id;
  const std::int64_t parent = node.parent;
  // Children first: a faulted task takes everything still running under it down with it.
  if (node.child != 0) cancel_subtree(node.child);
  for (std::int64_t child : find_node(id)->children)
    if (child != 0) cancel_subtree(child);
  Node& self = *find_node(id);
  if (self.activity_id != 0) drop_activity(self.activity_id, true);
  cancel_timer(self.timer_id);
  cancel_timer(self.timeout_timer);
  emit("task_faulted", task.reference, json{{"error", error.to_json()}});
  state_.nodes.erase(id);
  push({parent, id, false, {}, std::move(error), {}, std::move(trail)});
}

void Machine::on_task_outcome(Node& node, Outcome& outcome) {
  const Task& task = task_of(node);
  node.child = 0;
  if (std::holds_alternative<ForkTask>(task.body)) {
    on_fork_outcome(node, outcome);
    return;
  }
  if (std::holds_alternative<TryTask>(task.body) && !outcome.ok && node.phase == "try") {
    on_try_fault(node, outcome);
    return;
  }
  if (!outcome.ok) {
    fault_task(node, std::move(outcome.error), std::move(outcome.trail));
    return;
  }
  if (std::holds_alternative<ForTask>(task.body)) {
    start_for_iteration(node, std::move(outcome.output));
    return;
  }
  // do, try (success or catch.do done), call of a function.
  finish_task(node, std::move(outcome.output), task.then);
}

void Machine::start_for_iteration(Node& node, json data) {
  const auto& body = std::get<ForTask>(task_of(node).body);
  node.item_index += 1;
  if (node.item_index >= static_cast<int>(node.results.size())) {
    finish_task(node, std::move(data), task_of(node).then);
    return;
  }
  json vars{{body.each, node.results[static_cast<std::size_t>(node.item_index)]}, {body.at, node.item_index}};
  if (body.while_) {
    // `while` sees this iteration's variables, so evaluate it with them bound on the for node.
    json saved_vars = std::exchange(node.vars, vars);
    bool keep_going = false;
    try {
      keep_going = test(*body.while_, data, node);
    } catch (...) {
      node.vars = std::move(saved_vars);
      throw;
    }
    node.vars = std::move(saved_vars);
    if (!keep_going) {
      finish_task(node, std::move(data), task_of(node).then);
      return;
    }
  }
  start_list(*body.do_, node.id, std::move(data), std::move(vars));
}

void Machine::on_fork_outcome(Node& node, Outcome& outcome) {
  const auto& body = std::get<ForkTask>(task_of(node).body);
  std::size_t branch = 0;
  while (branch < node.children.size() && node.children[branch] != outcome.child) ++branch;
  assert(branch < node.children.size());
  node.children[branch] = 0;
  if (!outcome.ok) {
    fault_task(node, std::move(outcome.error), std::move(outcome.trail));  // cancels the other branches
    return;
  }
  if (body.compete) {
    const std::int64_t id = node.id;
    for (std::int64_t child : node.children)
      if (child != 0) cancel_subtree(child);
    Node& self = *find_node(id);
    self.children.assign(self.children.size(), 0);
    finish_task(self, std::move(outcome.output), task_of(self).then);
    return;
  }
  node.results[branch] = std::move(outcome.output);
  if (--node.remaining == 0) finish_task(node, node.results, task_of(node).then);
}

void Machine::on_try_fault(Node& node, Outcome& outcome) {
  const WorkflowError& error = outcome.error;
  const auto& body = std::get<TryTask>(task_of(node).body);
  const Catch& c = body.catch_;
  const json error_json = error.to_json();
  bool caught = c.filter.matches(error);
  const json saved_vars = node.vars;
  node.vars[c.as] = error_json;  // `as` is in scope for when/exceptWhen/retry and catch.do
  try {
    if (caught && c.when) caught = test(*c.when, node.input, node);
    if (caught && c.except_when) caught = !test(*c.except_when, node.input, node);
    if (caught && c.retry) {
      bool retryable = true;
      if (c.retry->when) retryable = test(*c.retry->when, node.input, node);
      if (retryable && c.retry->except_when) retryable = !test(*c.retry->except_when, node.input, node);
      const double jitter = unit_interval_hash(state_.id + task_of(node).reference + std::to_string(node.attempt));
      const RetryDecision decision =
          decide_retry(*c.retry, node.attempt, node.first_attempt_ms, now_ms_, jitter, retryable);
      if (decision.retry) {
        node.vars = saved_vars;
        node.phase = "retry_wait";
        node.timer_id = start_timer(TimerKind::try_retry, now_ms_ + decision.delay_ms, node.id, 0, true,
                                    task_of(node).reference);
        return;
      }
    }
  } catch (const ExpressionError& e) {
    node.vars = saved_vars;
    fault_task(node, expression_error(node, e.what()));
    return;
  }
  // A catch that only retries gives the error back once its retries are spent: swallowing it
  // would turn "retry this transient failure" into "ignore this failure". With a `do` the
  // fallback runs instead.
  if (!caught || (c.retry && !c.do_)) {
    node.vars = saved_vars;
    fault_task(node, error, std::move(outcome.trail));
    return;
  }
  emit("task_error_caught", task_of(node).reference, json{{"error", error_json}, {"attempt", node.attempt}});
  if (!c.do_) {
    node.vars = saved_vars;
    finish_task(node, node.input, task_of(node).then);
    return;
  }
  node.phase = "catch";
  node.error = error_json;
  json vars{{c.as, error_json}};
  node.vars = saved_vars;
  start_list(*c.do_, node.id, node.input, std::move(vars));
}

void Machine::start_switch(Node& node, const SwitchTask& body) {
  const SwitchCase* chosen = nullptr;
  const SwitchCase* fallback = nullptr;
  for (const SwitchCase& c : body.cases) {
    if (!c.when) {
      fallback = &c;
      continue;
    }
    if (test(*c.when, node.input, node)) {
      chosen = &c;
      break;
    }
  }
  if (chosen == nullptr) chosen = fallback;
  const Task& task = task_of(node);
  if (chosen == nullptr) {
    finish_task(node, node.input, task.then);
    return;
  }
  emit("switch_matched", task.reference, json{{"case", chosen->name}});
  finish_task(node, node.input, chosen->then);
}

void Machine::start_listen(Node& node) {
  const auto& body = std::get<ListenTask>(task_of(node).body);
  node.results = json::array();
  node.matched.assign(body.filters.size(), false);
  const std::int64_t id = node.id;
  // Signals that arrived before anyone listened are consumed first, in arrival order.
  for (std::size_t i = 0; i < state_.signals.size();) {
    Node* self = find_node(id);
    if (self == nullptr) return;
    json signal = state_.signals[i];
    if (offer_signal(*self, signal)) {
      state_.signals.erase(state_.signals.begin() + static_cast<std::ptrdiff_t>(i));
      emit("signal_consumed", task_of(*self).reference, json{{"signal", signal.at("type")}, {"buffered", true}});
    } else {
      ++i;
    }
  }
}

bool Machine::offer_signal(Node& node, const json& signal) {
  const Task& task = task_of(node);
  const auto& body = std::get<ListenTask>(task.body);
  const std::string type = signal.at("type").get<std::string>();
  int filter_index = -1;
  try {
    for (std::size_t i = 0; i < body.filters.size(); ++i) {
      const EventFilter& f = body.filters[i];
      if (body.mode == ListenTask::Mode::all && node.matched[i]) continue;
      if (f.type != type) continue;
      if (f.data && !test(*f.data, signal.at("data"), node)) continue;
      filter_index = static_cast<int>(i);
      break;
    }
    const bool accept_any = body.mode == ListenTask::Mode::any && body.filters.empty();
    if (filter_index < 0 && !accept_any) return false;
    node.results.push_back(body.read == ListenTask::Read::data ? signal.at("data") : signal);
    bool done = true;
    if (body.mode == ListenTask::Mode::all) {
      node.matched[static_cast<std::size_t>(filter_index)] = true;
      for (bool m : node.matched) done = done && m;
    } else if (body.mode == ListenTask::Mode::any && body.until) {
      done = test(*body.until, node.results, node);
    }
    if (done) finish_task(node, node.results, task.then);
  } catch (const ExpressionError& e) {
    fault_task(node, expression_error(node, e.what()));
  }
  return true;
}

// Retry of a faulted workflow. fault_path holds copies of the nodes the fault unwound, the failing
// task first and the root list last. The ancestors come back as they were (same ids, same list
// positions, same loop and fork progress), so tasks that completed are not run again; the failing
// task runs again with the input it had. What the fault cancelled on the way up is restarted: fork
// branches that were still running start over, and task timeouts get a fresh window from now.
void Machine::reopen_at_fault() {
  std::vector<Node> path = std::move(state_.fault_path);
  state_.fault_path.clear();
  assert(path.size() >= 2 && path.back().parent == root_parent);
  for (std::size_t k = 1; k < path.size(); ++k) {
    assert(path[k - 1].parent == path[k].id);
    Node node = path[k];
    // The fault cancelled these; the links to children are set again as each child comes back.
    node.child = 0;
    node.timer_id = 0;
    node.timeout_timer = 0;
    node.activity_id = 0;
    const bool inserted = state_.nodes.emplace(node.id, std::move(node)).second;
    assert(inserted);
    (void)inserted;
  }
  for (std::size_t k = 2; k < path.size(); ++k)
    link_child(*find_node(path[k].id), path[k - 1].id, path[k - 1].task_id);
  for (std::size_t k = path.size() - 1; k >= 1; --k)
    if (!rearm_task_timeout(path[k].id)) return;  // it faulted, taking the rest of the path with it
  for (std::size_t k = path.size() - 1; k >= 1; --k)
    if (path[k].kind == Node::Kind::task && std::holds_alternative<ForkTask>(task_of(path[k]).body))
      restart_fork_branches(path[k].id, path[k - 1].task_id);
  rerun_task(path.front());
}

void Machine::link_child(Node& parent, std::int64_t child_id, int child_task_id) {
  if (parent.kind == Node::Kind::task) {
    if (const auto* fork = std::get_if<ForkTask>(&task_of(parent).body)) {
      for (std::size_t i = 0; i < fork->branches->tasks.size(); ++i)
        if (fork->branches->tasks[i]->id == child_task_id) parent.children[i] = child_id;
      return;
    }
  }
  parent.child = child_id;  // a list's running task, or a do/try/for's list, or a function's body
}

bool Machine::rearm_task_timeout(std::int64_t node_id) {
  Node* node = find_node(node_id);
  if (node == nullptr || node->kind != Node::Kind::task || !task_of(*node).timeout) return true;
  const Task& task = task_of(*node);
  try {
    const std::int64_t due_ms = now_ms_ + resolve_duration(*task.timeout, *node);
    node->timeout_timer = start_timer(TimerKind::task_timeout, due_ms, node->id, 0, true, task.reference);
  } catch (const ExpressionError& e) {
    fault_task(*node, expression_error(*node, e.what()));
    return false;
  }
  return true;
}

void Machine::restart_fork_branches(std::int64_t fork_id, int failing_task_id) {
  const auto& body = std::get<ForkTask>(task_of(*find_node(fork_id)).body);
  for (std::size_t i = 0; i < body.branches->tasks.size(); ++i) {
    Node* fork = find_node(fork_id);
    if (fork == nullptr) return;  // a restarted branch faulted at once and took the fork down
    // A non-zero slot is a branch the fault cancelled while it ran; zero means it had finished.
    const Task& branch = *body.branches->tasks[i];
    if (fork->children[i] == 0 || branch.id == failing_task_id) continue;
    fork->children[i] = 0;
    const json input = fork->input;
    const std::int64_t child = start_task(branch, fork_id, input);
    if (Node* again = find_node(fork_id)) again->children[i] = child;
  }
}

void Machine::rerun_task(const Node& origin) {
  const Task& task = definition_.task(origin.task_id);
  assert(find_node(origin.parent) != nullptr);
  if (origin.phase == "input") {
    // Its input.from failed, so the task never had an input: evaluate it again.
    const std::int64_t id = start_task(task, origin.parent, origin.raw_input, origin.vars);
    if (Node* parent = find_node(origin.parent)) link_child(*parent, id, task.id);
    return;
  }
  Node& node = add_node(Node::Kind::task, origin.parent);
  node.task_id = origin.task_id;
  node.vars = origin.vars;
  node.started_ms = now_ms_;
  node.input = origin.input;
  link_child(*find_node(origin.parent), node.id, task.id);
  begin_task(node, task);
}

}  // namespace flightplan::engine::detail

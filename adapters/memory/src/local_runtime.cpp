#include "flightplan/memory/local_runtime.hpp"

#include <chrono>
#include <stdexcept>
#include <thread>

namespace flightplan::memory {

using engine::Command;
using engine::Input;
using nlohmann::json;

engine::History WorkflowRecord::history() const {
  engine::History history;
  history.workflow_id = state.id;
  history.workflow_name = state.name;
  history.workflow_version = state.version;
  history.digest = state.digest;
  history.events = events;
  return history;
}

LocalRuntime::LocalRuntime(activities::ActivityRegistry& registry, activities::FaultInjector faults,
                           Clock& clock, RuntimeLimits limits)
    : registry_(registry), faults_(std::move(faults)), clock_(clock), limits_(limits) {}

void LocalRuntime::start(engine::DefinitionPtr definition, const std::string& workflow_id, json input) {
  if (workflows_.count(workflow_id) != 0)
    throw engine::OperationError(engine::ErrorCategory::conflict, "workflow '" + workflow_id + "' already exists");
  workflows_[workflow_id].definition = std::move(definition);
  apply(workflow_id, Input::start(workflow_id, std::move(input), clock_.now_ms()));
}

void LocalRuntime::signal(const std::string& workflow_id, const std::string& name, json payload) {
  workflow(workflow_id);  // throws not_found
  apply(workflow_id, Input::signal(name, std::move(payload), clock_.now_ms()));
}

void LocalRuntime::cancel(const std::string& workflow_id, const std::string& reason) {
  workflow(workflow_id);
  apply(workflow_id, Input::cancel(reason, clock_.now_ms()));
}

const WorkflowRecord& LocalRuntime::workflow(const std::string& workflow_id) const {
  auto it = workflows_.find(workflow_id);
  if (it == workflows_.end())
    throw engine::OperationError(engine::ErrorCategory::not_found, "no workflow with id '" + workflow_id + "'");
  return it->second;
}

void LocalRuntime::send_signal(const std::string& workflow_id, const std::string& signal, json payload,
                               std::int64_t delay_ms) {
  AgendaItem item;
  item.workflow_id = workflow_id;
  item.input = Input::signal(signal, std::move(payload), 0);
  schedule(clock_.now_ms() + std::max<std::int64_t>(delay_ms, 0), std::move(item));
}

void LocalRuntime::apply(const std::string& workflow_id, const Input& input) {
  WorkflowRecord& record = workflows_.at(workflow_id);
  engine::Step step = engine::apply(*record.definition, record.state, input);
  if (!step.accepted) return;
  for (auto& event : step.events) record.events.push_back(std::move(event));
  execute_commands(workflow_id, step.commands);
}

void LocalRuntime::execute_commands(const std::string& workflow_id, const std::vector<Command>& commands) {
  const std::int64_t now_ms = clock_.now_ms();
  for (const Command& command : commands) {
    switch (command.type) {
      case Command::Type::start_timer: {
        AgendaItem item;
        item.workflow_id = workflow_id;
        item.input = Input::timer_fired(command.timer_id, 0);
        const std::int64_t seq = agenda_seq_ + 1;
        schedule(std::max(command.due_ms, now_ms), std::move(item));
        timer_slots_[{workflow_id, command.timer_id}] = {std::max(command.due_ms, now_ms), seq};
        break;
      }
      case Command::Type::cancel_timer: {
        auto it = timer_slots_.find({workflow_id, command.timer_id});
        if (it != timer_slots_.end()) {
          agenda_.erase(it->second);
          timer_slots_.erase(it);
        }
        break;
      }
      case Command::Type::schedule_activity: {
        // The worker picks the task up at once, reports it started, and answers after its latency.
        const activities::FaultDecision fault =
            faults_.decide(command.activity, command.idempotency_key, command.attempt);
        AgendaItem started;
        started.workflow_id = workflow_id;
        started.input.type = Input::Type::activity_started;
        started.input.activity_id = command.activity_id;
        started.input.attempt = command.attempt;
        started.input.name = "local-worker";
        schedule(now_ms, std::move(started));
        AgendaItem run;
        run.kind = AgendaItem::Kind::activity;
        run.workflow_id = workflow_id;
        run.activity = ActivityRun{workflow_id, command, fault.hang, fault.fail};
        schedule(now_ms + fault.latency_ms, std::move(run));
        break;
      }
      case Command::Type::cancel_activity:
        cancelled_attempts_.insert({workflow_id, command.activity_id, command.attempt});
        break;
      case Command::Type::workflow_closed:
        break;
    }
  }
}

void LocalRuntime::schedule(std::int64_t due_ms, AgendaItem item) {
  agenda_.emplace(std::make_pair(due_ms, ++agenda_seq_), std::move(item));
}

void LocalRuntime::run_activity(const ActivityRun& run) {
  const Command& command = run.command;
  if (cancelled_attempts_.count({run.workflow_id, command.activity_id, command.attempt}) != 0) return;
  Input reply;
  reply.activity_id = command.activity_id;
  reply.attempt = command.attempt;
  if (run.fail) {
    // An injected failure happens before the activity runs: like a request lost on the way.
    reply.type = Input::Type::activity_failed;
    reply.error = engine::make_error("https://flightplan.dev/errors/injected-fault", 503, "Injected failure",
                                     "fault injection failed " + command.activity + " attempt " +
                                         std::to_string(command.attempt));
  } else {
    activities::Activity* activity = registry_.find(command.activity);
    activities::ActivityResult result;
    if (activity == nullptr) {
      result = activities::ActivityResult::fail("https://flightplan.dev/errors/not-found", 404,
                                                "Unknown activity", "no worker serves " + command.activity, false);
    } else {
      activities::ActivityRequest request{run.workflow_id, command.activity, command.idempotency_key,
                                          command.attempt, command.arguments, clock_.now_ms()};
      result = activity->execute(request, *this);
      // Each signal of the result at its due time, once: a repeated key returns the same ids again.
      for (activities::DelayedSignal& signal : result.signals)
        if (delivered_signals_.first_delivery(signal))
          send_signal(signal.workflow_id, signal.name, std::move(signal.payload), signal.due_ms - clock_.now_ms());
    }
    // A hung attempt did its work (the side effect happened) but its reply is never delivered.
    if (run.hang) return;
    if (result.ok) {
      reply.type = Input::Type::activity_completed;
      reply.payload = std::move(result.output);
    } else {
      reply.type = Input::Type::activity_failed;
      reply.error = engine::make_error(result.failure.type, result.failure.status, result.failure.title,
                                       result.failure.detail);
      reply.retryable = result.failure.retryable;
    }
  }
  reply.time_ms = clock_.now_ms();
  apply(run.workflow_id, reply);
}

bool LocalRuntime::all_final() const {
  for (const auto& [id, record] : workflows_)
    if (!engine::is_final(record.state.status)) return false;
  return true;
}

bool LocalRuntime::step() {
  auto it = agenda_.begin();
  const std::int64_t due_ms = it->first.first;
  AgendaItem item = std::move(it->second);
  agenda_.erase(it);
  clock_.wait_until(due_ms);
  if (item.kind == AgendaItem::Kind::activity) {
    run_activity(item.activity);
    return true;
  }
  if (item.input.type == Input::Type::timer_fired) timer_slots_.erase({item.workflow_id, item.input.timer_id});
  if (workflows_.count(item.workflow_id) == 0) return true;  // a signal for a workflow we never ran
  item.input.time_ms = clock_.now_ms();
  apply(item.workflow_id, item.input);
  return true;
}

bool LocalRuntime::run() {
  const std::int64_t start_ms = clock_.now_ms();
  for (std::int64_t steps = 0; !agenda_.empty(); ++steps) {
    if (all_final()) return true;
    if (steps >= limits_.steps_max) return false;
    if (agenda_.begin()->first.first - start_ms > limits_.virtual_span_ms_max) return false;
    step();
  }
  return true;
}

void LocalRuntime::run_for(std::int64_t delta_ms) {
  const std::int64_t end_ms = clock_.now_ms() + delta_ms;
  for (std::int64_t steps = 0; !agenda_.empty() && agenda_.begin()->first.first <= end_ms; ++steps) {
    if (steps >= limits_.steps_max) return;
    step();
  }
  clock_.wait_until(end_ms);
}

}  // namespace flightplan::memory

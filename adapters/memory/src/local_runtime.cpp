#include "flightplan/memory/local_runtime.hpp"

#include <algorithm>
#include <set>

namespace flightplan::memory {

using engine::Input;
using nlohmann::json;

namespace {

// The worker's name in activity_started events.
constexpr const char* worker_name = "local-worker";

std::vector<std::string> queues_of(const activities::ActivityRegistry& registry) {
  std::set<std::string> queues;
  for (const std::string& name : registry.names()) queues.insert(engine::queue_of(name));
  return {queues.begin(), queues.end()};
}

}  // namespace

engine::History WorkflowRecord::history() const {
  engine::History history;
  history.workflow_id = state.id;
  history.workflow_name = state.name;
  history.workflow_version = state.version;
  history.digest = state.digest;
  history.events = events;
  return history;
}

LocalRuntime::LocalRuntime(activities::ActivityRegistry& registry, activities::FaultInjector faults, Clock& clock,
                           RuntimeLimits limits)
    : registry_(registry),
      clock_(clock),
      limits_(limits),
      store_(clock),
      definitions_(runtime::SourceLoader{}, clock),
      queues_(queues_of(registry)) {
  runtime::OrchestratorSettings orchestration;
  orchestration.consumer = "local-orchestrator";
  orchestration.block_ms = 0;
  orchestration.expression_time_budget_ms = limits.expression_time_budget_ms;
  orchestrator_ = std::make_unique<runtime::Orchestrator>(store_, definitions_, clock_, orchestration);
  runtime::WorkerSettings work;
  work.queues = queues_;
  work.consumer = worker_name;
  work.block_ms = 0;
  workers_ = std::make_unique<runtime::WorkerPool>(store_, registry_, std::move(faults), clock_, work);
  supervisor_ = std::make_unique<runtime::Supervisor>(store_, clock_, runtime::SupervisorSettings{});
}

LocalRuntime::~LocalRuntime() = default;

void LocalRuntime::start(engine::DefinitionPtr definition, const std::string& workflow_id, json input) {
  definitions_.add(definition);
  runtime::StartRequest request;
  request.workflow = definition->document.name;
  request.version = definition->document.version;
  request.id = workflow_id;
  request.input = std::move(input);
  if (!orchestrator_->start(request).created)
    throw engine::OperationError(engine::ErrorCategory::conflict, "workflow '" + workflow_id + "' already exists");
  started_.push_back(workflow_id);
}

void LocalRuntime::signal(const std::string& workflow_id, const std::string& name, json payload) {
  workflow(workflow_id);  // throws not_found
  store_.enqueue_input(workflow_id, Input::signal(name, std::move(payload), clock_.now_ms()));
  apply_inputs();
}

void LocalRuntime::cancel(const std::string& workflow_id, const std::string& reason) {
  workflow(workflow_id);
  store_.enqueue_input(workflow_id, Input::cancel(reason, clock_.now_ms()));
  apply_inputs();
}

bool LocalRuntime::contains(const std::string& workflow_id) const {
  return const_cast<MemoryStore&>(store_).load(workflow_id).has_value();
}

const WorkflowRecord& LocalRuntime::workflow(const std::string& workflow_id) const {
  auto& store = const_cast<MemoryStore&>(store_);
  std::optional<engine::StoredWorkflow> stored = store.load(workflow_id);
  if (!stored)
    throw engine::OperationError(engine::ErrorCategory::not_found, "no workflow with id '" + workflow_id + "'");
  WorkflowRecord& record = records_[workflow_id];
  record.definition = definitions_.find(stored->state.name, stored->state.version);
  record.state = std::move(stored->state);
  record.events = store.history(workflow_id, 0, 1'000'000);
  return record;
}

void LocalRuntime::apply_inputs() {
  while (orchestrator_->run_once(0) > 0) {
  }
}

bool LocalRuntime::settle() {
  bool any = false;
  for (bool progress = true; progress;) {
    progress = false;
    while (orchestrator_->run_once(0) > 0) progress = true;
    for (const std::string& queue : queues_) {
      for (runtime::TaskRun& run : workers_->claim(queue, worker_name, 0)) {
        progress = true;
        if (workers_->begin(run)) in_progress_.push_back(std::move(run));
      }
    }
    // Tasks whose latency is over act now, in the order they began.
    const std::int64_t now_ms = clock_.now_ms();
    std::vector<runtime::TaskRun> due;
    for (auto it = in_progress_.begin(); it != in_progress_.end();) {
      if (it->act_at_ms <= now_ms) {
        due.push_back(std::move(*it));
        it = in_progress_.erase(it);
      } else {
        ++it;
      }
    }
    for (runtime::TaskRun& run : due) {
      workers_->finish(run);
      progress = true;
    }
    if (supervisor_->run_once() > 0) progress = true;
    any = any || progress;
  }
  return any;
}

std::optional<std::int64_t> LocalRuntime::next_due_ms() const {
  std::optional<std::int64_t> next = const_cast<MemoryStore&>(store_).earliest_timer_due_ms();
  for (const runtime::TaskRun& run : in_progress_)
    if (!next || run.act_at_ms < *next) next = run.act_at_ms;
  return next;
}

void LocalRuntime::advance_to(std::int64_t due_ms) {
  // A long injected latency must not cost a task its lease: renew on the way, as a worker thread does.
  constexpr std::int64_t renew_every_ms = 10'000;
  while (!in_progress_.empty() && due_ms - clock_.now_ms() > renew_every_ms) {
    clock_.wait_until(clock_.now_ms() + renew_every_ms);
    for (const runtime::TaskRun& run : in_progress_) workers_->renew(run);
  }
  clock_.wait_until(due_ms);
}

bool LocalRuntime::all_final() const {
  for (const std::string& id : started_) {
    const auto stored = const_cast<MemoryStore&>(store_).load(id);
    if (stored && !engine::is_final(stored->state.status)) return false;
  }
  return true;
}

bool LocalRuntime::run() {
  const std::int64_t start_ms = clock_.now_ms();
  for (std::int64_t steps = 0;; ++steps) {
    settle();
    if (all_final()) return true;
    if (steps >= limits_.steps_max) return false;
    const std::optional<std::int64_t> next = next_due_ms();
    if (!next) return true;  // nothing will ever happen again: the workflows wait for signals
    if (*next - start_ms > limits_.virtual_span_ms_max) return false;
    advance_to(std::max(*next, clock_.now_ms()));
  }
}

void LocalRuntime::run_for(std::int64_t delta_ms) {
  const std::int64_t end_ms = clock_.now_ms() + delta_ms;
  for (std::int64_t steps = 0; steps < limits_.steps_max; ++steps) {
    settle();
    const std::optional<std::int64_t> next = next_due_ms();
    if (!next || *next > end_ms) break;
    advance_to(std::max(*next, clock_.now_ms()));
  }
  advance_to(end_ms);
  settle();
}

}  // namespace flightplan::memory

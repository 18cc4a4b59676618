#include "flightplan/runtime/orchestrator.hpp"

#include "flightplan/engine/hash.hpp"
#include "flightplan/runtime/log.hpp"

#include <map>

namespace flightplan::runtime {

using engine::CommitOutcome;
using engine::ErrorCategory;
using engine::OperationError;
using nlohmann::json;

namespace {

// One workflow's share of a batch: its inputs, and the step computed from them.
struct Work {
  std::string workflow_id;
  std::vector<engine::QueuedInput> inputs;
  engine::WorkflowState state;
  std::vector<engine::Event> events;
  std::vector<engine::Command> commands;
  std::int64_t expected_version = 0;
  bool ready = false;    // a step to commit was computed
  bool settled = false;  // nothing more to do: acknowledge the inputs
};

// One line (and a metric) when a step closes a workflow, carrying the id of the request that started it.
void log_closed(const engine::WorkflowState& state, const std::vector<engine::Command>& commands, RuntimeObserver* observer) {
  for (const engine::Command& command : commands) {
    if (command.type != engine::Command::Type::workflow_closed) continue;
    if (observer != nullptr) observer->workflow_finished(state.name, command.status);
    log(LogLevel::info, "workflow closed",
        {{"workflow_id", state.id},
         {"correlation_id", state.correlation_id},
         {"workflow", state.name},
         {"status", engine::to_string(command.status)}});
  }
}

}  // namespace

// Ids become part of Redis keys and URLs: printable ASCII without spaces, braces (hash tags) or '/'.
void check_workflow_id(const std::string& id) {
  constexpr std::size_t workflow_id_bytes_max = 200;
  if (id.empty() || id.size() > workflow_id_bytes_max)
    throw OperationError(ErrorCategory::invalid_argument, "workflow id must be 1 to 200 characters");
  for (unsigned char c : id) {
    if (c <= 0x20 || c >= 0x7f || c == '{' || c == '}' || c == '/' || c == '%')
      throw OperationError(ErrorCategory::invalid_argument,
                           "workflow id may only contain printable ASCII without spaces, '/', '%', '{' or '}'");
  }
}

std::string start_digest(const std::string& name, const std::string& version, const json& input) {
  // FNV-1a over a canonical rendering: nlohmann orders object keys, so equal JSON gives equal text.
  return engine::fnv1a_64_hex(name + "\n" + version + "\n" + input.dump());
}

Orchestrator::Orchestrator(engine::WorkflowStore& store, const DefinitionRegistry& definitions,
                           Clock& clock, OrchestratorSettings settings)
    : store_(store), definitions_(definitions), clock_(clock), settings_(std::move(settings)) {}

Orchestrator::~Orchestrator() { stop(); }

StartResult Orchestrator::start(const StartRequest& request) {
  check_workflow_id(request.id);
  const engine::DefinitionPtr definition = definitions_.find(request.workflow, request.version);
  const std::string digest = start_digest(definition->document.name, definition->document.version, request.input);
  StartResult result;
  engine::Input start = engine::Input::start(request.id, request.input, clock_.now_ms());
  start.id = request.correlation_id;
  engine::Step step = apply(*definition, result.state, start);
  const auto outcomes =
      store_.commit({engine::Commit{request.id, 0, &result.state, &step.events, &step.commands, digest}});
  if (outcomes.at(0) == CommitOutcome::committed) {
    result.created = true;
    if (settings_.observer != nullptr) settings_.observer->workflow_started(definition->document.name);
    log(LogLevel::info, "workflow started",
        {{"workflow_id", request.id},
         {"correlation_id", request.correlation_id},
         {"workflow", definition->document.name},
         {"version", definition->document.version}});
    log_closed(result.state, step.commands, settings_.observer);  // a workflow may finish in its first step
    return result;
  }
  std::optional<engine::StoredWorkflow> existing = store_.load(request.id);
  if (!existing) throw OperationError(ErrorCategory::unavailable, "workflow '" + request.id + "' is being replaced; retry");
  if (existing->start_digest != digest)
    throw OperationError(ErrorCategory::conflict, "workflow '" + request.id +
                                                      "' already exists with a different definition or input");
  result.state = std::move(existing->state);
  return result;
}

engine::Step Orchestrator::apply(const engine::Definition& definition, engine::WorkflowState& state,
                                 const engine::Input& input) {
  engine::EvaluationControl control(settings_.expression_time_budget_ms);
  ExpressionWatchdog& watchdog = settings_.watchdog != nullptr ? *settings_.watchdog : ExpressionWatchdog::shared();
  const ExpressionWatchdog::Armed armed = watchdog.arm(control, settings_.expression_time_budget_ms);
  return engine::apply(definition, state, input, settings_.limits, &control);
}

void Orchestrator::process_workflow(const std::string& workflow_id, std::vector<engine::QueuedInput>& inputs) {
  // Conflicts are rare (two orchestrators got inputs of one workflow at once): retry one by one.
  for (int round = 0; round < settings_.conflict_retries_max; ++round) {
    std::optional<engine::StoredWorkflow> stored = store_.load(workflow_id);
    if (!stored) return;  // unknown or expired workflow: nothing to apply the inputs to
    const engine::DefinitionPtr definition = definitions_.find(stored->state.name, stored->state.version);
    engine::WorkflowState state = std::move(stored->state);
    std::vector<engine::Event> events;
    std::vector<engine::Command> commands;
    for (const auto& queued : inputs) {
      engine::Step step = apply(*definition, state, queued.input);
      events.insert(events.end(), std::make_move_iterator(step.events.begin()), std::make_move_iterator(step.events.end()));
      commands.insert(commands.end(), step.commands.begin(), step.commands.end());
    }
    if (events.empty()) return;  // every input was stale
    const auto outcome = store_.commit({engine::Commit{workflow_id, stored->version, &state, &events, &commands, ""}});
    if (outcome.at(0) == CommitOutcome::committed) {
      log_closed(state, commands, settings_.observer);
      return;
    }
    log(LogLevel::debug, "commit conflict, reapplying", {{"workflow_id", workflow_id}, {"round", round}});
  }
  throw OperationError(ErrorCategory::conflict, "workflow '" + workflow_id + "' kept changing under the orchestrator");
}

std::size_t Orchestrator::run_once() {
  std::vector<engine::QueuedInput> claimed =
      store_.claim_inputs(settings_.consumer, settings_.batch_max, settings_.block_ms, settings_.visibility_ms);
  if (claimed.empty()) return 0;
  // Group by workflow, keeping each workflow's inputs in arrival order.
  std::vector<Work> work;
  std::map<std::string, std::size_t> index;
  for (auto& queued : claimed) {
    // The queue entry id is stable across redeliveries: it lets the engine drop a signal or a
    // cancellation it already received (an orchestrator died between commit and acknowledgement).
    if (queued.input.id.empty() && (queued.input.type == engine::Input::Type::signal ||
                                    queued.input.type == engine::Input::Type::cancel || queued.input.is_control()))
      queued.input.id = queued.receipt;
    auto [it, inserted] = index.emplace(queued.workflow_id, work.size());
    if (inserted) work.push_back(Work{queued.workflow_id, {}, {}, {}, {}, 0, false, false});
    work[it->second].inputs.push_back(std::move(queued));
  }
  // First pass: load every workflow at once, compute each one's step, commit them together.
  std::vector<std::string> ids;
  for (const Work& w : work) ids.push_back(w.workflow_id);
  std::vector<std::optional<engine::StoredWorkflow>> loaded = store_.load_many(ids);
  std::vector<engine::Commit> commits;
  std::vector<Work*> committing;
  for (std::size_t k = 0; k < work.size(); ++k) {
    Work& w = work[k];
    try {
      std::optional<engine::StoredWorkflow>& stored = loaded[k];
      if (!stored) {
        w.settled = true;  // unknown or expired workflow
        continue;
      }
      const engine::DefinitionPtr definition = definitions_.find(stored->state.name, stored->state.version);
      w.state = std::move(stored->state);
      w.expected_version = stored->version;
      for (const auto& queued : w.inputs) {
        engine::Step step = apply(*definition, w.state, queued.input);
        w.events.insert(w.events.end(), step.events.begin(), step.events.end());
        w.commands.insert(w.commands.end(), step.commands.begin(), step.commands.end());
      }
      if (w.events.empty()) {
        w.settled = true;
        continue;
      }
      w.ready = true;
      commits.push_back(engine::Commit{w.workflow_id, w.expected_version, &w.state, &w.events, &w.commands, ""});
      committing.push_back(&w);
    } catch (const OperationError& e) {
      log(LogLevel::warn, "cannot process inputs", {{"workflow_id", w.workflow_id}, {"error", e.what()}});
    }
  }
  const std::vector<CommitOutcome> outcomes = commits.empty() ? std::vector<CommitOutcome>{} : store_.commit(commits);
  std::vector<engine::QueuedInput> done;
  for (std::size_t i = 0; i < committing.size(); ++i) {
    Work& w = *committing[i];
    if (outcomes[i] == CommitOutcome::committed) {
      w.settled = true;
      log_closed(w.state, w.commands, settings_.observer);
      continue;
    }
    try {
      process_workflow(w.workflow_id, w.inputs);
      w.settled = true;
    } catch (const OperationError& e) {
      log(LogLevel::warn, "inputs left for redelivery", {{"workflow_id", w.workflow_id}, {"error", e.what()}});
    }
  }
  for (Work& w : work)
    if (w.settled) done.insert(done.end(), w.inputs.begin(), w.inputs.end());
  store_.ack_inputs(done);
  return claimed.size();
}

void Orchestrator::start_thread() {
  if (running_.exchange(true)) return;
  thread_ = std::thread([this] {
    std::int64_t backoff_ms = 10;
    while (running_) {
      try {
        run_once();
        backoff_ms = 10;
      } catch (const std::exception& e) {
        // Usually the store is unreachable: wait and try again; claimed inputs come back after
        // the visibility window, so nothing is lost.
        log(LogLevel::warn, "orchestrator round failed", {{"error", e.what()}, {"retry_in_ms", backoff_ms}});
        std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
        backoff_ms = std::min<std::int64_t>(backoff_ms * 2, 2000);
      }
    }
  });
}

void Orchestrator::stop() {
  running_ = false;
  if (thread_.joinable()) thread_.join();
}

}  // namespace flightplan::runtime

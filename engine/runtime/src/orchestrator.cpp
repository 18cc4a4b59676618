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

// One line (and a metric) when a step closes a workflow, carrying the id of the request that started
// it; and the news for whoever waits for it here.
void log_closed(const engine::WorkflowState& state, const std::vector<engine::Command>& commands,
                const OrchestratorSettings& settings) {
  for (const engine::Command& command : commands) {
    if (command.type != engine::Command::Type::workflow_closed) continue;
    if (settings.observer != nullptr) settings.observer->workflow_finished(state.name, command.status);
    if (settings.close_waiters != nullptr) settings.close_waiters->closed(state.id, state.history_length);
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
    log_closed(result.state, step.commands, settings_);  // a workflow may finish in its first step
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

std::optional<engine::Input> dead_letter_replacement(const engine::QueuedInput& queued, const std::string& reason,
                                                     std::int64_t now_ms) {
  constexpr std::string_view marker = "dead-letter:";
  const engine::Input& poison = queued.input;
  if (poison.id.starts_with(marker)) return std::nullopt;  // a replacement that failed again: stop here
  engine::Input replacement;
  replacement.time_ms = now_ms;
  replacement.id = std::string(marker) + queued.receipt;
  replacement.error = engine::make_error("https://flightplan.dev/errors/dead-letter", 500, "Input set aside", reason);
  switch (poison.type) {
    case engine::Input::Type::activity_started:
    case engine::Input::Type::activity_completed:
    case engine::Input::Type::activity_failed:
    case engine::Input::Type::activity_heartbeat:
    case engine::Input::Type::activity_cancelled:
      replacement.type = engine::Input::Type::activity_failed;
      replacement.activity_id = poison.activity_id;
      replacement.attempt = poison.attempt;
      replacement.retryable = true;
      return replacement;
    case engine::Input::Type::signal:
    case engine::Input::Type::fault:
      return std::nullopt;
    default:
      replacement.type = engine::Input::Type::fault;
      return replacement;
  }
}

engine::Step Orchestrator::apply(const engine::Definition& definition, engine::WorkflowState& state,
                                 const engine::Input& input) {
  engine::EvaluationControl control(settings_.expression_time_budget_ms);
  ExpressionWatchdog& watchdog = settings_.watchdog != nullptr ? *settings_.watchdog : ExpressionWatchdog::shared();
  const ExpressionWatchdog::Armed armed = watchdog.arm(control, settings_.expression_time_budget_ms);
  return engine::apply(definition, state, input, settings_.limits, &control);
}

void Orchestrator::remember_failure(const std::string& workflow_id, const std::string& error) {
  constexpr std::size_t remembered_max = 1000;
  std::lock_guard lock(failures_mutex_);
  if (last_failure_.size() >= remembered_max && last_failure_.count(workflow_id) == 0) last_failure_.clear();
  last_failure_[workflow_id] = error;
}

bool Orchestrator::is_poison(const engine::QueuedInput& queued) {
  if (queued.deliveries <= settings_.deliveries_max) return false;
  if (queued.deliveries > settings_.unexplained_deliveries_max) return true;
  std::lock_guard lock(failures_mutex_);
  return last_failure_.count(queued.workflow_id) != 0;
}

void Orchestrator::forget_failure(const std::string& workflow_id) {
  std::lock_guard lock(failures_mutex_);
  if (!last_failure_.empty()) last_failure_.erase(workflow_id);
}

void Orchestrator::set_aside(const engine::QueuedInput& queued) {
  std::string reason = std::string(engine::to_string(queued.input.type)) + " input handed out " +
                       std::to_string(queued.deliveries) + " times without being applied";
  {
    std::lock_guard lock(failures_mutex_);
    if (auto it = last_failure_.find(queued.workflow_id); it != last_failure_.end())
      reason += " (last error here: " + it->second + ")";
  }
  store_.dead_letter_input(queued, reason, dead_letter_replacement(queued, reason, clock_.now_ms()));
  log(LogLevel::warn, "input dead-lettered", {{"workflow_id", queued.workflow_id}, {"reason", reason}});
}

std::vector<engine::QueuedInput> Orchestrator::process_one_by_one(const std::string& workflow_id,
                                                                  const std::vector<engine::QueuedInput>& inputs) {
  std::vector<engine::QueuedInput> settled;
  for (const engine::QueuedInput& queued : inputs) {
    for (int round = 0; round < settings_.conflict_retries_max; ++round) {
      try {
        std::optional<engine::StoredWorkflow> stored = store_.load(workflow_id);
        if (!stored) {  // unknown or expired workflow: nothing to apply the input to
          settled.push_back(queued);
          break;
        }
        const engine::DefinitionPtr definition = definitions_.find(stored->state.name, stored->state.version);
        engine::WorkflowState state = std::move(stored->state);
        const engine::Step step = apply(*definition, state, queued.input);
        if (step.events.empty()) {  // stale
          settled.push_back(queued);
          break;
        }
        const auto outcome = store_.commit(
            {engine::Commit{workflow_id, stored->version, &state, &step.events, &step.commands, ""}});
        if (outcome.at(0) == CommitOutcome::committed) {
          forget_failure(workflow_id);
          log_closed(state, step.commands, settings_);
          settled.push_back(queued);
          break;
        }
        log(LogLevel::debug, "commit conflict, reapplying", {{"workflow_id", workflow_id}, {"round", round}});
      } catch (const OperationError& e) {
        // The store is out of reach: the whole round fails and everything comes back.
        if (e.category() == ErrorCategory::unavailable) throw;
        remember_failure(workflow_id, e.what());
        log(LogLevel::warn, "input left for redelivery", {{"workflow_id", workflow_id}, {"error", e.what()}});
        break;
      } catch (const std::exception& e) {
        // Contained to this workflow: it comes back, and after deliveries_max goes to the dead letters.
        remember_failure(workflow_id, e.what());
        log(LogLevel::warn, "input left for redelivery", {{"workflow_id", workflow_id}, {"error", e.what()}});
        break;
      }
    }
  }
  return settled;
}

std::size_t Orchestrator::run_once(std::int64_t block_ms) {
  std::vector<engine::QueuedInput> claimed = store_.claim_inputs(
      settings_.consumer, settings_.batch_max, block_ms < 0 ? settings_.block_ms : block_ms, settings_.visibility_ms);
  if (claimed.empty()) return 0;
  // Group by workflow, keeping each workflow's inputs in arrival order.
  std::vector<Work> work;
  std::map<std::string, std::size_t> index;
  const std::size_t claimed_count = claimed.size();
  for (auto& queued : claimed) {
    // The queue entry id is stable across redeliveries: it lets the engine drop a signal or a
    // cancellation it already received (an orchestrator died between commit and acknowledgement).
    if (queued.input.id.empty() && (queued.input.type == engine::Input::Type::signal ||
                                    queued.input.type == engine::Input::Type::cancel || queued.input.is_control()))
      queued.input.id = queued.receipt;
    if (is_poison(queued)) {
      set_aside(queued);
      continue;
    }
    auto [it, inserted] = index.emplace(queued.workflow_id, work.size());
    if (inserted) work.push_back(Work{queued.workflow_id, {}, {}, {}, {}, 0, false, false});
    work[it->second].inputs.push_back(std::move(queued));
  }
  if (work.empty()) return claimed_count;
  // First pass: load every workflow at once, compute each one's step, commit them together.
  std::vector<std::string> ids;
  for (const Work& w : work) ids.push_back(w.workflow_id);
  std::vector<std::optional<engine::StoredWorkflow>> loaded = store_.load_many(ids);
  std::vector<engine::Commit> commits;
  std::vector<Work*> committing;
  std::vector<Work*> one_by_one;
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
    } catch (const std::exception& e) {
      // One of its inputs cannot be applied: find which, one at a time, so the others still count.
      remember_failure(w.workflow_id, e.what());
      one_by_one.push_back(&w);
    }
  }
  const std::vector<CommitOutcome> outcomes = commits.empty() ? std::vector<CommitOutcome>{} : store_.commit(commits);
  for (std::size_t i = 0; i < committing.size(); ++i) {
    Work& w = *committing[i];
    if (outcomes[i] == CommitOutcome::committed) {
      w.settled = true;
      forget_failure(w.workflow_id);
      log_closed(w.state, w.commands, settings_);
    } else {
      one_by_one.push_back(&w);  // conflicts are rare: two orchestrators had inputs of one workflow
    }
  }
  std::vector<engine::QueuedInput> done;
  for (Work& w : work)
    if (w.settled) done.insert(done.end(), w.inputs.begin(), w.inputs.end());
  for (Work* w : one_by_one) {
    std::vector<engine::QueuedInput> settled = process_one_by_one(w->workflow_id, w->inputs);
    done.insert(done.end(), std::make_move_iterator(settled.begin()), std::make_move_iterator(settled.end()));
  }
  store_.ack_inputs(done);
  return claimed_count;
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

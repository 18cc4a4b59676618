#include "flightplan/memory/memory_store.hpp"

#include <chrono>

namespace flightplan::memory {

using engine::Command;
using engine::CommitOutcome;
using nlohmann::json;

std::vector<CommitOutcome> MemoryStore::commit(const std::vector<engine::Commit>& commits) {
  std::vector<CommitOutcome> outcomes;
  outcomes.reserve(commits.size());
  {
    std::lock_guard lock(mutex_);
    for (const engine::Commit& c : commits) outcomes.push_back(commit_one(c));
  }
  changed_.notify_all();
  return outcomes;
}

CommitOutcome MemoryStore::commit_one(const engine::Commit& c) {
  auto it = workflows_.find(c.workflow_id);
  const std::int64_t stored_version = it == workflows_.end() ? 0 : it->second.stored.version;
  const bool exists = it != workflows_.end();
  if (c.expected_version == 0 ? exists : (!exists || stored_version != c.expected_version))
    return CommitOutcome::conflict;
  Record& record = workflows_[c.workflow_id];
  record.stored.state = *c.state;
  record.stored.version = c.state->history_length;
  if (c.expected_version == 0) record.stored.start_digest = c.start_digest;
  record.events.insert(record.events.end(), c.events->begin(), c.events->end());
  engine::WorkflowSummary summary = engine::WorkflowSummary::of(*c.state);
  summary.id = c.workflow_id;
  index(exists ? &record.summary : nullptr, summary);
  record.summary = std::move(summary);
  apply_commands(c);
  return CommitOutcome::committed;
}

void MemoryStore::apply_commands(const engine::Commit& c) {
  for (const Command& command : *c.commands) {
    switch (command.type) {
      case Command::Type::schedule_activity: {
        json task{{"workflow_id", c.workflow_id}, {"activity_id", command.activity_id}, {"attempt", command.attempt},
                  {"activity", command.activity}, {"idempotency_key", command.idempotency_key},
                  {"arguments", command.arguments}};
        if (command.fence_only) task["fence_only"] = true;
        if (command.report_start) task["report_start"] = true;
        push(tasks_[engine::queue_of(command.activity)], std::move(task));
        break;
      }
      case Command::Type::start_timer:
        timer_index_[{c.workflow_id, command.timer_id}] =
            timers_.emplace(command.due_ms, std::make_pair(c.workflow_id, command.timer_id));
        break;
      case Command::Type::cancel_timer:
        if (auto t = timer_index_.find({c.workflow_id, command.timer_id}); t != timer_index_.end()) {
          timers_.erase(t->second);
          timer_index_.erase(t);
        }
        break;
      case Command::Type::cancel_activity:
        // The task is still queued or in a worker's hands: the worker finds the mark when it
        // claims or renews the task, and fences the attempt instead of acting.
        cancelled_.emplace(AttemptKey{c.workflow_id, command.activity_id, command.attempt},
                           CancelMark{clock_.now_ms(), command.fence});
        break;
      case Command::Type::workflow_closed:  // retention counts from the summary's closed_ms
        break;
    }
  }
}

// Moves a workflow's index entries from its previous summary (null: new workflow) to `summary`.
// The definition name and start time of a workflow never change, so only the status and the
// closed time move entries.
void MemoryStore::index(const engine::WorkflowSummary* old_summary, const engine::WorkflowSummary& summary) {
  if (old_summary != nullptr) unindex(*old_summary);
  by_start_.emplace(summary.started_ms, summary.id);
  if (summary.closed_ms != 0) closed_.emplace(summary.closed_ms, summary.id);
  counts_[{summary.name, summary.status}] += 1;
}

void MemoryStore::unindex(const engine::WorkflowSummary& summary) {
  by_start_.erase({summary.started_ms, summary.id});
  if (summary.closed_ms != 0) closed_.erase({summary.closed_ms, summary.id});
  auto count = counts_.find({summary.name, summary.status});
  if (count != counts_.end() && --count->second == 0) counts_.erase(count);
}

std::optional<engine::StoredWorkflow> MemoryStore::load(const std::string& workflow_id) {
  std::lock_guard lock(mutex_);
  auto it = workflows_.find(workflow_id);
  if (it == workflows_.end()) return std::nullopt;
  return it->second.stored;
}

std::vector<engine::Event> MemoryStore::history(const std::string& workflow_id, std::int64_t after_seq,
                                                std::size_t limit) {
  std::lock_guard lock(mutex_);
  std::vector<engine::Event> events;
  auto it = workflows_.find(workflow_id);
  if (it == workflows_.end()) return events;
  for (const engine::Event& event : it->second.events) {
    if (event.seq <= after_seq) continue;
    if (events.size() >= limit) break;
    events.push_back(event);
  }
  return events;
}

void MemoryStore::push(Queue& queue, json payload) {
  queue.ready.push_back(Entry{std::to_string(next_entry_id_++), std::move(payload), 0});
}

std::vector<MemoryStore::Entry> MemoryStore::take(Queue& queue, const std::string& consumer, std::size_t limit,
                                                  std::int64_t lease_ms) {
  const std::int64_t now_ms = clock_.now_ms();
  // Claims whose lease ran out come back first, as XAUTOCLAIM does on Redis.
  for (auto it = queue.claimed.begin(); it != queue.claimed.end();) {
    if (it->second.expires_ms <= now_ms) {
      queue.ready.push_front(std::move(it->second.entry));
      it = queue.claimed.erase(it);
    } else {
      ++it;
    }
  }
  std::vector<Entry> taken;
  while (!queue.ready.empty() && taken.size() < limit) {
    Entry entry = std::move(queue.ready.front());
    queue.ready.pop_front();
    entry.deliveries += 1;
    queue.claimed[entry.id] = Claim{entry, consumer, now_ms + lease_ms};
    taken.push_back(std::move(entry));
  }
  return taken;
}

template <typename Ready>
void MemoryStore::wait_for(std::unique_lock<std::mutex>& lock, std::int64_t block_ms, Ready ready) {
  if (block_ms > 0) changed_.wait_for(lock, std::chrono::milliseconds(block_ms), ready);
}

void MemoryStore::enqueue_input(const std::string& workflow_id, const engine::Input& input) {
  {
    std::lock_guard lock(mutex_);
    push(inputs_, json{{"workflow_id", workflow_id}, {"input", input.to_json()}});
  }
  changed_.notify_all();
}

std::vector<engine::QueuedInput> MemoryStore::claim_inputs(const std::string& consumer, std::size_t limit,
                                                           std::int64_t block_ms, std::int64_t visibility_ms) {
  std::unique_lock lock(mutex_);
  wait_for(lock, block_ms, [&] { return !inputs_.ready.empty(); });
  std::vector<engine::QueuedInput> claimed;
  for (Entry& entry : take(inputs_, consumer, limit, visibility_ms)) {
    claimed.push_back(engine::QueuedInput{entry.payload.at("workflow_id").get<std::string>(),
                                          engine::Input::from_json(entry.payload.at("input")), entry.id,
                                          entry.deliveries});
  }
  return claimed;
}

void MemoryStore::ack_inputs(const std::vector<engine::QueuedInput>& inputs) {
  std::lock_guard lock(mutex_);
  for (const auto& input : inputs) inputs_.claimed.erase(input.receipt);
}

void MemoryStore::release_inputs(const std::vector<engine::QueuedInput>& inputs) {
  {
    std::lock_guard lock(mutex_);
    for (const auto& input : inputs) {
      auto it = inputs_.claimed.find(input.receipt);
      if (it == inputs_.claimed.end()) continue;
      inputs_.ready.push_front(std::move(it->second.entry));
      inputs_.claimed.erase(it);
    }
  }
  changed_.notify_all();
}

void MemoryStore::dead_letter_input(const engine::QueuedInput& input, const std::string& reason,
                                    const std::optional<engine::Input>& replacement) {
  {
    std::lock_guard lock(mutex_);
    auto it = inputs_.claimed.find(input.receipt);
    if (it == inputs_.claimed.end()) return;  // acknowledged or handed out again meanwhile
    engine::DeadLetter letter;
    letter.kind = "input";
    letter.workflow_id = input.workflow_id;
    letter.reason = reason;
    letter.deliveries = it->second.entry.deliveries;
    letter.entry = it->second.entry.payload.at("input");
    inputs_.claimed.erase(it);
    add_dead_letter(std::move(letter));
    if (replacement) push(inputs_, json{{"workflow_id", input.workflow_id}, {"input", replacement->to_json()}});
  }
  changed_.notify_all();
}

void MemoryStore::add_dead_letter(engine::DeadLetter letter) {
  constexpr std::size_t dead_letters_max = 10'000;
  letter.id = std::to_string(next_entry_id_++);
  letter.time_ms = clock_.now_ms();
  if (dead_letters_.size() >= dead_letters_max) dead_letters_.pop_front();
  dead_letters_.push_back(std::move(letter));
}

std::vector<engine::DeadLetter> MemoryStore::list_dead_letters(std::size_t limit) {
  std::lock_guard lock(mutex_);
  std::vector<engine::DeadLetter> newest_first;
  for (auto it = dead_letters_.rbegin(); it != dead_letters_.rend() && newest_first.size() < limit; ++it)
    newest_first.push_back(*it);
  return newest_first;
}

std::int64_t MemoryStore::count_dead_letters() {
  std::lock_guard lock(mutex_);
  return static_cast<std::int64_t>(dead_letters_.size());
}

std::vector<engine::ActivityTask> MemoryStore::claim_tasks(const std::string& queue, const std::string& consumer,
                                                           std::size_t limit, std::int64_t block_ms,
                                                           std::int64_t lease_ms) {
  std::unique_lock lock(mutex_);
  Queue& tasks = tasks_[queue];
  wait_for(lock, block_ms, [&] { return !tasks.ready.empty(); });
  std::vector<engine::ActivityTask> claimed;
  for (Entry& entry : take(tasks, consumer, limit, lease_ms)) {
    const json& p = entry.payload;
    engine::ActivityTask task{p.at("workflow_id").get<std::string>(), p.at("activity_id").get<std::int64_t>(),
                              p.at("attempt").get<int>(), p.at("activity").get<std::string>(),
                              p.at("idempotency_key").get<std::string>(), p.at("arguments"),
                              queue + "/" + entry.id, entry.deliveries, consumer, false};
    if (auto mark = cancelled_.find(AttemptKey{task.workflow_id, task.activity_id, task.attempt});
        mark != cancelled_.end()) {
      task.cancelled = mark->second.fence;
      task.superseded = !mark->second.fence;
    }
    if (p.value("fence_only", false)) task.cancelled = true;
    task.report_start = p.value("report_start", false);
    claimed.push_back(std::move(task));
  }
  return claimed;
}

MemoryStore::Claim* MemoryStore::current_claim(const engine::ActivityTask& task) {
  const auto slash = task.receipt.find('/');
  if (slash == std::string::npos) return nullptr;
  auto queue = tasks_.find(task.receipt.substr(0, slash));
  if (queue == tasks_.end()) return nullptr;
  auto claim = queue->second.claimed.find(task.receipt.substr(slash + 1));
  if (claim == queue->second.claimed.end()) return nullptr;
  // Another delivery of the same entry (it was taken over) does not count: fencing by delivery.
  if (claim->second.consumer != task.consumer || claim->second.entry.deliveries != task.deliveries) return nullptr;
  return &claim->second;
}

void MemoryStore::finish_claim(const engine::ActivityTask& task) {
  const auto slash = task.receipt.find('/');
  tasks_[task.receipt.substr(0, slash)].claimed.erase(task.receipt.substr(slash + 1));
  cancelled_.erase(AttemptKey{task.workflow_id, task.activity_id, task.attempt});
}

engine::LeaseState MemoryStore::renew_task(const engine::ActivityTask& task, std::int64_t lease_ms) {
  std::lock_guard lock(mutex_);
  Claim* claim = current_claim(task);
  const std::int64_t now_ms = clock_.now_ms();
  // An expired lease is lost even before anyone takes the task over: the next claim may.
  if (claim == nullptr || claim->expires_ms <= now_ms) return engine::LeaseState::lost;
  claim->expires_ms = now_ms + lease_ms;
  const auto mark = cancelled_.find(AttemptKey{task.workflow_id, task.activity_id, task.attempt});
  if (mark == cancelled_.end()) return engine::LeaseState::held;
  return mark->second.fence ? engine::LeaseState::cancelled : engine::LeaseState::superseded;
}

bool MemoryStore::complete_task(const engine::ActivityTask& task, const engine::Input& outcome,
                                const std::vector<engine::DelayedInput>& later) {
  {
    std::lock_guard lock(mutex_);
    if (current_claim(task) == nullptr) return false;
    finish_claim(task);
    push(inputs_, json{{"workflow_id", task.workflow_id}, {"input", outcome.to_json()}});
    for (const engine::DelayedInput& delayed : later) {
      if (delayed_.count(delayed.id) != 0) continue;  // scheduled already: once is enough
      delayed_.emplace(delayed.id, Delayed{delayed.workflow_id, delayed.input.to_json()});
      delayed_by_due_.emplace(delayed.due_ms, delayed.id);
    }
  }
  changed_.notify_all();
  return true;
}

bool MemoryStore::drop_task(const engine::ActivityTask& task) {
  std::lock_guard lock(mutex_);
  if (current_claim(task) == nullptr) return false;
  finish_claim(task);
  return true;
}

void MemoryStore::release_task(const engine::ActivityTask& task) {
  {
    std::lock_guard lock(mutex_);
    Claim* claim = current_claim(task);
    if (claim == nullptr) return;
    const auto slash = task.receipt.find('/');
    Queue& queue = tasks_[task.receipt.substr(0, slash)];
    queue.ready.push_front(std::move(claim->entry));
    queue.claimed.erase(task.receipt.substr(slash + 1));
  }
  changed_.notify_all();
}

bool MemoryStore::dead_letter_task(const engine::ActivityTask& task, const std::string& reason,
                                   const engine::Input& failure) {
  {
    std::lock_guard lock(mutex_);
    Claim* claim = current_claim(task);
    if (claim == nullptr) return false;
    engine::DeadLetter letter;
    letter.kind = "task";
    letter.workflow_id = task.workflow_id;
    letter.reason = reason;
    letter.deliveries = task.deliveries;
    letter.entry = claim->entry.payload;
    finish_claim(task);
    add_dead_letter(std::move(letter));
    push(inputs_, json{{"workflow_id", task.workflow_id}, {"input", failure.to_json()}});
  }
  changed_.notify_all();
  return true;
}

std::size_t MemoryStore::fire_due_timers(std::int64_t now_ms, std::size_t limit) {
  std::size_t fired = 0;
  {
    std::lock_guard lock(mutex_);
    while (!timers_.empty() && timers_.begin()->first <= now_ms && fired < limit) {
      auto [workflow_id, timer_id] = timers_.begin()->second;
      timers_.erase(timers_.begin());
      timer_index_.erase({workflow_id, timer_id});
      push(inputs_, json{{"workflow_id", workflow_id}, {"input", engine::Input::timer_fired(timer_id, now_ms).to_json()}});
      ++fired;
    }
    while (!delayed_by_due_.empty() && delayed_by_due_.begin()->first <= now_ms && fired < limit) {
      auto node = delayed_.extract(delayed_by_due_.begin()->second);
      delayed_by_due_.erase(delayed_by_due_.begin());
      json input = std::move(node.mapped().input);
      input["time_ms"] = now_ms;
      push(inputs_, json{{"workflow_id", node.mapped().workflow_id}, {"input", std::move(input)}});
      ++fired;
    }
    // A cancellation mark whose task was already finished when the engine cancelled it is never
    // claimed again; forget it after a day (Redis trims its marks the same way).
    constexpr std::int64_t cancel_mark_ms_max = 24LL * 3600 * 1000;
    for (auto it = cancelled_.begin(); it != cancelled_.end();)
      it = it->second.time_ms < now_ms - cancel_mark_ms_max ? cancelled_.erase(it) : std::next(it);
  }
  if (fired > 0) changed_.notify_all();
  return fired;
}

engine::WorkflowPage MemoryStore::list_workflows(const engine::WorkflowQuery& query) {
  query.check();
  std::optional<StartKey> after;
  if (!query.cursor.empty()) after = engine::decode_list_cursor(query.cursor);
  std::lock_guard lock(mutex_);
  // by_start_ runs newest first: begin after the cursor and below the exclusive upper bound,
  // whichever of the two comes later.
  auto it = by_start_.begin();
  if (after) it = by_start_.upper_bound(*after);
  if (query.started_to_ms != 0) {
    auto below_to = by_start_.lower_bound(StartKey{query.started_to_ms, ""});
    if (it != by_start_.end() && (below_to == by_start_.end() || *below_to < *it)) it = below_to;
  }
  engine::WorkflowPage page;
  for (; it != by_start_.end() && it->first >= query.started_from_ms; ++it) {
    const engine::WorkflowSummary& summary = workflows_.at(it->second).summary;
    if (!query.matches(summary)) continue;
    if (page.workflows.size() == query.limit) {
      const engine::WorkflowSummary& last = page.workflows.back();
      page.next_cursor = engine::encode_list_cursor(last.started_ms, last.id);
      break;
    }
    page.workflows.push_back(summary);
  }
  return page;
}

std::map<engine::WorkflowStatus, std::int64_t> MemoryStore::count_workflows(const std::string& name) {
  std::lock_guard lock(mutex_);
  std::map<engine::WorkflowStatus, std::int64_t> counts;
  for (const auto& [key, count] : counts_)
    if (name.empty() || key.first == name) counts[key.second] += count;
  return counts;
}

std::size_t MemoryStore::sweep_expired(std::int64_t now_ms, std::size_t limit) {
  if (settings_.retention_ms <= 0) return 0;
  std::lock_guard lock(mutex_);
  std::size_t swept = 0;
  // A workflow closed at closed_ms is kept while now_ms <= closed_ms + retention_ms.
  while (!closed_.empty() && swept < limit && closed_.begin()->first < now_ms - settings_.retention_ms) {
    auto record = workflows_.find(closed_.begin()->second);
    unindex(record->second.summary);
    workflows_.erase(record);
    ++swept;
  }
  return swept;
}

std::map<std::string, std::int64_t> MemoryStore::queue_depths() {
  std::lock_guard lock(mutex_);
  std::map<std::string, std::int64_t> depths;
  for (const auto& [name, queue] : tasks_)
    depths[name] = static_cast<std::int64_t>(queue.ready.size() + queue.claimed.size());
  return depths;
}

std::int64_t MemoryStore::input_backlog() {
  std::lock_guard lock(mutex_);
  return static_cast<std::int64_t>(inputs_.ready.size() + inputs_.claimed.size());
}

std::optional<std::int64_t> MemoryStore::earliest_timer_due_ms() {
  std::lock_guard lock(mutex_);
  std::optional<std::int64_t> earliest;
  if (!timers_.empty()) earliest = timers_.begin()->first;
  if (!delayed_by_due_.empty() && (!earliest || delayed_by_due_.begin()->first < *earliest))
    earliest = delayed_by_due_.begin()->first;
  return earliest;
}

engine::PutDefinitionOutcome MemoryStore::put_definition(const engine::StoredDefinition& definition) {
  // The same rule as the Redis store, whose keys join name and version with a line break.
  if (definition.name.empty() || definition.version.empty() ||
      definition.name.find('\n') != std::string::npos)
    throw engine::OperationError(
        engine::ErrorCategory::invalid_argument,
        "definition name and version must be set, and the name must not contain a line break");
  std::lock_guard lock(mutex_);
  const auto key = std::make_pair(definition.name, definition.version);
  if (auto it = definition_index_.find(key); it != definition_index_.end()) {
    return definitions_[it->second].digest == definition.digest ? engine::PutDefinitionOutcome::unchanged
                                                                : engine::PutDefinitionOutcome::conflict;
  }
  definition_index_.emplace(key, definitions_.size());
  definitions_.push_back(definition);
  return engine::PutDefinitionOutcome::created;
}

std::vector<engine::StoredDefinition> MemoryStore::list_definitions() {
  std::lock_guard lock(mutex_);
  return definitions_;
}

}  // namespace flightplan::memory

#include "faulty_stores.hpp"

#include "flightplan/engine/error.hpp"

namespace flightplan::simulation {

namespace {

[[noreturn]] void unavailable(const char* operation) {
  throw engine::OperationError(engine::ErrorCategory::unavailable,
                               std::string("simulated: the store did not answer ") + operation);
}

}  // namespace

template <typename Call>
auto FaultyStore::faulty(const char* operation, Call call) {
  const Fault fault = pick_(operation);
  if (fault == Fault::fail_before) unavailable(operation);
  if (fault == Fault::crash_before) throw SimulatedCrash{std::string("before ") + operation};
  if constexpr (std::is_void_v<decltype(call())>) {
    call();
    if (fault == Fault::lose_reply) unavailable(operation);
    if (fault == Fault::crash_after) throw SimulatedCrash{std::string("after ") + operation};
  } else {
    auto result = call();
    if (fault == Fault::lose_reply) unavailable(operation);
    if (fault == Fault::crash_after) throw SimulatedCrash{std::string("after ") + operation};
    return result;
  }
}

std::vector<engine::CommitOutcome> FaultyStore::commit(const std::vector<engine::Commit>& commits) {
  // A spurious conflict writes nothing: exactly what a racing orchestrator looks like.
  if (pick_("commit.conflict") == Fault::conflict)
    return std::vector<engine::CommitOutcome>(commits.size(), engine::CommitOutcome::conflict);
  return faulty("commit", [&] { return disk_.commit(commits); });
}
std::optional<engine::StoredWorkflow> FaultyStore::load(const std::string& workflow_id) {
  return faulty("load", [&] { return disk_.load(workflow_id); });
}
std::vector<std::optional<engine::StoredWorkflow>> FaultyStore::load_many(const std::vector<std::string>& ids) {
  return faulty("load_many", [&] { return disk_.load_many(ids); });
}
std::vector<engine::Event> FaultyStore::history(const std::string& workflow_id, std::int64_t after_seq,
                                                std::size_t limit) {
  return faulty("history", [&] { return disk_.history(workflow_id, after_seq, limit); });
}
void FaultyStore::enqueue_input(const std::string& workflow_id, const engine::Input& input) {
  faulty("enqueue_input", [&] { disk_.enqueue_input(workflow_id, input); });
}
std::vector<engine::QueuedInput> FaultyStore::claim_inputs(const std::string& consumer, std::size_t limit,
                                                           std::int64_t block_ms, std::int64_t visibility_ms) {
  return faulty("claim_inputs", [&] { return disk_.claim_inputs(consumer, limit, block_ms, visibility_ms); });
}
void FaultyStore::ack_inputs(const std::vector<engine::QueuedInput>& inputs) {
  faulty("ack_inputs", [&] { disk_.ack_inputs(inputs); });
}
void FaultyStore::release_inputs(const std::vector<engine::QueuedInput>& inputs) {
  faulty("release_inputs", [&] { disk_.release_inputs(inputs); });
}
void FaultyStore::dead_letter_input(const engine::QueuedInput& input, const std::string& reason,
                                    const std::optional<engine::Input>& replacement) {
  faulty("dead_letter_input", [&] { disk_.dead_letter_input(input, reason, replacement); });
}
std::vector<engine::ActivityTask> FaultyStore::claim_tasks(const std::string& queue, const std::string& consumer,
                                                           std::size_t limit, std::int64_t block_ms,
                                                           std::int64_t lease_ms) {
  return faulty("claim_tasks", [&] { return disk_.claim_tasks(queue, consumer, limit, block_ms, lease_ms); });
}
engine::LeaseState FaultyStore::renew_task(const engine::ActivityTask& task, std::int64_t lease_ms) {
  return faulty("renew_task", [&] { return disk_.renew_task(task, lease_ms); });
}
bool FaultyStore::complete_task(const engine::ActivityTask& task, const engine::Input& outcome,
                                const std::vector<engine::DelayedInput>& later) {
  return faulty("complete_task", [&] { return disk_.complete_task(task, outcome, later); });
}
bool FaultyStore::drop_task(const engine::ActivityTask& task) {
  return faulty("drop_task", [&] { return disk_.drop_task(task); });
}
void FaultyStore::release_task(const engine::ActivityTask& task) {
  faulty("release_task", [&] { disk_.release_task(task); });
}
bool FaultyStore::dead_letter_task(const engine::ActivityTask& task, const std::string& reason,
                                   const engine::Input& failure) {
  return faulty("dead_letter_task", [&] { return disk_.dead_letter_task(task, reason, failure); });
}
std::vector<engine::DeadLetter> FaultyStore::list_dead_letters(std::size_t limit) {
  return disk_.list_dead_letters(limit);
}
std::int64_t FaultyStore::count_dead_letters() { return disk_.count_dead_letters(); }
std::size_t FaultyStore::fire_due_timers(std::int64_t now_ms, std::size_t limit) {
  return faulty("fire_due_timers", [&] { return disk_.fire_due_timers(now_ms, limit); });
}
engine::WorkflowPage FaultyStore::list_workflows(const engine::WorkflowQuery& query) {
  return disk_.list_workflows(query);
}
std::map<engine::WorkflowStatus, std::int64_t> FaultyStore::count_workflows(const std::string& name) {
  return disk_.count_workflows(name);
}
std::size_t FaultyStore::sweep_expired(std::int64_t now_ms, std::size_t limit) {
  return disk_.sweep_expired(now_ms, limit);
}
std::map<std::string, std::int64_t> FaultyStore::queue_depths() { return disk_.queue_depths(); }
std::int64_t FaultyStore::input_backlog() { return disk_.input_backlog(); }
std::optional<std::int64_t> FaultyStore::earliest_timer_due_ms() { return disk_.earliest_timer_due_ms(); }
engine::PutDefinitionOutcome FaultyStore::put_definition(const engine::StoredDefinition& definition) {
  return disk_.put_definition(definition);
}
std::vector<engine::StoredDefinition> FaultyStore::list_definitions() { return disk_.list_definitions(); }

template <typename Call>
auto FaultyServiceStore::faulty(const char* operation, Call call) {
  const Fault fault = pick_(operation);
  if (fault == Fault::fail_before)
    throw activities::ServiceStoreUnavailable(std::string("simulated: no answer to ") + operation);
  if (fault == Fault::crash_before) throw SimulatedCrash{std::string("before service ") + operation};
  auto result = call();
  if (fault == Fault::lose_reply)
    throw activities::ServiceStoreUnavailable(std::string("simulated: reply lost of ") + operation);
  if (fault == Fault::crash_after) throw SimulatedCrash{std::string("after service ") + operation};
  return result;
}

std::vector<std::optional<std::string>> FaultyServiceStore::get(std::string_view service,
                                                                const std::vector<std::string>& ids) {
  return faulty("service.get", [&] { return disk_.get(service, ids); });
}
std::size_t FaultyServiceStore::count(std::string_view service) {
  return faulty("service.count", [&] { return disk_.count(service); });
}
std::optional<std::string> FaultyServiceStore::recorded(std::string_view service, const std::string& key) {
  return faulty("service.recorded", [&] { return disk_.recorded(service, key); });
}
bool FaultyServiceStore::commit(std::string_view service, const std::vector<activities::ServiceRead>& reads,
                                const std::vector<activities::ServiceWrite>& writes, const std::string& key,
                                const std::string& outcome) {
  return faulty("service.commit", [&] { return disk_.commit(service, reads, writes, key, outcome); });
}
std::optional<std::string> FaultyServiceStore::fence(std::string_view service, const std::string& key,
                                                     const std::string& tombstone) {
  return faulty("service.fence", [&] { return disk_.fence(service, key, tombstone); });
}
std::vector<std::pair<std::string, std::string>> FaultyServiceStore::scan(std::string_view service,
                                                                          std::string_view prefix, std::size_t limit) {
  return faulty("service.scan", [&] { return disk_.scan(service, prefix, limit); });
}

}  // namespace flightplan::simulation

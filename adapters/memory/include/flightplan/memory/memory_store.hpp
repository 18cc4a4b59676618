#pragma once
// WorkflowStore in process: a real implementation (thread-safe, blocking claims, leases, fenced
// reports, redelivery, dead letters, delayed inputs), not a mock. It is the simulator's disk: every
// semantic the runtime relies on is in the contract suite (tests/contract/store_contract.hpp) that
// runs against it and against Redis. Not durable: `flightplan dev --store memory` and tests use it.
#include "flightplan/engine/store.hpp"
#include "flightplan/runtime/clock.hpp"

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace flightplan::memory {

struct MemoryStoreSettings {
  // sweep_expired() drops workflows (state, history, summary) closed longer ago than this; 0 keeps
  // them for the life of the process and sweep_expired() then drops nothing.
  std::int64_t retention_ms = 0;
};

class MemoryStore : public engine::WorkflowStore {
 public:
  // `clock` measures visibility timeouts and timer due times; it must outlive the store.
  explicit MemoryStore(runtime::Clock& clock, MemoryStoreSettings settings = {})
      : clock_(clock), settings_(settings) {}

  std::vector<engine::CommitOutcome> commit(const std::vector<engine::Commit>& commits) override;
  std::optional<engine::StoredWorkflow> load(const std::string& workflow_id) override;
  std::vector<engine::Event> history(const std::string& workflow_id, std::int64_t after_seq,
                                     std::size_t limit) override;
  void enqueue_input(const std::string& workflow_id, const engine::Input& input) override;
  std::vector<engine::QueuedInput> claim_inputs(const std::string& consumer, std::size_t limit,
                                                std::int64_t block_ms, std::int64_t visibility_ms) override;
  void ack_inputs(const std::vector<engine::QueuedInput>& inputs) override;
  void release_inputs(const std::vector<engine::QueuedInput>& inputs) override;
  void dead_letter_input(const engine::QueuedInput& input, const std::string& reason,
                         const std::optional<engine::Input>& replacement) override;
  std::vector<engine::ActivityTask> claim_tasks(const std::string& queue, const std::string& consumer,
                                                std::size_t limit, std::int64_t block_ms,
                                                std::int64_t lease_ms) override;
  engine::LeaseState renew_task(const engine::ActivityTask& task, std::int64_t lease_ms) override;
  bool complete_task(const engine::ActivityTask& task, const engine::Input& outcome,
                     const std::vector<engine::DelayedInput>& later = {}) override;
  bool drop_task(const engine::ActivityTask& task) override;
  void release_task(const engine::ActivityTask& task) override;
  bool dead_letter_task(const engine::ActivityTask& task, const std::string& reason,
                        const engine::Input& failure) override;
  std::vector<engine::DeadLetter> list_dead_letters(std::size_t limit) override;
  std::int64_t count_dead_letters() override;
  std::size_t fire_due_timers(std::int64_t now_ms, std::size_t limit) override;

  // Visibility, operations figures and definitions (see engine/store.hpp).
  engine::WorkflowPage list_workflows(const engine::WorkflowQuery& query) override;
  std::map<engine::WorkflowStatus, std::int64_t> count_workflows(const std::string& name = "") override;
  std::size_t sweep_expired(std::int64_t now_ms, std::size_t limit) override;
  std::map<std::string, std::int64_t> queue_depths() override;
  std::int64_t input_backlog() override;
  std::optional<std::int64_t> earliest_timer_due_ms() override;
  engine::PutDefinitionOutcome put_definition(const engine::StoredDefinition& definition) override;
  std::vector<engine::StoredDefinition> list_definitions() override;

 private:
  // A queue with at-least-once delivery: entries wait in `ready`; a claimed entry moves to
  // `claimed` until acknowledged, or until its lease runs out and the next claim hands it out again
  // (first, as XAUTOCLAIM does on Redis).
  struct Entry {
    std::string id;
    nlohmann::json payload;
    int deliveries = 0;
  };
  struct Claim {
    Entry entry;
    std::string consumer;
    std::int64_t expires_ms = 0;
  };
  struct Queue {
    std::deque<Entry> ready;
    std::map<std::string, Claim> claimed;
  };
  // (workflow, activity id, attempt): an attempt the engine cancelled.
  using AttemptKey = std::tuple<std::string, std::int64_t, int>;
  struct Delayed {
    std::string workflow_id;
    nlohmann::json input;
  };
  struct Record {
    engine::StoredWorkflow stored;
    std::vector<engine::Event> events;
    engine::WorkflowSummary summary;  // of stored.state, kept with it by every commit
  };
  // Position in the newest-first order of lists: (started_ms, id), both descending.
  using StartKey = std::pair<std::int64_t, std::string>;
  using CountKey = std::pair<std::string, engine::WorkflowStatus>;  // (definition name, status)

  engine::CommitOutcome commit_one(const engine::Commit& commit);
  void apply_commands(const engine::Commit& commit);
  void index(const engine::WorkflowSummary* old_summary, const engine::WorkflowSummary& summary);
  void unindex(const engine::WorkflowSummary& summary);
  void push(Queue& queue, nlohmann::json payload);
  std::vector<Entry> take(Queue& queue, const std::string& consumer, std::size_t limit, std::int64_t lease_ms);
  // The claim of `task`'s delivery if it is still current (same consumer, same delivery); else null.
  Claim* current_claim(const engine::ActivityTask& task);
  // Acknowledges `task`'s claim (precondition: current) and forgets its cancellation mark.
  void finish_claim(const engine::ActivityTask& task);
  void add_dead_letter(engine::DeadLetter letter);
  template <typename Ready>
  void wait_for(std::unique_lock<std::mutex>& lock, std::int64_t block_ms, Ready ready);

  runtime::Clock& clock_;
  MemoryStoreSettings settings_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, Record> workflows_;
  Queue inputs_;
  std::map<std::string, Queue> tasks_;                            // by queue name
  using TimerKey = std::pair<std::string, std::int64_t>;  // (workflow, timer)
  std::multimap<std::int64_t, TimerKey> timers_;          // by due time
  std::map<TimerKey, std::multimap<std::int64_t, TimerKey>::iterator> timer_index_;
  std::int64_t next_entry_id_ = 1;
  struct CancelMark {
    std::int64_t time_ms = 0;  // when the engine cancelled the attempt
    bool fence = true;         // false: superseded by a retry
  };
  std::map<AttemptKey, CancelMark> cancelled_;
  std::multimap<std::int64_t, std::string> delayed_by_due_;  // due -> delayed input id
  std::map<std::string, Delayed> delayed_;                   // id -> what to enqueue
  std::deque<engine::DeadLetter> dead_letters_;              // oldest first, bounded
  // Visibility indexes, maintained by every commit (guarded by mutex_ like everything else).
  std::set<StartKey, std::greater<>> by_start_;            // newest start first
  std::set<std::pair<std::int64_t, std::string>> closed_;  // (closed_ms, id) of closed workflows
  std::map<CountKey, std::int64_t> counts_;
  // Definitions in registration order, and where each (name, version) sits in it.
  std::vector<engine::StoredDefinition> definitions_;
  std::map<std::pair<std::string, std::string>, std::size_t> definition_index_;
};

}  // namespace flightplan::memory

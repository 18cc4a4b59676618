#pragma once
// WorkflowStore on Redis. Key layout: docs/redis-keys.md. Workflows are spread over a fixed number
// of partitions (hash of the id); every key of a partition carries the same hash tag, so each commit
// — state, events, tasks and timers of one workflow — is ONE Lua script on one slot, valid on Redis
// Cluster too. Conflicts are detected in the script by comparing the stored history length.
#include "flightplan/engine/store.hpp"
#include "flightplan/redis/client_pool.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace flightplan::redis {

struct RedisStoreSettings {
  ClientPoolSettings pool;
  std::string key_prefix = "fp";
  // Fixed for the life of a dataset: changing it moves workflows to other partitions.
  int partitions = 8;
  // Finished workflows (state and history) expire this long after they close; sweep_expired()
  // then drops their summaries and index entries. 0: kept for ever.
  std::int64_t retention_ms = 7LL * 24 * 3600 * 1000;
  // Index entries one list_workflows() call examines at most; a search that needs more returns a
  // short page with a cursor to continue.
  std::size_t list_scan_max = 5000;
};

class RedisStore final : public engine::WorkflowStore {
 public:
  // Throws OperationError(invalid_argument) on bad settings. Connects lazily.
  explicit RedisStore(RedisStoreSettings settings);
  ~RedisStore() override;

  // The Pub/Sub channel the commit script publishes "<id> <version>" of every workflow it closes on
  // (see CloseFeed).
  std::string closed_channel() const;
  const RedisStoreSettings& settings() const { return settings_; }

  // Creates the consumer groups of the input streams and of the given task queues (idempotent).
  void ensure_groups(const std::vector<std::string>& queues);

  std::vector<engine::CommitOutcome> commit(const std::vector<engine::Commit>& commits) override;
  std::optional<engine::StoredWorkflow> load(const std::string& workflow_id) override;
  std::vector<std::optional<engine::StoredWorkflow>> load_many(const std::vector<std::string>& ids) override;
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

  // Readiness: true when Redis answers PING within the command timeout.
  bool ping();

  // Whether the server keeps what it acknowledged: AOF on (appendonly yes) and nothing evicted
  // (maxmemory-policy noeviction). Read from INFO, which managed servers that refuse CONFIG still
  // answer. `problems` names each unsafe setting and how to fix it; empty when durable. Throws
  // OperationError(unavailable) when the server cannot be reached.
  struct Durability {
    bool aof_enabled = false;
    std::string maxmemory_policy;
    std::string appendfsync;  // "always", "everysec", "no", or "" when CONFIG is refused
    std::vector<std::string> problems;
  };
  Durability check_durability();

  // The partition of a workflow id (64-bit FNV-1a of the id, modulo partitions).
  int partition_of(const std::string& workflow_id) const;

 private:
  struct Keys;
  std::string tag(int partition) const;
  std::string workflow_key(const std::string& workflow_id) const;
  std::string events_key(const std::string& workflow_id) const;
  std::string timers_key(int partition) const;
  std::string inputs_key(int partition) const;
  std::string tasks_key(int partition, const std::string& queue) const;
  std::string summaries_key(int partition) const;
  // A visibility index of a partition: "all", "ids", "closed", "name:<name>", "st:<status>",
  // "sn:<status>:<name>" (docs/redis-keys.md).
  std::string index_key(int partition, const std::string& index) const;
  std::string queues_key(int partition) const;
  std::string cancelled_key(int partition) const;
  std::string superseded_key(int partition) const;
  std::string delayed_key(int partition) const;
  std::string delayed_inputs_key(int partition) const;
  std::string dead_key(int partition) const;
  std::vector<std::string> task_script_args(const engine::ActivityTask& task) const;
  // Fenced acknowledgement with an outcome (empty: none) and delayed inputs; see complete_task.
  bool report_task(const engine::ActivityTask& task, const std::string& outcome,
                   const std::vector<engine::DelayedInput>& later);
  void dead_letter_raw_input(const engine::QueuedInput& input, const std::string& payload,
                             const std::string& reason);
  std::string definitions_key(const char* part) const;
  struct ListPlan;
  ListPlan plan_list(const engine::WorkflowQuery& query);
  engine::WorkflowPage list_sorted(const ListPlan& plan, const engine::WorkflowQuery& query);
  engine::WorkflowPage list_by_prefix(const ListPlan& plan, const engine::WorkflowQuery& query);
  void ensure_group(const std::string& stream, const std::string& group);
  std::vector<std::string> commit_arguments(const engine::Commit& commit, std::vector<std::string>& keys) const;
  void append_command_arguments(const engine::Commit& commit, int partition, std::vector<std::string>& keys,
                                std::vector<std::string>& args) const;

  RedisStoreSettings settings_;
  ClientPool pool_;
};

}  // namespace flightplan::redis

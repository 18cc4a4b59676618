#include "flightplan/redis/redis_store.hpp"

#include "flightplan/engine/error.hpp"
#include "flightplan/engine/hash.hpp"
#include "store_support.hpp"

#include <algorithm>

namespace flightplan::redis {
namespace {

using engine::Command;
using engine::CommitOutcome;
using engine::ErrorCategory;
using engine::OperationError;
using nlohmann::json;

constexpr const char* orchestrator_group = "orchestrators";
constexpr const char* worker_group = "workers";

// One step, atomically: check the version, write state, append events, enqueue tasks, set and
// clear timers, start the retention clock of a finished workflow, and keep the workflow's summary
// and visibility index entries in step with its state. Key and argument layout: see
// RedisStore::commit_arguments and docs/redis-keys.md.
const Script commit_script{"commit", R"lua(
local stored = redis.call('HGET', KEYS[1], 'version')
local expected = tonumber(ARGV[1])
if expected == 0 then
  if stored then return redis.error_reply('CONFLICT workflow exists') end
elseif (not stored) or tonumber(stored) ~= expected then
  return redis.error_reply('CONFLICT stored version ' .. tostring(stored) .. ', expected ' .. ARGV[1])
end
redis.call('HSET', KEYS[1], 'state', ARGV[3], 'version', ARGV[2])
if expected == 0 then redis.call('HSET', KEYS[1], 'digest', ARGV[4]) end
-- Visibility. KEYS[10 .. 9+n] are the status indexes, KEYS[10+n .. 9+2n] the status-and-name ones.
local id, member, status, n = ARGV[6], ARGV[8], ARGV[9], tonumber(ARGV[11])
local function status_slot(name)
  local suffix = ':idx:st:' .. name
  for k = 10, 9 + n do
    if string.sub(KEYS[k], -#suffix) == suffix then return k end
  end
  return nil
end
local old = redis.call('HGET', KEYS[4], id)
local old_member, old_status
if old then
  old_member = string.sub(old, 1, 20) .. ':' .. id
  old_status = string.sub(old, 21, string.find(old, '\n', 21, true) - 1)
end
if old_member ~= member or old_status ~= status then
  if old then
    redis.call('ZREM', KEYS[5], old_member)
    redis.call('ZREM', KEYS[8], old_member)
    local k = status_slot(old_status)
    if k then
      redis.call('ZREM', KEYS[k], old_member)
      redis.call('ZREM', KEYS[k + n], old_member)
    end
  end
  local k = status_slot(status)
  redis.call('ZADD', KEYS[5], 0, member)
  redis.call('ZADD', KEYS[8], 0, member)
  redis.call('ZADD', KEYS[k], 0, member)
  redis.call('ZADD', KEYS[k + n], 0, member)
end
redis.call('HSET', KEYS[4], id, ARGV[7])
if not old then redis.call('ZADD', KEYS[6], 0, id) end
local closed_ms = tonumber(ARGV[10])
if closed_ms > 0 then
  redis.call('ZADD', KEYS[7], closed_ms, id)
elseif redis.call('ZREM', KEYS[7], id) == 1 then
  -- Re-opened (an operator retry): the retention clock of its keys stops.
  redis.call('PERSIST', KEYS[1])
  redis.call('PERSIST', KEYS[2])
end
local i = 13
local events = tonumber(ARGV[i]); i = i + 1
local last = i + events - 1
while i <= last do
  local chunk_end = math.min(i + 999, last)
  redis.call('RPUSH', KEYS[2], unpack(ARGV, i, chunk_end))
  i = chunk_end + 1
end
local tasks = tonumber(ARGV[i]); i = i + 1
for _ = 1, tasks do
  redis.call('XADD', KEYS[tonumber(ARGV[i])], '*', 't', ARGV[i + 2])
  redis.call('SADD', KEYS[9], ARGV[i + 1]); i = i + 3
end
local adds = tonumber(ARGV[i]); i = i + 1
for _ = 1, adds do
  redis.call('ZADD', KEYS[3], ARGV[i + 1], ARGV[i]); i = i + 2
end
local removes = tonumber(ARGV[i]); i = i + 1
for _ = 1, removes do
  redis.call('ZREM', KEYS[3], ARGV[i]); i = i + 1
end
local cancels = tonumber(ARGV[i]); i = i + 1
if cancels > 0 then
  local first_mark_key = tonumber(ARGV[i]); i = i + 1
  for _ = 1, cancels do
    -- ARGV[i + 2] is 0 for the `cancelled` set (fence), 1 for `superseded` (a retry follows).
    redis.call('ZADD', KEYS[first_mark_key + tonumber(ARGV[i + 2])], ARGV[i + 1], ARGV[i]); i = i + 3
  end
end
local retention = tonumber(ARGV[5])
if retention > 0 then
  redis.call('PEXPIRE', KEYS[1], retention)
  redis.call('PEXPIRE', KEYS[2], retention)
end
-- The news for requests waiting for this workflow to close (CloseFeed), once per close.
if closed_ms > 0 and old_status ~= status then redis.call('PUBLISH', ARGV[12], id .. ' ' .. ARGV[2]) end
return 1
)lua"};

// Due timers of one partition become timer_fired inputs; ZREM and XADD in one script, so two
// supervisors never fire the same timer.
// Delayed inputs (KEYS[3] by due time, KEYS[4] their content) go the same way; the time of a fired
// delayed input is the firing time, spliced into its JSON. Cancellation marks (KEYS[5], KEYS[6]) older than
// ARGV[3] are trimmed: their tasks were finished before the cancel reached them.
const Script fire_timers_script{"fire_timers", R"lua(
local limit = tonumber(ARGV[2])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, limit)
for _, member in ipairs(due) do
  redis.call('ZREM', KEYS[1], member)
  local sep = string.find(member, ':', 1, true)
  local input = '{"type":"timer_fired","time_ms":' .. ARGV[1] .. ',"timer_id":' .. string.sub(member, 1, sep - 1) .. '}'
  redis.call('XADD', KEYS[2], '*', 'w', string.sub(member, sep + 1), 'i', input)
end
local fired = #due
if fired < limit then
  local later = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[1], 'LIMIT', 0, limit - fired)
  for _, id in ipairs(later) do
    redis.call('ZREM', KEYS[3], id)
    local record = redis.call('HGET', KEYS[4], id)
    redis.call('HDEL', KEYS[4], id)
    if record then
      local sep = string.find(record, '\n', 1, true)
      local input = string.sub(record, sep + 1)
      input = '{"time_ms":' .. ARGV[1] .. ',' .. string.sub(input, 2)
      redis.call('XADD', KEYS[2], '*', 'w', string.sub(record, 1, sep - 1), 'i', input)
    end
  end
  fired = fired + #later
end
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', ARGV[3])
return fired
)lua"};

// The fence of every report on a claimed task: the entry must still be pending for the same
// consumer with the same delivery count (XPENDING for that one entry). A holder that was overtaken
// (XAUTOCLAIM by another worker) or already reported fails it and writes nothing.
// KEYS[1] task stream. ARGV[1] group, ARGV[2] entry, ARGV[3] consumer, ARGV[4] deliveries.
#define FLIGHTPLAN_HOLDS_TASK_LUA                                                           \
  "local function holds()\n"                                                                \
  "  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)\n"            \
  "  if #p == 0 then return nil end\n"                                                      \
  "  if p[1][2] ~= ARGV[3] or tonumber(p[1][4]) ~= tonumber(ARGV[4]) then return nil end\n" \
  "  return p[1]\n"                                                                         \
  "end\n"

// Renews a lease: held (1) and not expired (idle below ARGV[6] = lease ms) -> XCLAIM JUSTID resets
// the idle time without counting a delivery; 2 when the attempt is also cancelled (member ARGV[5] of
// KEYS[2]), 3 when superseded (of KEYS[3]); 0 when lost.
const Script renew_task_script{"renew_task", FLIGHTPLAN_HOLDS_TASK_LUA R"lua(
local held = holds()
if not held or tonumber(held[3]) >= tonumber(ARGV[6]) then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], 'JUSTID')
if redis.call('ZSCORE', KEYS[2], ARGV[5]) then return 2 end
if redis.call('ZSCORE', KEYS[3], ARGV[5]) then return 3 end
return 1
)lua"};

// Reports a task, fenced: acknowledge and delete the entry, forget its cancellation marks (KEYS[2]
// and KEYS[6], member ARGV[5]), enqueue the outcome (KEYS[3], workflow ARGV[6], input ARGV[7]) and
// schedule the delayed inputs (KEYS[4] by due, KEYS[5] content; ARGV[8] count, then id, due, record each).
// Without an outcome (ARGV[7] empty) it only acknowledges: a dropped reply.
const Script complete_task_script{"complete_task", FLIGHTPLAN_HOLDS_TASK_LUA R"lua(
if not holds() then return 0 end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[5])
redis.call('ZREM', KEYS[6], ARGV[5])
if ARGV[7] ~= '' then redis.call('XADD', KEYS[3], '*', 'w', ARGV[6], 'i', ARGV[7]) end
local i = 9
for _ = 1, tonumber(ARGV[8]) do
  if redis.call('HSETNX', KEYS[5], ARGV[i], ARGV[i + 2]) == 1 then
    redis.call('ZADD', KEYS[4], ARGV[i + 1], ARGV[i])
  end
  i = i + 3
end
return 1
)lua"};

// Gives a held task back: its idle time is set far beyond any lease, so the next claim takes it.
const Script release_task_script{"release_task", FLIGHTPLAN_HOLDS_TASK_LUA R"lua(
if not holds() then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], 'IDLE', '1000000000', 'JUSTID')
return 1
)lua"};

// Dead-letters a held task: acknowledge and delete it, forget its marks (KEYS[2], KEYS[5], ARGV[5]),
// keep it in the dead-letter stream (KEYS[4], ARGV[7] = the letter JSON) and enqueue the failure
// (KEYS[3], workflow ARGV[6], input ARGV[8]).
const Script dead_letter_task_script{"dead_letter_task", FLIGHTPLAN_HOLDS_TASK_LUA R"lua(
if not holds() then return 0 end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[5])
redis.call('ZREM', KEYS[5], ARGV[5])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', '10000', '*', 'd', ARGV[7])
redis.call('XADD', KEYS[3], '*', 'w', ARGV[6], 'i', ARGV[8])
return 1
)lua"};

// Dead-letters a claimed input: acknowledge and delete it (KEYS[1], group ARGV[1], entry ARGV[2]),
// keep it (KEYS[2], ARGV[3]) and enqueue the replacement (ARGV[4] workflow, ARGV[5] input; empty:
// none). An entry no longer pending (acknowledged meanwhile) is left alone.
const Script dead_letter_input_script{"dead_letter_input", R"lua(
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', '10000', '*', 'd', ARGV[3])
if ARGV[5] ~= '' then redis.call('XADD', KEYS[1], '*', 'w', ARGV[4], 'i', ARGV[5]) end
return 1
)lua"};

#undef FLIGHTPLAN_HOLDS_TASK_LUA

// Field value of a stream entry's flat [field, value, ...] array; nullptr when absent.
const std::string* field(const Reply& fields, std::string_view name) {
  if (fields.type() != Reply::Type::array) return nullptr;
  const auto& items = fields.as_array();
  for (std::size_t i = 0; i + 1 < items.size(); i += 2)
    if (items[i].as_string() == name) return &items[i + 1].as_string();
  return nullptr;
}

struct StreamEntry {
  std::string id;
  const Reply* fields;
};

// Entries of an XREADGROUP reply ([[stream, [[id, fields]...]]...]) or an XAUTOCLAIM entry list.
void collect_entries(const Reply& entries, std::vector<StreamEntry>& out) {
  if (entries.type() != Reply::Type::array) return;
  for (const Reply& entry : entries.as_array()) {
    const auto& pair = entry.as_array();
    if (pair.size() < 2 || pair[1].is_nil()) continue;  // deleted meanwhile
    out.push_back(StreamEntry{pair[0].as_string(), &pair[1]});
  }
}

// Task receipts are the stream entry id (the consumer and delivery count travel in the task).
std::string timer_member(std::int64_t timer_id, const std::string& workflow_id) {
  return std::to_string(timer_id) + ":" + workflow_id;
}

// A cancelled attempt in the partition's `cancelled` set.
std::string attempt_member(const std::string& workflow_id, std::int64_t activity_id, int attempt) {
  return std::to_string(activity_id) + ":" + std::to_string(attempt) + ":" + workflow_id;
}

}  // namespace

RedisStore::RedisStore(RedisStoreSettings settings) : settings_(std::move(settings)), pool_(settings_.pool) {
  if (settings_.partitions < 1 || settings_.partitions > 4096)
    throw OperationError(ErrorCategory::invalid_argument, "partitions must be between 1 and 4096");
  if (settings_.key_prefix.empty() || settings_.key_prefix.find_first_of("{}") != std::string::npos)
    throw OperationError(ErrorCategory::invalid_argument, "key_prefix must be non-empty and contain no braces");
  if (settings_.list_scan_max < 1 || settings_.list_scan_max > 100'000)
    throw OperationError(ErrorCategory::invalid_argument, "list_scan_max must be between 1 and 100000");
}

RedisStore::~RedisStore() = default;

bool RedisStore::ping() {
  try {
    auto client = pool_.borrow();
    client->ping();
    return true;
  } catch (const OperationError&) {
    return false;
  }
}

namespace {

// The value of `field` in an INFO section ("field:value" lines); "" when absent.
std::string info_field(const std::string& info, std::string_view field) {
  const std::string prefix = std::string(field) + ":";
  for (std::size_t at = 0; at < info.size();) {
    const std::size_t end = std::min(info.find('\n', at), info.size());
    std::string line = info.substr(at, end - at);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.starts_with(prefix)) return line.substr(prefix.size());
    at = end + 1;
  }
  return "";
}

}  // namespace

RedisStore::Durability RedisStore::check_durability() {
  auto client = pool_.borrow();
  Durability d;
  d.aof_enabled = info_field(client->command({"INFO", "persistence"}).as_string(), "aof_enabled") == "1";
  d.maxmemory_policy = info_field(client->command({"INFO", "memory"}).as_string(), "maxmemory_policy");
  try {
    const Reply reply = client->command({"CONFIG", "GET", "appendfsync"});
    if (reply.as_array().size() == 2) d.appendfsync = reply.as_array()[1].as_string();
  } catch (const OperationError& e) {
    if (e.category() == ErrorCategory::unavailable) throw;  // refused by a managed server: unknown
  }
  if (!d.aof_enabled)
    d.problems.push_back("appendonly is off: Redis would lose every acknowledged start and step written since its "
                         "last snapshot when it restarts (set 'appendonly yes')");
  if (d.maxmemory_policy != "noeviction")
    d.problems.push_back("maxmemory-policy is '" + d.maxmemory_policy +
                         "': Redis may evict workflow state, tasks or timers when memory runs short (set "
                         "'maxmemory-policy noeviction')");
  return d;
}

int RedisStore::partition_of(const std::string& workflow_id) const {
  return static_cast<int>(engine::fnv1a_64(workflow_id) % static_cast<std::uint64_t>(settings_.partitions));
}

std::string RedisStore::tag(int partition) const {
  return settings_.key_prefix + ":{p" + std::to_string(partition) + "}";
}
std::string RedisStore::workflow_key(const std::string& id) const { return tag(partition_of(id)) + ":wf:" + id; }
std::string RedisStore::events_key(const std::string& id) const { return tag(partition_of(id)) + ":ev:" + id; }
std::string RedisStore::closed_channel() const { return settings_.key_prefix + ":closed"; }
std::string RedisStore::timers_key(int partition) const { return tag(partition) + ":timers"; }
std::string RedisStore::inputs_key(int partition) const { return tag(partition) + ":in"; }
std::string RedisStore::tasks_key(int partition, const std::string& queue) const {
  return tag(partition) + ":q:" + queue;
}
std::string RedisStore::summaries_key(int partition) const { return tag(partition) + ":sum"; }
std::string RedisStore::index_key(int partition, const std::string& index) const {
  return tag(partition) + ":idx:" + index;
}
std::string RedisStore::queues_key(int partition) const { return tag(partition) + ":queues"; }
std::string RedisStore::cancelled_key(int partition) const { return tag(partition) + ":cancelled"; }
std::string RedisStore::superseded_key(int partition) const { return tag(partition) + ":superseded"; }
std::string RedisStore::delayed_key(int partition) const { return tag(partition) + ":delayed"; }
std::string RedisStore::delayed_inputs_key(int partition) const { return tag(partition) + ":delayed:in"; }
std::string RedisStore::dead_key(int partition) const { return tag(partition) + ":dead"; }
// Definitions are global; their keys share one hash tag so that put_definition is one script.
std::string RedisStore::definitions_key(const char* part) const {
  return settings_.key_prefix + ":{defs}:" + part;
}

void RedisStore::ensure_group(const std::string& stream, const std::string& group) {
  auto client = pool_.borrow();
  try {
    client->command({"XGROUP", "CREATE", stream, group, "0", "MKSTREAM"});
  } catch (const OperationError& e) {
    if (std::string_view(e.what()).find("BUSYGROUP") == std::string_view::npos) throw;
  }
}

void RedisStore::ensure_groups(const std::vector<std::string>& queues) {
  for (int p = 0; p < settings_.partitions; ++p) {
    ensure_group(inputs_key(p), orchestrator_group);
    for (const std::string& queue : queues) {
      ensure_group(tasks_key(p, queue), worker_group);
      // Known queues report a depth of 0 before their first task.
      pool_.borrow()->command({"SADD", queues_key(p), queue});
    }
  }
}

// Appends the step's commands to the commit script's arguments: tasks as (key index, queue, task
// JSON), timers to add as (member, due), timers to remove; each group after its count.
void RedisStore::append_command_arguments(const engine::Commit& c, int partition,
                                          std::vector<std::string>& keys,
                                          std::vector<std::string>& args) const {
  std::vector<std::string> tasks, adds, removes, cancels;
  for (const Command& command : *c.commands) {
    switch (command.type) {
      case Command::Type::schedule_activity: {
        const std::string queue = engine::queue_of(command.activity);
        const std::string key = tasks_key(partition, queue);
        auto it = std::find(keys.begin(), keys.end(), key);
        if (it == keys.end()) it = keys.insert(keys.end(), key);
        tasks.push_back(std::to_string(it - keys.begin() + 1));
        tasks.push_back(queue);
        json task{{"workflow_id", c.workflow_id}, {"activity_id", command.activity_id},
                  {"attempt", command.attempt}, {"activity", command.activity},
                  {"idempotency_key", command.idempotency_key}, {"arguments", command.arguments}};
        if (command.fence_only) task["fence_only"] = true;
        if (command.report_start) task["report_start"] = true;
        tasks.push_back(task.dump());
        break;
      }
      case Command::Type::start_timer:
        adds.push_back(timer_member(command.timer_id, c.workflow_id));
        adds.push_back(std::to_string(command.due_ms));
        break;
      case Command::Type::cancel_timer:
        removes.push_back(timer_member(command.timer_id, c.workflow_id));
        break;
      case Command::Type::workflow_closed:
        args[4] = std::to_string(settings_.retention_ms);
        break;
      case Command::Type::cancel_activity:
        // Marked for the worker that claims or renews the task: it fences instead of acting.
        cancels.push_back(attempt_member(c.workflow_id, command.activity_id, command.attempt));
        cancels.push_back(std::to_string(c.state->updated_ms));
        cancels.push_back(command.fence ? "0" : "1");
        break;
    }
  }
  args.push_back(std::to_string(tasks.size() / 3));
  args.insert(args.end(), tasks.begin(), tasks.end());
  args.push_back(std::to_string(adds.size() / 2));
  args.insert(args.end(), adds.begin(), adds.end());
  args.push_back(std::to_string(removes.size()));
  args.insert(args.end(), removes.begin(), removes.end());
  args.push_back(std::to_string(cancels.size() / 3));
  if (!cancels.empty()) {
    keys.push_back(cancelled_key(partition));
    keys.push_back(superseded_key(partition));
    args.push_back(std::to_string(keys.size() - 1));
    args.insert(args.end(), cancels.begin(), cancels.end());
  }
}

std::vector<std::string> RedisStore::commit_arguments(const engine::Commit& c,
                                                      std::vector<std::string>& keys) const {
  const int p = partition_of(c.workflow_id);
  engine::WorkflowSummary summary = engine::WorkflowSummary::of(*c.state);
  summary.id = c.workflow_id;
  keys = {workflow_key(c.workflow_id),
          events_key(c.workflow_id),
          timers_key(p),
          summaries_key(p),
          index_key(p, "all"),
          index_key(p, "ids"),
          index_key(p, "closed"),
          index_key(p, "name:" + summary.name),
          queues_key(p)};
  for (const engine::WorkflowStatus status : store_support::all_statuses)
    keys.push_back(index_key(p, "st:" + std::string(engine::to_string(status))));
  for (const engine::WorkflowStatus status : store_support::all_statuses)
    keys.push_back(index_key(p, "sn:" + std::string(engine::to_string(status)) + ":" + summary.name));
  std::vector<std::string> args{std::to_string(c.expected_version),
                                std::to_string(c.state->history_length),
                                c.state->to_json().dump(),
                                c.start_digest,
                                "0",
                                c.workflow_id,
                                store_support::summary_record(summary),
                                store_support::index_member(summary.started_ms, c.workflow_id),
                                std::string(engine::to_string(summary.status)),
                                std::to_string(summary.closed_ms),
                                std::to_string(store_support::all_statuses.size()),
                                closed_channel()};
  args.push_back(std::to_string(c.events->size()));
  for (const engine::Event& event : *c.events) args.push_back(event.to_json().dump());
  append_command_arguments(c, p, keys, args);
  return args;
}

std::vector<CommitOutcome> RedisStore::commit(const std::vector<engine::Commit>& commits) {
  std::vector<CommitOutcome> outcomes(commits.size(), CommitOutcome::committed);
  if (commits.empty()) return outcomes;
  auto client = pool_.borrow();
  auto run_one = [&](std::size_t i) {
    std::vector<std::string> keys;
    const std::vector<std::string> args = commit_arguments(commits[i], keys);
    try {
      client->eval_script(commit_script, keys, args);
    } catch (const OperationError& e) {
      if (e.category() != ErrorCategory::conflict) throw;
      outcomes[i] = CommitOutcome::conflict;
    }
  };
  // The first commit loads the script if needed; the rest go in one pipeline of EVALSHA.
  run_one(0);
  if (commits.size() == 1) return outcomes;
  std::vector<std::vector<std::string>> pipeline;
  for (std::size_t i = 1; i < commits.size(); ++i) {
    std::vector<std::string> keys;
    std::vector<std::string> args = commit_arguments(commits[i], keys);
    std::vector<std::string> command{"EVALSHA", commit_script.sha1(), std::to_string(keys.size())};
    command.insert(command.end(), keys.begin(), keys.end());
    command.insert(command.end(), std::make_move_iterator(args.begin()), std::make_move_iterator(args.end()));
    pipeline.push_back(std::move(command));
  }
  const std::vector<Reply> replies = client->pipeline(pipeline);
  for (std::size_t i = 1; i < commits.size(); ++i) {
    const Reply& reply = replies[i - 1];
    if (!reply.is_error()) continue;
    if (reply.error_code() == "CONFLICT") outcomes[i] = CommitOutcome::conflict;
    else if (reply.error_code() == "NOSCRIPT") run_one(i);  // the server restarted mid-batch
    else throw OperationError(ErrorCategory::internal, "commit failed: " + reply.error_message());
  }
  return outcomes;
}

namespace {

std::optional<engine::StoredWorkflow> stored_from(const Reply& reply) {
  if (reply.is_error()) throw OperationError(ErrorCategory::internal, "load failed: " + reply.error_message());
  const auto& values = reply.as_array();
  if (values[0].is_nil()) return std::nullopt;
  engine::StoredWorkflow stored;
  stored.state = engine::WorkflowState::from_json(json::parse(values[0].as_string()));
  stored.version = std::stoll(values[1].as_string());
  stored.start_digest = values[2].is_nil() ? "" : values[2].as_string();
  return stored;
}

}  // namespace

std::optional<engine::StoredWorkflow> RedisStore::load(const std::string& workflow_id) {
  auto client = pool_.borrow();
  return stored_from(client->command({"HMGET", workflow_key(workflow_id), "state", "version", "digest"}));
}

std::vector<std::optional<engine::StoredWorkflow>> RedisStore::load_many(const std::vector<std::string>& ids) {
  std::vector<std::optional<engine::StoredWorkflow>> loaded;
  if (ids.empty()) return loaded;
  std::vector<std::vector<std::string>> commands;
  for (const std::string& id : ids) commands.push_back({"HMGET", workflow_key(id), "state", "version", "digest"});
  auto client = pool_.borrow();
  for (const Reply& reply : client->pipeline(commands)) loaded.push_back(stored_from(reply));
  return loaded;
}

std::vector<engine::Event> RedisStore::history(const std::string& workflow_id, std::int64_t after_seq,
                                               std::size_t limit) {
  std::vector<engine::Event> events;
  if (limit == 0) return events;
  // seq n is at list index n-1: the list only ever grows by appends in seq order.
  const std::int64_t first = std::max<std::int64_t>(after_seq, 0);
  const std::int64_t last = first + static_cast<std::int64_t>(std::min<std::size_t>(limit, 1'000'000)) - 1;
  auto client = pool_.borrow();
  const Reply reply =
      client->command({"LRANGE", events_key(workflow_id), std::to_string(first), std::to_string(last)});
  for (const Reply& item : reply.as_array()) events.push_back(engine::Event::from_json(json::parse(item.as_string())));
  return events;
}

void RedisStore::enqueue_input(const std::string& workflow_id, const engine::Input& input) {
  auto client = pool_.borrow();
  client->command({"XADD", inputs_key(partition_of(workflow_id)), "*", "w", workflow_id, "i", input.to_json().dump()});
}

namespace {

struct ClaimedEntry {
  std::size_t stream = 0;  // index into the streams claimed from
  std::string id;
  std::string workflow_id;  // field 'w' (inputs)
  std::string payload;      // field 'i' (inputs) or 't' (tasks)
  int deliveries = 1;
};

}  // namespace

// Claims from several streams of one consumer group: first entries idle longer than the visibility
// window (their consumer went silent: XAUTOCLAIM), then new ones (XREADGROUP, blocking up to
// block_ms). Creates missing groups on the way.
static std::vector<ClaimedEntry> claim_entries(ClientPool& pool, const std::vector<std::string>& streams,
                                               const std::string& group, const std::string& consumer,
                                               std::size_t limit, std::int64_t block_ms, std::int64_t visibility_ms,
                                               const char* payload_field, std::int64_t command_timeout_ms) {
  std::vector<ClaimedEntry> claimed;
  auto client = pool.borrow();
  auto take = [&](const Reply& entries, std::size_t stream, int deliveries) {
    std::vector<StreamEntry> parsed;
    collect_entries(entries, parsed);
    for (const StreamEntry& entry : parsed) {
      const std::string* payload = field(*entry.fields, payload_field);
      if (payload == nullptr) continue;
      const std::string* workflow = field(*entry.fields, "w");
      claimed.push_back(ClaimedEntry{stream, entry.id, workflow ? *workflow : "", *payload, deliveries});
    }
  };
  for (int round = 0; round < 2; ++round) {
    try {
      std::vector<std::vector<std::string>> reclaim;
      for (const std::string& stream : streams)
        reclaim.push_back({"XAUTOCLAIM", stream, group, consumer, std::to_string(visibility_ms), "0-0", "COUNT",
                           std::to_string(limit)});
      const std::vector<Reply> reclaimed = client->pipeline(reclaim);
      for (std::size_t s = 0; s < reclaimed.size(); ++s) {
        if (reclaimed[s].is_error()) throw OperationError(ErrorCategory::internal, reclaimed[s].error_message());
        take(reclaimed[s].as_array()[1], s, 2);
      }
      // XAUTOCLAIM does not say how often an entry was delivered; XPENDING does (poison work is
      // set aside by that count). Rare: only entries whose holder went silent come this way.
      if (!claimed.empty()) {
        std::vector<std::vector<std::string>> pending;
        for (const ClaimedEntry& entry : claimed)
          pending.push_back({"XPENDING", streams[entry.stream], group, entry.id, entry.id, "1"});
        const std::vector<Reply> counts = client->pipeline(pending);
        for (std::size_t k = 0; k < claimed.size(); ++k) {
          if (counts[k].is_error() || counts[k].as_array().empty()) continue;
          claimed[k].deliveries = static_cast<int>(counts[k].as_array()[0].as_array()[3].as_integer());
        }
      }
      if (claimed.size() >= limit) return claimed;
      std::vector<std::string_view> read{"XREADGROUP", "GROUP", group, consumer, "COUNT"};
      const std::string count = std::to_string(limit - claimed.size());
      read.push_back(count);
      // The connection waits as long as the server blocks: stay well inside the command timeout.
      const std::string block = std::to_string(std::min(block_ms, command_timeout_ms / 2));
      if (block_ms > 0 && claimed.empty()) {
        read.push_back("BLOCK");
        read.push_back(block);
      }
      read.push_back("STREAMS");
      for (const std::string& stream : streams) read.push_back(stream);
      for (std::size_t s = 0; s < streams.size(); ++s) read.push_back(">");
      const Reply reply = client->command(read);
      if (reply.is_nil()) return claimed;
      for (const Reply& per_stream : reply.as_array()) {
        const auto& pair = per_stream.as_array();
        const auto at = std::find(streams.begin(), streams.end(), pair[0].as_string());
        take(pair[1], static_cast<std::size_t>(at - streams.begin()), 1);
      }
      return claimed;
    } catch (const OperationError& e) {
      if (round > 0 || std::string_view(e.what()).find("NOGROUP") == std::string_view::npos) throw;
      claimed.clear();
      for (const std::string& stream : streams) {
        try {
          client->command({"XGROUP", "CREATE", stream, group, "0", "MKSTREAM"});
        } catch (const OperationError& create) {
          if (std::string_view(create.what()).find("BUSYGROUP") == std::string_view::npos) throw;
        }
      }
    }
  }
  return claimed;
}

std::vector<engine::QueuedInput> RedisStore::claim_inputs(const std::string& consumer, std::size_t limit,
                                                          std::int64_t block_ms, std::int64_t visibility_ms) {
  std::vector<std::string> streams;
  for (int p = 0; p < settings_.partitions; ++p) streams.push_back(inputs_key(p));
  std::vector<engine::QueuedInput> inputs;
  for (ClaimedEntry& entry : claim_entries(pool_, streams, orchestrator_group, consumer, limit, block_ms,
                                           visibility_ms, "i", settings_.pool.client.command_timeout_ms)) {
    engine::QueuedInput queued;
    queued.workflow_id = std::move(entry.workflow_id);
    queued.receipt = std::move(entry.id);
    queued.deliveries = entry.deliveries;
    try {
      queued.input = engine::Input::from_json(json::parse(entry.payload));
    } catch (const std::exception& e) {
      // Unreadable: no orchestrator can ever apply it. Set aside at once, never redelivered.
      dead_letter_raw_input(queued, entry.payload, std::string("unreadable input: ") + e.what());
      continue;
    }
    inputs.push_back(std::move(queued));
  }
  return inputs;
}

void RedisStore::ack_inputs(const std::vector<engine::QueuedInput>& inputs) {
  if (inputs.empty()) return;
  std::vector<std::vector<std::string>> commands;
  for (const auto& input : inputs) {
    const std::string stream = inputs_key(partition_of(input.workflow_id));
    commands.push_back({"XACK", stream, orchestrator_group, input.receipt});
    commands.push_back({"XDEL", stream, input.receipt});
  }
  auto client = pool_.borrow();
  for (const Reply& reply : client->pipeline(commands))
    if (reply.is_error()) throw OperationError(ErrorCategory::internal, "ack failed: " + reply.error_message());
}

void RedisStore::release_inputs(const std::vector<engine::QueuedInput>& inputs) {
  if (inputs.empty()) return;
  std::vector<std::vector<std::string>> commands;
  for (const auto& input : inputs) {
    // Idle "for ever": the next claimer's XAUTOCLAIM takes it at once. The consumer name does not
    // matter: only the idle time decides who may take it.
    commands.push_back({"XCLAIM", inputs_key(partition_of(input.workflow_id)), orchestrator_group, "released", "0",
                        input.receipt, "IDLE", "1000000000", "JUSTID"});
  }
  auto client = pool_.borrow();
  for (const Reply& reply : client->pipeline(commands))
    if (reply.is_error()) throw OperationError(ErrorCategory::internal, "release failed: " + reply.error_message());
}

namespace {

// A delayed input as kept until due: its JSON without `time_ms`, which fire_timers splices in (the
// time it fires is its time).
std::string delayed_record(const engine::Input& input) {
  json record = input.to_json();
  record.erase("time_ms");
  return record.dump();
}

std::string dead_letter_record(const engine::DeadLetter& letter) { return letter.to_json().dump(); }

}  // namespace

void RedisStore::dead_letter_raw_input(const engine::QueuedInput& input, const std::string& payload,
                                       const std::string& reason) {
  engine::DeadLetter letter;
  letter.kind = "input";
  letter.workflow_id = input.workflow_id;
  letter.reason = reason;
  letter.deliveries = input.deliveries;
  letter.entry = payload;  // as text: it is not JSON we can read
  const int p = partition_of(input.workflow_id);
  auto client = pool_.borrow();
  client->eval_script(dead_letter_input_script, {inputs_key(p), dead_key(p)},
                      {orchestrator_group, input.receipt, dead_letter_record(letter), input.workflow_id, ""});
}

void RedisStore::dead_letter_input(const engine::QueuedInput& input, const std::string& reason,
                                   const std::optional<engine::Input>& replacement) {
  engine::DeadLetter letter;
  letter.kind = "input";
  letter.workflow_id = input.workflow_id;
  letter.reason = reason;
  letter.deliveries = input.deliveries;
  letter.entry = input.input.to_json();
  const int p = partition_of(input.workflow_id);
  auto client = pool_.borrow();
  client->eval_script(dead_letter_input_script, {inputs_key(p), dead_key(p)},
                      {orchestrator_group, input.receipt, dead_letter_record(letter), input.workflow_id,
                       replacement ? replacement->to_json().dump() : ""});
}

std::vector<engine::ActivityTask> RedisStore::claim_tasks(const std::string& queue, const std::string& consumer,
                                                          std::size_t limit, std::int64_t block_ms,
                                                          std::int64_t lease_ms) {
  std::vector<std::string> streams;
  for (int p = 0; p < settings_.partitions; ++p) streams.push_back(tasks_key(p, queue));
  std::vector<engine::ActivityTask> tasks;
  for (ClaimedEntry& entry : claim_entries(pool_, streams, worker_group, consumer, limit, block_ms, lease_ms,
                                           "t", settings_.pool.client.command_timeout_ms)) {
    try {
      const json t = json::parse(entry.payload);
      tasks.push_back(engine::ActivityTask{t.at("workflow_id").get<std::string>(),
                                           t.at("activity_id").get<std::int64_t>(), t.at("attempt").get<int>(),
                                           t.at("activity").get<std::string>(),
                                           t.at("idempotency_key").get<std::string>(), t.at("arguments"),
                                           entry.id, entry.deliveries, consumer, t.value("fence_only", false)});
      tasks.back().report_start = t.value("report_start", false);
    } catch (const std::exception& e) {
      // Unreadable: no worker can ever run it, and it names no workflow we could tell. Set aside at
      // once, so that it does not fail every claim that picks it up.
      engine::DeadLetter letter;
      letter.kind = "task";
      letter.reason = std::string("unreadable ") + queue + " task: " + e.what();
      letter.deliveries = entry.deliveries;
      letter.entry = entry.payload;  // as text
      const int p = static_cast<int>(entry.stream);  // streams are in partition order
      auto client = pool_.borrow();
      client->eval_script(dead_letter_input_script, {streams[entry.stream], dead_key(p)},
                          {worker_group, entry.id, dead_letter_record(letter), "", ""});
    }
  }
  if (tasks.empty()) return tasks;
  // Which of them the engine cancelled or superseded meanwhile: one pipelined round trip.
  std::vector<std::vector<std::string>> marks;
  for (const engine::ActivityTask& task : tasks) {
    const int p = partition_of(task.workflow_id);
    const std::string member = attempt_member(task.workflow_id, task.activity_id, task.attempt);
    marks.push_back({"ZSCORE", cancelled_key(p), member});
    marks.push_back({"ZSCORE", superseded_key(p), member});
  }
  auto client = pool_.borrow();
  const std::vector<Reply> scores = client->pipeline(marks);
  auto marked = [](const Reply& reply) { return !reply.is_error() && !reply.is_nil(); };
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    tasks[i].cancelled = tasks[i].cancelled || marked(scores[2 * i]);
    tasks[i].superseded = !tasks[i].cancelled && marked(scores[2 * i + 1]);
  }
  return tasks;
}

// The keys and leading arguments every fenced task script takes.
std::vector<std::string> RedisStore::task_script_args(const engine::ActivityTask& task) const {
  return {worker_group, task.receipt, task.consumer, std::to_string(task.deliveries),
          attempt_member(task.workflow_id, task.activity_id, task.attempt)};
}

engine::LeaseState RedisStore::renew_task(const engine::ActivityTask& task, std::int64_t lease_ms) {
  const int p = partition_of(task.workflow_id);
  std::vector<std::string> args = task_script_args(task);
  args.push_back(std::to_string(lease_ms));
  auto client = pool_.borrow();
  const Reply reply = client->eval_script(
      renew_task_script, {tasks_key(p, engine::queue_of(task.activity)), cancelled_key(p), superseded_key(p)}, args);
  switch (reply.as_integer()) {
    case 1: return engine::LeaseState::held;
    case 2: return engine::LeaseState::cancelled;
    case 3: return engine::LeaseState::superseded;
    default: return engine::LeaseState::lost;
  }
}

bool RedisStore::report_task(const engine::ActivityTask& task, const std::string& outcome,
                             const std::vector<engine::DelayedInput>& later) {
  const int p = partition_of(task.workflow_id);
  std::vector<std::string> args = task_script_args(task);
  args.push_back(task.workflow_id);
  args.push_back(outcome);
  // Delayed inputs land in their workflow's partition; only those of the task's own partition can
  // be part of this script (one slot). Others are scheduled right after (see docs/redis-keys.md).
  std::vector<const engine::DelayedInput*> elsewhere;
  std::vector<std::string> delayed;
  for (const engine::DelayedInput& input : later) {
    if (partition_of(input.workflow_id) != p) {
      elsewhere.push_back(&input);
      continue;
    }
    delayed.push_back(input.id);
    delayed.push_back(std::to_string(input.due_ms));
    delayed.push_back(input.workflow_id + "\n" + delayed_record(input.input));
  }
  args.push_back(std::to_string(delayed.size() / 3));
  args.insert(args.end(), delayed.begin(), delayed.end());
  auto client = pool_.borrow();
  const Reply reply = client->eval_script(
      complete_task_script,
      {tasks_key(p, engine::queue_of(task.activity)), cancelled_key(p), inputs_key(p), delayed_key(p),
       delayed_inputs_key(p), superseded_key(p)},
      args);
  if (reply.as_integer() != 1) return false;
  for (const engine::DelayedInput* input : elsewhere) {
    const int q = partition_of(input->workflow_id);
    const std::string record = input->workflow_id + "\n" + delayed_record(input->input);
    const Reply added = client->command({"HSETNX", delayed_inputs_key(q), input->id, record});
    if (added.as_integer() == 1) client->command({"ZADD", delayed_key(q), std::to_string(input->due_ms), input->id});
  }
  return true;
}

bool RedisStore::complete_task(const engine::ActivityTask& task, const engine::Input& outcome,
                               const std::vector<engine::DelayedInput>& later) {
  return report_task(task, outcome.to_json().dump(), later);
}

bool RedisStore::drop_task(const engine::ActivityTask& task) { return report_task(task, "", {}); }

void RedisStore::release_task(const engine::ActivityTask& task) {
  const int p = partition_of(task.workflow_id);
  auto client = pool_.borrow();
  client->eval_script(release_task_script, {tasks_key(p, engine::queue_of(task.activity))}, task_script_args(task));
}

bool RedisStore::dead_letter_task(const engine::ActivityTask& task, const std::string& reason,
                                  const engine::Input& failure) {
  const int p = partition_of(task.workflow_id);
  engine::DeadLetter letter;
  letter.kind = "task";
  letter.workflow_id = task.workflow_id;
  letter.reason = reason;
  letter.deliveries = task.deliveries;
  letter.entry = json{{"workflow_id", task.workflow_id}, {"activity_id", task.activity_id},
                      {"attempt", task.attempt},         {"activity", task.activity},
                      {"idempotency_key", task.idempotency_key}, {"arguments", task.arguments}};
  std::vector<std::string> args = task_script_args(task);
  args.push_back(task.workflow_id);
  args.push_back(dead_letter_record(letter));
  args.push_back(failure.to_json().dump());
  auto client = pool_.borrow();
  const Reply reply = client->eval_script(
      dead_letter_task_script,
      {tasks_key(p, engine::queue_of(task.activity)), cancelled_key(p), inputs_key(p), dead_key(p),
       superseded_key(p)},
      args);
  return reply.as_integer() == 1;
}

std::vector<engine::DeadLetter> RedisStore::list_dead_letters(std::size_t limit) {
  std::vector<std::vector<std::string>> commands;
  for (int p = 0; p < settings_.partitions; ++p)
    commands.push_back({"XREVRANGE", dead_key(p), "+", "-", "COUNT", std::to_string(limit)});
  auto client = pool_.borrow();
  std::vector<engine::DeadLetter> letters;
  for (const Reply& reply : store_support::pipeline_checked(*client, commands, "list_dead_letters")) {
    std::vector<StreamEntry> entries;
    collect_entries(reply, entries);
    for (const StreamEntry& entry : entries) {
      const std::string* record = field(*entry.fields, "d");
      if (record == nullptr) continue;
      engine::DeadLetter letter = engine::DeadLetter::from_json(json::parse(*record));
      letter.id = entry.id;
      // Stream ids begin with the server's time in ms.
      letter.time_ms = std::stoll(entry.id.substr(0, entry.id.find('-')));
      letters.push_back(std::move(letter));
    }
  }
  std::sort(letters.begin(), letters.end(), [](const engine::DeadLetter& a, const engine::DeadLetter& b) {
    return std::make_pair(a.time_ms, a.id) > std::make_pair(b.time_ms, b.id);
  });
  if (letters.size() > limit) letters.resize(limit);
  return letters;
}

std::int64_t RedisStore::count_dead_letters() {
  std::vector<std::vector<std::string>> commands;
  for (int p = 0; p < settings_.partitions; ++p) commands.push_back({"XLEN", dead_key(p)});
  auto client = pool_.borrow();
  std::int64_t count = 0;
  for (const Reply& reply : store_support::pipeline_checked(*client, commands, "count_dead_letters"))
    count += reply.as_integer();
  return count;
}

std::size_t RedisStore::fire_due_timers(std::int64_t now_ms, std::size_t limit) {
  // Cancellation marks live a day: long enough for any task to be claimed once more.
  constexpr std::int64_t cancel_mark_ms_max = 24LL * 3600 * 1000;
  std::size_t fired = 0;
  auto client = pool_.borrow();
  for (int p = 0; p < settings_.partitions && fired < limit; ++p) {
    const Reply reply = client->eval_script(
        fire_timers_script,
        {timers_key(p), inputs_key(p), delayed_key(p), delayed_inputs_key(p), cancelled_key(p), superseded_key(p)},
        {std::to_string(now_ms), std::to_string(limit - fired), std::to_string(now_ms - cancel_mark_ms_max)});
    fired += static_cast<std::size_t>(reply.as_integer());
  }
  return fired;
}

}  // namespace flightplan::redis

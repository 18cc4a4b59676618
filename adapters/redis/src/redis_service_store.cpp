#include "flightplan/redis/redis_service_store.hpp"

#include "flightplan/engine/error.hpp"
#include "store_support.hpp"

namespace flightplan::redis {
namespace {

using activities::ServiceRead;
using activities::ServiceWrite;
using engine::ErrorCategory;
using engine::OperationError;

// The commit: check every read, check the key has no outcome, apply the writes (keeping the id
// index in step), record the outcome with its retention. Nothing is written unless every check
// holds. KEYS: records hash, id index, [outcome key]. ARGV: retention ms, outcome, number of reads,
// then (id, "1" present / "0" absent, value) per read, number of writes, then (id, "1" set /
// "0" erase, value) per write.
const Script commit_script{"service_commit", R"lua(
if #KEYS == 3 and redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
local i = 3
local reads = tonumber(ARGV[i]); i = i + 1
for _ = 1, reads do
  local stored = redis.call('HGET', KEYS[1], ARGV[i])
  if ARGV[i + 1] == '1' then
    if stored ~= ARGV[i + 2] then return 0 end
  elseif stored then
    return 0
  end
  i = i + 3
end
local writes = tonumber(ARGV[i]); i = i + 1
for _ = 1, writes do
  if ARGV[i + 1] == '1' then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
    redis.call('ZADD', KEYS[2], 0, ARGV[i])
  else
    redis.call('HDEL', KEYS[1], ARGV[i])
    redis.call('ZREM', KEYS[2], ARGV[i])
  end
  i = i + 3
end
if #KEYS == 3 then redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[1]) end
return 1
)lua"};

// The cancellation fence: the recorded outcome, or record the tombstone and answer nil.
// KEYS: outcome key. ARGV: tombstone, retention ms.
const Script fence_script{"service_fence", R"lua(
local recorded = redis.call('GET', KEYS[1])
if recorded then return recorded end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
)lua"};

// A consistent view of the records whose ids fall in a lexical range, in id order: a flat array
// id, value, id, value ... KEYS: id index, records hash. ARGV: min, max (ZRANGEBYLEX syntax), limit.
const Script scan_script{"service_scan", R"lua(
local ids = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  local value = redis.call('HGET', KEYS[2], id)
  if value then
    out[#out + 1] = id
    out[#out + 1] = value
  end
end
return out
)lua"};

// Runs `work`; a connection that failed or timed out becomes ServiceStoreUnavailable, the one error
// the activities retry. Decided by category, never by message text.
template <typename Work>
auto guarded(Work&& work) -> decltype(work()) {
  try {
    return work();
  } catch (const OperationError& error) {
    if (error.category() == ErrorCategory::unavailable || error.category() == ErrorCategory::timeout) {
      throw activities::ServiceStoreUnavailable(error.what());
    }
    throw;
  }
}

void append_entry(std::vector<std::string>& args, const std::string& id, const std::optional<std::string>& value) {
  args.push_back(id);
  args.push_back(value ? "1" : "0");
  args.push_back(value.value_or(std::string()));
}

}  // namespace

RedisServiceStore::RedisServiceStore(RedisServiceStoreSettings settings)
    : settings_(std::move(settings)), pool_(settings_.pool) {
  if (settings_.key_prefix.empty() || settings_.key_prefix.find_first_of("{}") != std::string::npos)
    throw OperationError(ErrorCategory::invalid_argument, "key_prefix must be non-empty and contain no braces");
  if (settings_.outcome_retention_ms < 1)
    throw OperationError(ErrorCategory::invalid_argument, "outcome_retention_ms must be at least 1");
}

RedisServiceStore::~RedisServiceStore() = default;

std::string RedisServiceStore::tag(std::string_view service) const {
  return settings_.key_prefix + ":svc:{" + std::string(service) + "}";
}

std::string RedisServiceStore::records_key(std::string_view service) const { return tag(service) + ":rec"; }

std::string RedisServiceStore::ids_key(std::string_view service) const { return tag(service) + ":ids"; }

std::string RedisServiceStore::outcome_key(std::string_view service, const std::string& key) const {
  return tag(service) + ":out:" + key;
}

std::vector<std::optional<std::string>> RedisServiceStore::get(std::string_view service,
                                                               const std::vector<std::string>& ids) {
  activities::require_service_name(service);
  activities::require_batch_size(ids.size(), "ids in one get");
  if (ids.empty()) return {};
  std::vector<std::string_view> command{"HMGET"};
  const std::string key = records_key(service);
  command.push_back(key);
  for (const std::string& id : ids) command.push_back(id);
  const Reply reply = guarded([&] { return pool_.borrow()->command(command); });
  std::vector<std::optional<std::string>> values;
  for (const Reply& value : reply.as_array())
    values.push_back(value.is_nil() ? std::nullopt : std::optional<std::string>(value.as_string()));
  return values;
}

std::size_t RedisServiceStore::count(std::string_view service) {
  activities::require_service_name(service);
  const std::string key = records_key(service);
  const Reply reply = guarded([&] { return pool_.borrow()->command({"HLEN", key}); });
  return static_cast<std::size_t>(reply.as_integer());
}

std::optional<std::string> RedisServiceStore::recorded(std::string_view service, const std::string& key) {
  activities::require_service_name(service);
  activities::require_idempotency_key(key);
  const std::string redis_key = outcome_key(service, key);
  const Reply reply = guarded([&] { return pool_.borrow()->command({"GET", redis_key}); });
  if (reply.is_nil()) return std::nullopt;
  return reply.as_string();
}

bool RedisServiceStore::commit(std::string_view service, const std::vector<ServiceRead>& reads,
                               const std::vector<ServiceWrite>& writes, const std::string& key,
                               const std::string& outcome) {
  activities::require_service_name(service);
  activities::require_batch_size(reads.size(), "reads in one commit");
  activities::require_batch_size(writes.size(), "writes in one commit");
  std::vector<std::string> keys{records_key(service), ids_key(service)};
  if (!key.empty()) keys.push_back(outcome_key(service, key));
  std::vector<std::string> args{std::to_string(settings_.outcome_retention_ms), outcome,
                                std::to_string(reads.size())};
  for (const ServiceRead& read : reads) append_entry(args, read.id, read.value);
  args.push_back(std::to_string(writes.size()));
  for (const ServiceWrite& write : writes) append_entry(args, write.id, write.value);
  const Reply reply = guarded([&] { return pool_.borrow()->eval_script(commit_script, keys, args); });
  return reply.as_integer() == 1;
}

std::optional<std::string> RedisServiceStore::fence(std::string_view service, const std::string& key,
                                                    const std::string& tombstone) {
  activities::require_service_name(service);
  activities::require_idempotency_key(key);
  const std::vector<std::string> keys{outcome_key(service, key)};
  const std::vector<std::string> args{tombstone, std::to_string(settings_.outcome_retention_ms)};
  const Reply reply = guarded([&] { return pool_.borrow()->eval_script(fence_script, keys, args); });
  if (reply.is_nil()) return std::nullopt;
  return reply.as_string();
}

std::vector<std::pair<std::string, std::string>> RedisServiceStore::scan(std::string_view service,
                                                                         std::string_view prefix,
                                                                         std::size_t limit) {
  activities::require_service_name(service);
  activities::require_scan_limit(limit);
  const std::string end = store_support::prefix_end(prefix);
  const std::vector<std::string> keys{ids_key(service), records_key(service)};
  const std::vector<std::string> args{prefix.empty() ? "-" : "[" + std::string(prefix),
                                      end.empty() ? "+" : "(" + end, std::to_string(limit)};
  const Reply reply = guarded([&] { return pool_.borrow()->eval_script(scan_script, keys, args); });
  const std::vector<Reply>& items = reply.as_array();
  std::vector<std::pair<std::string, std::string>> records;
  for (std::size_t i = 0; i + 1 < items.size(); i += 2) records.emplace_back(items[i].as_string(), items[i + 1].as_string());
  return records;
}

}  // namespace flightplan::redis

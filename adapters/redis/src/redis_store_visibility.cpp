// RedisStore: visibility (summaries, lists, counts, retention sweep), operations figures and
// runtime definitions. Key layout and scripts: docs/redis-keys.md.
#include "flightplan/engine/error.hpp"
#include "flightplan/redis/redis_store.hpp"
#include "store_support.hpp"

#include <algorithm>
#include <deque>
#include <optional>
#include <set>
#include <tuple>

namespace flightplan::redis {
namespace {

using engine::ErrorCategory;
using engine::OperationError;
using engine::WorkflowSummary;
using nlohmann::json;
using store_support::ScriptCall;

// Reads index entries with their summaries from one partition, both at once. KEYS[1] is an index,
// KEYS[2] the summary hash. ARGV[4] = "rev": a time-ordered index read newest first between
// ARGV[1] (max) and ARGV[2] (min); "ids": the id index read in byte order from ARGV[1] (min) to
// ARGV[2] (max). At most ARGV[3] entries. Replies [entry, summary record or nil, ...].
const Script read_index_script{"read_index", R"lua(
local entries
if ARGV[4] == 'rev' then
  entries = redis.call('ZREVRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
else
  entries = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
end
local out = {}
for first = 1, #entries, 500 do
  local last = math.min(first + 499, #entries)
  local ids = {}
  for j = first, last do
    if ARGV[4] == 'rev' then ids[#ids + 1] = string.sub(entries[j], 22) else ids[#ids + 1] = entries[j] end
  end
  local records = redis.call('HMGET', KEYS[2], unpack(ids))
  for j = first, last do
    out[#out + 1] = entries[j]
    out[#out + 1] = records[j - first + 1]
  end
end
return out
)lua"};

// Workflows of one partition closed before ARGV[1] (exclusive), at most ARGV[2], with their
// summary records: [id, record, ...]. KEYS[1] the closed index, KEYS[2] the summary hash.
const Script expired_script{"expired", R"lua(
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  local record = redis.call('HGET', KEYS[2], id)
  if record then
    out[#out + 1] = id
    out[#out + 1] = record
  else
    redis.call('ZREM', KEYS[1], id)  -- no summary: nothing else refers to it
  end
end
return out
)lua"};

// Drops expired workflows of one partition: summary, every index entry, state and history.
// KEYS: summary hash, idx:all, idx:ids, idx:closed, then per workflow its state, history, name,
// status and status-and-name index. ARGV: the cutoff, then per workflow (id, summary record as
// read by `expired`). A workflow whose record changed since (re-opened) or that is no longer
// closed before the cutoff is left alone.
const Script sweep_script{"sweep", R"lua(
local swept = 0
local cutoff = tonumber(ARGV[1])
for n = 0, (#ARGV - 1) / 2 - 1 do
  local id, record = ARGV[2 + 2 * n], ARGV[3 + 2 * n]
  local k = 4 + 5 * n
  local closed = redis.call('ZSCORE', KEYS[4], id)
  if closed and tonumber(closed) < cutoff and redis.call('HGET', KEYS[1], id) == record then
    local member = string.sub(record, 1, 20) .. ':' .. id
    redis.call('ZREM', KEYS[2], member)
    redis.call('ZREM', KEYS[k + 3], member)
    redis.call('ZREM', KEYS[k + 4], member)
    redis.call('ZREM', KEYS[k + 5], member)
    redis.call('ZREM', KEYS[3], id)
    redis.call('ZREM', KEYS[4], id)
    redis.call('HDEL', KEYS[1], id)
    redis.call('DEL', KEYS[k + 1], KEYS[k + 2])
    swept = swept + 1
  end
end
return swept
)lua"};

// Registers a definition unless its (name, version) exists: KEYS[1] hash of definitions, KEYS[2]
// registration order (zset, score = sequence), KEYS[3] the sequence counter. ARGV: field, digest,
// definition JSON. Replies created / unchanged / conflict.
const Script put_definition_script{"put_definition", R"lua(
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  if cjson.decode(old)['digest'] == ARGV[2] then return 'unchanged' end
  return 'conflict'
end
local seq = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[2], seq, ARGV[1])
return 'created'
)lua"};

// One partition's stream of index entries during a time-ordered list.
struct Lane {
  std::string index;
  std::string summaries;
  std::string max;  // the next read returns entries below this lexicographic bound
  bool exhausted = false;
  std::deque<std::pair<std::string, std::optional<std::string>>> buffer;  // (entry, summary record)
};

// Reads the next `chunk` entries of every lane that ran dry: one round trip for all of them.
void refill(Client& client, std::vector<Lane>& lanes, const std::string& min, std::size_t chunk) {
  std::vector<ScriptCall> calls;
  std::vector<Lane*> targets;
  for (Lane& lane : lanes) {
    if (!lane.buffer.empty() || lane.exhausted) continue;
    calls.push_back(ScriptCall{{lane.index, lane.summaries}, {lane.max, min, std::to_string(chunk), "rev"}});
    targets.push_back(&lane);
  }
  const std::vector<Reply> replies = store_support::eval_each(client, read_index_script, calls);
  for (std::size_t i = 0; i < replies.size(); ++i) {
    Lane& lane = *targets[i];
    const auto& items = replies[i].as_array();
    for (std::size_t j = 0; j + 1 < items.size(); j += 2) {
      lane.buffer.emplace_back(items[j].as_string(), items[j + 1].is_nil()
                                                         ? std::nullopt
                                                         : std::optional(items[j + 1].as_string()));
    }
    lane.exhausted = items.size() / 2 < chunk;
    if (!lane.buffer.empty()) lane.max = "(" + lane.buffer.back().first;
  }
}

// The lane whose next entry comes first in newest-first order; nullptr when a lane must be
// refilled before that can be known, or when every lane is drained.
Lane* next_lane(std::vector<Lane>& lanes) {
  Lane* best = nullptr;
  for (Lane& lane : lanes) {
    if (lane.buffer.empty()) {
      if (!lane.exhausted) return nullptr;
      continue;
    }
    if (best == nullptr || lane.buffer.front().first > best->buffer.front().first) best = &lane;
  }
  return best;
}

bool drained(const std::vector<Lane>& lanes) {
  return std::all_of(lanes.begin(), lanes.end(),
                     [](const Lane& l) { return l.exhausted && l.buffer.empty(); });
}

}  // namespace

// How one list call reads: a time-ordered index between two lexicographic bounds, or (when an id
// prefix is the most selective condition and small enough to read whole) the id index.
struct RedisStore::ListPlan {
  std::string index;  // "all", "st:<status>", "name:<name>" or "sn:<status>:<name>"
  std::string min = "-";
  std::string max = "+";
  bool by_prefix = false;
  std::string prefix_min, prefix_max;
  std::int64_t candidates = 0;
};

RedisStore::ListPlan RedisStore::plan_list(const engine::WorkflowQuery& query) {
  ListPlan plan;
  if (query.started_from_ms > 0) plan.min = "[" + store_support::padded_ms(query.started_from_ms);
  std::string upper;  // exclusive upper bound, from started_to_ms and the cursor
  if (query.started_to_ms > 0) upper = store_support::padded_ms(query.started_to_ms);
  if (!query.cursor.empty()) {
    const auto [started_ms, id] = engine::decode_list_cursor(query.cursor);
    const std::string after = store_support::index_member(started_ms, id);
    if (upper.empty() || after < upper) upper = after;
  }
  if (!upper.empty()) plan.max = "(" + upper;
  // Count the candidates of every usable index (cheap: ZLEXCOUNT is logarithmic) and read the
  // smallest; the more specific index wins a tie.
  std::vector<std::string> options{"all"};
  const std::string status = query.status ? std::string(engine::to_string(*query.status)) : "";
  if (query.status) options.push_back("st:" + status);
  if (!query.name.empty()) options.push_back("name:" + query.name);
  if (query.status && !query.name.empty()) options.push_back("sn:" + status + ":" + query.name);
  std::vector<std::vector<std::string>> commands;
  for (const std::string& option : options)
    for (int p = 0; p < settings_.partitions; ++p)
      commands.push_back({"ZLEXCOUNT", index_key(p, option), plan.min, plan.max});
  if (!query.id_prefix.empty()) {
    const std::string end = store_support::prefix_end(query.id_prefix);
    plan.prefix_min = "[" + query.id_prefix;
    plan.prefix_max = end.empty() ? "+" : "(" + end;
    for (int p = 0; p < settings_.partitions; ++p)
      commands.push_back({"ZLEXCOUNT", index_key(p, "ids"), plan.prefix_min, plan.prefix_max});
  }
  auto client = pool_.borrow();
  const std::vector<Reply> counts = store_support::pipeline_checked(*client, commands, "list");
  const auto total = [&](std::size_t option) {
    std::int64_t sum = 0;
    for (int p = 0; p < settings_.partitions; ++p)
      sum += counts[option * settings_.partitions + p].as_integer();
    return sum;
  };
  plan.candidates = -1;
  for (std::size_t o = 0; o < options.size(); ++o) {
    const std::int64_t candidates = total(o);
    if (plan.candidates < 0 || candidates <= plan.candidates) {
      plan.candidates = candidates;
      plan.index = options[o];
    }
  }
  if (!query.id_prefix.empty()) {
    const std::int64_t by_prefix = total(options.size());
    if (by_prefix < plan.candidates && by_prefix <= static_cast<std::int64_t>(settings_.list_scan_max)) {
      plan.by_prefix = true;
      plan.candidates = by_prefix;
    }
  }
  return plan;
}

engine::WorkflowPage RedisStore::list_workflows(const engine::WorkflowQuery& query) {
  query.check();
  const ListPlan plan = plan_list(query);
  if (plan.candidates == 0) return {};
  return plan.by_prefix ? list_by_prefix(plan, query) : list_sorted(plan, query);
}

// Merges the partitions' index entries newest first, filtering summaries on the conditions the
// index does not express, until the page is full or list_scan_max entries were examined.
engine::WorkflowPage RedisStore::list_sorted(const ListPlan& plan, const engine::WorkflowQuery& query) {
  std::vector<Lane> lanes;
  for (int p = 0; p < settings_.partitions; ++p)
    lanes.push_back(Lane{index_key(p, plan.index), summaries_key(p), plan.max, false, {}});
  const std::size_t partitions = lanes.size();
  // Enough per partition for a full page when ids spread evenly; an id filter reads more at once.
  std::size_t chunk = std::min(query.limit, 2 * query.limit / partitions + 8);
  if (!query.id_prefix.empty())
    chunk = std::max(chunk, std::min<std::size_t>(1000, settings_.list_scan_max / partitions));
  auto client = pool_.borrow();
  engine::WorkflowPage page;
  std::string last;
  std::size_t scanned = 0;
  while (page.workflows.size() < query.limit && scanned < settings_.list_scan_max) {
    refill(*client, lanes, plan.min, chunk);
    Lane* lane = nullptr;
    while (page.workflows.size() < query.limit && scanned < settings_.list_scan_max &&
           (lane = next_lane(lanes)) != nullptr) {
      auto [entry, record] = std::move(lane->buffer.front());
      lane->buffer.pop_front();
      ++scanned;
      last = std::move(entry);
      if (!record) continue;  // swept since the index was read
      WorkflowSummary summary = store_support::parse_summary_record(*record);
      if (query.matches(summary)) page.workflows.push_back(std::move(summary));
    }
    if (drained(lanes)) return page;
  }
  const auto [started_ms, id] = store_support::parse_index_member(last);
  page.next_cursor = engine::encode_list_cursor(started_ms, id);
  return page;
}

// Reads every id with the prefix (the plan checked there are at most list_scan_max), then sorts
// and pages in memory.
engine::WorkflowPage RedisStore::list_by_prefix(const ListPlan& plan, const engine::WorkflowQuery& query) {
  std::optional<std::pair<std::int64_t, std::string>> after;
  if (!query.cursor.empty()) after = engine::decode_list_cursor(query.cursor);
  std::vector<ScriptCall> calls;
  for (int p = 0; p < settings_.partitions; ++p)
    calls.push_back(
        ScriptCall{{index_key(p, "ids"), summaries_key(p)},
                   {plan.prefix_min, plan.prefix_max, std::to_string(settings_.list_scan_max), "ids"}});
  std::vector<WorkflowSummary> found;
  {
    auto client = pool_.borrow();
    for (const Reply& reply : store_support::eval_each(*client, read_index_script, calls)) {
      const auto& items = reply.as_array();
      for (std::size_t j = 1; j < items.size(); j += 2) {
        if (items[j].is_nil()) continue;
        WorkflowSummary summary = store_support::parse_summary_record(items[j].as_string());
        if (query.matches(summary) && (!after || std::make_pair(summary.started_ms, summary.id) < *after))
          found.push_back(std::move(summary));
      }
    }
  }
  std::sort(found.begin(), found.end(), [](const WorkflowSummary& a, const WorkflowSummary& b) {
    return std::tie(a.started_ms, a.id) > std::tie(b.started_ms, b.id);
  });
  engine::WorkflowPage page;
  if (found.size() > query.limit) {
    found.resize(query.limit);
    page.next_cursor = engine::encode_list_cursor(found.back().started_ms, found.back().id);
  }
  page.workflows = std::move(found);
  return page;
}

std::map<engine::WorkflowStatus, std::int64_t> RedisStore::count_workflows(const std::string& name) {
  std::vector<std::vector<std::string>> commands;
  for (const engine::WorkflowStatus status : store_support::all_statuses) {
    const std::string index = name.empty() ? "st:" + std::string(engine::to_string(status))
                                           : "sn:" + std::string(engine::to_string(status)) + ":" + name;
    for (int p = 0; p < settings_.partitions; ++p) commands.push_back({"ZCARD", index_key(p, index)});
  }
  auto client = pool_.borrow();
  const std::vector<Reply> replies = store_support::pipeline_checked(*client, commands, "count");
  std::map<engine::WorkflowStatus, std::int64_t> counts;
  std::size_t i = 0;
  for (const engine::WorkflowStatus status : store_support::all_statuses)
    for (int p = 0; p < settings_.partitions; ++p) counts[status] += replies[i++].as_integer();
  return counts;
}

std::size_t RedisStore::sweep_expired(std::int64_t now_ms, std::size_t limit) {
  if (settings_.retention_ms <= 0 || limit == 0) return 0;
  const std::string cutoff = std::to_string(now_ms - settings_.retention_ms);
  std::vector<ScriptCall> reads;
  for (int p = 0; p < settings_.partitions; ++p)
    reads.push_back(ScriptCall{{index_key(p, "closed"), summaries_key(p)}, {cutoff, std::to_string(limit)}});
  auto client = pool_.borrow();
  const std::vector<Reply> expired = store_support::eval_each(*client, expired_script, reads);
  std::vector<ScriptCall> sweeps;
  std::size_t chosen = 0;
  for (int p = 0; p < settings_.partitions && chosen < limit; ++p) {
    ScriptCall call{{summaries_key(p), index_key(p, "all"), index_key(p, "ids"), index_key(p, "closed")},
                    {cutoff}};
    const auto& items = expired[static_cast<std::size_t>(p)].as_array();
    for (std::size_t j = 0; j + 1 < items.size() && chosen < limit; j += 2, ++chosen) {
      const std::string& id = items[j].as_string();
      const WorkflowSummary summary = store_support::parse_summary_record(items[j + 1].as_string());
      const std::string status(engine::to_string(summary.status));
      call.keys.insert(call.keys.end(),
                       {workflow_key(id), events_key(id), index_key(p, "name:" + summary.name),
                        index_key(p, "st:" + status), index_key(p, "sn:" + status + ":" + summary.name)});
      call.args.insert(call.args.end(), {id, items[j + 1].as_string()});
    }
    if (call.args.size() > 1) sweeps.push_back(std::move(call));
  }
  std::size_t swept = 0;
  for (const Reply& reply : store_support::eval_each(*client, sweep_script, sweeps))
    swept += static_cast<std::size_t>(reply.as_integer());
  return swept;
}

std::map<std::string, std::int64_t> RedisStore::queue_depths() {
  std::vector<std::vector<std::string>> members;
  for (int p = 0; p < settings_.partitions; ++p) members.push_back({"SMEMBERS", queues_key(p)});
  auto client = pool_.borrow();
  std::set<std::string> queues;
  for (const Reply& reply : store_support::pipeline_checked(*client, members, "queue_depths"))
    for (const Reply& queue : reply.as_array()) queues.insert(queue.as_string());
  std::vector<std::vector<std::string>> lengths;
  for (const std::string& queue : queues)
    for (int p = 0; p < settings_.partitions; ++p) lengths.push_back({"XLEN", tasks_key(p, queue)});
  const std::vector<Reply> replies = store_support::pipeline_checked(*client, lengths, "queue_depths");
  std::map<std::string, std::int64_t> depths;
  std::size_t i = 0;
  // Acknowledged entries are deleted, so a stream's length is its waiting plus in-flight tasks.
  for (const std::string& queue : queues)
    for (int p = 0; p < settings_.partitions; ++p) depths[queue] += replies[i++].as_integer();
  return depths;
}

std::int64_t RedisStore::input_backlog() {
  std::vector<std::vector<std::string>> commands;
  for (int p = 0; p < settings_.partitions; ++p) commands.push_back({"XLEN", inputs_key(p)});
  auto client = pool_.borrow();
  std::int64_t backlog = 0;
  for (const Reply& reply : store_support::pipeline_checked(*client, commands, "input_backlog"))
    backlog += reply.as_integer();
  return backlog;
}

std::optional<std::int64_t> RedisStore::earliest_timer_due_ms() {
  std::vector<std::vector<std::string>> commands;
  for (int p = 0; p < settings_.partitions; ++p) {
    commands.push_back({"ZRANGE", timers_key(p), "0", "0", "WITHSCORES"});
    commands.push_back({"ZRANGE", delayed_key(p), "0", "0", "WITHSCORES"});
  }
  auto client = pool_.borrow();
  std::optional<std::int64_t> earliest;
  for (const Reply& reply : store_support::pipeline_checked(*client, commands, "earliest_timer_due_ms")) {
    const auto& items = reply.as_array();
    if (items.size() < 2) continue;
    // Due times are whole milliseconds, exact in a double's 53 bits.
    const auto due_ms = static_cast<std::int64_t>(std::stod(items[1].as_string()));
    if (!earliest || due_ms < *earliest) earliest = due_ms;
  }
  return earliest;
}

engine::PutDefinitionOutcome RedisStore::put_definition(const engine::StoredDefinition& definition) {
  if (definition.name.empty() || definition.version.empty() ||
      definition.name.find('\n') != std::string::npos)
    throw OperationError(
        ErrorCategory::invalid_argument,
        "definition name and version must be set, and the name must not contain a line break");
  const json stored{{"name", definition.name},
                    {"version", definition.version},
                    {"source", definition.source},
                    {"digest", definition.digest},
                    {"created_ms", definition.created_ms}};
  auto client = pool_.borrow();
  const Reply reply = client->eval_script(
      put_definition_script, {definitions_key("all"), definitions_key("order"), definitions_key("seq")},
      {definition.name + "\n" + definition.version, definition.digest, stored.dump()});
  if (reply.as_string() == "created") return engine::PutDefinitionOutcome::created;
  if (reply.as_string() == "unchanged") return engine::PutDefinitionOutcome::unchanged;
  return engine::PutDefinitionOutcome::conflict;
}

std::vector<engine::StoredDefinition> RedisStore::list_definitions() {
  auto client = pool_.borrow();
  const std::vector<Reply> replies = store_support::pipeline_checked(
      *client, {{"ZRANGE", definitions_key("order"), "0", "-1"}, {"HGETALL", definitions_key("all")}},
      "list_definitions");
  std::map<std::string, const std::string*> by_field;
  const auto& all = replies[1].as_array();
  for (std::size_t i = 0; i + 1 < all.size(); i += 2) by_field[all[i].as_string()] = &all[i + 1].as_string();
  std::vector<engine::StoredDefinition> definitions;
  for (const Reply& field : replies[0].as_array()) {
    const auto it = by_field.find(field.as_string());
    if (it == by_field.end()) continue;
    const json stored = json::parse(*it->second);
    definitions.push_back(engine::StoredDefinition{
        stored.at("name").get<std::string>(), stored.at("version").get<std::string>(),
        stored.at("source").get<std::string>(), stored.at("digest").get<std::string>(),
        stored.at("created_ms").get<std::int64_t>()});
  }
  return definitions;
}

}  // namespace flightplan::redis

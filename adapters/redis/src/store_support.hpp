#pragma once
// Private to the Redis store: how summaries and index entries are encoded in Redis values, and
// running one script many times in one round trip. docs/redis-keys.md describes the formats; the
// list cursor is the port's (engine::encode_list_cursor).
#include "flightplan/engine/store.hpp"
#include "flightplan/redis/client.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace flightplan::redis::store_support {

// Every status, in the order the commit script receives their index keys.
inline constexpr std::array<engine::WorkflowStatus, 11> all_statuses{
    engine::WorkflowStatus::pending,     engine::WorkflowStatus::running,
    engine::WorkflowStatus::waiting,     engine::WorkflowStatus::compensating,
    engine::WorkflowStatus::completed,   engine::WorkflowStatus::faulted,
    engine::WorkflowStatus::compensated, engine::WorkflowStatus::compensation_failed,
    engine::WorkflowStatus::cancelled,   engine::WorkflowStatus::timed_out,
    engine::WorkflowStatus::terminated,
};

// Epoch milliseconds as exactly 20 decimal digits, so that byte order is time order.
// Precondition: 0 <= time_ms.
std::string padded_ms(std::int64_t time_ms);

// An entry of the time-ordered indexes: "<padded started_ms>:<id>". Byte order of entries is
// (started_ms, id) order, so ZREVRANGEBYLEX lists newest start first, ties by id descending.
std::string index_member(std::int64_t started_ms, const std::string& id);
std::pair<std::int64_t, std::string> parse_index_member(std::string_view member);

// A summary as stored in the partition's summary hash: "<padded started_ms><status>\n<JSON>". The
// header lets the Lua scripts find the old index entries without decoding JSON.
std::string summary_record(const engine::WorkflowSummary& summary);
engine::WorkflowSummary parse_summary_record(std::string_view record);

// The smallest string greater than every string starting with `prefix`; empty when there is none
// (the prefix is all 0xff bytes).
std::string prefix_end(std::string_view prefix);

struct ScriptCall {
  std::vector<std::string> keys;
  std::vector<std::string> args;
};

// Runs `script` once per call: the first with EVALSHA (loading the script if needed), the others
// in one pipeline. Replies in call order; an error reply throws OperationError(internal).
std::vector<Reply> eval_each(Client& client, const Script& script, const std::vector<ScriptCall>& calls);

// Sends the commands in one round trip and throws OperationError(internal) for any error reply.
std::vector<Reply> pipeline_checked(Client& client, const std::vector<std::vector<std::string>>& commands,
                                    const char* what);

}  // namespace flightplan::redis::store_support

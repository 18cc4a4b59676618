#include "store_support.hpp"

#include "flightplan/engine/error.hpp"

#include <cstdio>

namespace flightplan::redis::store_support {

using engine::ErrorCategory;
using engine::OperationError;

std::string padded_ms(std::int64_t time_ms) {
  char digits[24];
  std::snprintf(digits, sizeof digits, "%020lld", static_cast<long long>(time_ms < 0 ? 0 : time_ms));
  return digits;
}

std::string index_member(std::int64_t started_ms, const std::string& id) {
  return padded_ms(started_ms) + ":" + id;
}

std::pair<std::int64_t, std::string> parse_index_member(std::string_view member) {
  if (member.size() < 21 || member[20] != ':')
    throw OperationError(ErrorCategory::internal,
                         "malformed index entry '" + std::string(member.substr(0, 64)) + "'");
  return {std::stoll(std::string(member.substr(0, 20))), std::string(member.substr(21))};
}

std::string summary_record(const engine::WorkflowSummary& summary) {
  return padded_ms(summary.started_ms) + std::string(engine::to_string(summary.status)) + "\n" +
         summary.to_json().dump();
}

engine::WorkflowSummary parse_summary_record(std::string_view record) {
  const auto newline = record.find('\n');
  if (record.size() < 21 || newline == std::string_view::npos)
    throw OperationError(ErrorCategory::internal, "malformed summary record");
  try {
    return engine::WorkflowSummary::from_json(nlohmann::json::parse(record.substr(newline + 1)));
  } catch (const nlohmann::json::exception& e) {
    throw OperationError(ErrorCategory::internal, std::string("malformed summary record: ") + e.what());
  }
}

std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
  if (!end.empty()) end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
}

std::vector<Reply> eval_each(Client& client, const Script& script, const std::vector<ScriptCall>& calls) {
  std::vector<Reply> replies;
  if (calls.empty()) return replies;
  replies.push_back(client.eval_script(script, calls[0].keys, calls[0].args));
  std::vector<std::vector<std::string>> commands;
  for (std::size_t i = 1; i < calls.size(); ++i) {
    std::vector<std::string> command{"EVALSHA", script.sha1(), std::to_string(calls[i].keys.size())};
    command.insert(command.end(), calls[i].keys.begin(), calls[i].keys.end());
    command.insert(command.end(), calls[i].args.begin(), calls[i].args.end());
    commands.push_back(std::move(command));
  }
  if (commands.empty()) return replies;
  std::vector<Reply> rest = client.pipeline(commands);
  for (std::size_t i = 0; i < rest.size(); ++i) {
    // NOSCRIPT: the server restarted (or flushed its scripts) between the first call and the rest.
    if (rest[i].is_error() && rest[i].error_code() == "NOSCRIPT")
      rest[i] = client.eval_script(script, calls[i + 1].keys, calls[i + 1].args);
    else if (rest[i].is_error())
      throw OperationError(ErrorCategory::internal,
                           "script " + script.name() + " failed: " + rest[i].error_message());
    replies.push_back(std::move(rest[i]));
  }
  return replies;
}

std::vector<Reply> pipeline_checked(Client& client, const std::vector<std::vector<std::string>>& commands,
                                    const char* what) {
  if (commands.empty()) return {};
  std::vector<Reply> replies = client.pipeline(commands);
  for (const Reply& reply : replies)
    if (reply.is_error())
      throw OperationError(ErrorCategory::internal, std::string(what) + " failed: " + reply.error_message());
  return replies;
}

}  // namespace flightplan::redis::store_support

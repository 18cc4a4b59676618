#include "flightplan/engine/store.hpp"

namespace flightplan::engine {

using nlohmann::json;

std::string queue_of(std::string_view activity) {
  return std::string(activity.substr(0, activity.find('.')));
}

WorkflowSummary WorkflowSummary::of(const WorkflowState& state) {
  WorkflowSummary summary;
  summary.id = state.id;
  summary.name = state.name;
  summary.version = state.version;
  summary.status = state.status;
  summary.paused = state.paused;
  summary.started_ms = state.started_ms;
  summary.updated_ms = state.updated_ms;
  summary.closed_ms = state.closed_ms;
  summary.history_length = state.history_length;
  // Only the headline of the error: summaries stay small enough to list thousands at once.
  if (state.error.is_object()) {
    summary.error = json::object();
    for (const char* key : {"type", "title", "status"})
      if (auto it = state.error.find(key); it != state.error.end()) summary.error[key] = *it;
  }
  return summary;
}

json WorkflowSummary::to_json() const {
  json out{{"id", id},
           {"name", name},
           {"version", version},
           {"status", std::string(to_string(status))},
           {"started_ms", started_ms},
           {"updated_ms", updated_ms},
           {"history_length", history_length}};
  if (paused) out["paused"] = true;
  if (closed_ms != 0) out["closed_ms"] = closed_ms;
  if (!error.is_null()) out["error"] = error;
  return out;
}

WorkflowSummary WorkflowSummary::from_json(const json& value) {
  WorkflowSummary summary;
  try {
    summary.id = value.at("id").get<std::string>();
    summary.name = value.at("name").get<std::string>();
    summary.version = value.at("version").get<std::string>();
    const std::string status = value.at("status").get<std::string>();
    const auto parsed = parse_workflow_status(status);
    if (!parsed) throw OperationError(ErrorCategory::invalid_argument, "unknown workflow status '" + status + "'");
    summary.status = *parsed;
    summary.paused = value.value("paused", false);
    summary.started_ms = value.at("started_ms").get<std::int64_t>();
    summary.updated_ms = value.at("updated_ms").get<std::int64_t>();
    summary.closed_ms = value.value("closed_ms", std::int64_t{0});
    summary.history_length = value.value("history_length", std::int64_t{0});
    summary.error = value.value("error", json());
  } catch (const json::exception& e) {
    throw OperationError(ErrorCategory::invalid_argument, std::string("malformed workflow summary: ") + e.what());
  }
  return summary;
}

void WorkflowQuery::check() const {
  if (limit < 1 || limit > 1000)
    throw OperationError(ErrorCategory::invalid_argument,
                         "limit must be between 1 and 1000, got " + std::to_string(limit));
  if (started_from_ms < 0 || started_to_ms < 0)
    throw OperationError(ErrorCategory::invalid_argument, "started bounds must not be negative");
}

bool WorkflowQuery::matches(const WorkflowSummary& summary) const {
  return (!status || summary.status == *status) && (name.empty() || summary.name == name) &&
         summary.id.compare(0, id_prefix.size(), id_prefix) == 0 && summary.started_ms >= started_from_ms &&
         (started_to_ms == 0 || summary.started_ms < started_to_ms);
}

std::string encode_list_cursor(std::int64_t started_ms, const std::string& id) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string cursor = std::to_string(started_ms) + "-";
  for (const unsigned char c : id) {
    cursor.push_back(digits[c >> 4]);
    cursor.push_back(digits[c & 0xf]);
  }
  return cursor;
}

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::pair<std::int64_t, std::string> decode_list_cursor(const std::string& cursor) {
  const auto malformed = [&] {
    return OperationError(ErrorCategory::invalid_argument,
                          "cursor '" + cursor.substr(0, 64) + "' is malformed: pass next_cursor unchanged");
  };
  const auto dash = cursor.find('-');
  // At most 18 digits: any such number fits in 64 bits.
  if (dash == 0 || dash == std::string::npos || dash > 18 || cursor.size() == dash + 1 ||
      (cursor.size() - dash - 1) % 2 != 0)
    throw malformed();
  std::int64_t started_ms = 0;
  for (std::size_t i = 0; i < dash; ++i) {
    if (cursor[i] < '0' || cursor[i] > '9') throw malformed();
    started_ms = started_ms * 10 + (cursor[i] - '0');
  }
  std::string id;
  for (std::size_t i = dash + 1; i < cursor.size(); i += 2) {
    const int high = hex_value(cursor[i]), low = hex_value(cursor[i + 1]);
    if (high < 0 || low < 0) throw malformed();
    id.push_back(static_cast<char>(high * 16 + low));
  }
  return {started_ms, id};
}

}  // namespace flightplan::engine

namespace flightplan::engine {

json DeadLetter::to_json() const {
  return json{{"id", id},         {"kind", kind}, {"workflow_id", workflow_id}, {"reason", reason},
              {"deliveries", deliveries}, {"time_ms", time_ms}, {"entry", entry}};
}

DeadLetter DeadLetter::from_json(const json& value) {
  try {
    DeadLetter letter;
    letter.id = value.value("id", "");
    letter.kind = value.at("kind").get<std::string>();
    letter.workflow_id = value.at("workflow_id").get<std::string>();
    letter.reason = value.at("reason").get<std::string>();
    letter.deliveries = value.value("deliveries", 0);
    letter.time_ms = value.value("time_ms", std::int64_t{0});
    letter.entry = value.value("entry", json());
    return letter;
  } catch (const json::exception& e) {
    throw OperationError(ErrorCategory::invalid_argument, std::string("malformed dead letter: ") + e.what());
  }
}

}  // namespace flightplan::engine

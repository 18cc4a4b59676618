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

}  // namespace flightplan::engine

#pragma once
// Structured logs: one JSON object per line on stderr, e.g.
// {"ts":"2026-11-21T05:40:00.123Z","level":"warn","msg":"commit conflict","workflow_id":"d-1"}.
// Callers pass ids (workflow id, correlation id) as fields; never secrets or tokens.
#include <nlohmann/json.hpp>

#include <string_view>

namespace flightplan::runtime {

enum class LogLevel { debug, info, warn, error };

void set_log_level(LogLevel level);
void log(LogLevel level, std::string_view message, nlohmann::json fields = nlohmann::json::object());

}  // namespace flightplan::runtime

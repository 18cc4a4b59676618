#pragma once
// Durations of the DSL: an ISO 8601 duration string ("PT1M30S", "P1DT2H", "PT0.5S") or an object
// {days, hours, minutes, seconds, milliseconds}. Values are milliseconds, always non-negative.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace flightplan::engine {

// Upper bound of any duration we accept: 10 years. Anything larger is surely a mistake and would
// overflow deadline arithmetic in milliseconds since the epoch.
inline constexpr std::int64_t duration_ms_max = 10LL * 366 * 24 * 3600 * 1000;

// Parses an ISO 8601 duration (P[nD][T[nH][nM][n[.fff]S]], also PnW). Returns nullopt and sets
// `error` to a human-readable reason when the text is not a valid duration.
std::optional<std::int64_t> parse_iso8601_duration_ms(std::string_view text, std::string* error);

// Parses a duration value: ISO 8601 string, duration object, or (flightplan extension) an integer
// number of milliseconds. Returns nullopt and sets `error` on failure.
std::optional<std::int64_t> parse_duration_ms(const nlohmann::json& value, std::string* error);

// Formats milliseconds as a compact ISO 8601 duration, e.g. 90500 -> "PT1M30.5S".
std::string format_iso8601_duration(std::int64_t duration_ms);

// Formats epoch milliseconds as an RFC 3339 UTC timestamp with milliseconds: 2026-11-21T04:32:34.000Z.
// Pure arithmetic (no time zone database, no clock).
std::string format_timestamp(std::int64_t epoch_ms);

// Parses an RFC 3339 / ISO 8601 timestamp (Z or +hh:mm offset, optional fraction) to epoch ms.
std::optional<std::int64_t> parse_timestamp_ms(std::string_view text);

}  // namespace flightplan::engine

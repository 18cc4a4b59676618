#pragma once
// RFC 3339 timestamps for activity outputs, computed from epoch milliseconds with civil-calendar
// arithmetic (proleptic Gregorian, UTC). No clock is read: every instant comes from the caller.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace flightplan::activities::detail {

// Formats as "2026-11-21T04:32:34.000Z": always UTC, always three fraction digits.
// Precondition: the instant lies in years 0000..9999.
std::string format_rfc3339(std::int64_t epoch_ms);

// Parses "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)". Fraction digits beyond milliseconds are
// truncated. Returns nullopt for anything else, including impossible dates such as February 30.
std::optional<std::int64_t> parse_rfc3339(std::string_view text);

}  // namespace flightplan::activities::detail

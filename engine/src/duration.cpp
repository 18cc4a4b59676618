#include "flightplan/engine/duration.hpp"

#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>
#include <utility>

namespace flightplan::engine {
namespace {

using nlohmann::json;

constexpr std::int64_t ms_per_second = 1000;
constexpr std::int64_t ms_per_minute = 60 * ms_per_second;
constexpr std::int64_t ms_per_hour = 60 * ms_per_minute;
constexpr std::int64_t ms_per_day = 24 * ms_per_hour;
constexpr std::int64_t ms_per_week = 7 * ms_per_day;

// Long inputs are cut in messages so that one bad value cannot flood a log line.
std::string shortened(std::string text) {
  constexpr std::size_t shown_max = 64;
  if (text.size() > shown_max) {
    text.resize(shown_max);
    text.append("...");
  }
  return text;
}

std::string quote_for_message(std::string_view text) { return "\"" + shortened(std::string(text)) + "\""; }

std::string describe_for_message(const json& value) {
  return shortened(value.dump(-1, ' ', false, json::error_handler_t::replace));
}

std::string too_long_reason() {
  return "it is longer than the maximum of " + format_iso8601_duration(duration_ms_max);
}

// A unit an ISO 8601 component may name. `rank` orders the components: each must come after every
// component of lower rank.
struct DurationUnit {
  int rank;
  std::int64_t unit_ms;
};

// One ISO 8601 component: digits, an optional fraction, and the designator letter that follows.
struct DurationComponent {
  std::int64_t whole = 0;
  std::int64_t fraction_ms = 0;  // the fraction truncated to milliseconds
  bool has_fraction = false;
  char designator = '\0';
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads a component at `pos`, advancing past it. Returns false and sets `reason` on bad input.
bool read_component(std::string_view text, std::size_t& pos, DurationComponent& component,
                    std::string& reason) {
  const std::size_t start = pos;
  for (; pos < text.size() && is_digit(text[pos]); ++pos) {
    component.whole = component.whole * 10 + (text[pos] - '0');
    if (component.whole > duration_ms_max) {
      reason = too_long_reason();
      return false;
    }
  }
  if (pos == start) {
    reason = pos < text.size() ? "expected a number before '" + std::string(1, text[pos]) + "'"
                               : "expected a number at the end";
    return false;
  }
  if (pos < text.size() && text[pos] == '.') {
    const std::size_t fraction_start = ++pos;
    // Milliseconds are the precision of every duration; further digits are dropped (rounding down).
    std::int64_t scale_ms = 100;
    for (; pos < text.size() && is_digit(text[pos]); ++pos, scale_ms /= 10) {
      component.fraction_ms += (text[pos] - '0') * scale_ms;
    }
    if (pos == fraction_start) {
      reason = "a '.' must be followed by digits";
      return false;
    }
    component.has_fraction = true;
  }
  if (pos == text.size()) {
    reason = "the last number has no designator (W, D, H, M or S)";
    return false;
  }
  component.designator = text[pos++];
  return true;
}

// Maps a designator of the date part (before 'T') to its unit.
bool date_unit_of(char designator, DurationUnit& unit, std::string& reason) {
  switch (designator) {
    case 'W':
      unit = {0, ms_per_week};
      return true;
    case 'D':
      unit = {1, ms_per_day};
      return true;
    case 'Y':
    case 'M':
      reason = "years and months are not supported: their length varies";
      return false;
    case 'H':
    case 'S':
      reason = "'" + std::string(1, designator) + "' must come after 'T'";
      return false;
    default:
      return false;
  }
}

// Maps a designator of the time part (after 'T') to its unit.
bool time_unit_of(char designator, DurationUnit& unit, std::string& reason) {
  switch (designator) {
    case 'H':
      unit = {2, ms_per_hour};
      return true;
    case 'M':
      unit = {3, ms_per_minute};
      return true;
    case 'S':
      unit = {4, ms_per_second};
      return true;
    case 'D':
    case 'W':
      reason = "'" + std::string(1, designator) + "' must come before 'T'";
      return false;
    default:
      return false;
  }
}

// Maps a designator to its unit; `in_time` says whether it follows the 'T' separator.
bool unit_of(char designator, bool in_time, DurationUnit& unit, std::string& reason) {
  if (in_time ? time_unit_of(designator, unit, reason) : date_unit_of(designator, unit, reason)) return true;
  if (reason.empty()) {
    reason = "unexpected character '" + std::string(1, designator) + "'";
    if (std::islower(static_cast<unsigned char>(designator))) reason += " (designators are upper case)";
  }
  return false;
}

// Checks one component against those before it and adds it to `total_ms`.
bool add_component(const DurationComponent& component, const DurationUnit& unit, int& last_rank,
                   int component_count, std::int64_t& total_ms, std::string& reason) {
  const bool is_week = unit.unit_ms == ms_per_week;
  if ((is_week && component_count > 0) || (!is_week && last_rank == 0)) {
    reason = "weeks cannot be combined with other components";
  } else if (unit.rank <= last_rank) {
    reason = "components must appear at most once each, in the order D, T, H, M, S";
  } else if (component.has_fraction && component.designator != 'S') {
    reason = "only seconds may have a fraction";
  } else if (component.whole > (duration_ms_max - total_ms) / unit.unit_ms) {
    reason = too_long_reason();
  } else {
    total_ms += component.whole * unit.unit_ms + component.fraction_ms;
    if (total_ms > duration_ms_max) {
      reason = too_long_reason();
      return false;
    }
    last_rank = unit.rank;
    return true;
  }
  return false;
}

std::optional<std::int64_t> parse_iso8601(std::string_view text, std::string& reason) {
  if (text.empty() || text.front() != 'P') {
    reason = "it must start with 'P'";
    return std::nullopt;
  }
  std::int64_t total_ms = 0;
  int last_rank = -1;
  int component_count = 0;
  bool in_time = false;
  bool time_has_component = false;
  for (std::size_t pos = 1; pos < text.size();) {
    if (text[pos] == 'T') {
      if (in_time) {
        reason = "'T' appears more than once";
        return std::nullopt;
      }
      in_time = true;
      ++pos;
      continue;
    }
    DurationComponent component;
    DurationUnit unit{};
    if (!read_component(text, pos, component, reason) ||
        !unit_of(component.designator, in_time, unit, reason) ||
        !add_component(component, unit, last_rank, component_count, total_ms, reason)) {
      return std::nullopt;
    }
    ++component_count;
    time_has_component = time_has_component || in_time;
  }
  if (in_time && !time_has_component) {
    reason = "'T' must be followed by hours, minutes or seconds";
    return std::nullopt;
  }
  if (component_count == 0) {
    reason = "it has no component (zero is written PT0S)";
    return std::nullopt;
  }
  return total_ms;
}

// A non-negative integral JSON number, saturated at int64's maximum; nullopt for anything else.
std::optional<std::int64_t> non_negative_integer(const json& value) {
  constexpr auto int64_max = std::numeric_limits<std::int64_t>::max();
  if (value.is_number_unsigned()) {
    const auto number = value.get<std::uint64_t>();
    return number > static_cast<std::uint64_t>(int64_max) ? int64_max : static_cast<std::int64_t>(number);
  }
  if (value.is_number_integer()) {
    const auto number = value.get<std::int64_t>();
    return number >= 0 ? std::optional(number) : std::nullopt;
  }
  if (value.is_number_float()) {
    const double number = value.get<double>();
    if (!std::isfinite(number) || number < 0 || std::trunc(number) != number) return std::nullopt;
    return number >= 9.2e18 ? int64_max : static_cast<std::int64_t>(number);
  }
  return std::nullopt;
}

constexpr std::string_view allowed_duration_keys = "days, hours, minutes, seconds, milliseconds";

std::optional<std::int64_t> unit_of_key(const std::string& key) {
  if (key == "days") return ms_per_day;
  if (key == "hours") return ms_per_hour;
  if (key == "minutes") return ms_per_minute;
  if (key == "seconds") return ms_per_second;
  if (key == "milliseconds") return 1;
  return std::nullopt;
}

std::optional<std::int64_t> parse_duration_object(const json& object, std::string& reason) {
  if (object.empty()) {
    reason = "a duration object needs at least one of " + std::string(allowed_duration_keys);
    return std::nullopt;
  }
  std::int64_t total_ms = 0;
  for (const auto& [key, value] : object.items()) {
    const auto unit_ms = unit_of_key(key);
    if (!unit_ms) {
      reason = "unknown key " + quote_for_message(key) +
               " in a duration object (allowed: " + std::string(allowed_duration_keys) + ")";
      return std::nullopt;
    }
    const auto count = non_negative_integer(value);
    if (!count) {
      reason = quote_for_message(key) + " in a duration object must be a non-negative integer, got " +
               describe_for_message(value);
      return std::nullopt;
    }
    if (*count > (duration_ms_max - total_ms) / *unit_ms) {
      reason = "the duration object " + describe_for_message(object) + " is longer than the maximum of " +
               format_iso8601_duration(duration_ms_max);
      return std::nullopt;
    }
    total_ms += *count * *unit_ms;
  }
  return total_ms;
}

// Floor division and the matching non-negative remainder, for negative epoch values.
std::pair<std::int64_t, std::int64_t> floor_divide(std::int64_t value, std::int64_t divisor) {
  std::int64_t quotient = value / divisor;
  std::int64_t remainder = value % divisor;
  if (remainder < 0) {
    remainder += divisor;
    --quotient;
  }
  return {quotient, remainder};
}

// Days since 1970-01-01 of a proleptic Gregorian date. Years are counted from March, so that the
// leap day falls at the end of a counted year, in 400-year eras of 146097 days.
std::int64_t days_from_civil(std::int64_t year, int month, int day) {
  const std::int64_t march_year = month <= 2 ? year - 1 : year;
  const auto [era, year_of_era] = floor_divide(march_year, 400);
  const std::int64_t month_from_march = (month + 9) % 12;  // March is 0, February is 11.
  const std::int64_t day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
  const std::int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  constexpr std::int64_t days_from_0000_03_01_to_epoch = 719468;
  return era * 146097 + day_of_era - days_from_0000_03_01_to_epoch;
}

struct CivilDate {
  std::int64_t year;
  int month;
  int day;
};

// The inverse of days_from_civil.
CivilDate civil_from_days(std::int64_t days_since_epoch) {
  const auto [era, day_of_era] = floor_divide(days_since_epoch + 719468, 146097);
  const std::int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const std::int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const std::int64_t month_from_march = (5 * day_of_year + 2) / 153;
  const int day = static_cast<int>(day_of_year - (153 * month_from_march + 2) / 5 + 1);
  const int month = static_cast<int>(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
  const std::int64_t year = era * 400 + year_of_era + (month <= 2 ? 1 : 0);
  return {year, month, day};
}

bool is_leap_year(std::int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int days_in_month(std::int64_t year, int month) {
  constexpr std::array<int, 12> lengths = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap_year(year) ? 29 : lengths[static_cast<std::size_t>(month - 1)];
}

// A strict left-to-right reader of fixed-width timestamp fields.
class TimestampReader {
 public:
  explicit TimestampReader(std::string_view text) : text_(text) {}

  // Reads exactly `width` digits as a number.
  bool number(int width, int& out) {
    out = 0;
    for (int i = 0; i < width; ++i, ++pos_) {
      if (pos_ >= text_.size() || !is_digit(text_[pos_])) return false;
      out = out * 10 + (text_[pos_] - '0');
    }
    return true;
  }
  bool literal(char c) {
    if (pos_ >= text_.size() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  // Reads one or more fraction digits, returning them truncated to milliseconds.
  bool fraction_ms(int& out) {
    out = 0;
    const std::size_t start = pos_;
    for (int scale = 100; pos_ < text_.size() && is_digit(text_[pos_]); ++pos_, scale /= 10) {
      out += (text_[pos_] - '0') * scale;
    }
    return pos_ > start;
  }
  bool at_end() const { return pos_ == text_.size(); }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

// Reads "hh:mm:ss[.fff](Z|+hh:mm|-hh:mm)" and returns milliseconds since midnight UTC of the date
// (possibly negative or beyond a day once the offset is applied).
std::optional<std::int64_t> read_time_of_day_ms(TimestampReader& reader) {
  int hour = 0;
  int minute = 0;
  int second = 0;
  int millisecond = 0;
  if (!reader.number(2, hour) || !reader.literal(':') || !reader.number(2, minute) || !reader.literal(':') ||
      !reader.number(2, second) || hour > 23 || minute > 59 || second > 59) {
    return std::nullopt;
  }
  if (reader.literal('.') && !reader.fraction_ms(millisecond)) return std::nullopt;
  std::int64_t offset_ms = 0;
  if (!reader.literal('Z')) {
    int sign = 1;
    if (reader.literal('-')) {
      sign = -1;
    } else if (!reader.literal('+')) {
      return std::nullopt;
    }
    int offset_hours = 0;
    int offset_minutes = 0;
    if (!reader.number(2, offset_hours) || !reader.literal(':') || !reader.number(2, offset_minutes) ||
        offset_hours > 23 || offset_minutes > 59) {
      return std::nullopt;
    }
    offset_ms = sign * (offset_hours * ms_per_hour + offset_minutes * ms_per_minute);
  }
  return hour * ms_per_hour + minute * ms_per_minute + second * ms_per_second + millisecond - offset_ms;
}

}  // namespace

std::optional<std::int64_t> parse_iso8601_duration_ms(std::string_view text, std::string* error) {
  std::string reason;
  auto duration_ms = parse_iso8601(text, reason);
  if (!duration_ms && error != nullptr) {
    *error = "invalid ISO 8601 duration " + quote_for_message(text) + ": " + reason;
  }
  return duration_ms;
}

std::optional<std::int64_t> parse_duration_ms(const nlohmann::json& value, std::string* error) {
  if (value.is_string()) return parse_iso8601_duration_ms(value.get_ref<const std::string&>(), error);
  std::string reason;
  std::optional<std::int64_t> duration_ms;
  if (value.is_object()) {
    duration_ms = parse_duration_object(value, reason);
  } else if (const auto count_ms = non_negative_integer(value)) {
    // flightplan extension: a plain integer is a number of milliseconds.
    if (*count_ms <= duration_ms_max) {
      duration_ms = count_ms;
    } else {
      reason = "the duration " + describe_for_message(value) + " ms is longer than the maximum of " +
               format_iso8601_duration(duration_ms_max);
    }
  } else {
    reason = "expected an ISO 8601 duration string or a duration object, got " + describe_for_message(value);
  }
  if (!duration_ms && error != nullptr) *error = reason;
  return duration_ms;
}

std::string format_iso8601_duration(std::int64_t duration_ms) {
  // Durations are non-negative by contract; a negative one is still written faithfully.
  const bool negative = duration_ms < 0;
  std::uint64_t rest_ms =
      negative ? 0 - static_cast<std::uint64_t>(duration_ms) : static_cast<std::uint64_t>(duration_ms);
  const std::uint64_t days = rest_ms / ms_per_day;
  rest_ms %= ms_per_day;
  const std::uint64_t hours = rest_ms / ms_per_hour;
  rest_ms %= ms_per_hour;
  const std::uint64_t minutes = rest_ms / ms_per_minute;
  rest_ms %= ms_per_minute;
  const std::uint64_t seconds = rest_ms / ms_per_second;
  const std::uint64_t milliseconds = rest_ms % ms_per_second;

  std::string text = negative ? "-P" : "P";
  if (days > 0) text += std::to_string(days) + "D";
  if (hours == 0 && minutes == 0 && seconds == 0 && milliseconds == 0) {
    return days > 0 ? text : text + "T0S";
  }
  text += "T";
  if (hours > 0) text += std::to_string(hours) + "H";
  if (minutes > 0) text += std::to_string(minutes) + "M";
  if (seconds > 0 || milliseconds > 0) {
    text += std::to_string(seconds);
    if (milliseconds > 0) {
      std::string fraction = std::to_string(1000 + milliseconds).substr(1);  // three digits
      while (fraction.back() == '0') fraction.pop_back();
      text += "." + fraction;
    }
    text += "S";
  }
  return text;
}

std::string format_timestamp(std::int64_t epoch_ms) {
  const auto [days, ms_of_day] = floor_divide(epoch_ms, ms_per_day);
  const CivilDate date = civil_from_days(days);
  std::array<char, 64> buffer{};
  std::snprintf(buffer.data(), buffer.size(), "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ",
                static_cast<long long>(date.year), date.month, date.day,
                static_cast<int>(ms_of_day / ms_per_hour),
                static_cast<int>(ms_of_day % ms_per_hour / ms_per_minute),
                static_cast<int>(ms_of_day % ms_per_minute / ms_per_second),
                static_cast<int>(ms_of_day % ms_per_second));
  return buffer.data();
}

std::optional<std::int64_t> parse_timestamp_ms(std::string_view text) {
  TimestampReader reader(text);
  int year = 0;
  int month = 0;
  int day = 0;
  if (!reader.number(4, year) || !reader.literal('-') || !reader.number(2, month) || !reader.literal('-') ||
      !reader.number(2, day) || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) {
    return std::nullopt;
  }
  const std::int64_t midnight_ms = days_from_civil(year, month, day) * ms_per_day;
  if (reader.at_end()) return midnight_ms;
  if (!reader.literal('T')) return std::nullopt;
  const auto time_ms = read_time_of_day_ms(reader);
  if (!time_ms || !reader.at_end()) return std::nullopt;
  return midnight_ms + *time_ms;
}

}  // namespace flightplan::engine

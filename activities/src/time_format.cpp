#include "time_format.hpp"

#include <cstdio>

namespace flightplan::activities::detail {

namespace {

constexpr std::int64_t ms_per_day = 86'400'000;

// Integer division rounding towards minus infinity, so instants before 1970 land on the right day.
constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

bool is_leap(std::int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int days_in_month(std::int64_t year, int month) {
  static constexpr int days_in_month[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap(year) ? 29 : days_in_month[month - 1];
}

// Counting years from March makes the leap day the last day of the counted year, so the day of the
// year follows from the month by a fixed formula. An "era" is the 400-year Gregorian cycle of
// 146097 days; 719468 is the number of days from 0000-03-01 to 1970-01-01.
std::int64_t days_from_civil(std::int64_t year, int month, int day) {
  const std::int64_t march_year = month <= 2 ? year - 1 : year;
  const std::int64_t era = floor_div(march_year, 400);
  const std::int64_t year_of_era = march_year - era * 400;
  const int march_month = month > 2 ? month - 3 : month + 9;
  const std::int64_t day_of_year = (153 * march_month + 2) / 5 + day - 1;
  const std::int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

struct CivilDate {
  std::int64_t year;
  int month;
  int day;
};

// The inverse of days_from_civil.
CivilDate civil_from_days(std::int64_t days) {
  const std::int64_t shifted = days + 719468;
  const std::int64_t era = floor_div(shifted, 146097);
  const std::int64_t day_of_era = shifted - era * 146097;
  const std::int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const std::int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const int march_month = static_cast<int>((5 * day_of_year + 2) / 153);
  const int day = static_cast<int>(day_of_year - (153 * march_month + 2) / 5 + 1);
  const int month = march_month < 10 ? march_month + 3 : march_month - 9;
  const std::int64_t year = year_of_era + era * 400 + (month <= 2 ? 1 : 0);
  return {year, month, day};
}

// Reads exactly `width` decimal digits at `pos`, advancing it.
std::optional<int> read_digits(std::string_view text, std::size_t& pos, std::size_t width) {
  if (pos + width > text.size()) return std::nullopt;
  int value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    const char c = text[pos + i];
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  pos += width;
  return value;
}

bool expect(std::string_view text, std::size_t& pos, char wanted) {
  if (pos >= text.size() || text[pos] != wanted) return false;
  ++pos;
  return true;
}

// Reads an optional ".digits" fraction as milliseconds (extra digits are truncated).
std::optional<int> read_fraction_ms(std::string_view text, std::size_t& pos) {
  if (pos >= text.size() || text[pos] != '.') return 0;
  ++pos;
  int ms = 0;
  std::size_t digits = 0;
  while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
    if (digits < 3) ms = ms * 10 + (text[pos] - '0');
    ++digits;
    ++pos;
  }
  if (digits == 0) return std::nullopt;
  for (std::size_t i = digits; i < 3; ++i) ms *= 10;
  return ms;
}

// Reads "Z" or "+HH:MM"/"-HH:MM" as an offset east of UTC in minutes.
std::optional<int> read_offset_minutes(std::string_view text, std::size_t& pos) {
  if (pos >= text.size()) return std::nullopt;
  const char sign = text[pos++];
  if (sign == 'Z' || sign == 'z') return 0;
  if (sign != '+' && sign != '-') return std::nullopt;
  const auto hours = read_digits(text, pos, 2);
  if (!hours || !expect(text, pos, ':')) return std::nullopt;
  const auto minutes = read_digits(text, pos, 2);
  if (!minutes || *hours > 23 || *minutes > 59) return std::nullopt;
  const int total = *hours * 60 + *minutes;
  return sign == '+' ? total : -total;
}

}  // namespace

std::string format_rfc3339(std::int64_t epoch_ms) {
  const std::int64_t days = floor_div(epoch_ms, ms_per_day);
  const std::int64_t ms_of_day = epoch_ms - days * ms_per_day;
  const CivilDate date = civil_from_days(days);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ",
                static_cast<long long>(date.year), date.month, date.day,
                static_cast<int>(ms_of_day / 3'600'000), static_cast<int>(ms_of_day / 60'000 % 60),
                static_cast<int>(ms_of_day / 1000 % 60), static_cast<int>(ms_of_day % 1000));
  return buffer;
}

std::optional<std::int64_t> parse_rfc3339(std::string_view text) {
  std::size_t pos = 0;
  const auto year = read_digits(text, pos, 4);
  if (!year || !expect(text, pos, '-')) return std::nullopt;
  const auto month = read_digits(text, pos, 2);
  if (!month || *month < 1 || *month > 12 || !expect(text, pos, '-')) return std::nullopt;
  const auto day = read_digits(text, pos, 2);
  if (!day || *day < 1 || *day > days_in_month(*year, *month)) return std::nullopt;
  if (!expect(text, pos, 'T') && !expect(text, pos, 't')) return std::nullopt;
  const auto hour = read_digits(text, pos, 2);
  if (!hour || *hour > 23 || !expect(text, pos, ':')) return std::nullopt;
  const auto minute = read_digits(text, pos, 2);
  if (!minute || *minute > 59 || !expect(text, pos, ':')) return std::nullopt;
  // 60 admits a leap second; like most systems we fold it into the next minute.
  const auto second = read_digits(text, pos, 2);
  if (!second || *second > 60) return std::nullopt;
  const auto fraction_ms = read_fraction_ms(text, pos);
  const auto offset_minutes = fraction_ms ? read_offset_minutes(text, pos) : std::nullopt;
  if (!offset_minutes || pos != text.size()) return std::nullopt;
  const std::int64_t seconds = days_from_civil(*year, *month, *day) * 86'400 + *hour * 3600 + *minute * 60 +
                               *second - *offset_minutes * 60;
  return seconds * 1000 + *fraction_ms;
}

}  // namespace flightplan::activities::detail

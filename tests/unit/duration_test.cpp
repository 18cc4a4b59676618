#define BOOST_TEST_MODULE duration
#include <boost/test/unit_test.hpp>

#include "flightplan/engine/duration.hpp"

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace {

using flightplan::engine::duration_ms_max;
using flightplan::engine::format_iso8601_duration;
using flightplan::engine::format_timestamp;
using flightplan::engine::parse_duration_ms;
using flightplan::engine::parse_iso8601_duration_ms;
using flightplan::engine::parse_timestamp_ms;
using nlohmann::json;

constexpr std::int64_t second_ms = 1000;
constexpr std::int64_t minute_ms = 60 * second_ms;
constexpr std::int64_t hour_ms = 60 * minute_ms;
constexpr std::int64_t day_ms = 24 * hour_ms;
// Stands for "did not parse" in comparisons; no valid result is this small.
constexpr std::int64_t none = std::numeric_limits<std::int64_t>::min();

// The error of a duration that must not parse; empty when it parsed.
std::string iso_error(std::string_view text) {
  std::string error;
  if (parse_iso8601_duration_ms(text, &error).has_value()) return {};
  return error;
}

std::string value_error(const json& value) {
  std::string error;
  if (parse_duration_ms(value, &error).has_value()) return {};
  return error;
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_SUITE(iso8601)

BOOST_AUTO_TEST_CASE(valid_durations_give_exact_milliseconds) {
  const std::vector<std::pair<std::string, std::int64_t>> cases = {
      {"PT0S", 0},
      {"P0D", 0},
      {"PT1S", second_ms},
      {"PT1M30S", 90 * second_ms},
      {"PT1M30.5S", 90500},
      {"PT0.5S", 500},
      {"PT0.05S", 50},
      {"PT0.001S", 1},
      {"PT0.123456S", 123},  // digits beyond milliseconds are dropped
      {"PT1.9999S", 1999},
      {"PT0.0009S", 0},
      {"P1D", day_ms},
      {"P1DT2H", day_ms + 2 * hour_ms},
      {"PT36H", 36 * hour_ms},
      {"PT90M", 90 * minute_ms},
      {"PT1H1M1.001S", hour_ms + minute_ms + second_ms + 1},
      {"P2DT3H4M5.678S", 2 * day_ms + 3 * hour_ms + 4 * minute_ms + 5678},
      {"P1W", 7 * day_ms},
      {"P2W", 14 * day_ms},
      {"PT007S", 7 * second_ms},
      {"P3660D", duration_ms_max},
  };
  for (const auto& [text, expected_ms] : cases) {
    std::string error = "untouched";
    const auto parsed_ms = parse_iso8601_duration_ms(text, &error);
    BOOST_TEST_INFO("duration " << text << ": " << error);
    BOOST_TEST_REQUIRE(parsed_ms.has_value());
    BOOST_TEST(*parsed_ms == expected_ms);
  }
}

BOOST_AUTO_TEST_CASE(invalid_durations_are_rejected_with_a_reason) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "must start with 'P'"},
      {"1D", "must start with 'P'"},
      {"p1d", "must start with 'P'"},
      {" PT1S", "must start with 'P'"},
      {"-PT1S", "must start with 'P'"},
      {"P", "no component"},
      {"PT", "'T' must be followed"},
      {"P1DT", "'T' must be followed"},
      {"PT1h", "upper case"},
      {"PT1X", "unexpected character 'X'"},
      {"PT1S ", "expected a number"},
      {"P-1D", "expected a number before '-'"},
      {"PT1", "no designator"},
      {"PT1.S", "'.' must be followed by digits"},
      {"PT.5S", "expected a number before '.'"},
      {"PT1,5S", "unexpected character ','"},
      {"PT1.5M", "only seconds may have a fraction"},
      {"P1.5D", "only seconds may have a fraction"},
      {"P1W1D", "weeks cannot be combined"},
      {"P1D1W", "weeks cannot be combined"},
      {"P1WT1H", "weeks cannot be combined"},
      {"PT1S1M", "in the order"},
      {"PT1H1H", "in the order"},
      {"P1DT1HT1M", "'T' appears more than once"},
      {"P1H", "'H' must come after 'T'"},
      {"PT1D", "'D' must come before 'T'"},
      {"P3661D", "longer than the maximum of P3660D"},
      {"PT99999999999999999999999S", "longer than the maximum"},
      {"P3660DT1S", "longer than the maximum"},
  };
  for (const auto& [text, reason] : cases) {
    const std::string error = iso_error(text);
    BOOST_TEST_INFO("duration \"" << text << "\" gave: " << error);
    BOOST_TEST(contains(error, reason));
    BOOST_TEST(contains(error, "invalid ISO 8601 duration \"" + text + "\""));
  }
}

BOOST_AUTO_TEST_CASE(years_and_months_are_refused) {
  for (const std::string text : {"P1Y", "P1M", "P1Y2M3D", "P0M"}) {
    BOOST_TEST_INFO(text);
    BOOST_TEST(contains(iso_error(text), "years and months are not supported: their length varies"));
  }
}

BOOST_AUTO_TEST_CASE(a_null_error_pointer_is_allowed) {
  BOOST_TEST(!parse_iso8601_duration_ms("nope", nullptr).has_value());
  BOOST_TEST(!parse_duration_ms(json(true), nullptr).has_value());
  BOOST_TEST(parse_iso8601_duration_ms("PT2S", nullptr).value() == 2000);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(values)

BOOST_AUTO_TEST_CASE(strings_objects_and_integers) {
  BOOST_TEST(parse_duration_ms(json("PT1M"), nullptr).value() == minute_ms);
  BOOST_TEST(parse_duration_ms(json{{"seconds", 30}}, nullptr).value() == 30 * second_ms);
  BOOST_TEST(
      parse_duration_ms(json{{"days", 1}, {"hours", 2}, {"minutes", 3}, {"seconds", 4}, {"milliseconds", 5}},
                        nullptr)
          .value() == day_ms + 2 * hour_ms + 3 * minute_ms + 4 * second_ms + 5);
  BOOST_TEST(parse_duration_ms(json{{"milliseconds", 0}}, nullptr).value() == 0);
  BOOST_TEST(parse_duration_ms(json{{"seconds", 2.0}}, nullptr).value() == 2000);  // integral floats
  BOOST_TEST(parse_duration_ms(json(1500), nullptr).value() == 1500);
  BOOST_TEST(parse_duration_ms(json(0), nullptr).value() == 0);
  BOOST_TEST(parse_duration_ms(json(duration_ms_max), nullptr).value() == duration_ms_max);
}

BOOST_AUTO_TEST_CASE(bad_objects_name_the_problem) {
  const std::string unknown = value_error(json{{"seconds", 1}, {"weeks", 1}});
  BOOST_TEST(contains(unknown, "unknown key \"weeks\""));
  BOOST_TEST(contains(unknown, "days, hours, minutes, seconds, milliseconds"));
  BOOST_TEST(contains(value_error(json::object()), "at least one of days, hours"));
  BOOST_TEST(contains(value_error(json{{"seconds", -1}}),
                      "\"seconds\" in a duration object must be a non-negative integer"));
  BOOST_TEST(contains(value_error(json{{"seconds", 1.5}}), "non-negative integer, got 1.5"));
  BOOST_TEST(contains(value_error(json{{"minutes", "5"}}), "non-negative integer, got \"5\""));
  BOOST_TEST(contains(value_error(json{{"days", 4000}}), "longer than the maximum"));
  BOOST_TEST(contains(value_error(json{{"days", 3660}, {"milliseconds", 1}}), "longer than the maximum"));
  BOOST_TEST(contains(value_error(json{{"hours", 1e300}}), "longer than the maximum"));
}

BOOST_AUTO_TEST_CASE(other_values_are_rejected) {
  const std::string expected = "expected an ISO 8601 duration string or a duration object";
  for (const json& value : {json(true), json(nullptr), json::array({1}), json(-1), json(1.5)}) {
    BOOST_TEST_INFO(value.dump());
    BOOST_TEST(contains(value_error(value), expected));
  }
  BOOST_TEST(contains(value_error(json(duration_ms_max + 1)), "longer than the maximum"));
  BOOST_TEST(contains(value_error(json("P1Y")), "years and months"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(formatting)

BOOST_AUTO_TEST_CASE(durations_format_compactly) {
  BOOST_TEST(format_iso8601_duration(0) == "PT0S");
  BOOST_TEST(format_iso8601_duration(1) == "PT0.001S");
  BOOST_TEST(format_iso8601_duration(1010) == "PT1.01S");
  BOOST_TEST(format_iso8601_duration(90500) == "PT1M30.5S");
  BOOST_TEST(format_iso8601_duration(hour_ms) == "PT1H");
  BOOST_TEST(format_iso8601_duration(day_ms) == "P1D");
  BOOST_TEST(format_iso8601_duration(day_ms + second_ms) == "P1DT1S");
  BOOST_TEST(format_iso8601_duration(93784005) == "P1DT2H3M4.005S");
  BOOST_TEST(format_iso8601_duration(14 * day_ms) == "P14D");
  BOOST_TEST(format_iso8601_duration(duration_ms_max) == "P3660D");
  BOOST_TEST(format_iso8601_duration(-1500) == "-PT1.5S");
}

BOOST_AUTO_TEST_CASE(formatted_durations_parse_back) {
  for (std::int64_t value_ms : {std::int64_t{0}, std::int64_t{1}, std::int64_t{999}, std::int64_t{61001},
                                std::int64_t{3599999}, day_ms - 1, 3 * day_ms + 7, duration_ms_max}) {
    const std::string text = format_iso8601_duration(value_ms);
    BOOST_TEST_INFO(text);
    BOOST_TEST(parse_iso8601_duration_ms(text, nullptr).value_or(none) == value_ms);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(timestamps)

BOOST_AUTO_TEST_CASE(format_known_instants) {
  BOOST_TEST(format_timestamp(0) == "1970-01-01T00:00:00.000Z");
  BOOST_TEST(format_timestamp(1795235554000) == "2026-11-21T04:32:34.000Z");
  BOOST_TEST(format_timestamp(1795235554123) == "2026-11-21T04:32:34.123Z");
  BOOST_TEST(format_timestamp(1709208000000) == "2024-02-29T12:00:00.000Z");
  BOOST_TEST(format_timestamp(951868800000) == "2000-03-01T00:00:00.000Z");
  BOOST_TEST(format_timestamp(4107542400000) == "2100-03-01T00:00:00.000Z");
  BOOST_TEST(format_timestamp(-1) == "1969-12-31T23:59:59.999Z");
  BOOST_TEST(format_timestamp(-2208988800000) == "1900-01-01T00:00:00.000Z");
  BOOST_TEST(format_timestamp(253402300799999) == "9999-12-31T23:59:59.999Z");
}

BOOST_AUTO_TEST_CASE(parse_accepted_forms) {
  BOOST_TEST(parse_timestamp_ms("2026-11-21T04:32:34Z").value() == 1795235554000);
  BOOST_TEST(parse_timestamp_ms("2026-11-21T04:32:34.123Z").value() == 1795235554123);
  BOOST_TEST(parse_timestamp_ms("2026-11-21T04:32:34.1Z").value() == 1795235554100);
  BOOST_TEST(parse_timestamp_ms("2026-11-21T04:32:34.123999Z").value() == 1795235554123);
  BOOST_TEST(parse_timestamp_ms("2026-11-21T06:32:34+02:00").value() == 1795235554000);
  BOOST_TEST(parse_timestamp_ms("2026-11-20T23:02:34-05:30").value() == 1795235554000);
  BOOST_TEST(parse_timestamp_ms("2026-11-21T04:32:34.5+00:00").value() == 1795235554500);
  BOOST_TEST(parse_timestamp_ms("2026-11-21").value() == 1795219200000);
  BOOST_TEST(parse_timestamp_ms("2024-02-29T12:00:00Z").value() == 1709208000000);
  BOOST_TEST(parse_timestamp_ms("2000-02-29").has_value());
  BOOST_TEST(parse_timestamp_ms("1969-12-31T23:59:59.999Z").value() == -1);
}

BOOST_AUTO_TEST_CASE(parse_rejects_everything_else) {
  for (const std::string text : {"",
                                 "2026-11-21T04:32:34",
                                 "2026-11-21 04:32:34Z",
                                 "2026-11-21t04:32:34Z",
                                 "2026-11-21T04:32:34z",
                                 "2026-11-21T04:32:34Z ",
                                 " 2026-11-21",
                                 "2026-11-21Z",
                                 "26-11-21",
                                 "2026-1-21",
                                 "2026-13-01",
                                 "2026-00-10",
                                 "2026-11-00",
                                 "2026-02-30",
                                 "2023-02-29",
                                 "2100-02-29",
                                 "1900-02-29",
                                 "2026-11-21T24:00:00Z",
                                 "2026-11-21T04:60:00Z",
                                 "2026-11-21T04:32:60Z",
                                 "2026-11-21T04:32Z",
                                 "2026-11-21T04:32:34.Z",
                                 "2026-11-21T04:32:34+0200",
                                 "2026-11-21T04:32:34+02",
                                 "2026-11-21T04:32:34+02:60",
                                 "2026-11-21T04:32:34+24:00",
                                 "2026-11-21T04:32:34Z+01:00",
                                 "now",
                                 "1795235554000"}) {
    BOOST_TEST_INFO("timestamp \"" << text << "\"");
    BOOST_TEST(!parse_timestamp_ms(text).has_value());
  }
}

BOOST_AUTO_TEST_CASE(every_day_round_trips_in_order) {
  // Walks every day from 1899 to 2101 (leap days, century years) and checks that formatting is the
  // exact inverse of parsing and that dates increase by exactly one day.
  std::string previous;
  for (std::int64_t day = -25567 - 365; day <= 47846 + 365; ++day) {
    const std::int64_t epoch_ms = day * day_ms + 12 * hour_ms + 34567;
    const std::string text = format_timestamp(epoch_ms);
    BOOST_TEST_INFO(text);
    BOOST_TEST_REQUIRE(parse_timestamp_ms(text).value_or(none) == epoch_ms);
    BOOST_TEST_REQUIRE(parse_timestamp_ms(text.substr(0, 10)).value_or(none) == day * day_ms);
    BOOST_TEST_REQUIRE(text > previous);
    previous = text;
  }
}

BOOST_AUTO_TEST_SUITE_END()

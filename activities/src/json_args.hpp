#pragma once
// The one way activities read their JSON arguments. Each accessor either returns a typed value or
// throws ArgumentError with a message naming the field (dotted for nested objects, e.g.
// "packageInfo.weight"); Service::run turns that into a non-retryable validation failure.
//
// A field that is present but null counts as absent: jq expressions in workflows readily produce
// null for "not given".
#include "geo.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace flightplan::activities::detail {

class ArgumentError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Identifiers, names and tags are short; a longer string is a caller bug, not data to keep.
inline constexpr std::size_t text_length_max = 256;

class Args {
 public:
  // Views `arguments`, which must outlive this object. Throws ArgumentError unless it is an object
  // or null. `path` is the dotted name of this object inside the top-level arguments ("" at the top).
  explicit Args(const nlohmann::json& arguments, std::string path = {});

  // A required non-empty string of at most text_length_max characters.
  std::string text(std::string_view field) const;
  std::optional<std::string> optional_text(std::string_view field) const;
  // A required string from a fixed set.
  std::string one_of(std::string_view field, std::initializer_list<std::string_view> allowed) const;
  // A required finite number greater than zero.
  double positive_number(std::string_view field) const;
  bool flag(std::string_view field, bool fallback) const;
  // A required "lat,lon" string or {latitude, longitude[, altitude]} object.
  GeoPoint location(std::string_view field) const;
  std::optional<GeoPoint> optional_location(std::string_view field) const;
  // An optional RFC 3339 timestamp, as epoch milliseconds.
  std::optional<std::int64_t> optional_time_ms(std::string_view field) const;
  // A required nested object.
  Args object(std::string_view field) const;

 private:
  const nlohmann::json* find(std::string_view field) const;  // nullptr when absent or null
  const nlohmann::json& require(std::string_view field) const;
  std::string name(std::string_view field) const;
  GeoPoint location_from_text(std::string_view field, const std::string& text) const;
  GeoPoint location_from_object(std::string_view field, const nlohmann::json& value) const;
  void check_coordinates(std::string_view field, const GeoPoint& point) const;

  const nlohmann::json* arguments_;
  std::string path_;
};

}  // namespace flightplan::activities::detail

#include "json_args.hpp"

#include "time_format.hpp"

#include <charconv>
#include <cmath>

namespace flightplan::activities::detail {

namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// A whole-token finite decimal number, or nullopt.
std::optional<double> parse_double(std::string_view text) {
  double value = 0.0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

}  // namespace

Args::Args(const nlohmann::json& arguments, std::string path)
    : arguments_(&arguments), path_(std::move(path)) {
  if (!arguments.is_object() && !arguments.is_null()) {
    throw ArgumentError(path_.empty() ? "arguments must be a JSON object"
                                      : "field '" + path_ + "' must be an object");
  }
}

std::string Args::name(std::string_view field) const {
  return path_.empty() ? std::string(field) : path_ + "." + std::string(field);
}

const nlohmann::json* Args::find(std::string_view field) const {
  if (!arguments_->is_object()) return nullptr;
  const auto it = arguments_->find(field);
  if (it == arguments_->end() || it->is_null()) return nullptr;
  return &*it;
}

const nlohmann::json& Args::require(std::string_view field) const {
  const nlohmann::json* value = find(field);
  if (value == nullptr) throw ArgumentError("missing required field '" + name(field) + "'");
  return *value;
}

std::optional<std::string> Args::optional_text(std::string_view field) const {
  const nlohmann::json* value = find(field);
  if (value == nullptr) return std::nullopt;
  if (!value->is_string()) throw ArgumentError("field '" + name(field) + "' must be a string");
  const auto& text = value->get_ref<const std::string&>();
  if (text.empty()) throw ArgumentError("field '" + name(field) + "' must not be empty");
  if (text.size() > text_length_max) {
    throw ArgumentError("field '" + name(field) + "' is longer than " + std::to_string(text_length_max) +
                        " characters");
  }
  return text;
}

std::string Args::text(std::string_view field) const {
  require(field);
  return *optional_text(field);
}

std::string Args::one_of(std::string_view field, std::initializer_list<std::string_view> allowed) const {
  std::string value = text(field);
  std::string choices;
  for (const std::string_view choice : allowed) {
    if (value == choice) return value;
    choices += (choices.empty() ? "" : ", ") + std::string(choice);
  }
  throw ArgumentError("field '" + name(field) + "' must be one of " + choices + " (got '" + value + "')");
}

double Args::positive_number(std::string_view field) const {
  const nlohmann::json& value = require(field);
  if (!value.is_number()) throw ArgumentError("field '" + name(field) + "' must be a number");
  const double number = value.get<double>();
  if (!std::isfinite(number) || number <= 0.0) {
    throw ArgumentError("field '" + name(field) + "' must be greater than 0");
  }
  return number;
}

bool Args::flag(std::string_view field, bool fallback) const {
  const nlohmann::json* value = find(field);
  if (value == nullptr) return fallback;
  if (!value->is_boolean()) throw ArgumentError("field '" + name(field) + "' must be a boolean");
  return value->get<bool>();
}

std::optional<std::int64_t> Args::optional_time_ms(std::string_view field) const {
  const nlohmann::json* value = find(field);
  if (value == nullptr) return std::nullopt;
  const auto parsed = value->is_string() ? parse_rfc3339(value->get_ref<const std::string&>()) : std::nullopt;
  if (!parsed) {
    throw ArgumentError("field '" + name(field) +
                        "' must be an RFC 3339 timestamp such as \"2026-11-21T04:32:34.000Z\"");
  }
  return parsed;
}

Args Args::object(std::string_view field) const { return Args(require(field), name(field)); }

GeoPoint Args::location(std::string_view field) const {
  const nlohmann::json& value = require(field);
  GeoPoint point;
  if (value.is_string()) {
    point = location_from_text(field, value.get<std::string>());
  } else if (value.is_object()) {
    point = location_from_object(field, value);
  } else {
    throw ArgumentError("field '" + name(field) +
                        "' must be a \"lat,lon\" string or an object with latitude and longitude");
  }
  check_coordinates(field, point);
  return point;
}

std::optional<GeoPoint> Args::optional_location(std::string_view field) const {
  if (find(field) == nullptr) return std::nullopt;
  return location(field);
}

GeoPoint Args::location_from_text(std::string_view field, const std::string& text) const {
  const std::size_t comma = text.find(',');
  const auto latitude =
      comma == std::string::npos ? std::nullopt : parse_double(trim(std::string_view(text).substr(0, comma)));
  const auto longitude = comma == std::string::npos
                             ? std::nullopt
                             : parse_double(trim(std::string_view(text).substr(comma + 1)));
  if (!latitude || !longitude) {
    throw ArgumentError("field '" + name(field) +
                        "' must be a \"lat,lon\" string such as \"47.6205,-122.3493\" (got '" +
                        text.substr(0, text_length_max) + "')");
  }
  return GeoPoint{*latitude, *longitude, 0.0};
}

GeoPoint Args::location_from_object(std::string_view field, const nlohmann::json& value) const {
  const Args fields(value, name(field));
  const auto number = [&](std::string_view key, bool required) -> double {
    const nlohmann::json* found = fields.find(key);
    if (found == nullptr && !required) return 0.0;
    if (found == nullptr) throw ArgumentError("missing required field '" + fields.name(key) + "'");
    if (!found->is_number()) throw ArgumentError("field '" + fields.name(key) + "' must be a number");
    return found->get<double>();
  };
  return GeoPoint{number("latitude", true), number("longitude", true), number("altitude", false)};
}

void Args::check_coordinates(std::string_view field, const GeoPoint& point) const {
  if (!(point.latitude >= -90.0 && point.latitude <= 90.0)) {
    throw ArgumentError("field '" + name(field) + "' has a latitude outside -90..90");
  }
  if (!(point.longitude >= -180.0 && point.longitude <= 180.0)) {
    throw ArgumentError("field '" + name(field) + "' has a longitude outside -180..180");
  }
  if (!std::isfinite(point.altitude))
    throw ArgumentError("field '" + name(field) + "' has a non-finite altitude");
}

}  // namespace flightplan::activities::detail

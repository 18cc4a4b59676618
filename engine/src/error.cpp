#include "flightplan/engine/error.hpp"

#include <climits>
#include <cmath>
#include <utility>

namespace flightplan::engine {
namespace {

using nlohmann::json;

// Invalid UTF-8 is replaced rather than thrown on: this runs while reporting another failure.
std::string dump_tolerantly(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// A text field of a problem document. Anything that is not a string is kept as its JSON text, so a
// malformed error recorded by an activity still says what it held.
std::string text_field(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return {};
  if (it->is_string()) return it->get<std::string>();
  return dump_tolerantly(*it);
}

// The `status` of a problem document; 500 when it is missing or not an integer in int's range.
int status_field(const json& object) {
  const auto it = object.find("status");
  if (it == object.end()) return 500;
  if (it->is_number_integer() && !it->is_number_unsigned()) {
    const auto status = it->get<std::int64_t>();
    if (status >= INT_MIN && status <= INT_MAX) return static_cast<int>(status);
  } else if (it->is_number_unsigned()) {
    const auto status = it->get<std::uint64_t>();
    if (status <= INT_MAX) return static_cast<int>(status);
  } else if (it->is_number_float()) {
    const double status = it->get<double>();
    if (std::trunc(status) == status && status >= INT_MIN && status <= INT_MAX)
      return static_cast<int>(status);
  }
  return 500;
}

}  // namespace

std::string_view to_string(ErrorCategory category) {
  switch (category) {
    case ErrorCategory::invalid_argument:
      return "invalid_argument";
    case ErrorCategory::not_found:
      return "not_found";
    case ErrorCategory::conflict:
      return "conflict";
    case ErrorCategory::unavailable:
      return "unavailable";
    case ErrorCategory::timeout:
      return "timeout";
    case ErrorCategory::internal:
      return "internal";
  }
  return "internal";
}

nlohmann::json WorkflowError::to_json() const {
  json result = {{"type", type}, {"status", status}};
  if (!title.empty()) result["title"] = title;
  if (!detail.empty()) result["detail"] = detail;
  if (!instance.empty()) result["instance"] = instance;
  return result;
}

WorkflowError WorkflowError::from_json(const nlohmann::json& value) {
  WorkflowError error;
  if (!value.is_object()) {
    // Whatever was raised is kept, as text, so that nothing is lost.
    error.type = std::string(error_types::runtime);
    error.detail = dump_tolerantly(value);
    return error;
  }
  error.type = text_field(value, "type");
  if (error.type.empty()) error.type = std::string(error_types::runtime);
  error.status = status_field(value);
  error.title = text_field(value, "title");
  error.detail = text_field(value, "detail");
  error.instance = text_field(value, "instance");
  return error;
}

WorkflowError make_error(std::string_view type, int status, std::string title, std::string detail,
                         std::string instance) {
  return WorkflowError{std::string(type), status, std::move(title), std::move(detail), std::move(instance)};
}

}  // namespace flightplan::engine

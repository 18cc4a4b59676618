#include "flightplan/http/problem.hpp"

#include <string>

namespace flightplan::http {
namespace {

using engine::ErrorCategory;

struct CategoryProblem {
  int status;
  std::string_view slug;
  std::string_view title;
};

// The one mapping from error categories to HTTP. Adding a category without a row here fails to
// compile with -Wswitch (the switch has no default).
CategoryProblem category_problem(ErrorCategory category) {
  switch (category) {
    case ErrorCategory::invalid_argument:
      return {400, "invalid-argument", "Invalid argument"};
    case ErrorCategory::not_found:
      return {404, "not-found", "Not found"};
    case ErrorCategory::conflict:
      return {409, "conflict", "Conflict"};
    case ErrorCategory::unavailable:
      return {503, "unavailable", "Service unavailable"};
    case ErrorCategory::timeout:
      return {504, "timeout", "Timeout"};
    case ErrorCategory::internal:
      return {500, "internal", "Internal error"};
  }
  return {500, "internal", "Internal error"};
}

// A client-supplied value quoted in a detail, cut short so a huge header cannot bloat the answer.
std::string quoted_excerpt(std::string_view value) {
  constexpr std::size_t excerpt_bytes_max = 100;
  std::string excerpt(value.substr(0, excerpt_bytes_max));
  if (value.size() > excerpt_bytes_max) excerpt += "...";
  return "'" + excerpt + "'";
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

void require_json_content_type(const Request& request) {
  const auto content_type = request.headers.find("Content-Type");
  std::string detail;
  if (!content_type) {
    detail = "the request body must be application/json and the Content-Type header is missing";
  } else {
    const std::string_view media_type = trim(content_type->substr(0, content_type->find(';')));
    if (iequals(media_type, "application/json")) return;
    detail = "the request body must be application/json, not " + quoted_excerpt(*content_type);
  }
  throw ProblemError(
      protocol_problem(415, "unsupported-media-type", "Unsupported media type", detail, request.path));
}

// Thrown from the parser callback to stop at the first value nested too deep.
struct TooDeep {};

// nlohmann's message starts with "[json.exception.parse_error.101] parse error at line 1, column 5: ";
// the client needs the part after it, which says what was wrong.
std::string_view parse_error_reason(std::string_view message) {
  const auto at = message.find("syntax error");
  return at == std::string_view::npos ? message : message.substr(at);
}

}  // namespace

int http_status(ErrorCategory category) { return category_problem(category).status; }

Response protocol_problem(int status, std::string_view slug, std::string_view title, std::string_view detail,
                          std::string_view instance) {
  const nlohmann::json body = {{"type", std::string(problem_type_prefix) + std::string(slug)},
                               {"title", title},
                               {"status", status},
                               {"detail", detail},
                               {"instance", instance}};
  Response response = json_response(status, body);
  response.content_type = std::string(problem_content_type);
  return response;
}

Response problem_response(ErrorCategory category, std::string_view detail, std::string_view instance) {
  const CategoryProblem problem = category_problem(category);
  return protocol_problem(problem.status, problem.slug, problem.title, detail, instance);
}

ProblemError::ProblemError(Response response)
    : std::runtime_error("HTTP " + std::to_string(response.status) + " problem"),
      response_(std::move(response)) {}

nlohmann::json parse_json_body(const Request& request, std::size_t depth_max) {
  require_json_content_type(request);
  if (request.body.empty()) {
    throw ProblemError(problem_response(ErrorCategory::invalid_argument,
                                        "the request body is empty; a JSON document is expected",
                                        request.path));
  }
  // The parser reports a container's start at the depth of its parent, so a start at depth d opens
  // nesting level d + 1.
  const auto limit_depth = [depth_max](int depth, nlohmann::json::parse_event_t event, nlohmann::json&) {
    const bool opens = event == nlohmann::json::parse_event_t::object_start ||
                       event == nlohmann::json::parse_event_t::array_start;
    if (opens && static_cast<std::size_t>(depth) + 1 > depth_max) throw TooDeep{};
    return true;
  };
  try {
    return nlohmann::json::parse(request.body, limit_depth);
  } catch (const nlohmann::json::parse_error& error) {
    throw ProblemError(problem_response(ErrorCategory::invalid_argument,
                                        "malformed JSON body at byte " + std::to_string(error.byte) + ": " +
                                            std::string(parse_error_reason(error.what())),
                                        request.path));
  } catch (const TooDeep&) {
    throw ProblemError(problem_response(
        ErrorCategory::invalid_argument,
        "the JSON body nests more than " + std::to_string(depth_max) + " arrays or objects deep",
        request.path));
  }
}

}  // namespace flightplan::http

#pragma once
// Errors as HTTP sees them: RFC 7807 problem details (application/problem+json). The mapping from
// an engine::ErrorCategory to an HTTP status lives in problem_response() and nowhere else.
//
// Client-facing text and log detail are kept apart: what goes into `detail` is meant for the
// caller; an unexpected exception's message is logged and the caller gets a generic sentence.
#include "flightplan/engine/error.hpp"
#include "flightplan/http/message.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace flightplan::http {

inline constexpr std::string_view problem_content_type = "application/problem+json";
// Every problem `type` is this prefix followed by a slug, e.g. ".../problems/not-found".
inline constexpr std::string_view problem_type_prefix = "https://flightplan.dev/problems/";

// The HTTP status of a category: invalid_argument 400, not_found 404, conflict 409, unavailable 503,
// timeout 504, internal 500.
int http_status(engine::ErrorCategory category);

// A problem+json response for an operating error of `category`. The body always has the five members
// {type, title, status, detail, instance}; `instance` is usually the request path.
Response problem_response(engine::ErrorCategory category, std::string_view detail, std::string_view instance);

// A problem+json response for a protocol-level failure that no category names (405, 413, 415, 431).
// `slug` completes the type URI, `title` is a short fixed summary of the type.
Response protocol_problem(int status, std::string_view slug, std::string_view title, std::string_view detail,
                          std::string_view instance);

// Thrown by request helpers (and available to handlers) to answer with a ready-made problem;
// handle_request() sends `response()` as it is.
class ProblemError : public std::runtime_error {
 public:
  explicit ProblemError(Response response);
  const Response& response() const { return response_; }

 private:
  Response response_;
};

inline constexpr std::size_t json_depth_max = 64;

// The request body as JSON. Throws ProblemError: 415 when the Content-Type is not application/json
// (parameters such as charset are allowed; a missing Content-Type counts as wrong), 400 when the body
// is empty, is not valid JSON (the detail names the byte where parsing failed, counted from 1) or
// nests more than `depth_max`
// arrays and objects inside one another.
nlohmann::json parse_json_body(const Request& request, std::size_t depth_max = json_depth_max);

}  // namespace flightplan::http

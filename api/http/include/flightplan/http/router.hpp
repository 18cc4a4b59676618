#pragma once
// Beast has no router; this is ours: a small table of (method, path pattern) -> handler.
//
// A pattern is a path whose segments are literals or `{name}` parameters, e.g.
// "/api/v1/workflows/{id}/signals/{name}". A literal matches its segment byte for byte (still
// percent-encoded); a parameter matches one non-empty segment, which is then percent-decoded and
// checked: after decoding it must not contain '/', '\\', "..", NUL or another control character,
// must be valid UTF-8 and at most path_param_bytes_max bytes long. A failed check is a 400, so an
// id can never smuggle a path into whatever the handler builds from it.
//
// When several patterns match a path, the one with a literal where the others have a parameter
// (compared left to right) wins, so "/workflows/stats" beats "/workflows/{id}".
#include "flightplan/http/message.hpp"

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flightplan::http {

inline constexpr std::size_t path_param_bytes_max = 256;

using Handler = std::function<Response(const Request&)>;

// Where a handler's unexpected failure is reported: the real message goes here, never to the client.
// Called on server threads; it must be thread-safe and must not throw.
using ErrorLog = std::function<void(std::string_view request_id, std::string_view message)>;

class Router {
 public:
  // Registers `handler` for `method` on `pattern`. A malformed pattern (not starting with '/', a
  // parameter that is not a whole segment, a repeated parameter name) or a (method, pattern) already
  // registered is a programmer error: std::invalid_argument, raised at start-up.
  void add(std::string method, std::string_view pattern, Handler handler);

  struct Match {
    enum class Outcome { found, not_found, method_not_allowed };
    Outcome outcome = Outcome::not_found;
    const Handler* handler = nullptr;  // set when found
    std::string pattern;               // set when found
    // Raw (still encoded) parameter values by name, set when found.
    std::vector<std::pair<std::string, std::string_view>> raw_params;
    std::string allow;  // the methods the path does accept, set for method_not_allowed
  };
  // Matches a percent-encoded path (no query). `path` must outlive the result's raw_params.
  Match match(std::string_view method, std::string_view path) const;

 private:
  struct Segment {
    std::string text;  // a literal, or a parameter's name
    bool is_param = false;
  };
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<Segment> segments;
    Handler handler;
  };
  std::vector<Route> routes_;
};

// Percent-decodes `text`. With `plus_as_space` (query strings) '+' becomes ' '. A '%' not followed by
// two hex digits gives std::nullopt.
std::optional<std::string> percent_decode(std::string_view text, bool plus_as_space);

// Parses "a=1&b=x%20y" into a map. Values are percent-decoded with '+' as a space; a key without '='
// has an empty value; empty pieces ("a=1&&b=2") are skipped. A malformed escape or a key given twice
// is an OperationError(invalid_argument) naming the key.
std::map<std::string, std::string> parse_query(std::string_view query);

// Decodes and checks one path parameter (see the top of this file); OperationError(invalid_argument)
// naming `name` when it fails.
std::string decode_path_param(std::string_view name, std::string_view raw);

// The whole of request handling, without sockets: splits request.target into path and query, matches
// the route, fills request.path, route_pattern, path_params and query, and calls the handler.
// Never throws. Unknown path: 404; known path, other method: 405 with Allow; bad parameter or query:
// 400; a handler's OperationError: problem_response() of its category; ProblemError: its response;
// any other exception: 500 with a generic detail, the real message going to `error_log` only.
Response handle_request(const Router& router, Request& request, const ErrorLog& error_log);

}  // namespace flightplan::http

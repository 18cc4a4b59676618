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

// Who may call a route. `by_method` is settled when the route is added: GET and HEAD need a viewer,
// every other method an operator. `public_` routes need no credentials at all.
enum class Access { by_method, public_, viewer, operator_ };

std::string_view to_string(Access access);

// Decides whether `request` may call a route that needs `access` (never by_method). Returns nullopt
// to let the request through (it may record who called in request.caller) or the refusal to send
// instead (a 401 or 403 problem). Called on handler threads: must be thread-safe; an exception it
// throws is handled like a handler's.
using Authorizer = std::function<std::optional<Response>(Request& request, Access access)>;

// Where a handler's unexpected failure is reported: the real message goes here, never to the client.
// Called on server threads; it must be thread-safe and must not throw.
using ErrorLog = std::function<void(std::string_view request_id, std::string_view message)>;

class Router {
 public:
  // Registers `handler` for `method` on `pattern`. A malformed pattern (not starting with '/', a
  // parameter that is not a whole segment, a repeated parameter name) or a (method, pattern) already
  // registered is a programmer error: std::invalid_argument, raised at start-up.
  void add(std::string method, std::string_view pattern, Handler handler, Access access = Access::by_method);

  // Every later request is checked by `authorizer` after its route is found and before its
  // parameters are decoded or its handler runs. Without one (the default) every route is open.
  void set_authorizer(Authorizer authorizer) { authorizer_ = std::move(authorizer); }
  const Authorizer& authorizer() const { return authorizer_; }

  // A read-only view of one registered route, for documents and tests that must list them all.
  struct RouteInfo {
    std::string method;
    std::string pattern;
    Access access = Access::viewer;  // never by_method: resolved when added
  };
  std::vector<RouteInfo> routes() const;

  struct Match {
    enum class Outcome { found, not_found, method_not_allowed };
    Outcome outcome = Outcome::not_found;
    const Handler* handler = nullptr;   // set when found
    std::string pattern;                // set when found
    Access access = Access::operator_;  // set when found
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
    Access access = Access::operator_;
  };
  std::vector<Route> routes_;
  Authorizer authorizer_;
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
// Never throws. Unknown path: 404; known path, other method: 405 with Allow; refused by the router's
// authorizer: its answer (401/403); bad parameter or query: 400; a handler's OperationError:
// problem_response() of its category; ProblemError: its response; any other exception: 500 with a generic
// detail, the real message going to `error_log` only.
Response handle_request(const Router& router, Request& request, const ErrorLog& error_log);

// Calls `call` and maps what it throws as handle_request() does, naming `path` in problem bodies and
// `request_id` in the log. Never throws. For answers produced after the handler returned (Parked).
Response call_guarded(const std::function<Response()>& call, const std::string& request_id, const std::string& path,
                      const ErrorLog& error_log);

}  // namespace flightplan::http

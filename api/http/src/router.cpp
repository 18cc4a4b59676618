#include "flightplan/http/router.hpp"

#include "flightplan/engine/error.hpp"
#include "flightplan/http/problem.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>

namespace flightplan::http {
namespace {

using engine::ErrorCategory;
using engine::OperationError;

// "/a/b" -> {"a", "b"}; "/" -> {""}. Precondition: `path` starts with '/'.
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> segments;
  path.remove_prefix(1);
  for (;;) {
    const auto slash = path.find('/');
    segments.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) return segments;
    path.remove_prefix(slash + 1);
  }
}

// The pattern with every parameter name blanked out: two routes of one method with the same shape
// would match exactly the same paths, so the second is refused.
std::string shape_of(std::string_view method, const auto& segments) {
  std::string shape(method);
  for (const auto& segment : segments) shape += segment.is_param ? "/{}" : "/" + segment.text;
  return shape;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;  // the allowed range of the second byte
    if (lead < 0x80)
      length = 1;
    else if (lead >= 0xC2 && lead <= 0xDF)
      length = 2;
    else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) low = 0xA0;
      if (lead == 0xED) high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) low = 0x90;
      if (lead == 0xF4) high = 0x8F;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto byte = static_cast<unsigned char>(text[i + k]);
      const unsigned char min = (k == 1) ? low : 0x80, max = (k == 1) ? high : 0xBF;
      if (byte < min || byte > max) return false;
    }
    i += length;
  }
  return true;
}

bool has_control_character(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte == 0x7F;
  });
}

// Dot segments are refused anywhere in a path, encoded or not: nothing behind this server resolves
// them, and a client sending one is probing.
void reject_dot_segments(std::string_view path) {
  for (const std::string_view segment : split_path(path)) {
    const auto decoded = percent_decode(segment, false);
    if (decoded && (*decoded == "." || *decoded == "..")) {
      throw OperationError(ErrorCategory::invalid_argument, "the path contains a '.' or '..' segment");
    }
  }
}

void log_error(const ErrorLog& error_log, std::string_view request_id, std::string_view message) {
  if (!error_log) return;
  try {
    error_log(request_id, message);
  } catch (...) {
    // A failing log must not turn an answer into no answer.
  }
}

Response route_and_call(const Router& router, Request& request) {
  const auto question = request.target.find('?');
  request.path = request.target.substr(0, question);
  if (request.path.empty() || request.path.front() != '/') {
    throw OperationError(ErrorCategory::invalid_argument,
                         "the request target must be an absolute path such as /healthz");
  }
  reject_dot_segments(request.path);
  const Router::Match match = router.match(request.method, request.path);
  if (match.outcome == Router::Match::Outcome::not_found) {
    throw OperationError(ErrorCategory::not_found, "no resource at this path");
  }
  if (match.outcome == Router::Match::Outcome::method_not_allowed) {
    Response response = protocol_problem(405, "method-not-allowed", "Method not allowed",
                                         "this path accepts " + match.allow, request.path);
    response.headers.set("Allow", match.allow);
    return response;
  }
  request.route_pattern = match.pattern;
  // Credentials are checked before anything else about the request is looked at, so a caller
  // without them learns nothing from 400s about which parameters would be accepted.
  if (router.authorizer() && match.access != Access::public_) {
    if (std::optional<Response> refusal = router.authorizer()(request, match.access))
      return std::move(*refusal);
  }
  for (const auto& [name, raw] : match.raw_params) request.path_params[name] = decode_path_param(name, raw);
  if (question != std::string::npos)
    request.query = parse_query(std::string_view(request.target).substr(question + 1));
  return (*match.handler)(request);
}

}  // namespace

std::string_view to_string(Access access) {
  switch (access) {
    case Access::by_method:
      return "by_method";
    case Access::public_:
      return "public";
    case Access::viewer:
      return "viewer";
    case Access::operator_:
      return "operator";
  }
  return "operator";
}

void Router::add(std::string method, std::string_view pattern, Handler handler, Access access) {
  if (method.empty() || !handler) throw std::invalid_argument("a route needs a method and a handler");
  if (pattern.empty() || pattern.front() != '/') {
    throw std::invalid_argument("route pattern '" + std::string(pattern) + "' does not start with '/'");
  }
  if (access == Access::by_method) {
    access = (method == "GET" || method == "HEAD") ? Access::viewer : Access::operator_;
  }
  Route route{std::move(method), std::string(pattern), {}, std::move(handler), access};
  std::set<std::string_view> names;
  for (const std::string_view text : split_path(pattern)) {
    const bool is_param = text.size() >= 2 && text.front() == '{' && text.back() == '}';
    const std::string_view name = is_param ? text.substr(1, text.size() - 2) : text;
    if (name.find_first_of("{}") != std::string_view::npos || (is_param && name.empty())) {
      throw std::invalid_argument("route pattern '" + route.pattern +
                                  "': a parameter must be a whole segment {name}");
    }
    if (is_param && !names.insert(name).second) {
      throw std::invalid_argument("route pattern '" + route.pattern + "' repeats parameter {" +
                                  std::string(name) + "}");
    }
    route.segments.push_back(Segment{std::string(name), is_param});
  }
  const std::string shape = shape_of(route.method, route.segments);
  for (const Route& existing : routes_) {
    if (shape_of(existing.method, existing.segments) == shape) {
      throw std::invalid_argument("route " + route.method + " " + route.pattern + " clashes with " +
                                  existing.pattern);
    }
  }
  routes_.push_back(std::move(route));
}

Router::Match Router::match(std::string_view method, std::string_view path) const {
  if (path.empty() || path.front() != '/') return Match{};  // not an origin-form path: nothing matches
  const std::vector<std::string_view> segments = split_path(path);
  const auto fits = [&segments](const Route& route) {
    if (route.segments.size() != segments.size()) return false;
    for (std::size_t i = 0; i < segments.size(); ++i) {
      const Segment& segment = route.segments[i];
      if (segment.is_param ? segments[i].empty() : segment.text != segments[i]) return false;
    }
    return true;
  };
  // Literal-before-parameter, compared left to right, is the more specific route.
  const auto more_specific = [](const Route& a, const Route& b) {
    for (std::size_t i = 0; i < a.segments.size(); ++i) {
      if (a.segments[i].is_param != b.segments[i].is_param) return !a.segments[i].is_param;
    }
    return false;
  };
  const Route* best = nullptr;
  std::set<std::string> allowed;
  for (const Route& route : routes_) {
    if (!fits(route)) continue;
    allowed.insert(route.method);
    if (route.method == method && (best == nullptr || more_specific(route, *best))) best = &route;
  }
  Match result;
  if (best == nullptr) {
    result.outcome = allowed.empty() ? Match::Outcome::not_found : Match::Outcome::method_not_allowed;
    for (const std::string& allowed_method : allowed) {
      result.allow += (result.allow.empty() ? "" : ", ") + allowed_method;
    }
    return result;
  }
  result.outcome = Match::Outcome::found;
  result.handler = &best->handler;
  result.pattern = best->pattern;
  result.access = best->access;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (best->segments[i].is_param) result.raw_params.emplace_back(best->segments[i].text, segments[i]);
  }
  return result;
}

std::vector<Router::RouteInfo> Router::routes() const {
  std::vector<RouteInfo> infos;
  infos.reserve(routes_.size());
  for (const Route& route : routes_) infos.push_back(RouteInfo{route.method, route.pattern, route.access});
  return infos;
}

std::optional<std::string> percent_decode(std::string_view text, bool plus_as_space) {
  std::string decoded;
  decoded.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int high = hex_value(text[i + 1]), low = hex_value(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      decoded.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else {
      decoded.push_back(plus_as_space && c == '+' ? ' ' : c);
    }
  }
  return decoded;
}

std::map<std::string, std::string> parse_query(std::string_view query) {
  std::map<std::string, std::string> result;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view piece = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (piece.empty()) continue;
    const auto equals = piece.find('=');
    const auto key = percent_decode(piece.substr(0, equals), true);
    const auto value = percent_decode(equals == std::string_view::npos ? "" : piece.substr(equals + 1), true);
    if (!key || !value) {
      throw OperationError(
          ErrorCategory::invalid_argument,
          "query parameter '" + std::string(piece.substr(0, equals)) + "' has a malformed %-escape");
    }
    if (!result.emplace(*key, *value).second) {
      throw OperationError(ErrorCategory::invalid_argument,
                           "query parameter '" + *key + "' is given more than once");
    }
  }
  return result;
}

std::string decode_path_param(std::string_view name, std::string_view raw) {
  const auto fail = [name](std::string_view why) {
    throw OperationError(ErrorCategory::invalid_argument,
                         "path parameter '" + std::string(name) + "' " + std::string(why));
  };
  auto decoded = percent_decode(raw, false);
  if (!decoded) fail("has a malformed %-escape");
  if (decoded->size() > path_param_bytes_max) {
    fail("is longer than " + std::to_string(path_param_bytes_max) + " bytes");
  }
  if (decoded->find_first_of("/\\") != std::string::npos) fail("contains '/' or '\\'");
  if (decoded->find("..") != std::string::npos) fail("contains '..'");
  if (has_control_character(*decoded)) fail("contains NUL or a control character");
  if (!is_valid_utf8(*decoded)) fail("is not valid UTF-8");
  return std::move(*decoded);
}

Response call_guarded(const std::function<Response()>& call, const std::string& request_id, const std::string& path,
                      const ErrorLog& error_log) {
  try {
    return call();
  } catch (const ProblemError& error) {
    return error.response();
  } catch (const OperationError& error) {
    // An internal error's message describes our insides; it is logged, not shown.
    if (error.category() != ErrorCategory::internal) {
      return problem_response(error.category(), error.what(), path);
    }
    log_error(error_log, request_id, error.what());
  } catch (const std::exception& error) {
    log_error(error_log, request_id, error.what());
  } catch (...) {
    log_error(error_log, request_id, "a handler threw something that is not a std::exception");
  }
  return problem_response(
      ErrorCategory::internal,
      "the server failed to handle the request; its log has the details under request id " + request_id, path);
}

Response handle_request(const Router& router, Request& request, const ErrorLog& error_log) {
  // request.path is filled by route_and_call; the reference sees it when an error is mapped.
  return call_guarded([&] { return route_and_call(router, request); }, request.request_id, request.path, error_log);
}

}  // namespace flightplan::http

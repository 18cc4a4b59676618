#pragma once
// The HTTP request and response as the router and its handlers see them: plain values with no
// Boost.Beast types, so handlers are functions of Request -> Response that tests call directly.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace flightplan::http {

// Header fields in arrival order. Names compare case-insensitively (RFC 9110 section 5.1); values are
// kept as received. A name may occur more than once; find() returns the first occurrence.
class Headers {
 public:
  using Field = std::pair<std::string, std::string>;

  void add(std::string name, std::string value);
  // Replaces every field called `name` by one with `value`.
  void set(std::string_view name, std::string value);
  void erase(std::string_view name);
  std::optional<std::string_view> find(std::string_view name) const;
  bool contains(std::string_view name) const { return find(name).has_value(); }

  const std::vector<Field>& fields() const { return fields_; }
  std::size_t size() const { return fields_.size(); }

 private:
  std::vector<Field> fields_;
};

// ASCII case-insensitive equality, the comparison HTTP uses for header names and tokens.
bool iequals(std::string_view left, std::string_view right);

struct Request {
  // Set by the server from the wire.
  std::string method;  // as sent, e.g. "GET"; methods are case-sensitive (RFC 9110 section 9.1)
  std::string target;  // the raw request target, e.g. "/api/v1/workflows/a%20b?limit=10"
  Headers headers;
  std::string body;
  std::string request_id;  // the X-Request-Id the response will carry

  // Set by handle_request() before the handler runs.
  std::string path;                                // the target before '?', still percent-encoded
  std::string route_pattern;                       // the matched pattern, e.g. "/api/v1/workflows/{id}"
  std::map<std::string, std::string> path_params;  // percent-decoded and checked (see router.hpp)
  std::map<std::string, std::string> query;        // percent-decoded, '+' read as a space
  std::string caller;  // set by an authorizer: the label of the caller's credentials; empty when open

  // The path parameter `name`. Asking for one the pattern lacks is a handler bug: std::logic_error,
  // which the client sees as a 500.
  const std::string& path_param(const std::string& name) const;
  std::optional<std::string_view> query_param(const std::string& name) const;
};

struct Response;

// A handler with no answer yet (a long poll: "tell me when this workflow closes") parks its request
// instead of holding a handler thread: the server keeps the request's place in the connection and
// calls `answer` on a handler thread once something woke it or `wait_ms` has passed, whichever is
// first. The server shortens `wait_ms` so that the answer still fits in its request timeout, and
// ends every wait at once when it stops.
struct Parked {
  std::int64_t wait_ms = 0;
  // Called once, on a server thread, before the wait starts: arranges for `wake` to be called (from
  // any thread, any number of times, also at once) when the answer may be ready, and returns what
  // to call to stop that when the wait ends; the server calls it exactly once. Must not block.
  std::function<std::function<void()>(std::function<void()> wake)> subscribe;
  // The answer; runs like a handler (an exception becomes a problem response).
  std::function<Response()> answer;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";  // left out of the response when empty
  Headers headers;  // Content-Length, Connection and X-Request-Id are the server's to set
  std::string body;
  std::shared_ptr<const Parked> parked;  // set: the rest of this response is ignored (see Parked)
};

// A response whose body is `body` serialised (invalid UTF-8 in strings is replaced, never thrown on).
Response json_response(int status, const nlohmann::json& body);

// `value` serialised as compact JSON; invalid UTF-8 in strings is replaced rather than thrown on.
std::string dump_json(const nlohmann::json& value);

}  // namespace flightplan::http

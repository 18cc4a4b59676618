#include "flightplan/redis/settings.hpp"

#include "flightplan/engine/error.hpp"

#include <charconv>
#include <limits>

namespace flightplan::redis {
namespace {

using engine::ErrorCategory;
using engine::OperationError;

[[noreturn]] void fail(const std::string& problem) {
  throw OperationError(ErrorCategory::invalid_argument, "redis url: " + problem);
}

// Parses all of `text` as a decimal integer in [low, high]; `what` names the field in the message.
int parse_int(std::string_view text, int low, int high, const std::string& what) {
  int value = 0;
  const char* end = text.data() + text.size();
  auto [stop, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc() || stop != end || value < low || value > high) {
    fail(what + " '" + std::string(text) + "' is not an integer in " + std::to_string(low) + ".." +
         std::to_string(high));
  }
  return value;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding of a credential. The message never shows the text: it may be a password.
std::string percent_decode(std::string_view text, const std::string& what) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    int high = i + 2 < text.size() ? hex_digit(text[i + 1]) : -1;
    int low = high >= 0 ? hex_digit(text[i + 2]) : -1;
    if (low < 0) fail(what + " has a '%' not followed by two hex digits");
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

constexpr int database_max = std::numeric_limits<int>::max();

// "[[user]:password@]" of a redis:// URL; `userinfo` is the part before the last '@'.
void parse_userinfo(std::string_view userinfo, Endpoint& endpoint) {
  auto colon = userinfo.find(':');
  if (colon == std::string_view::npos) {
    fail("user given without a password (write redis://user:password@host or redis://:password@host)");
  }
  endpoint.username = percent_decode(userinfo.substr(0, colon), "user");
  endpoint.password = percent_decode(userinfo.substr(colon + 1), "password");
  if (endpoint.password.empty()) fail("empty password after ':' (leave out the credentials instead)");
}

// "host[:port]" with IPv6 literals in brackets: "[::1]:6380".
void parse_host_port(std::string_view text, Endpoint& endpoint) {
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) fail("IPv6 host '" + std::string(text) + "' lacks ']'");
    endpoint.host = std::string(text.substr(1, close - 1));
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty() && rest.front() != ':')
      fail("unexpected '" + std::string(rest) + "' after the IPv6 host");
    if (!rest.empty()) port_text = rest.substr(1);
    if (!rest.empty() && port_text.empty()) fail("empty port after ':'");
  } else {
    auto colon = text.find(':');
    endpoint.host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = text.substr(colon + 1);
      if (port_text.empty()) fail("empty port after ':'");
    }
  }
  if (endpoint.host.empty()) fail("missing host (expected redis://host[:port][/db])");
  if (!port_text.empty()) endpoint.port = parse_int(port_text, 1, 65535, "port");
}

Endpoint parse_tcp(std::string_view rest) {
  Endpoint endpoint;
  endpoint.transport = Endpoint::Transport::tcp;
  if (rest.find('?') != std::string_view::npos) fail("query parameters are only supported for unix:// URLs");
  auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view database = rest.substr(slash + 1);
    if (!database.empty()) endpoint.database = parse_int(database, 0, database_max, "database");
  }
  auto at = authority.rfind('@');
  if (at != std::string_view::npos) {
    parse_userinfo(authority.substr(0, at), endpoint);
    authority = authority.substr(at + 1);
  }
  parse_host_port(authority, endpoint);
  return endpoint;
}

// One "name=value" of a unix:// URL's query.
void apply_query_parameter(std::string_view parameter, Endpoint& endpoint) {
  auto equals = parameter.find('=');
  std::string_view name = parameter.substr(0, equals);
  std::string_view value =
      equals == std::string_view::npos ? std::string_view() : parameter.substr(equals + 1);
  if (name == "db") {
    endpoint.database = parse_int(value, 0, database_max, "database");
  } else if (name == "user") {
    endpoint.username = percent_decode(value, "user");
  } else if (name == "password") {
    endpoint.password = percent_decode(value, "password");
  } else {
    fail("unknown query parameter '" + std::string(name) + "' (expected db, user or password)");
  }
}

Endpoint parse_unix(std::string_view rest) {
  Endpoint endpoint;
  endpoint.transport = Endpoint::Transport::unix_socket;
  auto question = rest.find('?');
  endpoint.socket_path = std::string(rest.substr(0, question));
  if (endpoint.socket_path.empty() || endpoint.socket_path.front() != '/') {
    fail("unix socket path must be absolute (expected unix:///path/to.sock)");
  }
  if (question != std::string_view::npos) {
    std::string_view query = rest.substr(question + 1);
    while (!query.empty()) {
      auto ampersand = query.find('&');
      apply_query_parameter(query.substr(0, ampersand), endpoint);
      query = ampersand == std::string_view::npos ? std::string_view() : query.substr(ampersand + 1);
    }
  }
  if (!endpoint.username.empty() && endpoint.password.empty()) fail("user given without a password");
  return endpoint;
}

}  // namespace

std::string Endpoint::describe() const {
  std::string database_suffix = database == 0 ? "" : std::to_string(database);
  if (transport == Transport::unix_socket) {
    return "unix://" + socket_path + (database == 0 ? "" : "?db=" + database_suffix);
  }
  bool ipv6 = host.find(':') != std::string::npos;
  std::string shown_host = ipv6 ? "[" + host + "]" : host;
  return "redis://" + shown_host + ":" + std::to_string(port) + (database == 0 ? "" : "/" + database_suffix);
}

Endpoint parse_url(std::string_view url) {
  constexpr std::string_view redis_scheme = "redis://";
  constexpr std::string_view unix_scheme = "unix://";
  if (url.starts_with(redis_scheme)) return parse_tcp(url.substr(redis_scheme.size()));
  if (url.starts_with(unix_scheme)) return parse_unix(url.substr(unix_scheme.size()));
  auto scheme_end = url.find("://");
  std::string scheme =
      scheme_end == std::string_view::npos ? "none" : "'" + std::string(url.substr(0, scheme_end)) + "'";
  fail("unsupported scheme " + scheme + " (expected redis://host[:port][/db] or unix:///path.sock[?db=N])");
}

void validate(const ClientSettings& settings) {
  auto require = [](bool ok, const std::string& problem) {
    if (!ok) throw OperationError(ErrorCategory::invalid_argument, "redis client settings: " + problem);
  };
  parse_url(settings.url);
  require(settings.connect_timeout_ms > 0, "connect_timeout_ms must be positive");
  require(settings.command_timeout_ms > 0, "command_timeout_ms must be positive");
  require(settings.reconnect_backoff_initial_ms > 0, "reconnect_backoff_initial_ms must be positive");
  require(settings.reconnect_backoff_max_ms >= settings.reconnect_backoff_initial_ms,
          "reconnect_backoff_max_ms must be at least reconnect_backoff_initial_ms");
  require(settings.reconnect_attempts_max >= 1, "reconnect_attempts_max must be at least 1");
  require(settings.pipeline_commands_max >= 1, "pipeline_commands_max must be at least 1");
}

}  // namespace flightplan::redis

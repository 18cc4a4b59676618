#pragma once
// Typed settings of the Redis client and the parser of the URL that names a Redis server. Only the
// wiring layer reads configuration; it fills these structs and hands them to the client.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace flightplan::redis {

// Where a Redis server listens and how to log in, parsed from a URL:
//   redis://[[user]:password@]host[:port][/db]      TCP, port 6379 and db 0 by default
//   unix:///absolute/path.sock[?db=N&user=U&password=P]
// User and password may be percent-encoded (%40 for '@'). A user without a password is rejected.
struct Endpoint {
  enum class Transport { tcp, unix_socket };

  Transport transport = Transport::tcp;
  std::string host;         // tcp only; IPv6 literals are written in brackets in the URL, stored bare
  int port = 6379;          // tcp only
  std::string socket_path;  // unix_socket only
  std::string username;     // empty: AUTH with the password alone (the `default` user)
  std::string password;     // empty: no AUTH
  int database = 0;         // SELECT after connecting when not 0

  // The endpoint as a URL without credentials, for messages and logs.
  std::string describe() const;
};

// Throws engine::OperationError(invalid_argument) saying which part of the URL is wrong. The
// password never appears in the message.
Endpoint parse_url(std::string_view url);

struct ClientSettings {
  std::string url = "redis://127.0.0.1:6379/0";
  std::int64_t connect_timeout_ms = 1000;
  // Bounds every wait for the socket while sending a command or reading its reply.
  std::int64_t command_timeout_ms = 1000;
  // After a failed connection attempt the next waits initial, 2*initial, ... capped at max.
  std::int64_t reconnect_backoff_initial_ms = 50;
  std::int64_t reconnect_backoff_max_ms = 2000;
  // Connection attempts one call makes before it gives up with `unavailable`. With the timeouts
  // above this bounds a call to about attempts * (connect_timeout + backoff_max) + command_timeout.
  int reconnect_attempts_max = 3;
  // Commands one pipeline() call may carry; more is an invalid_argument, not a silent split.
  std::size_t pipeline_commands_max = 10000;
};

// Throws engine::OperationError(invalid_argument) naming the first bad field.
void validate(const ClientSettings& settings);

}  // namespace flightplan::redis

#pragma once
// The HTTP/1.1 server: Boost.Beast over Asio, kept out of this header (Beast types stay in src/).
//
// Threads: `threads` I/O threads run the sockets; handlers run on a separate pool of
// `handler_threads`, so a slow handler never holds up an I/O thread. Each connection is one session
// on its own strand. It reads requests (reading ahead while earlier ones are handled, up to
// `pipeline_requests_max` queued), and writes the responses in request order.
//
// Limits: every read has a deadline, every parser a header and body limit, the number of connections
// and of queued requests per connection is bounded. Exceeding a limit gives a problem+json response
// (413, 431, 503, 504) or a closed connection, never unbounded growth.
//
// Signals are not handled here: the wiring layer catches SIGTERM and calls stop().
#include "flightplan/http/router.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace flightplan::http {

struct HttpServerSettings {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;  // 0: the system picks a free port; HttpServer::port() tells which
  int threads = 1;         // I/O threads
  int handler_threads = 4;
  std::size_t body_bytes_max = std::size_t{1024} * 1024;  // larger: 413, then close
  std::size_t header_bytes_max = std::size_t{16} * 1024;  // request line and fields; larger: 431, then close
  std::size_t connections_max = 1024;                     // one more gets a 503 and is closed
  std::size_t pipeline_requests_max = 16;       // requests read ahead per connection before reading pauses
  std::int64_t read_timeout_ms = 10'000;        // from a request's first byte to its last; then close
  std::int64_t keep_alive_timeout_ms = 15'000;  // idle time allowed between requests on a connection
  std::int64_t request_timeout_ms = 30'000;     // for the handler; a late one is answered with 504
  std::int64_t write_timeout_ms = 10'000;       // to send one response; a client reading slower is cut off
  std::int64_t stop_timeout_ms = 10'000;        // stop() lets in-flight requests finish this long
};

// One line of access log, passed by reference for the duration of the call only.
struct AccessLogEntry {
  std::string_view method;
  std::string_view route_pattern;  // empty when no route matched (404, 413, 431, ...)
  int status = 0;
  std::int64_t duration_us = 0;  // from the request's first byte to its response's last
  std::string_view request_id;
};

// Extension points. Each is called on server threads, must be thread-safe and must not throw.
// Headers are never passed to the access log: credentials travel in them.
struct HttpServerHooks {
  std::function<void(const AccessLogEntry&)> access_log;  // default: nothing
  ErrorLog error_log;                                     // default: one line on stderr
  std::function<std::string()> request_id_generator;      // default: "req-1", "req-2", ...
};

class HttpServer {
 public:
  HttpServer(HttpServerSettings settings, Router router, HttpServerHooks hooks = {});
  ~HttpServer();  // stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and serves on background threads; returns once the port is bound. Throws
  // engine::OperationError(unavailable) when it cannot listen. A server starts at most once.
  void start();
  // Graceful stop, callable from any thread but not from a handler (it waits for the handler pool):
  // stops accepting, closes idle connections, lets in-flight requests finish (their responses carry
  // `Connection: close`) for up to stop_timeout_ms, then closes what is left and joins every thread.
  // A handler still running after that is waited for, since a thread cannot be interrupted.
  // Idempotent.
  void stop();

  std::uint16_t port() const;            // the bound port, valid after start()
  std::size_t connection_count() const;  // open connections, for tests and metrics

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// The routes every flightplan server has: GET /healthz -> 200 {"status":"ok"} (the process is up);
// GET /readyz -> 200 {"status":"ready"} when `readiness` returns true, else a 503 problem. A
// readiness probe that throws counts as not ready. Both routes are public (Access::public_).
void add_builtin_routes(Router& router, std::function<bool()> readiness);

// The X-Request-Id a request brought, if it is sane: 1 to 128 characters of [A-Za-z0-9._:-].
// Anything else is replaced by a generated id rather than echoed.
bool is_sane_request_id(std::string_view value);

}  // namespace flightplan::http

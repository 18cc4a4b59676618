#pragma once
// What every session of one server shares: settings, routes, hooks, the handler pool and the set of
// open sessions. Private to src/; Beast and Asio types stay behind this line.
#include "flightplan/http/server.hpp"

#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace flightplan::http::detail {

class Session;

// After the last response on a connection the server stops sending and reads (and drops) what the
// client still sends, for a bounded time and amount: closing a socket with unread input resets the
// connection, and the reset can overtake our answer before the client has read it.
inline constexpr std::int64_t linger_ms_max = 2'000;
inline constexpr std::size_t linger_bytes_max = std::size_t{256} * 1024;

class ServerCore {
 public:
  ServerCore(HttpServerSettings settings, Router router, HttpServerHooks hooks);

  const HttpServerSettings& settings() const { return settings_; }
  const Router& router() const { return router_; }
  const ErrorLog& error_log() const { return hooks_.error_log; }
  boost::asio::thread_pool& handler_pool() { return handler_pool_; }

  std::string next_request_id();
  void log_error(std::string_view request_id, std::string_view message) const;
  void log_access(const AccessLogEntry& entry) const;

  bool has_room() const;  // fewer than connections_max sessions are open
  // Registers a new session. Returns false, registering nothing, when the server is at
  // connections_max or stopping; the caller then turns the connection away.
  bool admit(const std::shared_ptr<Session>& session);
  // Called once by a session whose connection has closed.
  void release(const Session* session);

  // Marks the server as stopping and returns the sessions open at that moment. A session admitted
  // afterwards is refused, so none escapes the graceful stop.
  std::vector<std::shared_ptr<Session>> begin_stop();
  std::vector<std::shared_ptr<Session>> open_sessions() const;
  // Waits until no session is open or `deadline` passes; true when none is open.
  bool wait_until_no_sessions(std::chrono::steady_clock::time_point deadline);
  std::size_t session_count() const;

 private:
  const HttpServerSettings settings_;
  const Router router_;
  HttpServerHooks hooks_;
  boost::asio::thread_pool handler_pool_;
  std::atomic<std::uint64_t> request_count_{0};

  mutable std::mutex mutex_;
  std::condition_variable sessions_changed_;
  std::unordered_map<const Session*, std::weak_ptr<Session>> sessions_;
  bool stopping_ = false;
};

}  // namespace flightplan::http::detail

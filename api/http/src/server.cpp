#include "flightplan/http/server.hpp"

#include "flightplan/engine/error.hpp"
#include "flightplan/http/problem.hpp"
#include "server_core.hpp"
#include "session.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <iostream>
#include <stdexcept>
#include <thread>

namespace flightplan::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;
using beast::error_code;
using detail::ServerCore;
using detail::Session;
using detail::SteadyClock;
using std::chrono::milliseconds;

// Settings come from the wiring layer; a nonsensical one is refused when the server is built.
void check_settings(const HttpServerSettings& settings) {
  const auto require = [](bool ok, const char* what) {
    if (!ok) throw std::invalid_argument(std::string("HttpServerSettings: ") + what);
  };
  require(settings.threads >= 1 && settings.handler_threads >= 1,
          "threads and handler_threads must be at least 1");
  require(settings.connections_max >= 1 && settings.pipeline_requests_max >= 1,
          "connections_max and pipeline_requests_max must be at least 1");
  require(settings.header_bytes_max >= 1024 && settings.header_bytes_max <= std::size_t{1024} * 1024,
          "header_bytes_max must be between 1 KiB and 1 MiB");
  require(settings.read_timeout_ms > 0 && settings.keep_alive_timeout_ms > 0 &&
              settings.request_timeout_ms > 0 && settings.write_timeout_ms > 0 &&
              settings.stop_timeout_ms >= 0,
          "timeouts must be positive");
}

HttpServerHooks with_defaults(HttpServerHooks hooks, std::atomic<std::uint64_t>& request_count) {
  if (!hooks.error_log) {
    hooks.error_log = [](std::string_view request_id, std::string_view message) {
      std::cerr << ("flightplan http [" + std::string(request_id) + "] " + std::string(message) + "\n");
    };
  }
  if (!hooks.request_id_generator) {
    hooks.request_id_generator = [&request_count] { return "req-" + std::to_string(++request_count); };
  }
  return hooks;
}

// A connection over connections_max gets a 503 and is closed, without its request being read.
asio::awaitable<void> turn_away(tcp::socket socket, ServerCore& core) {
  beast::tcp_stream stream(std::move(socket));
  const std::string request_id = core.next_request_id();
  bhttp::response<bhttp::string_body> message;
  const Response problem = problem_response(engine::ErrorCategory::unavailable,
                                            "the server is at its connection limit; retry later", "");
  message.result(static_cast<unsigned>(problem.status));
  message.set(bhttp::field::content_type, problem.content_type);
  message.set("X-Request-Id", request_id);
  message.keep_alive(false);
  message.body() = problem.body;
  message.prepare_payload();
  error_code error;
  stream.expires_after(milliseconds(core.settings().write_timeout_ms));
  co_await bhttp::async_write(stream, message, asio::redirect_error(asio::use_awaitable, error));
  core.log_access(AccessLogEntry{"", "", problem.status, 0, request_id});
  // As in a session's close: stop sending, drop what the client sent, so it reads the 503.
  if (!error) stream.socket().shutdown(tcp::socket::shutdown_send, error);
  stream.expires_after(milliseconds(std::min(core.settings().read_timeout_ms, detail::linger_ms_max)));
  beast::flat_static_buffer<4096> scratch;
  std::size_t drained_bytes = 0;
  while (!error && drained_bytes < detail::linger_bytes_max) {
    scratch.consume(scratch.size());
    drained_bytes += co_await stream.async_read_some(scratch.prepare(scratch.max_size()),
                                                     asio::redirect_error(asio::use_awaitable, error));
  }
  stream.close();
}

}  // namespace

namespace detail {

ServerCore::ServerCore(HttpServerSettings settings, Router router, HttpServerHooks hooks)
    : settings_(std::move(settings)),
      router_(std::move(router)),
      hooks_(with_defaults(std::move(hooks), request_count_)),
      handler_pool_(static_cast<std::size_t>(settings_.handler_threads)) {}

std::string ServerCore::next_request_id() {
  std::string id;
  try {
    id = hooks_.request_id_generator();
  } catch (...) {
    id.clear();
  }
  // An injected generator that misbehaves must not put junk into a header.
  return is_sane_request_id(id) ? id : "req-" + std::to_string(++request_count_);
}

void ServerCore::log_error(std::string_view request_id, std::string_view message) const {
  try {
    hooks_.error_log(request_id, message);
  } catch (...) {
    // Logging is best effort; a failing log never fails a request.
  }
}

void ServerCore::log_access(const AccessLogEntry& entry) const {
  if (!hooks_.access_log) return;
  try {
    hooks_.access_log(entry);
  } catch (...) {
    // As above.
  }
}

bool ServerCore::admit(const std::shared_ptr<Session>& session) {
  std::lock_guard lock(mutex_);
  if (stopping_ || sessions_.size() >= settings_.connections_max) return false;
  sessions_.emplace(session.get(), session);
  return true;
}

void ServerCore::release(const Session* session) {
  {
    std::lock_guard lock(mutex_);
    sessions_.erase(session);
  }
  sessions_changed_.notify_all();
}

std::vector<std::shared_ptr<Session>> ServerCore::begin_stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  return open_sessions();
}

std::vector<std::shared_ptr<Session>> ServerCore::open_sessions() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<Session>> result;
  for (const auto& [key, weak] : sessions_) {
    if (auto session = weak.lock()) result.push_back(std::move(session));
  }
  return result;
}

bool ServerCore::wait_until_no_sessions(SteadyClock::time_point deadline) {
  std::unique_lock lock(mutex_);
  return sessions_changed_.wait_until(lock, deadline, [this] { return sessions_.empty(); });
}

bool ServerCore::has_room() const {
  std::lock_guard lock(mutex_);
  return sessions_.size() < settings_.connections_max;
}

std::size_t ServerCore::session_count() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

}  // namespace detail

class HttpServer::Impl {
 public:
  Impl(HttpServerSettings settings, Router router, HttpServerHooks hooks)
      : core_(std::move(settings), std::move(router), std::move(hooks)),
        acceptor_(asio::make_strand(io_context_)),
        work_guard_(asio::make_work_guard(io_context_)) {}

  void start();
  void stop();
  std::uint16_t port() const { return port_; }
  std::size_t connection_count() const { return core_.session_count(); }

 private:
  void listen();
  asio::awaitable<void> accept_loop();

  // Declared first so that it is destroyed last: sessions still referenced by the io_context's
  // pending handlers refer to it while the io_context is destroyed.
  ServerCore core_;
  asio::io_context io_context_;
  tcp::acceptor acceptor_;
  asio::executor_work_guard<asio::io_context::executor_type> work_guard_;
  std::vector<std::thread> io_threads_;
  std::mutex lifecycle_mutex_;
  bool started_ = false;
  bool running_ = false;
  std::uint16_t port_ = 0;
};

void HttpServer::Impl::listen() {
  const auto& settings = core_.settings();
  error_code error;
  const auto address = asio::ip::make_address(settings.address, error);
  if (error) {
    throw engine::OperationError(engine::ErrorCategory::invalid_argument,
                                 "HTTP server address '" + settings.address + "' is not an IP address");
  }
  const tcp::endpoint endpoint(address, settings.port);
  const auto fail_if = [&](const char* step) {
    if (!error) return;
    throw engine::OperationError(engine::ErrorCategory::unavailable,
                                 std::string("cannot ") + step + " on " + settings.address + ":" +
                                     std::to_string(settings.port) + ": " + error.message());
  };
  acceptor_.open(endpoint.protocol(), error);
  fail_if("open a socket");
  acceptor_.set_option(asio::socket_base::reuse_address(true), error);
  fail_if("set SO_REUSEADDR");
  acceptor_.bind(endpoint, error);
  fail_if("bind");
  acceptor_.listen(asio::socket_base::max_listen_connections, error);
  fail_if("listen");
  port_ = acceptor_.local_endpoint().port();
}

void HttpServer::Impl::start() {
  std::lock_guard lock(lifecycle_mutex_);
  if (started_) throw std::logic_error("HttpServer::start() called twice");
  started_ = true;
  listen();
  asio::co_spawn(acceptor_.get_executor(), accept_loop(), [this](const std::exception_ptr& failure) {
    if (failure) core_.log_error("", "the accept loop ended with an exception; no new connections are taken");
  });
  for (int i = 0; i < core_.settings().threads; ++i) io_threads_.emplace_back([this] { io_context_.run(); });
  running_ = true;
}

asio::awaitable<void> HttpServer::Impl::accept_loop() {
  asio::steady_timer pause(acceptor_.get_executor());
  for (;;) {
    error_code error;
    tcp::socket socket = co_await acceptor_.async_accept(asio::make_strand(io_context_),
                                                         asio::redirect_error(asio::use_awaitable, error));
    if (error == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (error) {
      // Typically out of file descriptors; pausing keeps a failing accept from spinning.
      core_.log_error("", "accept failed: " + error.message());
      pause.expires_after(milliseconds(100));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, error));
      continue;
    }
    if (!core_.has_room()) {
      const auto executor = socket.get_executor();
      asio::co_spawn(executor, turn_away(std::move(socket), core_), asio::detached);
      continue;
    }
    // Only this loop adds sessions, so the room seen above is still there; admit() refuses only when
    // stop() has begun, and dropping the session then closes its socket.
    auto session = std::make_shared<Session>(std::move(socket), core_);
    if (core_.admit(session)) session->start();
  }
}

void HttpServer::Impl::stop() {
  std::lock_guard lock(lifecycle_mutex_);
  if (!running_) return;
  running_ = false;
  asio::post(acceptor_.get_executor(), [this] {
    error_code ignored;
    acceptor_.close(ignored);
  });
  for (const auto& session : core_.begin_stop()) session->stop_gracefully();
  const auto deadline = SteadyClock::now() + milliseconds(core_.settings().stop_timeout_ms);
  if (!core_.wait_until_no_sessions(deadline)) {
    for (const auto& session : core_.open_sessions()) session->close_now();
    // Closing is immediate on the I/O threads; this bound only guards against a wedged one.
    core_.wait_until_no_sessions(SteadyClock::now() + milliseconds(1'000));
  }
  work_guard_.reset();
  io_context_.stop();
  for (auto& thread : io_threads_) thread.join();
  io_threads_.clear();
  // Queued handler calls no longer have a connection to answer; running ones are waited for.
  core_.handler_pool().stop();
  core_.handler_pool().join();
}

HttpServer::HttpServer(HttpServerSettings settings, Router router, HttpServerHooks hooks) {
  check_settings(settings);
  impl_ = std::make_unique<Impl>(std::move(settings), std::move(router), std::move(hooks));
}

HttpServer::~HttpServer() {
  try {
    stop();
  } catch (...) {
    // Joining threads can only fail on a broken invariant; a destructor must not throw regardless.
  }
}

void HttpServer::start() { impl_->start(); }
void HttpServer::stop() { impl_->stop(); }
std::uint16_t HttpServer::port() const { return impl_->port(); }
std::size_t HttpServer::connection_count() const { return impl_->connection_count(); }

}  // namespace flightplan::http

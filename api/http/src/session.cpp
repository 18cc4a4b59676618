#include "session.hpp"

#include "flightplan/http/problem.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <exception>

namespace flightplan::http::detail {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using beast::error_code;
using engine::ErrorCategory;
using std::chrono::milliseconds;

constexpr std::size_t read_chunk_bytes = std::size_t{8} * 1024;

asio::awaitable<void> wait_until(asio::steady_timer& timer, SteadyClock::time_point deadline) {
  timer.expires_at(deadline);
  error_code ignored;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
}

bool is_http_parse_error(const error_code& error) {
  return error.category() == bhttp::make_error_code(bhttp::error::bad_target).category();
}

bool is_safe_header_text(std::string_view text) {
  return std::none_of(text.begin(), text.end(), [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

// The wire form of a handler's response. Content-Length always comes from the body (1xx, 204 and
// 304 carry none, as RFC 9110 requires); the server's own fields override a handler's.
bhttp::response<bhttp::string_body> to_wire(Response response, std::string_view request_id, unsigned version,
                                            bool close_after, const ServerCore& core) {
  if (response.status < 200 || response.status > 599) {
    core.log_error(request_id, "a handler answered with status " + std::to_string(response.status));
    response = problem_response(ErrorCategory::internal, "the server produced an invalid response", "");
  }
  bhttp::response<bhttp::string_body> message;
  message.version(version);
  message.result(static_cast<unsigned>(response.status));
  for (const auto& [name, value] : response.headers.fields()) {
    if (!is_safe_header_text(name) || !is_safe_header_text(value) || name.empty()) {
      core.log_error(request_id, "dropped a response header with CR, LF or NUL in it");
      continue;
    }
    message.insert(name, value);
  }
  message.erase(bhttp::field::content_length);
  message.erase(bhttp::field::transfer_encoding);
  message.erase(bhttp::field::connection);
  message.set("X-Request-Id", request_id);
  const bool bodiless = response.status == 204 || response.status == 304;
  if (!response.content_type.empty() && !bodiless)
    message.set(bhttp::field::content_type, response.content_type);
  message.keep_alive(!close_after);
  if (!bodiless) {
    message.body() = std::move(response.body);
    message.prepare_payload();
  }
  return message;
}

}  // namespace

Session::Session(asio::ip::tcp::socket socket, ServerCore& core)
    : core_(core),
      stream_(std::move(socket)),
      reader_wake_(stream_.get_executor()),
      writer_wake_(stream_.get_executor()) {}

void Session::start() {
  loops_running_ = 2;
  const auto on_end = [self = shared_from_this()](const std::exception_ptr& failure) {
    if (failure) {
      try {
        std::rethrow_exception(failure);
      } catch (const std::exception& error) {
        self->core_.log_error("", std::string("connection failed: ") + error.what());
      } catch (...) {
        self->core_.log_error("", "connection failed with an unknown exception");
      }
      self->close_now();
    }
    self->on_loop_end();
  };
  asio::co_spawn(stream_.get_executor(), read_loop(), on_end);
  asio::co_spawn(stream_.get_executor(), write_loop(), on_end);
}

void Session::stop_gracefully() {
  asio::post(stream_.get_executor(), [self = shared_from_this()] {
    self->stopping_ = true;
    self->reader_wake_.cancel();
    self->writer_wake_.cancel();
    // Parked requests are answered now, with what there is.
    for (const SlotPtr& slot : self->queue_)
      if (slot->park_timer) slot->park_timer->cancel();
  });
}

void Session::close_now() {
  asio::post(stream_.get_executor(), [self = shared_from_this()] {
    self->closing_ = true;
    self->stream_.close();
    self->reader_wake_.cancel();
    self->writer_wake_.cancel();
    for (const SlotPtr& slot : self->queue_)
      if (slot->park_timer) slot->park_timer->cancel();
  });
}

void Session::on_loop_end() {
  // Both loops run on the strand, so this count needs no lock.
  if (--loops_running_ > 0) return;
  stream_.close();
  core_.release(this);
}

asio::awaitable<void> Session::read_loop() {
  const std::size_t queue_max = core_.settings().pipeline_requests_max;
  while (!closing_ && !stopping_) {
    if (queue_.size() >= queue_max || (buffer_.size() == 0 && !queue_.empty())) {
      co_await wait_until(reader_wake_, SteadyClock::time_point::max());
      continue;
    }
    SlotPtr slot = co_await read_request();
    if (!slot) break;
    queue_.push_back(slot);
    writer_wake_.cancel();
    if (slot->close_after || !slot->keep_alive) break;
  }
  reading_done_ = true;
  writer_wake_.cancel();
}

// Waits for the next request to begin. False when the client closed, went quiet past the idle
// deadline, or the session is closing.
asio::awaitable<bool> Session::wait_for_first_byte() {
  if (buffer_.size() > 0) co_return true;
  const auto& settings = core_.settings();
  stream_.expires_after(
      milliseconds(first_request_ ? settings.read_timeout_ms : settings.keep_alive_timeout_ms));
  error_code error;
  const std::size_t read_bytes = co_await stream_.async_read_some(
      buffer_.prepare(read_chunk_bytes), asio::redirect_error(asio::use_awaitable, error));
  buffer_.commit(read_bytes);
  co_return !error && read_bytes > 0;
}

asio::awaitable<Session::SlotPtr> Session::read_request() {
  if (!co_await wait_for_first_byte()) co_return nullptr;
  const auto& settings = core_.settings();
  first_request_ = false;
  reading_request_ = true;
  auto slot = std::make_shared<Slot>();
  slot->started_at = SteadyClock::now();
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(settings.header_bytes_max));
  parser_->body_limit(static_cast<std::uint64_t>(settings.body_bytes_max));
  // One deadline covers header and body: a client trickling bytes cannot hold the connection longer.
  const SteadyClock::time_point read_deadline = slot->started_at + milliseconds(settings.read_timeout_ms);
  stream_.expires_at(read_deadline);
  error_code error;
  co_await bhttp::async_read_header(stream_, buffer_, *parser_,
                                    asio::redirect_error(asio::use_awaitable, error));
  if (!error && !parser_->is_done()) {
    co_await send_continue_if_expected(read_deadline);
    stream_.expires_at(read_deadline);
    co_await bhttp::async_read(stream_, buffer_, *parser_, asio::redirect_error(asio::use_awaitable, error));
  }
  reading_request_ = false;
  if (error) co_return slot_for_read_error(std::move(slot), error);
  co_return slot_for_request(std::move(slot));
}

// A client that sent "Expect: 100-continue" waits for a go-ahead before the body. It is sent only
// when no earlier response is owed, since the writer may not interleave with it otherwise; a client
// that gets none sends the body after its own short wait.
asio::awaitable<void> Session::send_continue_if_expected(SteadyClock::time_point read_deadline) {
  const auto& header = parser_->get();
  const auto expect = header.find(bhttp::field::expect);
  if (expect == header.end() || !iequals(expect->value(), "100-continue") || !queue_.empty()) co_return;
  static constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";
  stream_.expires_at(read_deadline);
  error_code ignored;
  co_await asio::async_write(stream_, asio::buffer(continue_line.data(), continue_line.size()),
                             asio::redirect_error(asio::use_awaitable, ignored));
}

// What a failed read leaves owed to the client: a problem response for a limit or a malformed
// request, nothing for a closed, broken or timed-out connection.
Session::SlotPtr Session::slot_for_read_error(SlotPtr slot, const error_code& error) {
  const bool is_limit = error == bhttp::error::body_limit || error == bhttp::error::header_limit;
  const bool is_malformed = is_http_parse_error(error) && error != bhttp::error::end_of_stream &&
                            error != bhttp::error::partial_message;
  if (!is_limit && !is_malformed) return nullptr;
  // Whatever of the header was parsed before the failure: all of it for a body over the limit, none
  // for a header over the limit (the parser waits for the complete header before parsing it).
  const auto& header = parser_->get();
  slot->method = std::string(header.method_string());
  slot->instance = std::string(header.target().substr(0, header.target().find('?')));
  const auto id = header.find("X-Request-Id");
  if (id != header.end() && is_sane_request_id(id->value())) slot->request_id = std::string(id->value());
  if (slot->request_id.empty()) slot->request_id = core_.next_request_id();
  const auto& settings = core_.settings();
  if (error == bhttp::error::body_limit) {
    slot->response = protocol_problem(
        413, "content-too-large", "Content too large",
        "the request body is larger than " + std::to_string(settings.body_bytes_max) + " bytes",
        slot->instance);
  } else if (error == bhttp::error::header_limit) {
    slot->response = protocol_problem(
        431, "header-fields-too-large", "Request header fields too large",
        "the request line and header fields exceed " + std::to_string(settings.header_bytes_max) + " bytes",
        slot->instance);
  } else {
    slot->response = problem_response(ErrorCategory::invalid_argument,
                                      "malformed HTTP request: " + error.message(), slot->instance);
  }
  // The parser cannot find where a broken request ends, so nothing after it can be read reliably.
  slot->close_after = true;
  return slot;
}

Session::SlotPtr Session::slot_for_request(SlotPtr slot) {
  auto message = parser_->release();
  Request request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  for (const auto& field : message)
    request.headers.add(std::string(field.name_string()), std::string(field.value()));
  request.body = std::move(message.body());
  const auto id = request.headers.find("X-Request-Id");
  request.request_id = id && is_sane_request_id(*id) ? std::string(*id) : core_.next_request_id();

  slot->method = request.method;
  slot->request_id = request.request_id;
  slot->version = message.version();
  slot->keep_alive = message.keep_alive();
  slot->instance = request.target.substr(0, request.target.find('?'));
  // Matched here as well as in handle_request() so that a 504 is still logged under its route.
  if (slot->instance.starts_with('/')) {
    const auto match = core_.router().match(slot->method, slot->instance);
    slot->route_pattern = match.pattern;
  }
  dispatch(slot, std::move(request));
  return slot;
}

void Session::dispatch(const SlotPtr& slot, Request request) {
  slot->deadline = SteadyClock::now() + milliseconds(core_.settings().request_timeout_ms);
  asio::post(core_.handler_pool(), [self = shared_from_this(), slot, request = std::move(request)]() mutable {
    Response response = handle_request(self->core_.router(), request, self->core_.error_log());
    if (response.parked) {
      self->park(slot, std::move(response.parked), std::move(request.path));
      return;
    }
    self->deliver(slot, std::move(response));
  });
}

void Session::deliver(const SlotPtr& slot, Response response) {
  asio::post(stream_.get_executor(), [self = shared_from_this(), slot, response = std::move(response)]() mutable {
    // After a 504 the slot has left the queue; the late answer is dropped with it.
    slot->response = std::move(response);
    slot->park_timer.reset();
    self->writer_wake_.cancel();
  });
}

// Holds a parked request on a timer of the strand until a wake cancels it or the wait is over, then
// has it answered on the handler pool. No thread waits meanwhile.
void Session::park(const SlotPtr& slot, std::shared_ptr<const Parked> parked, std::string path) {
  asio::post(stream_.get_executor(), [self = shared_from_this(), slot, parked = std::move(parked),
                                      path = std::move(path)]() mutable {
    // The answer must still be produced and written before the slot's deadline: keep a reserve.
    const auto reserve = milliseconds(std::min<std::int64_t>(5'000, self->core_.settings().request_timeout_ms / 4));
    auto until = std::min(SteadyClock::now() + milliseconds(std::max<std::int64_t>(0, parked->wait_ms)),
                          slot->deadline - reserve);
    if (self->stopping_ || self->closing_) until = SteadyClock::now();
    auto timer = std::make_shared<asio::steady_timer>(self->stream_.get_executor(), until);
    slot->park_timer = timer;
    std::function<void()> wake = [weak = std::weak_ptr(timer), executor = self->stream_.get_executor()] {
      asio::post(executor, [weak] {
        if (auto t = weak.lock()) t->cancel();
      });
    };
    std::function<void()> unsubscribe;
    try {
      unsubscribe = parked->subscribe(std::move(wake));
    } catch (const std::exception& error) {
      self->core_.log_error(slot->request_id, std::string("a parked request could not wait: ") + error.what());
      timer->expires_at(SteadyClock::now());
    }
    timer->async_wait([self, slot, parked, path = std::move(path), unsubscribe = std::move(unsubscribe)](
                          const error_code&) mutable {
      try {
        if (unsubscribe) unsubscribe();
      } catch (const std::exception& error) {
        self->core_.log_error(slot->request_id, std::string("ending a wait failed: ") + error.what());
      }
      asio::post(self->core_.handler_pool(), [self, slot, parked, path = std::move(path)] {
        self->deliver(slot, call_guarded(parked->answer, slot->request_id, path, self->core_.error_log()));
      });
    });
  });
}

asio::awaitable<void> Session::write_loop() {
  bool written_ok = true;
  while (!closing_) {
    if (queue_.empty()) {
      if (reading_done_ || (stopping_ && !reading_request_)) break;
      co_await wait_until(writer_wake_, SteadyClock::time_point::max());
      continue;
    }
    const SlotPtr slot = queue_.front();
    if (!slot->response) {
      if (SteadyClock::now() < slot->deadline) {
        co_await wait_until(writer_wake_, slot->deadline);
        continue;
      }
      slot->response = problem_response(
          ErrorCategory::timeout,
          "the request was not handled within " + std::to_string(core_.settings().request_timeout_ms) + " ms",
          slot->instance);
    }
    const bool close_after = slot->close_after || !slot->keep_alive || (reading_done_ && queue_.size() == 1);
    written_ok = co_await write_response(*slot, close_after);
    log_access(*slot);
    queue_.pop_front();
    reader_wake_.cancel();
    if (!written_ok || close_after) break;
  }
  // Lingering needs the socket's read side, which is free only once the reader has ended.
  co_await close_connection(written_ok && reading_done_ && !closing_);
}

asio::awaitable<bool> Session::write_response(Slot& slot, bool close_after) {
  auto message = to_wire(std::move(*slot.response), slot.request_id, slot.version, close_after, core_);
  slot.status_sent = static_cast<int>(message.result_int());
  stream_.expires_after(milliseconds(core_.settings().write_timeout_ms));
  error_code error;
  co_await bhttp::async_write(stream_, message, asio::redirect_error(asio::use_awaitable, error));
  co_return !error;
}

asio::awaitable<void> Session::close_connection(bool linger) {
  closing_ = true;
  error_code ignored;
  if (linger) {
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    stream_.expires_after(milliseconds(std::min(core_.settings().read_timeout_ms, linger_ms_max)));
    std::size_t drained_bytes = 0;
    error_code error;
    while (!error && drained_bytes < linger_bytes_max) {
      buffer_.consume(buffer_.size());
      const std::size_t read_bytes = co_await stream_.async_read_some(
          buffer_.prepare(read_chunk_bytes), asio::redirect_error(asio::use_awaitable, error));
      drained_bytes += read_bytes;
    }
  }
  stream_.close();
  reader_wake_.cancel();
}

void Session::log_access(const Slot& slot) const {
  const auto duration =
      std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - slot.started_at);
  core_.log_access(
      AccessLogEntry{slot.method, slot.route_pattern, slot.status_sent, duration.count(), slot.request_id});
}

}  // namespace flightplan::http::detail

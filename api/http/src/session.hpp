#pragma once
// One HTTP/1.1 connection. Two coroutines share the connection's strand: the reader parses requests
// and hands each to the handler pool, queueing a slot for its response; the writer sends the slots'
// responses strictly in request order. The queue is bounded (pipeline_requests_max): when it is full
// the reader stops reading, which pushes back on the client through TCP.
//
// Deadlines: waiting for a request's first byte uses read_timeout_ms on a new connection and
// keep_alive_timeout_ms afterwards; the whole request (header and body) must then arrive within
// read_timeout_ms; the handler has request_timeout_ms (else 504); each response write has
// write_timeout_ms; a parked request (Parked, a long poll) waits at most until its answer still fits in
// request_timeout_ms. The reader only waits on an empty buffer when no response is owed, so an idle
// deadline never runs while the client is waiting for an answer.
#include "server_core.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <deque>
#include <memory>
#include <optional>

namespace flightplan::http::detail {

using SteadyClock = std::chrono::steady_clock;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(boost::asio::ip::tcp::socket socket, ServerCore& core);

  // Spawns the reader and writer. Called once, after the core admitted the session.
  void start();
  // From any thread: finish the requests already read or being read, then close.
  void stop_gracefully();
  // From any thread: close now; responses not yet written are lost.
  void close_now();

 private:
  // The response owed for one request, in the order the requests arrived.
  struct Slot {
    std::string method;
    std::string instance;  // the request path, for problem bodies
    std::string route_pattern;
    std::string request_id;
    unsigned version = 11;
    bool keep_alive = true;
    bool close_after = false;  // the connection cannot go on after this response (e.g. after a 413)
    SteadyClock::time_point started_at;
    SteadyClock::time_point deadline;  // for the handler's answer
    std::optional<Response> response;  // set on the strand once the handler returned
    // A parked request's wait (Parked); cancelling it ends the wait. Touched only on the strand.
    std::shared_ptr<boost::asio::steady_timer> park_timer;
    int status_sent = 0;               // for the access log
  };
  using SlotPtr = std::shared_ptr<Slot>;
  using Parser = boost::beast::http::request_parser<boost::beast::http::string_body>;

  boost::asio::awaitable<void> read_loop();
  boost::asio::awaitable<bool> wait_for_first_byte();
  boost::asio::awaitable<SlotPtr> read_request();
  SlotPtr slot_for_read_error(SlotPtr slot, const boost::beast::error_code& error);
  SlotPtr slot_for_request(SlotPtr slot);
  boost::asio::awaitable<void> send_continue_if_expected(SteadyClock::time_point read_deadline);
  void dispatch(const SlotPtr& slot, Request request);
  void park(const SlotPtr& slot, std::shared_ptr<const Parked> parked, std::string path);
  void deliver(const SlotPtr& slot, Response response);

  boost::asio::awaitable<void> write_loop();
  boost::asio::awaitable<bool> write_response(Slot& slot, bool close_after);
  boost::asio::awaitable<void> close_connection(bool linger);
  void log_access(const Slot& slot) const;

  void on_loop_end();

  ServerCore& core_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<Parser> parser_;
  boost::asio::steady_timer reader_wake_;  // cancelled when the queue shrinks or the session stops
  boost::asio::steady_timer writer_wake_;  // cancelled when a slot is added or filled, or on stop
  std::deque<SlotPtr> queue_;

  // Touched only on the strand.
  bool first_request_ = true;
  bool reading_request_ = false;  // between a request's first byte and its end
  bool reading_done_ = false;     // the reader has ended; no slot will be added
  bool stopping_ = false;
  bool closing_ = false;
  int loops_running_ = 0;
};

}  // namespace flightplan::http::detail

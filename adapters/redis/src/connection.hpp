#pragma once
// Private to the adapter: one blocking hiredis connection behind our own types. hiredis itself is
// included only by connection.cpp.
#include "flightplan/redis/reply.hpp"
#include "flightplan/redis/settings.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flightplan::redis::detail {

// Invariant: after any method throws, the connection is broken (usable() is false) and must be
// replaced; the reply stream may be out of step with the commands sent, so it is never reused.
class Connection {
 public:
  // Connects within connect_timeout_ms and arms command_timeout_ms on the socket. Throws
  // OperationError(unavailable) when the server cannot be reached.
  static std::unique_ptr<Connection> open(const Endpoint& endpoint, std::int64_t connect_timeout_ms,
                                          std::int64_t command_timeout_ms);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends one command and reads its reply. Error replies are returned, not thrown; I/O failures
  // and timeouts throw OperationError(unavailable).
  Reply execute(const std::vector<std::string_view>& args);
  // Sends all commands, then reads one reply per command, in order.
  std::vector<Reply> execute_all(const std::vector<std::vector<std::string>>& commands);

  // For a connection that has subscribed (SUBSCRIBE sent through execute()): the next message the
  // server pushes, waiting at most `wait_ms`; nullopt when none came in time (the connection stays
  // usable). I/O failures throw like execute().
  std::optional<Reply> next_pushed(std::int64_t wait_ms);

  // False once an I/O error happened, or when the idle socket is readable: a healthy idle Redis
  // connection has nothing to read, so readable means the server closed it (EOF) or sent
  // something we did not ask for. Costs one poll() without waiting.
  bool usable() const;

 private:
  struct Handle;
  Connection(std::unique_ptr<Handle> handle, std::string endpoint_text, std::int64_t command_timeout_ms);
  [[noreturn]] void fail_io(std::string_view command_name, int saved_errno);

  std::unique_ptr<Handle> handle_;
  std::string endpoint_text_;
  std::int64_t command_timeout_ms_;
  bool broken_ = false;
};

}  // namespace flightplan::redis::detail

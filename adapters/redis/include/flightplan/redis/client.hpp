#pragma once
// A blocking Redis client over one connection, with timeouts on every call, typed errors and
// reconnection. See docs/redis.md.
//
// Errors are engine::OperationError with a category; decide on retries from the category only:
//  * unavailable — connection refused, lost or timed out, or a transient server state (LOADING,
//    BUSY, READONLY, ...). Retrying may succeed. When a command was already sent, whether it ran
//    is unknown: only retry what is idempotent or guarded (e.g. a versioned commit script).
//  * invalid_argument — bad settings or URL, AUTH/SELECT refused, too many pipeline commands.
//  * internal — any other error reply (WRONGTYPE, a script's `ERR ...`), message passed through.
//  * conflict / not_found — an error reply whose first word is CONFLICT / NOT_FOUND; Lua scripts
//    use these (`redis.error_reply("CONFLICT ...")`) to report those outcomes by category.
#include "flightplan/redis/reply.hpp"
#include "flightplan/redis/settings.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

namespace flightplan::redis {

// A Lua script the client runs with EVALSHA. Cheap to copy: copies share the text and the SHA1,
// and may be used from several threads (the SHA1 is recorded under a mutex).
class Script {
 public:
  // `name` only appears in error messages.
  Script(std::string name, std::string lua_text);

  const std::string& name() const;
  const std::string& text() const;
  // The SHA1 the server reported at the first SCRIPT LOAD by any client; empty before that.
  std::string sha1() const;

 private:
  friend class Client;
  struct State;
  std::shared_ptr<State> state_;
};

// Not thread-safe: one thread at a time uses a Client (ClientPool shares clients between threads).
// The constructor does not connect; the first call does, and so does the first call after the
// connection was lost. Before sending, a call checks whether the server closed the idle connection
// (e.g. it restarted) and then reconnects first, so a restart between calls is invisible. A failure
// while a command is in flight is reported as `unavailable` and is not retried by the client.
// Each (re)connection re-sends AUTH and SELECT and forgets which scripts were loaded.
class Client {
 public:
  // Throws OperationError(invalid_argument) for bad settings or URL.
  explicit Client(ClientSettings settings);
  ~Client();
  Client(Client&& other) noexcept;
  Client& operator=(Client&& other) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // One command; arguments are binary-safe. An error reply is thrown (see the categories above).
  Reply command(const std::vector<std::string_view>& args);

  // Sends every command, then reads every reply: one round trip. Error replies of single commands
  // are returned in place (Reply::Type::error), not thrown; connection failures are thrown.
  std::vector<Reply> pipeline(const std::vector<std::vector<std::string>>& commands);

  // EVALSHA of a script loaded (SCRIPT LOAD) once per connection. On NOSCRIPT (e.g. after SCRIPT
  // FLUSH or a server restart) it loads the script again and retries once. Never sends EVAL.
  Reply eval_script(const Script& script, const std::vector<std::string>& keys,
                    const std::vector<std::string>& args);

  // Pub/Sub. subscribe() replaces the connection by a fresh one that SUBSCRIBEs to `channels`; from
  // then on this client is only for next_message(), until disconnect(). next_message() waits at most
  // `wait_ms` for a message published on one of them and returns {channel, payload}, or nullopt
  // when none came in time. A lost connection throws OperationError(unavailable): news published
  // meanwhile is lost, and the caller subscribes again. Both throw like command().
  void subscribe(const std::vector<std::string>& channels);
  std::optional<std::pair<std::string, std::string>> next_message(std::int64_t wait_ms);

  // Readiness: connects if needed and checks that PING answers PONG. Throws like command().
  void ping();

  // Drops the connection (the next call reconnects). For tests and shutdown.
  void disconnect();
  bool connected() const;
  const Endpoint& endpoint() const;
  const ClientSettings& settings() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace flightplan::redis

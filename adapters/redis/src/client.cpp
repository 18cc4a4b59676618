#include "flightplan/redis/client.hpp"

#include "connection.hpp"
#include "flightplan/engine/error.hpp"

#include <algorithm>
#include <atomic>
#include <cassert>
#include <chrono>
#include <mutex>
#include <thread>
#include <unordered_set>

namespace flightplan::redis {
namespace {

using engine::ErrorCategory;
using engine::OperationError;
using SteadyClock = std::chrono::steady_clock;

// Error replies whose first word says the server is (for now) unable to serve, not that the
// command was wrong: retrying later may succeed.
constexpr std::string_view transient_codes[] = {
    "LOADING", "BUSY", "MASTERDOWN", "READONLY", "TRYAGAIN", "OOM", "NOREPLICAS", "MISCONF", "CLUSTERDOWN"};
// Error replies that mean our credentials are wrong, missing or lack a permission: fixing the
// settings helps, retrying does not.
constexpr std::string_view credential_codes[] = {"NOAUTH", "WRONGPASS", "NOPERM"};

template <std::size_t count>
bool is_one_of(std::string_view code, const std::string_view (&codes)[count]) {
  return std::ranges::find(codes, code) != std::end(codes);
}

ErrorCategory category_of(std::string_view code) {
  if (is_one_of(code, transient_codes)) return ErrorCategory::unavailable;
  if (is_one_of(code, credential_codes)) return ErrorCategory::invalid_argument;
  if (code == "CONFLICT") return ErrorCategory::conflict;
  if (code == "NOT_FOUND") return ErrorCategory::not_found;
  return ErrorCategory::internal;
}

// The command name for messages: its first argument, cut short (it is binary and caller-chosen).
std::string shown_name(std::string_view name) {
  constexpr std::size_t name_max = 32;
  return std::string(name.substr(0, name_max));
}

std::atomic<std::uint64_t> next_script_id{1};

}  // namespace

struct Script::State {
  std::uint64_t id = next_script_id.fetch_add(1);
  std::string name;
  std::string text;
  mutable std::mutex mutex;
  mutable std::string sha1;  // guarded by mutex; set by the first SCRIPT LOAD, never changes after
};

Script::Script(std::string name, std::string lua_text) : state_(std::make_shared<State>()) {
  state_->name = std::move(name);
  state_->text = std::move(lua_text);
}

const std::string& Script::name() const { return state_->name; }
const std::string& Script::text() const { return state_->text; }

std::string Script::sha1() const {
  std::lock_guard lock(state_->mutex);
  return state_->sha1;
}

struct Client::Impl {
  ClientSettings settings;
  Endpoint endpoint;
  std::unique_ptr<detail::Connection> connection;
  // Scripts loaded on the current connection; cleared whenever the connection is replaced.
  std::unordered_set<std::uint64_t> loaded_script_ids;
  std::int64_t next_backoff_ms = 0;
  SteadyClock::time_point next_attempt_at{};  // no connection attempt before this

  detail::Connection& connection_for_call();
  std::unique_ptr<detail::Connection> open_and_log_in() const;
  Reply execute(const std::vector<std::string_view>& args);
  [[noreturn]] void throw_error_reply(const std::string& what, const Reply& reply) const;
  void load_script(const Script::State& script);
};

// Reuses a usable connection, or connects with bounded attempts and exponential backoff. The
// backoff carries over between calls while the server stays away, and resets on success.
detail::Connection& Client::Impl::connection_for_call() {
  if (connection && connection->usable()) return *connection;
  connection.reset();
  loaded_script_ids.clear();
  std::string last_failure;
  for (int attempt = 1; attempt <= settings.reconnect_attempts_max; ++attempt) {
    std::this_thread::sleep_until(next_attempt_at);
    try {
      connection = open_and_log_in();
      next_backoff_ms = settings.reconnect_backoff_initial_ms;
      next_attempt_at = {};
      return *connection;
    } catch (const OperationError& error) {
      if (error.category() != ErrorCategory::unavailable) throw;
      last_failure = error.what();
      next_attempt_at = SteadyClock::now() + std::chrono::milliseconds(next_backoff_ms);
      next_backoff_ms = std::min(next_backoff_ms * 2, settings.reconnect_backoff_max_ms);
    }
  }
  throw OperationError(ErrorCategory::unavailable, "redis: gave up after " +
                                                       std::to_string(settings.reconnect_attempts_max) +
                                                       " connection attempts; last failure: " + last_failure);
}

// Connects and re-sends AUTH and SELECT, which a new connection needs every time.
std::unique_ptr<detail::Connection> Client::Impl::open_and_log_in() const {
  auto fresh = detail::Connection::open(endpoint, settings.connect_timeout_ms, settings.command_timeout_ms);
  auto check = [&](const Reply& reply, const std::string& what, const std::string& hint) {
    if (!reply.is_error()) return;
    ErrorCategory category = category_of(reply.error_code());
    if (category != ErrorCategory::unavailable) category = ErrorCategory::invalid_argument;
    throw OperationError(category, "redis " + what + " on " + endpoint.describe() +
                                       " was refused: " + reply.error_message() + " (" + hint + ")");
  };
  if (!endpoint.password.empty()) {
    std::vector<std::string_view> auth{"AUTH"};
    if (!endpoint.username.empty()) auth.push_back(endpoint.username);
    auth.push_back(endpoint.password);
    check(fresh->execute(auth), "AUTH", "check the user and password in the redis url");
  }
  if (endpoint.database != 0) {
    std::string database = std::to_string(endpoint.database);
    check(fresh->execute({"SELECT", database}), "SELECT " + database,
          "check the database number in the redis url");
  }
  return fresh;
}

// Runs one command; an I/O failure drops the connection at once so connected() tells the truth.
Reply Client::Impl::execute(const std::vector<std::string_view>& args) {
  detail::Connection& current = connection_for_call();
  try {
    return current.execute(args);
  } catch (const OperationError&) {
    connection.reset();
    throw;
  }
}

void Client::Impl::throw_error_reply(const std::string& what, const Reply& reply) const {
  throw OperationError(category_of(reply.error_code()),
                       "redis " + what + " on " + endpoint.describe() + ": " + reply.error_message());
}

void Client::Impl::load_script(const Script::State& script) {
  Reply reply = execute({"SCRIPT", "LOAD", script.text});
  if (reply.is_error()) throw_error_reply("SCRIPT LOAD of '" + script.name + "'", reply);
  const std::string& sha1 = reply.as_string();
  {
    std::lock_guard lock(script.mutex);
    if (script.sha1.empty()) script.sha1 = sha1;
    // The SHA1 is a function of the text, so every server must report the same one.
    assert(script.sha1 == sha1);
  }
  loaded_script_ids.insert(script.id);
}

Client::Client(ClientSettings settings) : impl_(std::make_unique<Impl>()) {
  validate(settings);
  impl_->endpoint = parse_url(settings.url);
  impl_->next_backoff_ms = settings.reconnect_backoff_initial_ms;
  impl_->settings = std::move(settings);
}

Client::~Client() = default;
Client::Client(Client&& other) noexcept = default;
Client& Client::operator=(Client&& other) noexcept = default;

Reply Client::command(const std::vector<std::string_view>& args) {
  assert(impl_ != nullptr);
  if (args.empty()) throw OperationError(ErrorCategory::invalid_argument, "redis: a command needs a name");
  Reply reply = impl_->execute(args);
  if (reply.is_error()) impl_->throw_error_reply(shown_name(args.front()), reply);
  return reply;
}

std::vector<Reply> Client::pipeline(const std::vector<std::vector<std::string>>& commands) {
  assert(impl_ != nullptr);
  if (commands.size() > impl_->settings.pipeline_commands_max) {
    throw OperationError(ErrorCategory::invalid_argument,
                         "redis: pipeline of " + std::to_string(commands.size()) +
                             " commands exceeds pipeline_commands_max=" +
                             std::to_string(impl_->settings.pipeline_commands_max));
  }
  for (std::size_t i = 0; i < commands.size(); ++i) {
    if (commands[i].empty()) {
      throw OperationError(ErrorCategory::invalid_argument,
                           "redis: pipeline command #" + std::to_string(i) + " is empty (it needs a name)");
    }
  }
  if (commands.empty()) return {};
  detail::Connection& current = impl_->connection_for_call();
  try {
    return current.execute_all(commands);
  } catch (const OperationError&) {
    impl_->connection.reset();
    throw;
  }
}

Reply Client::eval_script(const Script& script, const std::vector<std::string>& keys,
                          const std::vector<std::string>& args) {
  assert(impl_ != nullptr);
  const Script::State& state = *script.state_;
  for (int attempt = 1;; ++attempt) {
    impl_->connection_for_call();  // reconnecting first clears the loaded set for the new connection
    if (!impl_->loaded_script_ids.contains(state.id)) impl_->load_script(state);
    std::string sha1 = script.sha1();
    std::string key_count = std::to_string(keys.size());
    std::vector<std::string_view> evalsha{"EVALSHA", sha1, key_count};
    evalsha.insert(evalsha.end(), keys.begin(), keys.end());
    evalsha.insert(evalsha.end(), args.begin(), args.end());
    Reply reply = impl_->execute(evalsha);
    // NOSCRIPT: the server lost its script cache (SCRIPT FLUSH, restart) behind our back.
    if (reply.is_error() && reply.error_code() == "NOSCRIPT" && attempt == 1) {
      impl_->loaded_script_ids.erase(state.id);
      continue;
    }
    if (reply.is_error()) impl_->throw_error_reply("script '" + state.name + "'", reply);
    return reply;
  }
}

void Client::subscribe(const std::vector<std::string>& channels) {
  assert(impl_ != nullptr && !channels.empty());
  disconnect();
  std::vector<std::string_view> command{"SUBSCRIBE"};
  command.insert(command.end(), channels.begin(), channels.end());
  // The server confirms each channel with ["subscribe", channel, count]; execute() reads the first.
  Reply first = impl_->execute(command);
  if (first.is_error()) impl_->throw_error_reply("SUBSCRIBE", first);
  try {
    for (std::size_t i = 1; i < channels.size(); ++i) {
      if (!impl_->connection->next_pushed(impl_->settings.command_timeout_ms))
        throw OperationError(ErrorCategory::unavailable, "redis SUBSCRIBE on " + impl_->endpoint.describe() +
                                                             ": no confirmation within command_timeout_ms");
    }
  } catch (const OperationError&) {
    impl_->connection.reset();
    throw;
  }
}

std::optional<std::pair<std::string, std::string>> Client::next_message(std::int64_t wait_ms) {
  assert(impl_ != nullptr);
  if (!impl_->connection)
    throw OperationError(ErrorCategory::unavailable, "redis: not subscribed on " + impl_->endpoint.describe());
  std::optional<Reply> pushed;
  try {
    pushed = impl_->connection->next_pushed(wait_ms);
  } catch (const OperationError&) {
    impl_->connection.reset();
    throw;
  }
  // ["message", channel, payload]; anything else (a late confirmation) is not news.
  if (!pushed || pushed->type() != Reply::Type::array) return std::nullopt;
  const std::vector<Reply>& parts = pushed->as_array();
  if (parts.size() != 3 || parts[0].type() != Reply::Type::string || parts[0].as_string() != "message")
    return std::nullopt;
  return std::make_pair(parts[1].as_string(), parts[2].as_string());
}

void Client::ping() {
  Reply reply = command({"PING"});
  if (reply.type() != Reply::Type::status || reply.as_string() != "PONG") {
    throw OperationError(ErrorCategory::internal,
                         "redis PING on " + impl_->endpoint.describe() + " answered " + reply.describe());
  }
}

void Client::disconnect() {
  assert(impl_ != nullptr);
  impl_->connection.reset();
  impl_->loaded_script_ids.clear();
}

bool Client::connected() const { return impl_ != nullptr && impl_->connection != nullptr; }
const Endpoint& Client::endpoint() const { return impl_->endpoint; }
const ClientSettings& Client::settings() const { return impl_->settings; }

}  // namespace flightplan::redis

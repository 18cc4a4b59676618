// The Redis client against a real, private redis-server (tests/support/redis_server.hpp).
#define BOOST_TEST_MODULE redis_client_redistest
#include <boost/test/unit_test.hpp>

#include "../support/redis_server.hpp"
#include "flightplan/engine/error.hpp"
#include "flightplan/redis/client.hpp"
#include "flightplan/redis/client_pool.hpp"

#include <atomic>
#include <csignal>
#include <fstream>
#include <iterator>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace flightplan::engine {
inline std::ostream& operator<<(std::ostream& out, ErrorCategory category) {
  return out << to_string(category);
}
}  // namespace flightplan::engine

namespace flightplan::redis {
inline std::ostream& operator<<(std::ostream& out, const Reply& reply) { return out << reply.describe(); }
}  // namespace flightplan::redis

namespace {

using flightplan::engine::ErrorCategory;
using flightplan::engine::OperationError;
using flightplan::redis::Client;
using flightplan::redis::ClientPool;
using flightplan::redis::ClientPoolSettings;
using flightplan::redis::ClientSettings;
using flightplan::redis::Endpoint;
using flightplan::redis::Reply;
using flightplan::redis::Script;
using flightplan::testing::RedisServer;
using flightplan::testing::RedisServerOptions;
using SteadyClock = std::chrono::steady_clock;

template <typename Action>
OperationError expect_error(Action&& action) {
  try {
    action();
  } catch (const OperationError& error) {
    return error;
  }
  BOOST_FAIL("expected an OperationError");
  throw std::logic_error("unreachable");
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::int64_t elapsed_ms(SteadyClock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start).count();
}

ClientSettings settings_for(const std::string& url) {
  ClientSettings settings;
  settings.url = url;
  return settings;
}

// Settings with short waits, so that a dead server is reported quickly. The bound is what one
// call may take at most: attempts * (connect timeout + longest backoff) + one command timeout.
ClientSettings quick_settings(const std::string& url) {
  ClientSettings settings = settings_for(url);
  settings.connect_timeout_ms = 200;
  settings.command_timeout_ms = 200;
  settings.reconnect_backoff_initial_ms = 50;
  settings.reconnect_backoff_max_ms = 400;
  settings.reconnect_attempts_max = 3;
  return settings;
}
constexpr std::int64_t quick_call_bound_ms = 3 * (200 + 400) + 200;

// "calls=N" of one command in INFO commandstats; 0 when the command never ran.
std::int64_t command_calls(Client& client, const std::string& command) {
  std::string info = client.command({"INFO", "commandstats"}).as_string();
  std::string marker = "cmdstat_" + command + ":calls=";
  auto at = info.find(marker);
  if (at == std::string::npos) return 0;
  return std::stoll(info.substr(at + marker.size()));
}

// The server's run_id: a new one for every redis-server process.
std::string run_id(Client& client) {
  std::string info = client.command({"INFO", "server"}).as_string();
  auto at = info.find("run_id:");
  BOOST_REQUIRE(at != std::string::npos);
  return info.substr(at, info.find('\r', at) - at);
}

BOOST_AUTO_TEST_SUITE(url_parsing)

BOOST_AUTO_TEST_CASE(accepts_tcp_unix_and_credentials) {
  Endpoint plain = flightplan::redis::parse_url("redis://localhost");
  BOOST_TEST((plain.transport == Endpoint::Transport::tcp));
  BOOST_TEST(plain.host == "localhost");
  BOOST_TEST(plain.port == 6379);
  BOOST_TEST(plain.database == 0);
  BOOST_TEST(plain.password.empty());

  Endpoint password_only = flightplan::redis::parse_url("redis://:s3cret@10.0.0.7:6380/2");
  BOOST_TEST(password_only.username.empty());
  BOOST_TEST(password_only.password == "s3cret");
  BOOST_TEST(password_only.port == 6380);
  BOOST_TEST(password_only.database == 2);
  BOOST_TEST(password_only.describe() == "redis://10.0.0.7:6380/2");

  Endpoint acl = flightplan::redis::parse_url("redis://alice:p%40ss:word@[::1]:7000/5");
  BOOST_TEST(acl.username == "alice");
  BOOST_TEST(acl.password == "p@ss:word");
  BOOST_TEST(acl.host == "::1");
  BOOST_TEST(acl.port == 7000);
  BOOST_TEST(acl.describe() == "redis://[::1]:7000/5");

  Endpoint socket = flightplan::redis::parse_url("unix:///run/redis/r.sock?db=3&user=bob&password=pw");
  BOOST_TEST((socket.transport == Endpoint::Transport::unix_socket));
  BOOST_TEST(socket.socket_path == "/run/redis/r.sock");
  BOOST_TEST(socket.database == 3);
  BOOST_TEST(socket.username == "bob");
  BOOST_TEST(socket.password == "pw");
  BOOST_TEST(socket.describe() == "unix:///run/redis/r.sock?db=3");
}

BOOST_AUTO_TEST_CASE(rejects_bad_urls_naming_the_problem) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"http://host", "unsupported scheme 'http'"},
      {"localhost:6379", "unsupported scheme none"},
      {"redis://", "missing host"},
      {"redis://host:99999", "port '99999' is not an integer in 1..65535"},
      {"redis://host:abc", "port 'abc'"},
      {"redis://host:", "empty port"},
      {"redis://host/x", "database 'x' is not an integer"},
      {"redis://host/-1", "database '-1'"},
      {"redis://alice@host", "user given without a password"},
      {"redis://:@host", "empty password"},
      {"redis://[::1:6379", "IPv6 host '[::1:6379' lacks ']'"},
      {"redis://host?db=1", "query parameters are only supported for unix://"},
      {"unix://relative.sock", "unix socket path must be absolute"},
      {"unix:///x.sock?dbx=1", "unknown query parameter 'dbx'"},
      {"unix:///x.sock?db=two", "database 'two'"},
  };
  for (const auto& [url, expected] : cases) {
    OperationError error = expect_error([&] { flightplan::redis::parse_url(url); });
    BOOST_TEST(error.category() == ErrorCategory::invalid_argument, url);
    BOOST_TEST(contains(error.what(), "redis url: " + expected), url << " -> " << error.what());
  }
}

BOOST_AUTO_TEST_CASE(never_shows_the_password) {
  OperationError bad_port = expect_error([] { flightplan::redis::parse_url("redis://:hunter2@host:port"); });
  BOOST_TEST(!contains(bad_port.what(), "hunter2"), bad_port.what());
  OperationError bad_escape = expect_error([] { flightplan::redis::parse_url("redis://:hunter2%zz@host"); });
  BOOST_TEST(contains(bad_escape.what(), "password has a '%' not followed by two hex digits"),
             bad_escape.what());
  BOOST_TEST(!contains(bad_escape.what(), "hunter2"), bad_escape.what());
}

BOOST_AUTO_TEST_CASE(client_rejects_bad_settings) {
  ClientSettings zero_timeout = settings_for("redis://localhost");
  zero_timeout.command_timeout_ms = 0;
  OperationError error = expect_error([&] { Client client(zero_timeout); });
  BOOST_TEST(error.category() == ErrorCategory::invalid_argument);
  BOOST_TEST(contains(error.what(), "command_timeout_ms must be positive"), error.what());

  ClientSettings inverted_backoff = settings_for("redis://localhost");
  inverted_backoff.reconnect_backoff_max_ms = 10;
  error = expect_error([&] { Client client(inverted_backoff); });
  BOOST_TEST(contains(error.what(), "reconnect_backoff_max_ms must be at least"), error.what());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(commands)

BOOST_AUTO_TEST_CASE(set_get_is_binary_safe) {
  RedisServer server;
  Client client(settings_for(server.url()));
  std::string key("k\0ey", 4);
  std::string value;
  for (int byte = 0; byte < 256; ++byte) value += static_cast<char>(byte);
  value += std::string("\r\n\0end", 6);

  BOOST_TEST(client.command({"SET", key, value}) == Reply::status("OK"));
  BOOST_TEST(client.command({"GET", key}) == Reply::string(value));
  BOOST_TEST(client.command({"STRLEN", key}).as_integer() == 262);
  BOOST_TEST(client.command({"GET", std::string("k\0ex", 4)}).is_nil());
  BOOST_TEST(client.command({"SET", "empty", ""}) == Reply::status("OK"));
  BOOST_TEST(client.command({"GET", "empty"}) == Reply::string(""));
}

BOOST_AUTO_TEST_CASE(pipeline_returns_every_reply_in_order) {
  RedisServer server;
  Client client(settings_for(server.url()));
  std::vector<std::vector<std::string>> commands;
  for (int i = 0; i < 1000; ++i) commands.push_back({"INCR", "counter"});
  commands[500] = {"LPUSH", "counter", "x"};  // fails in place, the others still run

  std::vector<Reply> replies = client.pipeline(commands);
  BOOST_TEST_REQUIRE(replies.size() == 1000u);
  for (int i = 0; i < 1000; ++i) {
    if (i == 500) continue;
    BOOST_TEST(replies[i] == Reply::integer(i < 500 ? i + 1 : i), "reply " << i);
  }
  BOOST_TEST(replies[500].error_code() == "WRONGTYPE");
  BOOST_TEST(client.command({"GET", "counter"}) == Reply::string("999"));
  BOOST_TEST(client.pipeline({}).empty());
}

BOOST_AUTO_TEST_CASE(pipeline_has_a_limit) {
  RedisServer server;
  ClientSettings settings = settings_for(server.url());
  settings.pipeline_commands_max = 10;
  Client client(settings);
  std::vector<std::vector<std::string>> commands(11, {"PING"});
  OperationError error = expect_error([&] { client.pipeline(commands); });
  BOOST_TEST(error.category() == ErrorCategory::invalid_argument);
  BOOST_TEST(contains(error.what(), "pipeline of 11 commands exceeds pipeline_commands_max=10"),
             error.what());
  commands.pop_back();
  BOOST_TEST(client.pipeline(commands).size() == 10u);
}

BOOST_AUTO_TEST_CASE(error_replies_are_typed_and_keep_the_connection) {
  RedisServer server;
  Client client(settings_for(server.url()));
  client.command({"SET", "text", "v"});

  OperationError wrong_type = expect_error([&] { client.command({"LPUSH", "text", "x"}); });
  BOOST_TEST(wrong_type.category() == ErrorCategory::internal);
  BOOST_TEST(contains(wrong_type.what(), "redis LPUSH on unix://"), wrong_type.what());
  BOOST_TEST(contains(wrong_type.what(), "WRONGTYPE Operation against a key holding the wrong kind of value"),
             wrong_type.what());

  OperationError unknown = expect_error([&] { client.command({"NOSUCHCOMMAND"}); });
  BOOST_TEST(unknown.category() == ErrorCategory::internal);
  BOOST_TEST(contains(unknown.what(), "unknown command"), unknown.what());

  BOOST_TEST(client.connected());
  Reply text = client.command({"GET", "text"});
  BOOST_TEST(text == Reply::string("v"));
  OperationError mismatch = expect_error([&] { text.as_integer(); });
  BOOST_TEST(mismatch.category() == ErrorCategory::internal);
  BOOST_TEST(contains(mismatch.what(), "expected an integer, got string \"v\""), mismatch.what());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(scripts)

BOOST_AUTO_TEST_CASE(evalsha_after_one_load_and_noscript_recovery) {
  RedisServer server;
  Client client(settings_for(server.url()));
  Script script("add", "local total = redis.call('INCRBY', KEYS[1], ARGV[1]) return {total, ARGV[2]}");
  BOOST_TEST(script.sha1().empty());

  auto add = [&](const std::string& amount) {
    return client.eval_script(script, {"total"}, {amount, "tag"});
  };
  BOOST_TEST(add("5") == Reply::array({Reply::integer(5), Reply::string("tag")}));
  BOOST_TEST(add("2") == Reply::array({Reply::integer(7), Reply::string("tag")}));
  BOOST_TEST(script.sha1().size() == 40u);
  BOOST_TEST(Script(script).sha1() == script.sha1());  // copies share the SHA1
  BOOST_TEST(client.command({"SCRIPT", "EXISTS", script.sha1()}) == Reply::array({Reply::integer(1)}));

  client.command({"SCRIPT", "FLUSH"});
  BOOST_TEST(client.command({"SCRIPT", "EXISTS", script.sha1()}) == Reply::array({Reply::integer(0)}));
  BOOST_TEST(add("3") == Reply::array({Reply::integer(10), Reply::string("tag")}));

  // One load per connection plus one after the flush; EVALSHA only, never EVAL of the text.
  BOOST_TEST(command_calls(client, "script|load") == 2);
  BOOST_TEST(command_calls(client, "evalsha") == 4);  // 3 answered + 1 NOSCRIPT
  BOOST_TEST(command_calls(client, "eval") == 0);
}

BOOST_AUTO_TEST_CASE(each_connection_loads_once) {
  RedisServer server;
  Script script("get", "return redis.call('GET', KEYS[1])");
  Client first(settings_for(server.url()));
  Client second(settings_for(server.url()));
  first.command({"SET", "k", "v"});
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST(first.eval_script(script, {"k"}, {}) == Reply::string("v"));
    BOOST_TEST(second.eval_script(script, {"k"}, {}) == Reply::string("v"));
  }
  BOOST_TEST(command_calls(first, "script|load") == 2);
  first.disconnect();  // a new connection loads again
  BOOST_TEST(first.eval_script(script, {"k"}, {}) == Reply::string("v"));
  BOOST_TEST(command_calls(first, "script|load") == 3);
}

BOOST_AUTO_TEST_CASE(script_errors_pass_through_with_their_category) {
  RedisServer server;
  Client client(settings_for(server.url()));

  Script conflict("commit", "return redis.error_reply('CONFLICT expected version 3, found 4')");
  OperationError conflicted = expect_error([&] { client.eval_script(conflict, {"wf"}, {}); });
  BOOST_TEST(conflicted.category() == ErrorCategory::conflict);
  BOOST_TEST(contains(conflicted.what(), "script 'commit'"), conflicted.what());
  BOOST_TEST(contains(conflicted.what(), "CONFLICT expected version 3, found 4"), conflicted.what());

  Script failing("failing", "return redis.error_reply('ERR boom happened')");
  OperationError failed = expect_error([&] { client.eval_script(failing, {}, {}); });
  BOOST_TEST(failed.category() == ErrorCategory::internal);
  BOOST_TEST(contains(failed.what(), "ERR boom happened"), failed.what());

  Script raising("raising", "error('kaput')");
  OperationError raised = expect_error([&] { client.eval_script(raising, {}, {}); });
  BOOST_TEST(raised.category() == ErrorCategory::internal);
  BOOST_TEST(contains(raised.what(), "kaput"), raised.what());

  Script broken("broken", "return (");
  OperationError compile = expect_error([&] { client.eval_script(broken, {}, {}); });
  BOOST_TEST(compile.category() == ErrorCategory::internal);
  BOOST_TEST(contains(compile.what(), "SCRIPT LOAD of 'broken'"), compile.what());
  BOOST_TEST(contains(compile.what(), "Error compiling script"), compile.what());
  BOOST_TEST(client.command({"PING"}) == Reply::status("PONG"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(failures)

BOOST_AUTO_TEST_CASE(command_timeout_then_recovery) {
  RedisServer server;
  Client client(quick_settings(server.url()));
  client.command({"SET", "a", "1"});

  auto start = SteadyClock::now();
  OperationError timed_out = expect_error([&] { client.command({"DEBUG", "SLEEP", "1"}); });
  std::int64_t waited_ms = elapsed_ms(start);
  BOOST_TEST(timed_out.category() == ErrorCategory::unavailable);
  BOOST_TEST(contains(timed_out.what(), "redis DEBUG on unix://"), timed_out.what());
  BOOST_TEST(contains(timed_out.what(), "timed out (command_timeout_ms=200)"), timed_out.what());
  BOOST_TEST(waited_ms >= 150);
  BOOST_TEST(waited_ms < 900);
  BOOST_TEST(!client.connected());

  // The server is still asleep for a while; the client recovers as soon as it answers, and the
  // late "+OK" of DEBUG SLEEP never shows up as the reply of a later command.
  auto deadline = SteadyClock::now() + std::chrono::seconds(5);
  std::optional<Reply> value;
  while (!value && SteadyClock::now() < deadline) {
    try {
      value = client.command({"GET", "a"});
    } catch (const OperationError& error) {
      BOOST_TEST_REQUIRE(error.category() == ErrorCategory::unavailable, error.what());
    }
  }
  BOOST_TEST_REQUIRE(value.has_value());
  BOOST_TEST(*value == Reply::string("1"));
  BOOST_TEST(client.command({"ECHO", "x"}) == Reply::string("x"));
}

BOOST_AUTO_TEST_CASE(killed_server_fails_fast_then_reconnects) {
  RedisServer server;
  Client client(quick_settings(server.url()));
  client.ping();
  server.kill9();

  for (int call = 1; call <= 2; ++call) {
    auto start = SteadyClock::now();
    OperationError error = expect_error([&] { client.ping(); });
    BOOST_TEST(error.category() == ErrorCategory::unavailable);
    BOOST_TEST(elapsed_ms(start) < quick_call_bound_ms, "call " << call << " took " << elapsed_ms(start));
    BOOST_TEST(contains(error.what(), "gave up after 3 connection attempts"), error.what());
    BOOST_TEST(contains(error.what(), "cannot connect to unix://"), error.what());
  }

  server.restart();
  client.ping();  // may first wait out the remaining backoff, at most reconnect_backoff_max_ms
  BOOST_TEST(client.connected());
}

BOOST_AUTO_TEST_CASE(unreachable_socket_is_unavailable_within_the_bound) {
  ClientSettings settings = quick_settings("unix:///nonexistent-flightplan-dir/redis.sock");
  Client client(settings);
  auto start = SteadyClock::now();
  OperationError error = expect_error([&] { client.command({"GET", "x"}); });
  BOOST_TEST(error.category() == ErrorCategory::unavailable);
  BOOST_TEST(elapsed_ms(start) >= 50 + 100);  // the two backoff waits between the three attempts
  BOOST_TEST(elapsed_ms(start) < quick_call_bound_ms);
  BOOST_TEST(contains(error.what(), "No such file or directory"), error.what());
}

BOOST_AUTO_TEST_CASE(restart_between_calls_is_invisible_and_select_is_resent) {
  RedisServer server;
  Client client(settings_for(server.url() + "?db=2"));
  std::string before = client.command({"CLIENT", "INFO"}).as_string();
  BOOST_TEST(contains(before, " db=2 "), before);
  std::string run_id_before = run_id(client);

  server.restart();
  // The closed idle connection is noticed before sending, so this very call succeeds.
  std::string after = client.command({"CLIENT", "INFO"}).as_string();
  BOOST_TEST(contains(after, " db=2 "), after);
  BOOST_TEST(run_id_before != run_id(client));  // really another server process
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(authentication)

BOOST_AUTO_TEST_CASE(password_and_acl_user) {
  RedisServerOptions options;
  options.tcp = true;
  options.password = "s3cret-pw";
  RedisServer server(options);
  BOOST_TEST(contains(server.url(), "redis://:s3cret-pw@127.0.0.1:"), server.url());

  Client client(settings_for(server.url()));
  client.ping();
  client.command({"ACL", "SETUSER", "alice", "on", ">alice-pw", "~*", "+@all"});
  std::string alice_url = "redis://alice:alice-pw@" + server.url().substr(server.url().find('@') + 1);
  Client alice(settings_for(alice_url));
  BOOST_TEST(alice.command({"ACL", "WHOAMI"}) == Reply::string("alice"));
}

BOOST_AUTO_TEST_CASE(wrong_or_missing_password_is_a_clear_error) {
  RedisServerOptions options;
  options.password = "s3cret-pw";
  RedisServer server(options);

  Client wrong(settings_for(server.url_with_password("not-the-password-42")));
  OperationError refused = expect_error([&] { wrong.ping(); });
  BOOST_TEST(refused.category() == ErrorCategory::invalid_argument);
  BOOST_TEST(contains(refused.what(), "redis AUTH on unix://"), refused.what());
  BOOST_TEST(contains(refused.what(), "was refused: WRONGPASS"), refused.what());
  BOOST_TEST(contains(refused.what(), "check the user and password in the redis url"), refused.what());
  BOOST_TEST(!contains(refused.what(), "not-the-password-42"), refused.what());

  Client missing(settings_for(server.url_with_password("")));
  OperationError no_auth = expect_error([&] { missing.ping(); });
  BOOST_TEST(no_auth.category() == ErrorCategory::invalid_argument);
  BOOST_TEST(contains(no_auth.what(), "NOAUTH"), no_auth.what());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(durability)

// AOF with fsync on every write survives a crash; AUTH and SELECT are re-sent on reconnect.
BOOST_AUTO_TEST_CASE(aof_always_survives_kill9) {
  RedisServerOptions options;
  options.appendonly = true;
  options.appendfsync = "always";
  options.password = "aof-pw";
  RedisServer server(options);
  Client client(settings_for(server.url() + "&db=3"));
  client.command({"SET", "key", "value"});
  client.command({"RPUSH", "list", "a", "b", "c"});

  server.kill9();
  server.restart();
  BOOST_TEST(client.command({"GET", "key"}) == Reply::string("value"));
  BOOST_TEST(client.command({"LRANGE", "list", "0", "-1"}) ==
             Reply::array({Reply::string("a"), Reply::string("b"), Reply::string("c")}));
  Client database_zero(settings_for(server.url()));
  BOOST_TEST(database_zero.command({"GET", "key"}).is_nil());
}

BOOST_AUTO_TEST_CASE(aof_everysec_survives_a_clean_restart) {
  RedisServerOptions options;
  options.appendonly = true;
  options.appendfsync = "everysec";
  RedisServer server(options);
  Client client(settings_for(server.url()));
  client.command({"SET", "key", "kept"});
  server.restart();
  BOOST_TEST(client.command({"GET", "key"}) == Reply::string("kept"));
}

BOOST_AUTO_TEST_CASE(without_aof_a_restart_loses_data) {
  RedisServerOptions options;  // the control case: proves the tests above really read from the AOF
  options.appendonly = false;
  RedisServer server(options);
  Client client(settings_for(server.url()));
  client.command({"SET", "key", "gone"});
  server.restart();
  BOOST_TEST(client.command({"GET", "key"}).is_nil());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(pool)

BOOST_AUTO_TEST_CASE(four_threads_share_two_clients) {
  RedisServer server;
  ClientPoolSettings settings;
  settings.client = settings_for(server.url());
  settings.client_count = 2;
  settings.borrow_timeout_ms = 5000;
  ClientPool pool(settings);

  std::atomic<int> leased{0};
  std::atomic<int> leased_max{0};
  std::atomic<int> failures{0};
  auto work = [&] {
    for (int i = 0; i < 250; ++i) {
      try {
        ClientPool::Lease lease = pool.borrow();
        int now_leased = ++leased;
        int seen = leased_max.load();
        while (now_leased > seen && !leased_max.compare_exchange_weak(seen, now_leased)) {
        }
        lease->command({"INCR", "counter"});
        --leased;
      } catch (const std::exception&) {
        ++failures;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back(work);
  for (auto& thread : threads) thread.join();

  BOOST_TEST(failures.load() == 0);
  BOOST_TEST(leased_max.load() <= 2);
  BOOST_TEST(pool.idle_count() == 2u);
  BOOST_TEST(pool.borrow()->command({"GET", "counter"}) == Reply::string("1000"));
}

BOOST_AUTO_TEST_CASE(borrow_waits_a_bounded_time) {
  RedisServer server;
  ClientPoolSettings settings;
  settings.client = settings_for(server.url());
  settings.client_count = 1;
  settings.borrow_timeout_ms = 100;
  ClientPool pool(settings);
  {
    ClientPool::Lease held = pool.borrow();
    auto start = SteadyClock::now();
    OperationError busy = expect_error([&] { pool.borrow(); });
    BOOST_TEST(busy.category() == ErrorCategory::unavailable);
    BOOST_TEST(elapsed_ms(start) >= 90);
    BOOST_TEST(elapsed_ms(start) < 2000);
    BOOST_TEST(contains(busy.what(), "all 1 clients stayed busy for 100 ms"), busy.what());
    BOOST_TEST(pool.idle_count() == 0u);
  }
  BOOST_TEST(pool.idle_count() == 1u);
  pool.borrow()->ping();
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace

// `flightplan dev` blocks SIGTERM in every thread (it takes the signal on one) before it starts its
// private redis-server. The child must not inherit that mask: it would ignore stop()'s SIGTERM, be
// killed after stop_timeout_ms and lose what it had not fsynced yet.
BOOST_AUTO_TEST_CASE(a_server_started_with_sigterm_blocked_still_stops_gracefully) {
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigset_t previous;
  pthread_sigmask(SIG_BLOCK, &term, &previous);
  flightplan::redis::ServerOptions options;
  options.appendonly = true;
  options.stop_timeout_ms = 20'000;
  flightplan::redis::ServerProcess server(options);
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  const auto stopping = std::chrono::steady_clock::now();
  server.stop();
  BOOST_TEST((std::chrono::steady_clock::now() - stopping < std::chrono::seconds(10)));
  std::ifstream log(server.dir() + "/redis.log");
  const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  BOOST_TEST(text.find("Received SIGTERM") != std::string::npos, text);
}

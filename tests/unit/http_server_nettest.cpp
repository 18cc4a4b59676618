#define BOOST_TEST_MODULE http_server
// The HTTP foundation: routing, problem+json errors and JSON bodies as pure functions, then the
// Beast server over real sockets on 127.0.0.1 (limits, timeouts, keep-alive, pipelining, stop).
// Every wait is bounded: a client operation gives up after io_timeout, a poll after poll_timeout.
#include "flightplan/engine/error.hpp"
#include "flightplan/http/problem.hpp"
#include "flightplan/http/router.hpp"
#include "flightplan/http/server.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace flightplan::engine {
inline std::ostream& operator<<(std::ostream& out, ErrorCategory category) {
  return out << to_string(category);
}
}  // namespace flightplan::engine

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using flightplan::engine::ErrorCategory;
using flightplan::engine::OperationError;
using namespace flightplan::http;
using nlohmann::json;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

constexpr auto io_timeout = 5s;
constexpr auto poll_timeout = 5s;

// ---------------------------------------------------------------------------------------------------
// The routes the tests talk to, and what the hooks saw.

struct Observed {
  std::mutex mutex;
  std::vector<std::string> errors;  // "request-id: message"
  struct Access {
    std::string method, route_pattern, request_id;
    int status = 0;
    std::int64_t duration_us = -1;
  };
  std::vector<Access> accesses;
  std::atomic<bool> ready{true};
  std::atomic<int> slow_handlers_entered{0};
  // Parked requests (GET /park/{key}): the wake each one's subscribe() was given, by key.
  std::map<std::string, std::function<void()>> wakes;
  std::atomic<int> unsubscribed{0};
  std::atomic<int> answered{0};

  std::function<void()> wake_of(const std::string& key) {
    std::lock_guard lock(mutex);
    auto it = wakes.find(key);
    return it == wakes.end() ? nullptr : it->second;
  }

  std::vector<Access> access_log() {
    std::lock_guard lock(mutex);
    return accesses;
  }
  std::vector<std::string> error_log() {
    std::lock_guard lock(mutex);
    return errors;
  }
};

ErrorCategory category_named(const std::string& name) {
  for (const auto category :
       {ErrorCategory::invalid_argument, ErrorCategory::not_found, ErrorCategory::conflict,
        ErrorCategory::unavailable, ErrorCategory::timeout, ErrorCategory::internal}) {
    if (to_string(category) == name) return category;
  }
  throw std::invalid_argument("no category " + name);
}

Router make_router(Observed& observed) {
  Router router;
  add_builtin_routes(router, [&observed] { return observed.ready.load(); });
  router.add("GET", "/api/v1/workflows/{id}/signals/{name}", [](const Request& request) {
    return json_response(200, {{"id", request.path_param("id")}, {"name", request.path_param("name")}});
  });
  router.add("POST", "/api/v1/workflows/{id}/signals/{name}", [](const Request&) {
    return json_response(202, {{"accepted", true}});
  });
  router.add("GET", "/api/v1/workflows/{id}", [](const Request& request) {
    return json_response(200, {{"workflow", request.path_param("id")}});
  });
  router.add("GET", "/api/v1/workflows/stats", [](const Request&) {
    return json_response(200, {{"stats", true}});
  });
  router.add("GET", "/query", [](const Request& request) { return json_response(200, json(request.query)); });
  router.add("GET", "/header", [](const Request& request) {
    return json_response(200, {{"x-test", std::string(request.headers.find("x-test").value_or("<none>"))}});
  });
  router.add("POST", "/echo",
             [](const Request& request) { return json_response(200, parse_json_body(request)); });
  router.add("GET", "/boom", [](const Request&) -> Response {
    throw std::runtime_error("database password hunter2 rejected");
  });
  router.add("GET", "/fail/{category}", [](const Request& request) -> Response {
    throw OperationError(category_named(request.path_param("category")), "it failed because of reasons");
  });
  router.add("GET", "/order/{n}", [](const Request& request) {
    return json_response(200, {{"n", request.path_param("n")}});
  });
  router.add("GET", "/slow", [&observed](const Request& request) {
    ++observed.slow_handlers_entered;
    const int sleep_ms = std::stoi(std::string(request.query_param("ms").value_or("100")));
    std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
    return json_response(200, {{"slept_ms", sleep_ms}});
  });
  // A long poll: parks for ?wait= ms; /park/now wakes itself from subscribe().
  router.add("GET", "/park/{key}", [&observed](const Request& request) {
    const std::string key = request.path_param("key");
    auto parked = std::make_shared<Parked>();
    parked->wait_ms = std::stoll(std::string(request.query_param("wait").value_or("5000")));
    parked->subscribe = [&observed, key](std::function<void()> wake) {
      if (key == "now") wake();
      std::lock_guard lock(observed.mutex);
      observed.wakes[key] = std::move(wake);
      return std::function<void()>([&observed] { ++observed.unsubscribed; });
    };
    parked->answer = [&observed, key] {
      ++observed.answered;
      if (key == "boom") throw OperationError(ErrorCategory::conflict, "the answer failed");
      return json_response(200, {{"answered", key}});
    };
    Response response;
    response.parked = std::move(parked);
    return response;
  });
  router.add("GET", "/no-content", [](const Request&) {
    Response response;
    response.status = 204;
    return response;
  });
  return router;
}

HttpServerSettings test_settings() {
  HttpServerSettings settings;
  settings.threads = 2;
  settings.handler_threads = 4;
  settings.read_timeout_ms = 2'000;
  settings.keep_alive_timeout_ms = 2'000;
  settings.stop_timeout_ms = 3'000;
  return settings;
}

struct TestServer {
  explicit TestServer(const HttpServerSettings& settings = test_settings(),
                      std::function<std::string()> id_generator = nullptr) {
    HttpServerHooks hooks;
    hooks.error_log = [this](std::string_view request_id, std::string_view message) {
      std::lock_guard lock(observed.mutex);
      observed.errors.push_back(std::string(request_id) + ": " + std::string(message));
    };
    hooks.access_log = [this](const AccessLogEntry& entry) {
      std::lock_guard lock(observed.mutex);
      observed.accesses.push_back({std::string(entry.method), std::string(entry.route_pattern),
                                   std::string(entry.request_id), entry.status, entry.duration_us});
    };
    hooks.request_id_generator = std::move(id_generator);
    server = std::make_unique<HttpServer>(settings, make_router(observed), std::move(hooks));
    server->start();
  }

  Observed observed;
  std::unique_ptr<HttpServer> server;
};

// Waits for `condition`, at most poll_timeout.
template <class Condition>
bool eventually(Condition condition) {
  const auto deadline = SteadyClock::now() + poll_timeout;
  while (SteadyClock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return condition();
}

// ---------------------------------------------------------------------------------------------------
// A Beast client on its own io_context. Each operation runs the context until it completes; the
// stream's deadline guarantees that it does.

using WireResponse = bhttp::response<bhttp::string_body>;

class Client {
 public:
  explicit Client(std::uint16_t port) : port_(port) {}

  beast::error_code connect() {
    const asio::ip::tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port_);
    return run([&](auto done) {
      stream_.async_connect(endpoint, [done](beast::error_code error) { done(error); });
    });
  }

  void send(const std::string& raw) {
    const auto error = run([&](auto done) {
      asio::async_write(stream_, asio::buffer(raw), [done](beast::error_code e, std::size_t) { done(e); });
    });
    BOOST_REQUIRE_MESSAGE(!error, "send failed: " + error.message());
  }

  // The next response, or nothing when the connection ended or io_timeout passed first.
  std::optional<WireResponse> read_response() {
    WireResponse response;
    const auto error = run([&](auto done) {
      bhttp::async_read(stream_, buffer_, response, [done](beast::error_code e, std::size_t) { done(e); });
    });
    if (error) return std::nullopt;
    return response;
  }

  // True when the server closes the connection within io_timeout; what it sends first is ignored.
  bool closed_by_server() {
    for (;;) {
      std::array<char, 4096> scratch{};
      beast::error_code error;
      run([&](auto done) {
        stream_.async_read_some(asio::buffer(scratch), [&error, done](beast::error_code e, std::size_t) {
          error = e;
          done(e);
        });
      });
      if (error == beast::error::timeout) return false;
      if (error) return true;  // end of stream or reset: closed
    }
  }

 private:
  template <class Start>
  beast::error_code run(Start start) {
    beast::error_code result;
    bool finished = false;
    stream_.expires_after(io_timeout);
    start([&](beast::error_code error) {
      result = error;
      finished = true;
    });
    io_context_.restart();
    io_context_.run();
    BOOST_REQUIRE(finished);
    return result;
  }

  std::uint16_t port_;
  asio::io_context io_context_;
  beast::tcp_stream stream_{io_context_};
  beast::flat_buffer buffer_;
};

std::string get(const std::string& target, const std::string& extra_headers = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: test\r\n" + extra_headers + "\r\n";
}

std::string post(const std::string& target, const std::string& body, const std::string& extra_headers = "") {
  return "POST " + target + " HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + extra_headers + "\r\n" + body;
}

// Checks what every response carries, then returns it.
WireResponse expect_response(Client& client) {
  auto response = client.read_response();
  BOOST_REQUIRE_MESSAGE(response, "no response within the deadline");
  // RFC 9110 forbids Content-Length on a 204; every other response has one.
  if (response->result_int() != 204) BOOST_TEST(response->count(bhttp::field::content_length) == 1u);
  BOOST_TEST(!(*response)["X-Request-Id"].empty());
  return *response;
}

WireResponse round_trip(std::uint16_t port, const std::string& raw) {
  Client client(port);
  BOOST_REQUIRE(!client.connect());
  client.send(raw);
  return expect_response(client);
}

json body_of(const WireResponse& response) { return json::parse(response.body()); }

// A request as the server would hand it to handle_request().
Request request_for(std::string method, std::string target, std::string body = "",
                    std::string content_type = "application/json") {
  Request request;
  request.method = std::move(method);
  request.target = std::move(target);
  request.body = std::move(body);
  if (!content_type.empty()) request.headers.add("Content-Type", std::move(content_type));
  request.request_id = "test-1";
  return request;
}

Response handle(const Router& router, Request request, std::vector<std::string>* errors = nullptr) {
  return handle_request(router, request, [errors](std::string_view id, std::string_view message) {
    if (errors) errors->push_back(std::string(id) + ": " + std::string(message));
  });
}

void check_problem(const Response& response, int status, const std::string& slug,
                   const std::string& detail_part) {
  BOOST_TEST(response.status == status);
  BOOST_TEST(response.content_type == "application/problem+json");
  const json body = json::parse(response.body);
  BOOST_TEST(body.at("type").get<std::string>() == "https://flightplan.dev/problems/" + slug);
  BOOST_TEST(body.at("status").get<int>() == status);
  BOOST_TEST(!body.at("title").get<std::string>().empty());
  BOOST_TEST(body.at("detail").get<std::string>().find(detail_part) != std::string::npos, body.dump());
  BOOST_TEST(body.contains("instance"));
}

}  // namespace

// ===================================================================================================
// Pure: router, query, problems, JSON bodies.

BOOST_AUTO_TEST_SUITE(routing)

BOOST_AUTO_TEST_CASE(matches_a_pattern_and_percent_decodes_its_parameters) {
  Observed observed;
  const Router router = make_router(observed);
  Request request = request_for("GET", "/api/v1/workflows/order%201/signals/pay%C3%A9+now?x=1");
  const Response response = handle_request(router, request, nullptr);
  BOOST_TEST(response.status == 200);
  // '+' is literal in a path; only query strings read it as a space.
  BOOST_TEST(json::parse(response.body) == (json{{"id", "order 1"}, {"name", "pay\xC3\xA9+now"}}));
  BOOST_TEST(request.route_pattern == "/api/v1/workflows/{id}/signals/{name}");
  BOOST_TEST(request.path == "/api/v1/workflows/order%201/signals/pay%C3%A9+now");
  BOOST_TEST(request.query.at("x") == "1");
}

BOOST_AUTO_TEST_CASE(a_literal_segment_beats_a_parameter) {
  Observed observed;
  const Router router = make_router(observed);
  BOOST_TEST(json::parse(handle(router, request_for("GET", "/api/v1/workflows/stats")).body) ==
             (json{{"stats", true}}));
  BOOST_TEST(json::parse(handle(router, request_for("GET", "/api/v1/workflows/w-1")).body) ==
             (json{{"workflow", "w-1"}}));
}

BOOST_AUTO_TEST_CASE(unknown_path_is_404_and_other_method_is_405_with_allow) {
  Observed observed;
  const Router router = make_router(observed);
  check_problem(handle(router, request_for("GET", "/api/v1/nothing")), 404, "not-found", "no resource");
  check_problem(handle(router, request_for("GET", "/healthz/")), 404, "not-found", "no resource");
  // An empty segment matches no parameter.
  check_problem(handle(router, request_for("GET", "/api/v1/workflows//signals/x")), 404, "not-found", "");
  const Response response = handle(router, request_for("DELETE", "/api/v1/workflows/w-1/signals/pay"));
  check_problem(response, 405, "method-not-allowed", "GET, POST");
  BOOST_TEST(response.headers.find("allow").value_or("") == "GET, POST");
}

BOOST_AUTO_TEST_CASE(path_tricks_in_parameters_are_400) {
  Observed observed;
  const Router router = make_router(observed);
  const auto check = [&router](const std::string& id, const std::string& why) {
    BOOST_TEST_CONTEXT("id " << id) {
      check_problem(handle(router, request_for("GET", "/api/v1/workflows/" + id + "/signals/s")), 400,
                    "invalid-argument", "path parameter 'id' " + why);
    }
  };
  check("a%2Fb", "contains '/'");
  check("a%2fb", "contains '/'");
  check("a%5Cb", "contains '/' or '\\'");
  check("x%2e%2ey", "contains '..'");
  check("a..b", "contains '..'");
  check("a%00b", "contains NUL");
  check("a%0Ab", "contains NUL or a control character");
  check("a%7Fb", "contains NUL or a control character");
  check("%FF", "is not valid UTF-8");
  check("%C0%AF", "is not valid UTF-8");  // an overlong '/'
  check("a%zzb", "has a malformed %-escape");
  check("a%4", "has a malformed %-escape");
  check(std::string(257, 'a'), "is longer than 256 bytes");
  BOOST_TEST(handle(router, request_for("GET", "/api/v1/workflows/" + std::string(256, 'a') + "/signals/s"))
                 .status == 200);
}

BOOST_AUTO_TEST_CASE(dot_segments_and_odd_targets_are_400_anywhere) {
  Observed observed;
  const Router router = make_router(observed);
  check_problem(handle(router, request_for("GET", "/api/v1/workflows/../healthz")), 400, "invalid-argument",
                "'..'");
  check_problem(handle(router, request_for("GET", "/api/%2e%2e/healthz")), 400, "invalid-argument", "'..'");
  check_problem(handle(router, request_for("GET", "/./healthz")), 400, "invalid-argument", "'.'");
  check_problem(handle(router, request_for("GET", "http://example.com/healthz")), 400, "invalid-argument",
                "absolute path");
  check_problem(handle(router, request_for("OPTIONS", "*")), 400, "invalid-argument", "absolute path");
}

BOOST_AUTO_TEST_CASE(router_refuses_malformed_and_clashing_patterns) {
  Router router;
  const Handler handler = [](const Request&) { return Response{}; };
  router.add("GET", "/a/{id}", handler);
  BOOST_CHECK_THROW(router.add("GET", "a/b", handler), std::invalid_argument);
  BOOST_CHECK_THROW(router.add("GET", "/a/x{id}", handler), std::invalid_argument);
  BOOST_CHECK_THROW(router.add("GET", "/a/{}", handler), std::invalid_argument);
  BOOST_CHECK_THROW(router.add("GET", "/b/{id}/{id}", handler), std::invalid_argument);
  BOOST_CHECK_THROW(router.add("GET", "/a/{other}", handler), std::invalid_argument);  // same shape
  router.add("PUT", "/a/{other}", handler);  // another method is fine
  BOOST_TEST(router.match("PUT", "/a/1").pattern == "/a/{other}");
}

BOOST_AUTO_TEST_CASE(query_strings_are_decoded_into_a_map) {
  const auto query = parse_query("a=1&b=x+y%20z&flag&&c=%2B%26&d=");
  const std::map<std::string, std::string> expected{
      {"a", "1"}, {"b", "x y z"}, {"flag", ""}, {"c", "+&"}, {"d", ""}};
  BOOST_TEST((query == expected));
  BOOST_TEST(parse_query("").empty());
  try {
    parse_query("a=1&a=2");
    BOOST_FAIL("a repeated key was accepted");
  } catch (const OperationError& error) {
    BOOST_TEST(error.category() == ErrorCategory::invalid_argument);
    BOOST_TEST(std::string(error.what()) == "query parameter 'a' is given more than once");
  }
  BOOST_CHECK_THROW(parse_query("a=%G1"), OperationError);

  Observed observed;
  const Router router = make_router(observed);
  const Response response = handle(router, request_for("GET", "/query?name=J%C3%BCrgen+K&limit=10"));
  BOOST_TEST(json::parse(response.body) == (json{{"limit", "10"}, {"name", "J\xC3\xBCrgen K"}}));
  check_problem(handle(router, request_for("GET", "/query?a=%zz")), 400, "invalid-argument",
                "query parameter 'a' has a malformed %-escape");
}

BOOST_AUTO_TEST_CASE(header_lookup_ignores_case) {
  Headers headers;
  headers.add("X-Test", "one");
  headers.add("x-test", "two");
  BOOST_TEST(headers.find("X-TEST").value_or("") == "one");
  BOOST_TEST(!headers.find("X-Other"));
  headers.set("X-TEST", "three");
  BOOST_TEST(headers.size() == 1u);
  BOOST_TEST(headers.find("x-test").value_or("") == "three");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(problems)

BOOST_AUTO_TEST_CASE(each_category_maps_to_its_status_and_a_problem_body) {
  struct Row {
    ErrorCategory category;
    int status;
    std::string slug;
  };
  const std::vector<Row> rows = {{ErrorCategory::invalid_argument, 400, "invalid-argument"},
                                 {ErrorCategory::not_found, 404, "not-found"},
                                 {ErrorCategory::conflict, 409, "conflict"},
                                 {ErrorCategory::unavailable, 503, "unavailable"},
                                 {ErrorCategory::timeout, 504, "timeout"},
                                 {ErrorCategory::internal, 500, "internal"}};
  Observed observed;
  const Router router = make_router(observed);
  for (const Row& row : rows) {
    BOOST_TEST_CONTEXT(row.category) {
      BOOST_TEST(http_status(row.category) == row.status);
      const Response response = problem_response(row.category, "what happened", "/api/v1/workflows/w-1");
      check_problem(response, row.status, row.slug, "what happened");
      const json body = json::parse(response.body);
      BOOST_TEST(body.size() == 5u);
      BOOST_TEST(body.at("instance") == "/api/v1/workflows/w-1");
      // The same mapping applies to a handler's OperationError.
      const std::string target = "/fail/" + std::string(to_string(row.category));
      const Response thrown = handle(router, request_for("GET", target));
      BOOST_TEST(thrown.status == row.status);
      BOOST_TEST(json::parse(thrown.body).at("instance") == target);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_generic_exception_is_500_and_its_message_only_logged) {
  Observed observed;
  const Router router = make_router(observed);
  std::vector<std::string> errors;
  const Response response = handle(router, request_for("GET", "/boom"), &errors);
  check_problem(response, 500, "internal", "request id test-1");
  BOOST_TEST(response.body.find("hunter2") == std::string::npos);
  BOOST_REQUIRE(errors.size() == 1u);
  BOOST_TEST(errors[0] == "test-1: database password hunter2 rejected");

  // An internal OperationError is treated the same way: its text describes our insides.
  errors.clear();
  const Response internal = handle(router, request_for("GET", "/fail/internal"), &errors);
  BOOST_TEST(internal.status == 500);
  BOOST_TEST(internal.body.find("reasons") == std::string::npos);
  BOOST_TEST(errors.size() == 1u);
}

BOOST_AUTO_TEST_CASE(json_bodies_need_the_right_type_and_valid_json) {
  Observed observed;
  const Router router = make_router(observed);
  BOOST_TEST(json::parse(handle(router, request_for("POST", "/echo", R"({"a":[1,2]})")).body) ==
             json::parse(R"({"a":[1,2]})"));
  BOOST_TEST(handle(router, request_for("POST", "/echo", "{}", "Application/JSON; charset=utf-8")).status ==
             200);
  check_problem(handle(router, request_for("POST", "/echo", "{\"a\": tru}")), 400, "invalid-argument",
                "malformed JSON body at byte 10");
  check_problem(handle(router, request_for("POST", "/echo", "{}", "text/plain")), 415,
                "unsupported-media-type", "not 'text/plain'");
  check_problem(handle(router, request_for("POST", "/echo", "{}", "")), 415, "unsupported-media-type",
                "missing");
  check_problem(handle(router, request_for("POST", "/echo", "")), 400, "invalid-argument", "empty");

  BOOST_TEST(parse_json_body(request_for("POST", "/echo", "[[[1]]]"), 3) == json::parse("[[[1]]]"));
  BOOST_TEST(parse_json_body(request_for("POST", "/echo", "7"), 3) == json(7));
  for (const std::string deep_body : {"[[[[1]]]]", "[[[[]]]]", R"({"a":{"b":[{"c":1}]}})"}) {
    BOOST_TEST_CONTEXT(deep_body) {
      try {
        parse_json_body(request_for("POST", "/echo", deep_body), 3);
        BOOST_FAIL("a body nested too deep was accepted");
      } catch (const ProblemError& error) {
        check_problem(error.response(), 400, "invalid-argument", "nests more than 3 arrays or objects deep");
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(request_ids_are_accepted_only_when_sane) {
  BOOST_TEST(is_sane_request_id("abc-123_x.y:z"));
  BOOST_TEST(is_sane_request_id(std::string(128, 'a')));
  BOOST_TEST(!is_sane_request_id(std::string(129, 'a')));
  BOOST_TEST(!is_sane_request_id(""));
  BOOST_TEST(!is_sane_request_id("has space"));
  BOOST_TEST(!is_sane_request_id("new\nline"));
}

BOOST_AUTO_TEST_SUITE_END()

// ===================================================================================================
// Over sockets.

BOOST_AUTO_TEST_SUITE(server)

BOOST_AUTO_TEST_CASE(healthz_and_readyz_both_ways) {
  TestServer test;
  const std::uint16_t port = test.server->port();
  BOOST_TEST(port != 0);
  const auto health = round_trip(port, get("/healthz"));
  BOOST_TEST(health.result_int() == 200u);
  BOOST_TEST(body_of(health) == (json{{"status", "ok"}}));
  BOOST_TEST(round_trip(port, get("/readyz")).result_int() == 200u);
  test.observed.ready = false;
  const auto not_ready = round_trip(port, get("/readyz"));
  BOOST_TEST(not_ready.result_int() == 503u);
  BOOST_TEST(not_ready[bhttp::field::content_type] == "application/problem+json");
  BOOST_TEST(body_of(not_ready).at("type") == "https://flightplan.dev/problems/unavailable");
  BOOST_TEST(body_of(not_ready).at("instance") == "/readyz");
}

BOOST_AUTO_TEST_CASE(routing_and_errors_reach_the_wire) {
  TestServer test;
  const std::uint16_t port = test.server->port();
  const auto found = round_trip(port, get("/api/v1/workflows/a%20b/signals/go"));
  BOOST_TEST(body_of(found) == (json{{"id", "a b"}, {"name", "go"}}));
  const auto traversal = round_trip(port, get("/api/v1/workflows/%2e%2e%2F%2e%2e/signals/go"));
  BOOST_TEST(traversal.result_int() == 400u);
  const auto nul = round_trip(port, get("/api/v1/workflows/a%00/signals/go"));
  BOOST_TEST(nul.result_int() == 400u);
  const auto wrong_method =
      round_trip(port, "PATCH /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
  BOOST_TEST(wrong_method.result_int() == 405u);
  BOOST_TEST(wrong_method[bhttp::field::allow] == "GET");
  const auto boom = round_trip(port, get("/boom", "X-Request-Id: boom-1\r\n"));
  BOOST_TEST(boom.result_int() == 500u);
  BOOST_TEST(boom.body().find("hunter2") == std::string::npos);
  const auto errors = test.observed.error_log();
  BOOST_TEST((std::find(errors.begin(), errors.end(), "boom-1: database password hunter2 rejected") !=
              errors.end()));
  const auto no_content = round_trip(port, get("/no-content"));
  BOOST_TEST(no_content.result_int() == 204u);
  BOOST_TEST(no_content.body().empty());
}

BOOST_AUTO_TEST_CASE(header_lookup_is_case_insensitive_on_the_wire) {
  TestServer test;
  const auto response = round_trip(test.server->port(), get("/header", "X-TEST: shouting\r\n"));
  BOOST_TEST(body_of(response) == (json{{"x-test", "shouting"}}));
}

BOOST_AUTO_TEST_CASE(body_over_the_limit_is_413_then_close) {
  auto settings = test_settings();
  settings.body_bytes_max = 1024;
  TestServer test(settings);
  Client client(test.server->port());
  BOOST_REQUIRE(!client.connect());
  // The whole oversized body is sent: the server must drain it rather than reset the connection
  // before the client reads the answer.
  client.send(post("/echo", "[" + std::string(std::size_t{64} * 1024, ' ') + "]", "X-Request-Id: big-1\r\n"));
  const auto response = expect_response(client);
  BOOST_TEST(response.result_int() == 413u);
  BOOST_TEST(response[bhttp::field::content_type] == "application/problem+json");
  BOOST_TEST(response["X-Request-Id"] == "big-1");
  BOOST_TEST(body_of(response).at("detail") == "the request body is larger than 1024 bytes");
  BOOST_TEST(body_of(response).at("instance") == "/echo");
  BOOST_TEST(!response.keep_alive());
  BOOST_TEST(client.closed_by_server());
}

BOOST_AUTO_TEST_CASE(header_over_the_limit_is_431_then_close) {
  auto settings = test_settings();
  settings.header_bytes_max = 4096;
  TestServer test(settings);
  Client client(test.server->port());
  BOOST_REQUIRE(!client.connect());
  client.send(get("/healthz", "X-Padding: " + std::string(std::size_t{8} * 1024, 'p') + "\r\n"));
  const auto response = expect_response(client);
  BOOST_TEST(response.result_int() == 431u);
  BOOST_TEST(body_of(response).at("type") == "https://flightplan.dev/problems/header-fields-too-large");
  BOOST_TEST(!response.keep_alive());
  BOOST_TEST(client.closed_by_server());
}

BOOST_AUTO_TEST_CASE(malformed_json_and_wrong_content_type_on_the_wire) {
  TestServer test;
  const std::uint16_t port = test.server->port();
  const auto malformed = round_trip(port, post("/echo", "{\"delivery\": [1, 2,]}"));
  BOOST_TEST(malformed.result_int() == 400u);
  BOOST_TEST(body_of(malformed).at("detail").get<std::string>().find("malformed JSON body at byte 20") !=
                 std::string::npos,
             malformed.body());
  const auto echoed = round_trip(port, post("/echo", R"({"x":1})"));
  BOOST_TEST(body_of(echoed) == (json{{"x", 1}}));
  const auto wrong_type = round_trip(
      port, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}");
  BOOST_TEST(wrong_type.result_int() == 415u);
}

BOOST_AUTO_TEST_CASE(a_malformed_request_line_is_400_then_close) {
  TestServer test;
  Client client(test.server->port());
  BOOST_REQUIRE(!client.connect());
  client.send("GET /healthz NOT-HTTP\r\nHost: t\r\n\r\n");
  const auto response = expect_response(client);
  BOOST_TEST(response.result_int() == 400u);
  BOOST_TEST(client.closed_by_server());
}

BOOST_AUTO_TEST_CASE(keep_alive_serves_two_requests_on_one_connection) {
  TestServer test;
  Client client(test.server->port());
  BOOST_REQUIRE(!client.connect());
  client.send(get("/order/1"));
  const auto first = expect_response(client);
  client.send(get("/order/2"));
  const auto second = expect_response(client);
  BOOST_TEST(body_of(first) == (json{{"n", "1"}}));
  BOOST_TEST(body_of(second) == (json{{"n", "2"}}));
  BOOST_TEST(first.keep_alive());
  BOOST_TEST(first["X-Request-Id"] != second["X-Request-Id"]);
  BOOST_TEST(test.server->connection_count() == 1u);
}

BOOST_AUTO_TEST_CASE(pipelined_requests_are_answered_in_order) {
  auto settings = test_settings();
  settings.pipeline_requests_max = 2;  // fewer than the requests sent: reading must pause and resume
  TestServer test(settings);
  Client client(test.server->port());
  BOOST_REQUIRE(!client.connect());
  // The first is the slowest; the others finish first on other handler threads but must wait.
  std::string burst = get("/slow?ms=200", "X-Request-Id: p0\r\n");
  for (int i = 1; i <= 4; ++i)
    burst += get("/order/" + std::to_string(i), "X-Request-Id: p" + std::to_string(i) + "\r\n");
  client.send(burst);
  const auto slow = expect_response(client);
  BOOST_TEST(slow["X-Request-Id"] == "p0");
  BOOST_TEST(body_of(slow) == (json{{"slept_ms", 200}}));
  for (int i = 1; i <= 4; ++i) {
    const auto response = expect_response(client);
    BOOST_TEST(response["X-Request-Id"] == "p" + std::to_string(i));
    BOOST_TEST(body_of(response) == (json{{"n", std::to_string(i)}}));
  }
}

BOOST_AUTO_TEST_CASE(expect_100_continue_gets_a_go_ahead) {
  TestServer test;
  Client client(test.server->port());
  BOOST_REQUIRE(!client.connect());
  client.send(
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 7\r\n"
      "Expect: 100-continue\r\n\r\n");
  const auto go_ahead = client.read_response();
  BOOST_REQUIRE(go_ahead);
  BOOST_TEST(go_ahead->result_int() == 100u);
  client.send(R"({"a":1})");
  const auto response = expect_response(client);
  BOOST_TEST(body_of(response) == (json{{"a", 1}}));
}

BOOST_AUTO_TEST_CASE(a_client_that_stalls_mid_request_is_cut_off) {
  auto settings = test_settings();
  settings.read_timeout_ms = 300;
  TestServer test(settings);
  Client in_header(test.server->port());
  BOOST_REQUIRE(!in_header.connect());
  in_header.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Le");
  Client in_body(test.server->port());
  BOOST_REQUIRE(!in_body.connect());
  in_body.send(
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: "
      "100\r\n\r\n{\"a\"");
  BOOST_TEST(in_header.closed_by_server());
  BOOST_TEST(in_body.closed_by_server());
  BOOST_TEST(eventually([&] { return test.server->connection_count() == 0; }));
}

BOOST_AUTO_TEST_CASE(an_idle_connection_is_closed_after_the_keep_alive_timeout) {
  auto settings = test_settings();
  settings.keep_alive_timeout_ms = 200;
  TestServer test(settings);
  Client client(test.server->port());
  BOOST_REQUIRE(!client.connect());
  client.send(get("/healthz"));
  BOOST_TEST(expect_response(client).result_int() == 200u);
  BOOST_TEST(client.closed_by_server());
}

BOOST_AUTO_TEST_CASE(a_slow_handler_is_answered_with_504) {
  auto settings = test_settings();
  settings.request_timeout_ms = 100;
  TestServer test(settings);
  Client client(test.server->port());
  BOOST_REQUIRE(!client.connect());
  client.send(get("/slow?ms=500", "X-Request-Id: late-1\r\n"));
  const auto response = expect_response(client);
  BOOST_TEST(response.result_int() == 504u);
  BOOST_TEST(body_of(response).at("detail") == "the request was not handled within 100 ms");
  // The connection goes on serving.
  client.send(get("/order/7"));
  BOOST_TEST(body_of(expect_response(client)) == (json{{"n", "7"}}));
  const auto log = test.observed.access_log();
  BOOST_REQUIRE(!log.empty());
  BOOST_TEST(log.front().request_id == "late-1");
  BOOST_TEST(log.front().route_pattern == "/slow");
  BOOST_TEST(log.front().status == 504);
}

BOOST_AUTO_TEST_CASE(connections_over_the_limit_get_503) {
  auto settings = test_settings();
  settings.connections_max = 2;
  TestServer test(settings);
  const std::uint16_t port = test.server->port();
  auto first = std::make_unique<Client>(port);
  Client second(port);
  for (Client* client : {first.get(), &second}) {
    BOOST_REQUIRE(!client->connect());
    client->send(get("/healthz"));
    BOOST_TEST(expect_response(*client).result_int() == 200u);
  }
  Client third(port);
  BOOST_REQUIRE(!third.connect());
  third.send(get("/healthz"));
  const auto refused = expect_response(third);
  BOOST_TEST(refused.result_int() == 503u);
  BOOST_TEST(body_of(refused).at("detail") == "the server is at its connection limit; retry later");
  BOOST_TEST(third.closed_by_server());

  first.reset();  // closing one makes room again
  BOOST_TEST(eventually([&] { return test.server->connection_count() == 1; }));
  BOOST_TEST(round_trip(port, get("/healthz")).result_int() == 200u);
}

BOOST_AUTO_TEST_CASE(stop_lets_an_in_flight_request_finish) {
  TestServer test;
  const std::uint16_t port = test.server->port();
  Client idle(port);
  BOOST_REQUIRE(!idle.connect());
  idle.send(get("/healthz"));
  BOOST_TEST(expect_response(idle).result_int() == 200u);

  Client busy(port);
  BOOST_REQUIRE(!busy.connect());
  busy.send(get("/slow?ms=300"));
  BOOST_REQUIRE(eventually([&] { return test.observed.slow_handlers_entered.load() == 1; }));
  auto stopped = std::async(std::launch::async, [&] { test.server->stop(); });

  const auto response = expect_response(busy);
  BOOST_TEST(response.result_int() == 200u);
  BOOST_TEST(body_of(response) == (json{{"slept_ms", 300}}));
  BOOST_TEST(!response.keep_alive());
  BOOST_TEST(busy.closed_by_server());
  BOOST_TEST(idle.closed_by_server());
  BOOST_REQUIRE(stopped.wait_for(io_timeout) == std::future_status::ready);
  BOOST_TEST(test.server->connection_count() == 0u);
  Client late(port);
  BOOST_TEST(late.connect().failed());  // no longer listening
  test.server->stop();                  // idempotent
}

BOOST_AUTO_TEST_CASE(stop_closes_what_outlives_its_deadline) {
  auto settings = test_settings();
  settings.stop_timeout_ms = 100;
  TestServer test(settings);
  Client busy(test.server->port());
  BOOST_REQUIRE(!busy.connect());
  busy.send(get("/slow?ms=1500"));
  BOOST_REQUIRE(eventually([&] { return test.observed.slow_handlers_entered.load() == 1; }));
  auto stopped = std::async(std::launch::async, [&] { test.server->stop(); });
  BOOST_TEST(!busy.read_response());  // closed without an answer
  BOOST_REQUIRE(stopped.wait_for(io_timeout) == std::future_status::ready);
}

BOOST_AUTO_TEST_CASE(request_ids_are_echoed_when_sane_and_generated_otherwise) {
  std::atomic<int> generated{0};
  TestServer test(test_settings(), [&generated] { return "gen-" + std::to_string(++generated); });
  const std::uint16_t port = test.server->port();
  BOOST_TEST(round_trip(port, get("/healthz", "X-Request-Id: trace-42\r\n"))["X-Request-Id"] == "trace-42");
  BOOST_TEST(round_trip(port, get("/healthz"))["X-Request-Id"] == "gen-1");
  BOOST_TEST(round_trip(port, get("/healthz", "X-Request-Id: not sane!\r\n"))["X-Request-Id"] == "gen-2");
  // Error responses carry one too.
  BOOST_TEST(round_trip(port, get("/missing"))["X-Request-Id"] == "gen-3");
}

BOOST_AUTO_TEST_CASE(every_request_reaches_the_access_log) {
  TestServer test;
  const std::uint16_t port = test.server->port();
  round_trip(port, get("/api/v1/workflows/w-9/signals/go",
                       "X-Request-Id: log-1\r\nAuthorization: Bearer s3cret\r\n"));
  round_trip(port, get("/missing", "X-Request-Id: log-2\r\n"));
  BOOST_REQUIRE(eventually([&] { return test.observed.access_log().size() == 2; }));
  const auto log = test.observed.access_log();
  BOOST_TEST(log[0].method == "GET");
  BOOST_TEST(log[0].route_pattern == "/api/v1/workflows/{id}/signals/{name}");
  BOOST_TEST(log[0].status == 200);
  BOOST_TEST(log[0].request_id == "log-1");
  BOOST_TEST(log[0].duration_us >= 0);
  BOOST_TEST(log[1].route_pattern == "");
  BOOST_TEST(log[1].status == 404);
  BOOST_TEST(log[1].request_id == "log-2");
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------------
// Parked requests (long polls): answered when woken or when their wait is over, holding no thread.

BOOST_AUTO_TEST_CASE(a_parked_request_is_answered_when_woken) {
  TestServer test;
  Client client(test.server->port());
  BOOST_REQUIRE(!client.connect());
  const auto sent = SteadyClock::now();
  client.send(get("/park/a?wait=20000"));
  BOOST_REQUIRE(eventually([&] { return test.observed.wake_of("a") != nullptr; }));
  BOOST_TEST(test.observed.answered.load() == 0);
  test.observed.wake_of("a")();
  const auto response = expect_response(client);
  BOOST_TEST(response.result_int() == 200u);
  BOOST_TEST(body_of(response) == (json{{"answered", "a"}}));
  BOOST_TEST((SteadyClock::now() - sent < 10s));  // long before its wait would have ended
  BOOST_TEST(eventually([&] { return test.observed.unsubscribed.load() == 1; }));
  test.observed.wake_of("a")();  // a late or second wake is harmless
  client.send(get("/order/1"));
  BOOST_TEST(body_of(expect_response(client)) == (json{{"n", "1"}}));
}

BOOST_AUTO_TEST_CASE(a_parked_request_is_answered_when_its_wait_is_over) {
  TestServer test;
  Client client(test.server->port());
  BOOST_REQUIRE(!client.connect());
  const auto sent = SteadyClock::now();
  client.send(get("/park/b?wait=300"));
  const auto response = expect_response(client);
  BOOST_TEST(body_of(response) == (json{{"answered", "b"}}));
  BOOST_TEST((SteadyClock::now() - sent >= 300ms));
  BOOST_TEST(test.observed.unsubscribed.load() == 1);
}

BOOST_AUTO_TEST_CASE(a_wake_during_subscribe_answers_at_once) {
  TestServer test;
  Client client(test.server->port());
  BOOST_REQUIRE(!client.connect());
  const auto sent = SteadyClock::now();
  client.send(get("/park/now?wait=20000"));
  BOOST_TEST(body_of(expect_response(client)) == (json{{"answered", "now"}}));
  BOOST_TEST((SteadyClock::now() - sent < 10s));
}

BOOST_AUTO_TEST_CASE(a_failing_answer_becomes_a_problem_response) {
  TestServer test;
  Client client(test.server->port());
  BOOST_REQUIRE(!client.connect());
  client.send(get("/park/boom?wait=50"));
  const auto response = expect_response(client);
  BOOST_TEST(response.result_int() == 409u);
  BOOST_TEST(body_of(response)["detail"] == "the answer failed");
}

BOOST_AUTO_TEST_CASE(parked_requests_hold_no_handler_thread) {
  auto settings = test_settings();
  settings.handler_threads = 1;
  TestServer test(settings);
  std::vector<std::unique_ptr<Client>> parked;
  for (int i = 0; i < 5; ++i) {
    parked.push_back(std::make_unique<Client>(test.server->port()));
    BOOST_REQUIRE(!parked.back()->connect());
    parked.back()->send(get("/park/p" + std::to_string(i) + "?wait=20000"));
  }
  BOOST_REQUIRE(eventually([&] { return test.observed.wake_of("p4") != nullptr; }));
  Client other(test.server->port());
  BOOST_REQUIRE(!other.connect());
  other.send(get("/order/7"));
  BOOST_TEST(body_of(expect_response(other)) == (json{{"n", "7"}}));
  for (int i = 0; i < 5; ++i) test.observed.wake_of("p" + std::to_string(i))();
  for (int i = 0; i < 5; ++i)
    BOOST_TEST(body_of(expect_response(*parked[static_cast<std::size_t>(i)])) ==
               (json{{"answered", "p" + std::to_string(i)}}));
}

BOOST_AUTO_TEST_CASE(a_pipelined_request_waits_behind_a_parked_one) {
  TestServer test;
  Client client(test.server->port());
  BOOST_REQUIRE(!client.connect());
  client.send(get("/park/c?wait=400") + get("/order/2"));
  BOOST_TEST(body_of(expect_response(client)) == (json{{"answered", "c"}}));
  BOOST_TEST(body_of(expect_response(client)) == (json{{"n", "2"}}));
}

BOOST_AUTO_TEST_CASE(the_wait_is_shortened_to_fit_the_request_timeout) {
  auto settings = test_settings();
  settings.request_timeout_ms = 1'200;  // a reserve of 300 ms: the wait ends after about 900 ms
  TestServer test(settings);
  Client client(test.server->port());
  BOOST_REQUIRE(!client.connect());
  client.send(get("/park/d?wait=60000"));
  const auto response = expect_response(client);
  BOOST_TEST(response.result_int() == 200u);  // answered, not a 504
  BOOST_TEST(body_of(response) == (json{{"answered", "d"}}));
}

BOOST_AUTO_TEST_CASE(stop_answers_parked_requests_at_once) {
  TestServer test;
  Client client(test.server->port());
  BOOST_REQUIRE(!client.connect());
  client.send(get("/park/e?wait=20000"));
  BOOST_REQUIRE(eventually([&] { return test.observed.wake_of("e") != nullptr; }));
  const auto stopping = SteadyClock::now();
  auto stopped = std::async(std::launch::async, [&] { test.server->stop(); });
  const auto response = expect_response(client);
  BOOST_TEST(body_of(response) == (json{{"answered", "e"}}));
  BOOST_TEST(!response.keep_alive());
  BOOST_REQUIRE(stopped.wait_for(io_timeout) == std::future_status::ready);
  BOOST_TEST((SteadyClock::now() - stopping < 5s));
}

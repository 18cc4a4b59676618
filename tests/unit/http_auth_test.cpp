#define BOOST_TEST_MODULE http_auth
// Bearer tokens and route access without sockets: the token table and its file formats, the
// constant-time comparison, and handle_request() with the bearer authorizer on a router whose routes
// are public, viewer and operator.
#include "flightplan/http/auth.hpp"
#include "flightplan/http/problem.hpp"
#include "flightplan/http/router.hpp"

#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

namespace {

using namespace flightplan::http;
using nlohmann::json;

constexpr std::string_view operator_token = "op-0123456789abcdef";
constexpr std::string_view viewer_token = "view-0123456789abcdef";

std::shared_ptr<const TokenTable> tokens() {
  auto table = std::make_shared<TokenTable>();
  table->add(Role::operator_, std::string(operator_token), "alice");
  table->add(Role::viewer, std::string(viewer_token), "dashboard");
  return table;
}

// GET /open (public), GET /things (viewer by method), POST /things (operator by method),
// GET /secret (operator, given explicitly). Each handler answers with the caller it saw.
Router guarded_router() {
  Router router;
  const auto echo_caller = [](const Request& request) {
    return json_response(200, {{"caller", request.caller}});
  };
  router.add("GET", "/open", echo_caller, Access::public_);
  router.add("GET", "/things/{id}", echo_caller);
  router.add("POST", "/things/{id}", echo_caller);
  router.add("GET", "/secret", echo_caller, Access::operator_);
  router.set_authorizer(bearer_authorizer(tokens()));
  return router;
}

Response call(const Router& router, const std::string& method, const std::string& target,
              std::optional<std::string> authorization = std::nullopt) {
  Request request;
  request.method = method;
  request.target = target;
  request.request_id = "req-test";
  if (authorization) request.headers.add("Authorization", *authorization);
  return handle_request(router, request, {});
}

std::string bearer(std::string_view token) { return "Bearer " + std::string(token); }

json body_of(const Response& response) { return json::parse(response.body); }

void expect_401(const Response& response, const std::string& detail_part) {
  BOOST_TEST(response.status == 401);
  BOOST_TEST(response.content_type == "application/problem+json");
  BOOST_TEST(response.headers.find("WWW-Authenticate").value_or("") == "Bearer realm=\"flightplan\"");
  const json problem = body_of(response);
  BOOST_TEST(problem.at("type") == "https://flightplan.dev/problems/unauthorized");
  BOOST_TEST(problem.at("status") == 401);
  BOOST_TEST(problem.at("detail").get<std::string>().find(detail_part) != std::string::npos, problem.dump());
}

}  // namespace

BOOST_AUTO_TEST_CASE(access_defaults_by_method_and_is_listed) {
  const Router router = guarded_router();
  const auto routes = router.routes();
  BOOST_REQUIRE_EQUAL(routes.size(), 4u);
  BOOST_TEST(routes[0].pattern == "/open");
  BOOST_TEST((routes[0].access == Access::public_));
  BOOST_TEST((routes[1].access == Access::viewer));
  BOOST_TEST(routes[2].method == "POST");
  BOOST_TEST((routes[2].access == Access::operator_));
  BOOST_TEST((routes[3].access == Access::operator_));
  BOOST_TEST(to_string(Access::public_) == "public");
}

BOOST_AUTO_TEST_CASE(public_routes_need_no_token) {
  const Router router = guarded_router();
  const Response response = call(router, "GET", "/open");
  BOOST_TEST(response.status == 200);
  BOOST_TEST(body_of(response).at("caller") == "");
}

BOOST_AUTO_TEST_CASE(missing_malformed_and_unknown_tokens_are_401) {
  const Router router = guarded_router();
  for (const char* target : {"/things/1", "/secret"}) {
    expect_401(call(router, "GET", target), "Authorization: Bearer");
    expect_401(call(router, "GET", target, "Basic dXNlcjpwYXNz"), "must be 'Bearer <token>'");
    expect_401(call(router, "GET", target, "Bearer"), "must be 'Bearer <token>'");
    expect_401(call(router, "GET", target, "Bearer "), "must be 'Bearer <token>'");
    expect_401(call(router, "GET", target, bearer("op-0123456789abcdeX")), "not valid");
    expect_401(call(router, "GET", target, bearer(operator_token.substr(1))), "not valid");
    expect_401(call(router, "GET", target, bearer(std::string(operator_token) + "0")), "not valid");
  }
  expect_401(call(router, "POST", "/things/1"), "Authorization");
}

BOOST_AUTO_TEST_CASE(tokens_never_appear_in_a_refusal) {
  const Router router = guarded_router();
  const std::string guess = "guessed-token-value-123";
  const Response unknown = call(router, "GET", "/things/1", bearer(guess));
  BOOST_TEST(unknown.body.find(guess) == std::string::npos);
  const Response forbidden = call(router, "POST", "/things/1", bearer(viewer_token));
  BOOST_TEST(forbidden.body.find(viewer_token) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_viewer_reads_but_may_not_write) {
  const Router router = guarded_router();
  const Response read = call(router, "GET", "/things/1", bearer(viewer_token));
  BOOST_TEST(read.status == 200);
  BOOST_TEST(body_of(read).at("caller") == "dashboard");
  for (const auto& [method, target] : {std::pair{"POST", "/things/1"}, std::pair{"GET", "/secret"}}) {
    const Response refused = call(router, method, target, bearer(viewer_token));
    BOOST_TEST(refused.status == 403);
    BOOST_TEST(refused.content_type == "application/problem+json");
    BOOST_TEST(!refused.headers.contains("WWW-Authenticate"));
    BOOST_TEST(body_of(refused).at("detail").get<std::string>().find("needs the operator role") !=
               std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(an_operator_may_do_everything) {
  const Router router = guarded_router();
  for (const auto& [method, target] :
       {std::pair{"GET", "/things/1"}, std::pair{"POST", "/things/1"}, std::pair{"GET", "/secret"}}) {
    const Response response = call(router, method, target, bearer(operator_token));
    BOOST_TEST(response.status == 200, method << " " << target);
    BOOST_TEST(body_of(response).at("caller") == "alice");
  }
  // The scheme is case-insensitive and blanks around the token are ignored.
  BOOST_TEST(call(router, "GET", "/secret", "bearer   " + std::string(operator_token) + " ").status == 200);
}

BOOST_AUTO_TEST_CASE(authentication_comes_before_parameter_checks_but_after_routing) {
  const Router router = guarded_router();
  // A bad parameter is not revealed to a caller without credentials.
  expect_401(call(router, "GET", "/things/a%2Fb"), "Authorization");
  BOOST_TEST(call(router, "GET", "/things/a%2Fb", bearer(viewer_token)).status == 400);
  // Unknown paths and methods are the same for everyone: the route list is public anyway.
  BOOST_TEST(call(router, "GET", "/nothing").status == 404);
  BOOST_TEST(call(router, "DELETE", "/things/1").status == 405);
}

BOOST_AUTO_TEST_CASE(without_an_authorizer_every_route_is_open) {
  Router router;
  router.add("POST", "/things", [](const Request&) { return json_response(201, json::object()); });
  BOOST_TEST(call(router, "POST", "/things").status == 201);
}

BOOST_AUTO_TEST_CASE(constant_time_comparison_is_still_equality) {
  BOOST_TEST(constant_time_equals("abc", "abc"));
  BOOST_TEST(!constant_time_equals("abc", "abd"));
  BOOST_TEST(!constant_time_equals("abc", "abcabc"));
  BOOST_TEST(!constant_time_equals("abcabc", "abc"));  // the cyclic walk must not make these equal
  BOOST_TEST(!constant_time_equals("", "abc"));
  BOOST_TEST(!constant_time_equals("a", ""));
  BOOST_TEST(constant_time_equals("", ""));
}

BOOST_AUTO_TEST_CASE(bearer_header_parsing) {
  BOOST_TEST(bearer_token("Bearer abc").value_or("") == "abc");
  BOOST_TEST(bearer_token("BEARER\tabc").value_or("") == "abc");
  BOOST_TEST(!bearer_token("Bearerabc").has_value());
  BOOST_TEST(!bearer_token("Token abc").has_value());
  BOOST_TEST(!bearer_token("").has_value());
}

BOOST_AUTO_TEST_CASE(token_file_lines_comments_and_labels) {
  const TokenTable table = parse_token_file(
      "# flightplan tokens\n"
      "operator  op-token-1   Alice on call\n"
      "\n"
      "viewer\tview-token-2 # the dashboard\r\n"
      "   operator op-token-3\n",
      "tokens.txt");
  BOOST_REQUIRE_EQUAL(table.size(), 3u);
  BOOST_TEST(table.find("op-token-1")->label == "Alice on call");
  BOOST_TEST((table.find("op-token-1")->role == Role::operator_));
  BOOST_TEST(table.find("view-token-2")->label == "tokens.txt:4");
  BOOST_TEST((table.find("view-token-2")->role == Role::viewer));
  BOOST_TEST(table.find("op-token-3")->label == "tokens.txt:5");
  BOOST_TEST(!table.find("op-token").has_value());
  BOOST_TEST(table.short_token_labels().size() == 3u);
}

BOOST_AUTO_TEST_CASE(token_file_errors_name_file_and_line_but_never_the_token) {
  const auto message_of = [](std::string_view text) {
    try {
      parse_token_file(text, "tokens.txt");
    } catch (const std::invalid_argument& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  BOOST_TEST(message_of("admin secret-1\n") ==
             "tokens.txt:1: unknown role 'admin' (expected viewer or operator)");
  BOOST_TEST(message_of("\noperator\n") == "tokens.txt:2: expected ROLE TOKEN [LABEL]");
  const std::string duplicate = message_of("operator secret-1 a\nviewer secret-1 b\n");
  BOOST_TEST(duplicate.find("tokens.txt:2:") == 0u, duplicate);
  BOOST_TEST(duplicate.find("listed twice") != std::string::npos, duplicate);
  BOOST_TEST(duplicate.find("secret-1") == std::string::npos, duplicate);
  const std::string too_long = message_of("viewer " + std::string(token_bytes_max + 1, 'x') + "\n");
  BOOST_TEST(too_long.find("longer than 4096 bytes") != std::string::npos, too_long);
  BOOST_CHECK_THROW(load_token_file("/nonexistent/tokens.txt"), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(token_list_from_the_environment) {
  const TokenTable table = parse_token_list("operator:tok1, viewer:tok2,", "FLIGHTPLAN_TOKENS");
  BOOST_REQUIRE_EQUAL(table.size(), 2u);
  BOOST_TEST(table.find("tok1")->label == "FLIGHTPLAN_TOKENS#1");
  BOOST_TEST((table.find("tok2")->role == Role::viewer));
  BOOST_CHECK_THROW(parse_token_list("operator", "FLIGHTPLAN_TOKENS"), std::invalid_argument);
  BOOST_CHECK_THROW(parse_token_list("root:tok", "FLIGHTPLAN_TOKENS"), std::invalid_argument);
  BOOST_CHECK_THROW(parse_token_list("viewer:", "FLIGHTPLAN_TOKENS"), std::invalid_argument);
  BOOST_CHECK_THROW(parse_token_list("viewer:a b", "FLIGHTPLAN_TOKENS"), std::invalid_argument);
}

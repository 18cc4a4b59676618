#pragma once
// Test support for the API v1 suites: requests with extra header fields (Authorization,
// Idempotency-Key, ...) over the blocking loopback client of tests/support/http_client.hpp, raw
// bytes for requests no well-behaved client would send, a token file and a client that sends one
// of its tokens, and the check every suite makes of a problem+json answer.
#include "../support/http_client.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace flightplan::testing {

using HeaderFields = std::vector<std::pair<std::string, std::string>>;

struct ApiRequest {
  std::string method = "GET";
  std::string target = "/";
  std::string body;
  std::string content_type = "application/json";  // sent with a body or a POST; "" sends none
  HeaderFields headers;
  std::int64_t timeout_ms = 20'000;
};

// Sends `raw` as it is and reads one response; nullopt when none arrives within `timeout_ms` or the
// server closes without one.
inline std::optional<HttpResponse> raw_exchange(std::uint16_t port, const std::string& raw,
                                                std::int64_t timeout_ms = 20'000) {
  const auto deadline = detail::SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
  const detail::Socket socket{detail::connect_loopback(port)};
  detail::send_all(socket.fd, raw, deadline);
  std::string buffer;
  HttpResponse response;
  if (!detail::read_response(socket.fd, buffer, response, deadline, false)) return std::nullopt;
  return response;
}

// One request (Connection: close) with the given header fields.
inline HttpResponse api_request(std::uint16_t port, const ApiRequest& request) {
  std::string head =
      request.method + " " + request.target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  for (const auto& [name, value] : request.headers) head += name + ": " + value + "\r\n";
  if (!request.body.empty() || request.method == "POST" || request.method == "PATCH") {
    if (!request.content_type.empty()) head += "Content-Type: " + request.content_type + "\r\n";
    head += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
  }
  const auto response = raw_exchange(port, head + "\r\n" + request.body, request.timeout_ms);
  if (!response)
    throw std::runtime_error("API client: no response to " + request.method + " " + request.target);
  return *response;
}

// Writes `dir`/tokens with one operator and one viewer token, readable by its owner only (the
// server warns about a token file others can read). Returns its path.
inline std::string write_token_file(const std::string& dir, const std::string& operator_token,
                                    const std::string& viewer_token) {
  const std::string path = dir + "/tokens";
  std::ofstream out(path);
  out << "# test tokens\noperator " << operator_token << " test operator\nviewer " << viewer_token
      << " test viewer\n";
  out.close();
  std::filesystem::permissions(path,
                               std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  return path;
}

// Requests to one server, with `token` as the bearer token (nullopt: no Authorization header).
struct TokenClient {
  std::uint16_t port;
  std::optional<std::string> token;

  HttpResponse send(const std::string& method, const std::string& target, const std::string& body = "",
                    const std::string& content_type = "application/json", HeaderFields headers = {}) const {
    if (token) headers.emplace_back("Authorization", "Bearer " + *token);
    return api_request(port, ApiRequest{method, target, body, content_type, std::move(headers)});
  }
  HttpResponse get(const std::string& target) const { return send("GET", target); }
  HttpResponse post(const std::string& target, const std::string& body = "") const {
    return send("POST", target, body);
  }
};

// Checks that `response` is an application/problem+json answer of `status` whose detail contains
// `detail_part`.
inline void expect_problem(const HttpResponse& response, int status, const std::string& detail_part) {
  BOOST_TEST(response.status == status,
             "expected " << status << ", got " << response.status << ": " << response.body);
  BOOST_TEST(response.header("content-type") == "application/problem+json", response.header("content-type"));
  const nlohmann::json problem = response.json();
  BOOST_REQUIRE_MESSAGE(problem.is_object(), "not a JSON object: " + response.body);
  BOOST_TEST(problem.value("status", 0) == status, problem.dump());
  const std::string detail = problem.value("detail", "");
  BOOST_TEST(detail.find(detail_part) != std::string::npos,
             "detail '" << detail << "' lacks '" << detail_part << "'");
}

}  // namespace flightplan::testing

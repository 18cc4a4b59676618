#pragma once
// Test support for the API v1 suites: requests with extra header fields (Authorization,
// Idempotency-Key, ...) over the blocking loopback client of tests/support/http_client.hpp, and raw
// bytes for requests no well-behaved client would send.
#include "../support/http_client.hpp"

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

}  // namespace flightplan::testing

#pragma once
// A blocking HTTP/1.1 client for the CLI's API commands: one request per call on a fresh
// connection, every step (resolve, connect, write, read) under one deadline. Beast stays in the .cpp.
#include <cstdint>
#include <map>
#include <string>

namespace flightplan::cli {

struct Endpoint {
  std::string host;
  std::string port;
};

// "http://HOST:PORT" with an optional trailing "/"; anything else is std::invalid_argument naming
// `option` (the flag the URL came from) and what is wrong.
Endpoint parse_url(const std::string& url, const std::string& option = "--url");

struct ApiResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

class ApiClient {
 public:
  // `token` empty: no Authorization header.
  ApiClient(Endpoint endpoint, std::string token, std::int64_t timeout_ms);

  // Sends one request. Throws std::runtime_error naming the endpoint when the server cannot be
  // reached or does not answer within the deadline; any HTTP status is a normal return.
  ApiResponse request(const std::string& method, const std::string& target, const std::string& body = "",
                      const std::string& content_type = "application/json") const;

 private:
  Endpoint endpoint_;
  std::string token_;
  std::int64_t timeout_ms_;
};

// Percent-encodes one path segment or query value (RFC 3986 unreserved characters stay).
std::string url_encode(const std::string& text);

}  // namespace flightplan::cli

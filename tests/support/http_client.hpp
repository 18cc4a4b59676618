#pragma once
// Test support: a tiny blocking HTTP/1.1 client over a real loopback socket. One request per
// connection (Connection: close), every wait bounded by the call's timeout. A large body is offered
// with "Expect: 100-continue" so a server that refuses it early (413) is heard before the upload.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>

namespace flightplan::testing {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;

  std::string header(const std::string& lower_case_name) const {
    const auto it = headers.find(lower_case_name);
    return it == headers.end() ? "" : it->second;
  }
  // The body as JSON; a body that is not JSON gives a JSON string holding it, so assertions on
  // members fail with the text in the message instead of throwing.
  nlohmann::json json() const {
    const nlohmann::json parsed = nlohmann::json::parse(body, nullptr, false);
    return parsed.is_discarded() ? nlohmann::json(body) : parsed;
  }
};

struct HttpRequest {
  std::string method = "GET";
  std::string target = "/";
  std::string body;
  std::string content_type = "application/json";  // sent with POST and with any body; "" sends none
  std::int64_t timeout_ms = 20'000;
};

namespace detail {

using SteadyClock = std::chrono::steady_clock;

// A connected socket to 127.0.0.1:port; throws std::runtime_error naming the port on failure.
inline int connect_loopback(std::uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("HTTP client: socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    throw std::runtime_error("HTTP client: connect to port " + std::to_string(port) + ": " +
                             std::strerror(errno));
  }
  return fd;
}

// Closes the socket when the request is over, however it ends.
struct Socket {
  int fd;
  ~Socket() { close(fd); }
};

inline int remaining_ms(SteadyClock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
  return static_cast<int>(std::max<std::int64_t>(left, 0));
}

// Waits until `fd` is ready for `events` or the deadline passes; false on timeout.
inline bool wait_ready(int fd, short events, SteadyClock::time_point deadline) {
  pollfd entry{fd, events, 0};
  while (true) {
    const int ready = poll(&entry, 1, remaining_ms(deadline));
    if (ready > 0) return true;
    if (ready == 0) return false;
    if (errno != EINTR) return false;
  }
}

inline void send_all(int fd, const std::string& data, SteadyClock::time_point deadline) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    if (!wait_ready(fd, POLLOUT, deadline)) throw std::runtime_error("HTTP client: timed out sending");
    const ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0) throw std::runtime_error(std::string("HTTP client: send: ") + std::strerror(errno));
    sent += static_cast<std::size_t>(n);
  }
}

// Reads what arrives before the deadline into `buffer`; false on EOF, timeout or error.
inline bool receive_some(int fd, std::string& buffer, SteadyClock::time_point deadline) {
  if (!wait_ready(fd, POLLIN, deadline)) return false;
  char chunk[16384];
  const ssize_t n = recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
  if (n <= 0) return n < 0 && (errno == EAGAIN || errno == EINTR);
  buffer.append(chunk, static_cast<std::size_t>(n));
  return true;
}

// Parses status line and header fields of `head` (without the final blank line).
inline void parse_head(const std::string& head, HttpResponse& response) {
  std::size_t line_end = head.find("\r\n");
  const std::string status_line = head.substr(0, line_end);
  if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12)
    throw std::runtime_error("HTTP client: bad status line '" + status_line + "'");
  response.status = std::stoi(status_line.substr(9, 3));
  while (line_end != std::string::npos && line_end + 2 < head.size()) {
    const std::size_t start = line_end + 2;
    line_end = head.find("\r\n", start);
    const std::string line =
        head.substr(start, line_end == std::string::npos ? std::string::npos : line_end - start);
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    response.headers[name] = value;
  }
}

// Reads one response. With `stop_at_continue` a "100 Continue" is returned like a final response;
// otherwise interim responses are skipped. False when no response head arrived before the deadline.
inline bool read_response(int fd, std::string& buffer, HttpResponse& response,
                          SteadyClock::time_point deadline, bool stop_at_continue) {
  while (true) {
    std::size_t head_end = buffer.find("\r\n\r\n");
    while (head_end == std::string::npos) {
      if (!receive_some(fd, buffer, deadline)) return false;
      head_end = buffer.find("\r\n\r\n");
    }
    response = HttpResponse{};
    parse_head(buffer.substr(0, head_end), response);
    buffer.erase(0, head_end + 4);
    if (response.status == 100) {
      if (stop_at_continue) return true;
      continue;
    }
    const std::string length = response.header("content-length");
    if (!length.empty()) {
      const std::size_t size = std::stoul(length);
      while (buffer.size() < size)
        if (!receive_some(fd, buffer, deadline)) throw std::runtime_error("HTTP client: body cut short");
      response.body = buffer.substr(0, size);
    } else {
      while (receive_some(fd, buffer, deadline)) {
      }
      response.body = buffer;
    }
    return true;
  }
}

}  // namespace detail

// Sends one request to 127.0.0.1:port and returns the response. Throws std::runtime_error when the
// connection fails or no complete response arrives within request.timeout_ms.
inline HttpResponse http_request(std::uint16_t port, const HttpRequest& request) {
  using detail::SteadyClock;
  const auto deadline = SteadyClock::now() + std::chrono::milliseconds(request.timeout_ms);
  const detail::Socket socket{detail::connect_loopback(port)};
  const int fd = socket.fd;
  constexpr std::size_t expect_continue_bytes_min = 64 * 1024;
  const bool expect_continue = request.body.size() >= expect_continue_bytes_min;
  std::string head =
      request.method + " " + request.target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (!request.body.empty() || request.method == "POST") {
    if (!request.content_type.empty()) head += "Content-Type: " + request.content_type + "\r\n";
    head += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
  }
  if (expect_continue) head += "Expect: 100-continue\r\n";
  head += "\r\n";
  std::string buffer;
  HttpResponse response;
  if (expect_continue) {
    detail::send_all(fd, head, deadline);
    // A final answer before the go-ahead means the server refused the body unseen.
    const auto continue_deadline = std::min(deadline, SteadyClock::now() + std::chrono::seconds(2));
    if (detail::read_response(fd, buffer, response, continue_deadline, true) && response.status != 100)
      return response;
    detail::send_all(fd, request.body, deadline);
  } else {
    detail::send_all(fd, head + request.body, deadline);
  }
  if (!detail::read_response(fd, buffer, response, deadline, false))
    throw std::runtime_error("HTTP client: no complete response to " + request.method + " " + request.target +
                             " within " + std::to_string(request.timeout_ms) + " ms");
  return response;
}

inline HttpResponse http_get(std::uint16_t port, const std::string& target,
                             std::int64_t timeout_ms = 20'000) {
  return http_request(port, HttpRequest{"GET", target, "", "application/json", timeout_ms});
}

inline HttpResponse http_post(std::uint16_t port, const std::string& target, const std::string& body,
                              std::int64_t timeout_ms = 20'000) {
  return http_request(port, HttpRequest{"POST", target, body, "application/json", timeout_ms});
}

}  // namespace flightplan::testing

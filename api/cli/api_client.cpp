#include "api_client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <exception>
#include <stdexcept>

namespace flightplan::cli {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

// Responses larger than this are refused: a history export is the largest thing the API returns.
constexpr std::uint64_t response_bytes_max = std::uint64_t{256} * 1024 * 1024;

Endpoint parse_url(const std::string& url, const std::string& option) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) throw std::invalid_argument(option + " '" + url + "' must start with http://");
  std::string rest = url.substr(scheme.size());
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  const auto colon = rest.rfind(':');
  if (rest.find('/') != std::string::npos || colon == std::string::npos || colon == 0 || colon + 1 == rest.size())
    throw std::invalid_argument(option + " '" + url + "' must be http://HOST:PORT (no path)");
  const std::string port = rest.substr(colon + 1);
  if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      std::stoi(port) < 1 || std::stoi(port) > 65535)
    throw std::invalid_argument(option + " '" + url + "': port must be 1..65535");
  return Endpoint{rest.substr(0, colon), port};
}

std::string url_encode(const std::string& text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0xf];
    }
  }
  return out;
}

ApiClient::ApiClient(Endpoint endpoint, std::string token, std::int64_t timeout_ms)
    : endpoint_(std::move(endpoint)), token_(std::move(token)), timeout_ms_(timeout_ms) {}

namespace {

asio::awaitable<void> exchange(const Endpoint& endpoint, bhttp::request<bhttp::string_body>& request,
                               bhttp::response_parser<bhttp::string_body>& parser, std::chrono::milliseconds timeout) {
  auto executor = co_await asio::this_coro::executor;
  asio::ip::tcp::resolver resolver(executor);
  beast::tcp_stream stream(executor);
  // One deadline for the whole exchange: each expires_after restarts from what is left.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto left = [&] {
    return std::max(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()),
                    std::chrono::milliseconds(1));
  };
  const auto addresses = co_await resolver.async_resolve(endpoint.host, endpoint.port, asio::use_awaitable);
  stream.expires_after(left());
  co_await stream.async_connect(addresses, asio::use_awaitable);
  stream.expires_after(left());
  co_await bhttp::async_write(stream, request, asio::use_awaitable);
  beast::flat_buffer buffer;
  stream.expires_after(left());
  co_await bhttp::async_read(stream, buffer, parser, asio::use_awaitable);
  beast::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
}

}  // namespace

ApiResponse ApiClient::request(const std::string& method, const std::string& target, const std::string& body,
                               const std::string& content_type) const {
  bhttp::request<bhttp::string_body> message{bhttp::string_to_verb(method), target, 11};
  message.set(bhttp::field::host, endpoint_.host);
  message.set(bhttp::field::user_agent, "flightplan-cli");
  message.set(bhttp::field::accept, "application/json");
  if (!token_.empty()) message.set(bhttp::field::authorization, "Bearer " + token_);
  if (!body.empty() || method == "POST" || method == "PATCH" || method == "PUT") {
    if (!content_type.empty()) message.set(bhttp::field::content_type, content_type);
    message.body() = body;
  }
  message.keep_alive(false);
  message.prepare_payload();
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(response_bytes_max);
  asio::io_context context;
  std::exception_ptr failure;
  asio::co_spawn(context, exchange(endpoint_, message, parser, std::chrono::milliseconds(timeout_ms_)),
                 [&failure](std::exception_ptr e) { failure = e; });
  context.run();
  const std::string where = "http://" + endpoint_.host + ":" + endpoint_.port;
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const boost::system::system_error& e) {
      if (e.code() == beast::error::timeout)
        throw std::runtime_error(where + " did not answer within " + std::to_string(timeout_ms_) + " ms");
      throw std::runtime_error("cannot reach " + where + ": " + e.code().message());
    }
  }
  const auto& response = parser.get();
  ApiResponse out;
  out.status = static_cast<int>(response.result_int());
  for (const auto& field : response) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    out.headers[name] = std::string(field.value());
  }
  out.body = response.body();
  return out;
}

}  // namespace flightplan::cli

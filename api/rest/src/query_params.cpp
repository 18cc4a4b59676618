#include "query_params.hpp"

#include "flightplan/engine/error.hpp"

#include <algorithm>
#include <cassert>

namespace flightplan::rest {

void bad_request(const std::string& detail) {
  throw engine::OperationError(engine::ErrorCategory::invalid_argument, detail);
}

std::string excerpt(std::string_view text) {
  constexpr std::size_t excerpt_bytes_max = 60;
  return "'" + std::string(text.substr(0, excerpt_bytes_max)) +
         (text.size() > excerpt_bytes_max ? "...'" : "'");
}

void allow_only(const http::Request& request, std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : request.query) {
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    std::string list;
    for (std::string_view name : allowed) list += (list.empty() ? "" : ", ") + std::string(name);
    bad_request("unknown query parameter " + excerpt(key) + " (expected " + (list.empty() ? "none" : list) +
                ")");
  }
}

std::size_t parse_page_size(const http::Request& request, std::size_t size_default, std::size_t size_max) {
  assert(size_default >= 1 && size_default <= size_max);
  const auto limit = request.query_param("limit");
  if (!limit) return size_default;
  // More digits than the largest allowed value has cannot be in range; checking the length first
  // keeps std::stoul from overflowing.
  const std::string text_max = std::to_string(size_max);
  const bool digits = !limit->empty() && limit->size() <= text_max.size() &&
                      std::all_of(limit->begin(), limit->end(), [](char c) { return c >= '0' && c <= '9'; });
  const std::size_t value = digits ? std::stoul(std::string(*limit)) : 0;
  if (value < 1 || value > size_max)
    bad_request("query parameter 'limit' must be an integer from 1 to " + text_max + ", not " +
                excerpt(*limit));
  return value;
}

}  // namespace flightplan::rest

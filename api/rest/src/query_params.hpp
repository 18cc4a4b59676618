#pragma once
// The query-parameter checks every list route of API v1 makes the same way, so that a bad parameter
// gets the same 400 wording wherever it is sent. Private to api/rest.
#include "flightplan/http/message.hpp"

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

namespace flightplan::rest {

// Throws engine::OperationError(invalid_argument) with `detail`: a 400 problem naming what is wrong.
[[noreturn]] void bad_request(const std::string& detail);

// A client value quoted in a message, cut short: 'abc', or 'abc...' when longer than 60 bytes.
std::string excerpt(std::string_view text);

// Refuses query parameters other than `allowed`, naming the first unknown one.
void allow_only(const http::Request& request, std::initializer_list<std::string_view> allowed);

// The page size of a list: query parameter `limit`, an integer from 1 to `size_max`; `size_default`
// when absent. Anything else is a 400 naming 'limit' and the range.
// Precondition: 1 <= size_default <= size_max.
std::size_t parse_page_size(const http::Request& request, std::size_t size_default, std::size_t size_max);

}  // namespace flightplan::rest

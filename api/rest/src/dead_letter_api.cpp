#include "flightplan/rest/dead_letter_api.hpp"

#include "flightplan/engine/duration.hpp"
#include "flightplan/http/problem.hpp"
#include "query_params.hpp"

namespace flightplan::rest {

using nlohmann::json;

json dead_letter_view(const engine::DeadLetter& letter) {
  json view = letter.to_json();
  view["time"] = engine::format_timestamp(letter.time_ms);
  return view;
}

void add_dead_letter_routes(http::Router& router, const DeadLetterApi& api) {
  router.add("GET", "/api/v1/dead-letters", [&api](const http::Request& request) {
    allow_only(request, {"limit"});
    const std::size_t limit = parse_page_size(request, dead_letters_page_default, dead_letters_page_max);
    json items = json::array();
    for (const engine::DeadLetter& letter : api.store.list_dead_letters(limit))
      items.push_back(dead_letter_view(letter));
    // Counted after listing: a letter added between the two reads is in the total, so the total is
    // never smaller than the items shown.
    const std::int64_t total = api.store.count_dead_letters();
    return http::json_response(200, json{{"total", total}, {"items", std::move(items)}});
  });
}

}  // namespace flightplan::rest

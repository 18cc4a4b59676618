#pragma once
// GET /api/v1/dead-letters: the work set aside as poison (tasks no worker could finish, inputs no
// orchestrator could apply), newest first, for operators. See docs/api.md.
#include "flightplan/engine/store.hpp"
#include "flightplan/http/router.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>

namespace flightplan::rest {

struct DeadLetterApi {
  engine::WorkflowStore& store;
};

inline constexpr std::size_t dead_letters_page_default = 100;
inline constexpr std::size_t dead_letters_page_max = 1000;

// Registers GET /api/v1/dead-letters on `router`. `api` must outlive the router's handlers.
void add_dead_letter_routes(http::Router& router, const DeadLetterApi& api);

// One item of the list: DeadLetter::to_json() plus "time", its time_ms as RFC 3339.
nlohmann::json dead_letter_view(const engine::DeadLetter& letter);

}  // namespace flightplan::rest

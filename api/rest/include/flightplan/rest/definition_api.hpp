#pragma once
// REST API v1 for workflow definitions: register one at run time (YAML body, validated exactly as
// `flightplan validate` does), list them, and read one with its source and its task graph. See
// docs/api.md.
#include "flightplan/engine/definition.hpp"
#include "flightplan/http/router.hpp"
#include "flightplan/runtime/clock.hpp"
#include "flightplan/runtime/definitions.hpp"

#include <nlohmann/json.hpp>

namespace flightplan::rest {

struct DefinitionApi {
  runtime::DefinitionRegistry& registry;  // with a store attached (attach_store)
  runtime::Clock& clock;
};

// Registers every /api/v1/definitions route on `router`. `api` must outlive the router's handlers.
void add_definition_routes(http::Router& router, const DefinitionApi& api);

// {"tasks": [Task]}: the definition's top-level task list as a tree. Each Task is
// {"name", "reference", "type", "call"?, "then"?, "condition"?, "children": [{"label", "tasks"}],
//  "cases"?: [{"name", "when"?, "then"}]}; `reference` is the `ref` of that task's history events.
nlohmann::json definition_graph(const engine::Definition& definition);

// Diagnostics listed in a 400 answer at most; the rest are counted in the detail.
inline constexpr std::size_t definition_errors_max = 100;

}  // namespace flightplan::rest

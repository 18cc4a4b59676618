#pragma once
// REST API v1 for workflows: thin handlers over the orchestrator and the store. Each validates the
// request, calls one runtime operation and maps errors through http::problem_response. Routes and
// their bodies are described in docs/api.md.
#include "flightplan/engine/store.hpp"
#include "flightplan/http/router.hpp"
#include "flightplan/memory/local_runtime.hpp"
#include "flightplan/runtime/orchestrator.hpp"

#include <functional>
#include <string>

namespace flightplan::rest {

struct WorkflowApi {
  runtime::Orchestrator& orchestrator;
  engine::WorkflowStore& store;
  memory::Clock& clock;
  std::function<std::string()> new_workflow_id;  // used when a start request names no id
};

// Registers every /api/v1/workflows route on `router`. `api` must outlive the router's handlers.
void add_workflow_routes(http::Router& router, const WorkflowApi& api);

// The public view of a workflow (GET /api/v1/workflows/{id}).
nlohmann::json workflow_view(const engine::StoredWorkflow& stored);

}  // namespace flightplan::rest

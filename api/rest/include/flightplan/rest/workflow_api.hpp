#pragma once
// REST API v1 for workflows: thin handlers over the orchestrator and the store. Each validates the
// request, calls one runtime operation and maps errors through http::problem_response. Routes and
// their bodies are described in docs/api.md.
#include "flightplan/engine/store.hpp"
#include "flightplan/http/router.hpp"
#include "flightplan/runtime/clock.hpp"
#include "flightplan/runtime/close_waiters.hpp"
#include "flightplan/runtime/orchestrator.hpp"

#include <functional>
#include <string>

namespace flightplan::rest {

struct WorkflowApi {
  runtime::Orchestrator& orchestrator;
  engine::WorkflowStore& store;
  runtime::Clock& clock;
  std::function<std::string()> new_workflow_id;  // used when a start request names no id
  // What lets GET /api/v1/workflows/{id}?wait=... answer when the workflow closes instead of being
  // polled; null: `wait` is accepted and answered at once. Must outlive the router's handlers.
  runtime::CloseWaiters* close_waiters = nullptr;
  std::int64_t wait_ms_max = 20'000;  // a longer `wait` is shortened to this
};

// Registers every /api/v1/workflows route on `router`. `api` must outlive the router's handlers.
void add_workflow_routes(http::Router& router, const WorkflowApi& api);

// The public view of a workflow (GET /api/v1/workflows/{id}).
nlohmann::json workflow_view(const engine::StoredWorkflow& stored);

// One row of GET /api/v1/workflows.
nlohmann::json summary_view(const engine::WorkflowSummary& summary);

// The search GET /api/v1/workflows asks for, from its query parameters. Throws
// OperationError(invalid_argument) naming the parameter that is unknown or malformed.
engine::WorkflowQuery parse_workflow_query(const http::Request& request);

// A query parameter that is an instant: RFC 3339 text or epoch milliseconds. Throws
// OperationError(invalid_argument) naming `name` when it is neither.
std::int64_t parse_instant_ms(std::string_view name, std::string_view text);

}  // namespace flightplan::rest

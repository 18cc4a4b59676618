#pragma once
// Operations routes: GET /metrics (Prometheus text, viewer) and GET /api/v1/openapi.json (the API's
// OpenAPI 3.0 document, public; embedded into the binary at build time from api/rest/openapi.json).
#include "flightplan/engine/store.hpp"
#include "flightplan/http/router.hpp"
#include "flightplan/runtime/clock.hpp"
#include "flightplan/metrics/metrics.hpp"

#include <string_view>

namespace flightplan::rest {

struct OperationsApi {
  metrics::Metrics& metrics;
  engine::WorkflowStore& store;  // read for the queue, backlog and timer gauges at each scrape
  runtime::Clock& clock;
};

// Registers GET /metrics and GET /api/v1/openapi.json. `api` must outlive the router's handlers.
void add_operations_routes(http::Router& router, const OperationsApi& api);

// The OpenAPI document as embedded (JSON text).
std::string_view openapi_document();

}  // namespace flightplan::rest

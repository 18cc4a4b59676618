#pragma once
// The Fabrikam delivery API (the seed's Ingestion and Delivery services) over the `delivery`
// workflow: a delivery request starts a workflow whose id is the delivery id; cancel, reschedule and
// confirmation become inputs and signals of that workflow; a delivery and its status are read from
// the workflow's state, the status's position and ETAs computed by the shared flight model at the
// API clock's time. Routes and bodies: docs/delivery-api.md.
#include "flightplan/engine/state.hpp"
#include "flightplan/engine/store.hpp"
#include "flightplan/http/router.hpp"
#include "flightplan/runtime/clock.hpp"
#include "flightplan/runtime/orchestrator.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>

namespace flightplan::rest {

struct DeliveryApi {
  runtime::Orchestrator& orchestrator;
  engine::WorkflowStore& store;
  runtime::Clock& clock;                          // "now" of status requests; may be scaled
  std::function<std::string()> new_delivery_id;  // server-assigned delivery (= workflow) ids
  std::string workflow = "delivery";             // the definition a delivery request starts
};

// Registers /api/deliveryrequests and /api/deliveries routes on `router`. The handlers keep their own
// copy of `api`; the orchestrator, store and clock it refers to must outlive the router.
void add_delivery_routes(http::Router& router, const DeliveryApi& api);

// The pure parts, for tests and for the handlers: each throws engine::OperationError
// (invalid_argument) whose message names the offending field.

// Validates a delivery request body and returns it normalised (times in UTC, the deadline as
// "YYYY-MM-DDTHH:MM:SSZ", which is what the workflow's deadline arithmetic reads).
nlohmann::json normalise_delivery_request(const nlohmann::json& body);
// Validates a reschedule (PATCH) body: a non-empty subset of pickupTime, pickupLocation,
// dropOffLocation, deadline. Returns it normalised like a request.
nlohmann::json normalise_reschedule(const nlohmann::json& body);
// Validates a confirmation body; dateTime defaults to `now_ms`.
nlohmann::json normalise_confirmation(const nlohmann::json& body, std::int64_t now_ms);

// The delivery (GET /api/deliveries/{id}) and its status at `now_ms` (GET .../status) as the
// workflow's state tells them.
nlohmann::json delivery_view(const engine::WorkflowState& state);
nlohmann::json delivery_status(const engine::WorkflowState& state, std::int64_t now_ms);

}  // namespace flightplan::rest

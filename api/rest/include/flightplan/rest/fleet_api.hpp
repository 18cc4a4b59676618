#pragma once
// GET /api/v1/fleet: the drone fleet as operators see it, read from the drone service's records
// (activities::fleet_status) at the API clock's time. See docs/api.md.
#include "flightplan/activities/service_store.hpp"
#include "flightplan/http/router.hpp"
#include "flightplan/runtime/clock.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>

namespace flightplan::rest {

struct FleetApi {
  activities::ServiceStore& services;  // where the drone service keeps its records
  runtime::Clock& clock;               // "now" of the stages and ETAs; may be scaled
};

// Registers GET /api/v1/fleet on `router`. `api` must outlive the router's handlers.
void add_fleet_routes(http::Router& router, const FleetApi& api);

// The answer for `drones` (the array fleet_status returns) at `now_ms`:
// {"drones": drones, "available": n, "assigned": m, "as_of": RFC 3339}.
nlohmann::json fleet_view(nlohmann::json drones, std::int64_t now_ms);

}  // namespace flightplan::rest

#include "flightplan/rest/fleet_api.hpp"

#include "flightplan/activities/fleet.hpp"
#include "flightplan/engine/duration.hpp"
#include "flightplan/http/problem.hpp"
#include "query_params.hpp"

#include <cassert>
#include <string>

namespace flightplan::rest {

using engine::ErrorCategory;
using engine::OperationError;
using nlohmann::json;

json fleet_view(json drones, std::int64_t now_ms) {
  assert(drones.is_array());
  std::int64_t available = 0;
  std::int64_t assigned = 0;
  for (const json& drone : drones) {
    const std::string state = drone.value("state", "");
    available += state == "available";
    assigned += state == "assigned";
  }
  return json{{"drones", std::move(drones)},
              {"available", available},
              {"assigned", assigned},
              {"as_of", engine::format_timestamp(now_ms)}};
}

void add_fleet_routes(http::Router& router, const FleetApi& api) {
  router.add("GET", "/api/v1/fleet", [&api](const http::Request& request) {
    allow_only(request, {});
    const std::int64_t now_ms = api.clock.now_ms();
    json drones;
    try {
      drones = activities::fleet_status(api.services, now_ms);
    } catch (const activities::ServiceStoreUnavailable& error) {
      // The same words as the drone activities' own failure, so logs and answers read alike.
      throw OperationError(ErrorCategory::unavailable,
                           std::string("the drone service store is unavailable: ") + error.what());
    }
    return http::json_response(200, fleet_view(std::move(drones), now_ms));
  });
}

}  // namespace flightplan::rest

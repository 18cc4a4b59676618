#pragma once
// The drone fleet as operators see it: a domain read over the drone service's records, so the API
// answers "where are my drones?" without knowing how the service stores them.
#include "flightplan/activities/service_store.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace flightplan::activities {

inline constexpr std::size_t fleet_size = 10;

// "drone-001" .. "drone-010".
const std::vector<std::string>& fleet_drone_ids();

// Every drone of the fleet, in id order, at `now_ms`:
//   {droneId, state: "available", lastKnownLocation}  — free, at the hangar;
//   {droneId, state: "assigned", deliveryId, plan, stage, lastKnownLocation, pickupEta, deliveryEta}
//   — assigned (until drone.release, even after landing); stage and ETAs as drone.track gives them.
// Two reads of the store; throws ServiceStoreUnavailable when it cannot be reached.
nlohmann::json fleet_status(ServiceStore& store, std::int64_t now_ms);

}  // namespace flightplan::activities

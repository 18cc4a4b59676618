// drone.*: the simulated drone fleet. Ten drones wait at one hangar; drone.schedule assigns the
// lowest-numbered free one and plans hangar -> pickup (60 s handling) -> drop-off along straight legs.
// A drone stays assigned until drone.release, even after it has landed: releasing is the workflow's
// job, and the fleet running dry is a failure mode worth simulating. Every flight starts at the
// hangar (a released drone is assumed to fly home out of band).
#include "failures.hpp"
#include "rules.hpp"
#include "service.hpp"
#include "time_format.hpp"

#include <array>
#include <cmath>
#include <cstdio>
#include <optional>

namespace flightplan::activities::detail {

namespace {

constexpr GeoPoint hangar_location{47.6205, -122.3493, 0.0};
constexpr std::size_t fleet_size = 10;
constexpr double cruise_speed_meters_per_second = 15.0;
constexpr double expedited_speed_meters_per_second = 20.0;
constexpr std::int64_t handling_ms = 60'000;
constexpr double cruise_altitude_meters = 120.0;

std::string drone_name(std::size_t index) {
  char name[16];
  std::snprintf(name, sizeof name, "drone-%03zu", index + 1);
  return name;
}

// Invariant: start_ms <= pickup_eta_ms <= departure_ms <= delivery_eta_ms.
struct Flight {
  std::string drone_id;
  GeoPoint pickup;
  GeoPoint dropoff;
  double distance_meters = 0.0;
  std::int64_t start_ms = 0;
  std::int64_t pickup_eta_ms = 0;
  std::int64_t departure_ms = 0;  // pickup_eta_ms plus handling
  std::int64_t delivery_eta_ms = 0;
  std::optional<std::int64_t> released_ms;
};

Flight plan_flight(std::string drone_id, const GeoPoint& pickup, const GeoPoint& dropoff, bool expedited,
                   std::int64_t now_ms) {
  const double speed = expedited ? expedited_speed_meters_per_second : cruise_speed_meters_per_second;
  const double to_pickup_m = haversine_meters(hangar_location, pickup);
  const double to_dropoff_m = haversine_meters(pickup, dropoff);
  Flight flight{std::move(drone_id), pickup, dropoff, to_pickup_m + to_dropoff_m, now_ms, 0, 0, 0,
                std::nullopt};
  flight.pickup_eta_ms = now_ms + travel_ms(to_pickup_m, speed);
  flight.departure_ms = flight.pickup_eta_ms + handling_ms;
  flight.delivery_eta_ms = flight.departure_ms + travel_ms(to_dropoff_m, speed);
  return flight;
}

// A drone on a leg: on the ground at `from` until `start_ms`, airborne at cruise altitude strictly
// between the two instants, on the ground at `to` from `end_ms`.
GeoPoint on_leg(const GeoPoint& from, const GeoPoint& to, std::int64_t start_ms, std::int64_t end_ms,
                std::int64_t at_ms) {
  if (at_ms <= start_ms) return from;
  if (at_ms >= end_ms) return to;
  GeoPoint point =
      interpolate(from, to, static_cast<double>(at_ms - start_ms) / static_cast<double>(end_ms - start_ms));
  point.altitude = cruise_altitude_meters;
  return point;
}

struct Position {
  const char* stage;
  GeoPoint location;
};

// Where the flight is at `at_ms` if nobody interrupts it. Handling at the pickup counts as heading
// to the drop-off: the package is already with the drone.
Position planned_position(const Flight& flight, std::int64_t at_ms) {
  if (at_ms < flight.pickup_eta_ms) {
    return {"HeadedToPickup", on_leg(hangar_location, flight.pickup, flight.start_ms, flight.pickup_eta_ms, at_ms)};
  }
  if (at_ms < flight.delivery_eta_ms) {
    return {"HeadedToDropoff",
            on_leg(flight.pickup, flight.dropoff, flight.departure_ms, flight.delivery_eta_ms, at_ms)};
  }
  return {"Completed", flight.dropoff};
}

// A release before landing cancels the flight; the last known location is where it was released.
Position tracked_position(const Flight& flight, std::int64_t at_ms) {
  const auto released_ms = flight.released_ms;
  if (released_ms && *released_ms < flight.delivery_eta_ms && at_ms >= *released_ms) {
    return {"Cancelled", planned_position(flight, *released_ms).location};
  }
  return planned_position(flight, at_ms);
}

class DroneService : public Service {
 public:
  ActivityResult schedule(Call& call);
  ActivityResult release(Call& call);
  ActivityResult track(Call& call);

 private:
  std::optional<std::size_t> drone_flying(const std::string& delivery_id) const;
  std::optional<std::size_t> free_drone() const;

  // The delivery each drone is assigned to, or "" when it is free.
  std::array<std::string, fleet_size> delivery_by_drone_;
  // The latest flight of each delivery, kept after release so tracking can still answer.
  std::map<std::string, Flight, std::less<>> flights_;
};

std::optional<std::size_t> DroneService::drone_flying(const std::string& delivery_id) const {
  for (std::size_t i = 0; i < fleet_size; ++i) {
    if (delivery_by_drone_[i] == delivery_id) return i;
  }
  return std::nullopt;
}

std::optional<std::size_t> DroneService::free_drone() const { return drone_flying(""); }

ActivityResult DroneService::schedule(Call& call) {
  const Args& args = call.args;
  const std::string delivery_id = args.text("deliveryId");
  const std::string workflow_id = args.optional_text("workflowId").value_or(call.request.workflow_id);
  const GeoPoint pickup = args.location("pickupLocation");
  const GeoPoint dropoff = args.location("dropOffLocation");
  const PackageInfo package = read_package_info(args, "packageInfo");
  const bool expedited = args.flag("expedited", false);
  if (const auto reason = third_party_reason(package, haversine_meters(pickup, dropoff))) {
    return validation_failure("a drone cannot take delivery '" + delivery_id + "': " + *reason);
  }
  if (const auto busy = drone_flying(delivery_id)) {
    return conflict("delivery '" + delivery_id + "' already has " + drone_name(*busy));
  }
  const auto drone = free_drone();
  if (!drone) return unavailable("all " + std::to_string(fleet_size) + " drones are busy");
  if (flights_.size() >= records_max && !flights_.contains(delivery_id)) {
    return unavailable("the flight log is full", false);
  }

  const Flight flight = plan_flight(drone_name(*drone), pickup, dropoff, expedited, call.request.now_ms);
  delivery_by_drone_[*drone] = delivery_id;
  flights_.insert_or_assign(delivery_id, flight);
  const std::int64_t flight_ms = flight.delivery_eta_ms - flight.start_ms;
  if (!workflow_id.empty()) {
    call.signals.push_back(Signal{workflow_id,
                                  "delivered",
                                  {{"deliveryId", delivery_id},
                                   {"droneId", flight.drone_id},
                                   {"deliveredAt", format_rfc3339(flight.delivery_eta_ms)}},
                                  flight_ms});
  }
  return ActivityResult::success({{"droneId", flight.drone_id},
                                  {"deliveryId", delivery_id},
                                  {"pickupEta", format_rfc3339(flight.pickup_eta_ms)},
                                  {"deliveryEta", format_rfc3339(flight.delivery_eta_ms)},
                                  {"distanceMeters", std::llround(flight.distance_meters)},
                                  {"flightSeconds", static_cast<double>(flight_ms) / 1000.0}});
}

ActivityResult DroneService::release(Call& call) {
  const std::string drone_id = call.args.text("droneId");
  const std::string delivery_id = call.args.text("deliveryId");
  std::optional<std::size_t> drone;
  for (std::size_t i = 0; i < fleet_size && !drone; ++i) {
    if (drone_name(i) == drone_id) drone = i;
  }
  if (!drone) return not_found("drone '" + drone_id + "' is not in the fleet (drone-001..drone-010)");
  std::string& assigned = delivery_by_drone_[*drone];
  if (!assigned.empty() && assigned != delivery_id) {
    return conflict(drone_id + " is assigned to delivery '" + assigned + "', not '" + delivery_id + "'");
  }
  if (!assigned.empty()) {
    flights_.at(delivery_id).released_ms = call.request.now_ms;
    assigned.clear();
  }
  return ActivityResult::success({{"droneId", drone_id}, {"status", "available"}});
}

ActivityResult DroneService::track(Call& call) {
  const std::string delivery_id = call.args.text("deliveryId");
  const auto it = flights_.find(delivery_id);
  if (it == flights_.end()) return not_found("no drone flight for delivery '" + delivery_id + "'");
  const Flight& flight = it->second;
  const Position position = tracked_position(flight, call.request.now_ms);
  return ActivityResult::success({{"deliveryId", delivery_id},
                                  {"droneId", flight.drone_id},
                                  {"stage", position.stage},
                                  {"lastKnownLocation", to_json(position.location)},
                                  {"pickupEta", format_rfc3339(flight.pickup_eta_ms)},
                                  {"deliveryEta", format_rfc3339(flight.delivery_eta_ms)}});
}

}  // namespace

void register_drone_activities(ActivityRegistry& registry) {
  const auto service = std::make_shared<DroneService>();
  add_service_activity(registry, "drone.schedule", service, &DroneService::schedule);
  add_service_activity(registry, "drone.release", service, &DroneService::release);
  add_service_activity(registry, "drone.track", service, &DroneService::track);
}

}  // namespace flightplan::activities::detail

// drone.*: the simulated drone fleet. Ten drones wait at one hangar; drone.schedule assigns the
// lowest-numbered free one and plans hangar -> pickup (60 s handling) -> drop-off along straight legs
// (the maths is the shared flight model, flightplan/activities/flight.hpp). drone.reschedule
// re-plans the rest of a flight from where the drone is. A drone stays assigned until drone.release,
// even after it has landed: releasing is the workflow's job, and the fleet running dry is a failure
// mode worth simulating. Every flight starts at the hangar (a released drone is assumed to fly home
// out of band).
#include "failures.hpp"
#include "rules.hpp"
#include "service.hpp"
#include "time_format.hpp"

#include <algorithm>
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

std::string drone_name(std::size_t index) {
  char name[16];
  std::snprintf(name, sizeof name, "drone-%03zu", index + 1);
  return name;
}

struct Flight {
  FlightPlan plan;
  PackageInfo package;
  std::optional<std::int64_t> released_ms;
};

// A release before landing cancels the flight; the last known location is where it was released.
nlohmann::json tracked_position(const Flight& flight, std::int64_t at_ms) {
  const auto released_ms = flight.released_ms;
  const bool cancelled = released_ms && *released_ms < flight.plan.delivery_eta_ms && at_ms >= *released_ms;
  const FlightPosition position = position_at(flight.plan, cancelled ? *released_ms : at_ms);
  return {{"stage", cancelled ? std::string_view("Cancelled") : to_string(position.stage)},
          {"lastKnownLocation", to_json(position.location)},
          {"pickupEta", format_rfc3339(position.pickup_eta_ms)},
          {"deliveryEta", format_rfc3339(position.delivery_eta_ms)}};
}

// What drone.schedule and drone.reschedule report about a plan, seen from `now_ms`.
nlohmann::json route_output(const std::string& delivery_id, const FlightPlan& plan, std::int64_t now_ms) {
  nlohmann::json out{{"droneId", plan.vehicle_id}, {"deliveryId", delivery_id}};
  out.update(to_json(plan));
  out["distanceMeters"] = std::llround(remaining_meters(plan, now_ms));
  out["flightSeconds"] = static_cast<double>(plan.delivery_eta_ms - now_ms) / 1000.0;
  return out;
}

// The drone reports its landing to the workflow; `plan` tells a stale report from the current one.
void signal_landing(Call& call, const std::string& workflow_id, const std::string& delivery_id,
                    const FlightPlan& plan) {
  if (workflow_id.empty()) return;
  call.signals.push_back(Signal{workflow_id,
                                "delivered",
                                {{"deliveryId", delivery_id},
                                 {"droneId", plan.vehicle_id},
                                 {"plan", plan.number},
                                 {"deliveredAt", format_rfc3339(plan.delivery_eta_ms)}},
                                plan.delivery_eta_ms});
}

class DroneService : public Service {
 public:
  ActivityResult schedule(Call& call);
  ActivityResult reschedule(Call& call);
  ActivityResult release(Call& call);
  ActivityResult track(Call& call);

 private:
  std::optional<std::size_t> drone_flying(const std::string& delivery_id) const;
  std::optional<std::size_t> free_drone() const { return drone_flying(""); }

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

ActivityResult DroneService::schedule(Call& call) {
  const Args& args = call.args;
  const std::string delivery_id = args.text("deliveryId");
  const std::string workflow_id = args.optional_text("workflowId").value_or(call.request.workflow_id);
  const GeoPoint pickup = args.location("pickupLocation");
  const auto pickup_time_ms = args.optional_time_ms("pickupTime");
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

  RouteSpec spec;
  spec.vehicle_id = drone_name(*drone);
  spec.origin = hangar_location;
  spec.pickup = pickup;
  spec.dropoff = dropoff;
  spec.pickup_not_before_ms = pickup_time_ms;
  spec.speed_meters_per_second =
      expedited ? expedited_speed_meters_per_second : cruise_speed_meters_per_second;
  const FlightPlan plan = plan_route(spec, call.request.now_ms);
  delivery_by_drone_[*drone] = delivery_id;
  flights_.insert_or_assign(delivery_id, Flight{plan, package, std::nullopt});
  signal_landing(call, workflow_id, delivery_id, plan);
  return ActivityResult::success(route_output(delivery_id, plan, call.request.now_ms));
}

ActivityResult DroneService::reschedule(Call& call) {
  const Args& args = call.args;
  const std::string delivery_id = args.text("deliveryId");
  const std::string workflow_id = args.optional_text("workflowId").value_or(call.request.workflow_id);
  const RouteChange change{args.optional_location("pickupLocation"), args.optional_time_ms("pickupTime"),
                           args.optional_location("dropOffLocation")};
  const auto it = flights_.find(delivery_id);
  if (it == flights_.end()) return not_found("no drone flight for delivery '" + delivery_id + "'");
  Flight& flight = it->second;
  if (flight.released_ms) {
    return conflict(flight.plan.vehicle_id + " was released from delivery '" + delivery_id + "'");
  }
  const std::int64_t now_ms = call.request.now_ms;
  const Replan replan = replan_route(flight.plan, change, now_ms);
  std::optional<std::string> refusal;
  if (!replan.applied) refusal = replan.reason;
  // A new drop-off may be out of the drone's reach: the flight then goes on as planned.
  if (replan.applied && change.dropoff) {
    const double last_leg_m = haversine_meters(replan.plan.departure_point, replan.plan.dropoff);
    if (const auto reason = third_party_reason(flight.package, last_leg_m)) refusal = *reason;
  }
  const bool replanned = !refusal && replan.plan.number != flight.plan.number;
  if (replanned) {
    flight.plan = replan.plan;
    signal_landing(call, workflow_id, delivery_id, flight.plan);
  }
  return ActivityResult::success(
      {{"deliveryId", delivery_id},
       {"droneId", flight.plan.vehicle_id},
       {"replanned", replanned},
       {"changed",
        refusal ? nlohmann::json::object() : applied_route_changes(call.request.arguments, replan.ignored)},
       {"ignored", replan.ignored},
       {"reason", refusal ? nlohmann::json(*refusal) : nlohmann::json(nullptr)},
       {"route", route_output(delivery_id, flight.plan, now_ms)}});
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
  nlohmann::json out{
      {"deliveryId", delivery_id}, {"droneId", flight.plan.vehicle_id}, {"plan", flight.plan.number}};
  out.update(tracked_position(flight, call.request.now_ms));
  return ActivityResult::success(std::move(out));
}

}  // namespace

void register_drone_activities(ActivityRegistry& registry) {
  const auto service = std::make_shared<DroneService>();
  add_service_activity(registry, "drone.schedule", service, &DroneService::schedule);
  add_service_activity(registry, "drone.reschedule", service, &DroneService::reschedule);
  add_service_activity(registry, "drone.release", service, &DroneService::release);
  add_service_activity(registry, "drone.track", service, &DroneService::track);
}

}  // namespace flightplan::activities::detail

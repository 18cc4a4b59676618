// drone.*: the simulated drone fleet. Ten drones wait at one hangar; drone.schedule assigns the
// lowest-numbered free one and plans hangar -> pickup (60 s handling) -> drop-off along straight legs
// (the maths is the shared flight model, flightplan/activities/flight.hpp). drone.reschedule
// re-plans the rest of a flight from where the drone is. A drone stays assigned until drone.release,
// even after it has landed: releasing is the workflow's job, and the fleet running dry is a failure
// mode worth simulating. Every flight starts at the hangar (a released drone is assumed to fly home
// out of band).
// Records: "drone:<droneId>" -> {deliveryId} while the drone is assigned (no record: free, at the
// hangar); "flight:<deliveryId>" -> {route (the plan with its droneId), package {size, weight},
// releasedMs (null until released)}, the latest flight of each delivery, kept after release so
// tracking can still answer.
#include "flightplan/activities/fleet.hpp"

#include "failures.hpp"
#include "rules.hpp"
#include "service.hpp"
#include "time_format.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>

namespace flightplan::activities::detail {

namespace {

using nlohmann::json;

constexpr GeoPoint hangar_location{47.6205, -122.3493, 0.0};
constexpr double cruise_speed_meters_per_second = 15.0;
constexpr double expedited_speed_meters_per_second = 20.0;

std::string drone_record_id(const std::string& drone_id) { return "drone:" + drone_id; }
std::string flight_record_id(const std::string& delivery_id) { return "flight:" + delivery_id; }

std::vector<std::string> drone_record_ids() {
  std::vector<std::string> ids;
  for (const std::string& drone_id : fleet_drone_ids()) ids.push_back(drone_record_id(drone_id));
  return ids;
}

// The delivery each drone is assigned to, or "" when it is free; one read for the whole fleet.
std::vector<std::string> assignments(Records& records) {
  std::vector<std::string> delivery_by_drone;
  for (const std::optional<json>& record : records.get(drone_record_ids()))
    delivery_by_drone.push_back(record ? record->at("deliveryId").get<std::string>() : std::string());
  return delivery_by_drone;
}

struct Flight {
  FlightPlan plan;
  PackageInfo package;
  std::optional<std::int64_t> released_ms;
};

json flight_record(const Flight& flight) {
  json route = to_json(flight.plan);
  route["droneId"] = flight.plan.vehicle_id;
  return {{"route", std::move(route)},
          {"package", {{"size", flight.package.size}, {"weight", flight.package.weight_kg}}},
          {"releasedMs", flight.released_ms ? json(*flight.released_ms) : json(nullptr)}};
}

Flight flight_from_record(const json& record) {
  const json& released = record.at("releasedMs");
  return Flight{flight_plan_from_json(record.at("route")),
                PackageInfo{record.at("package").at("size").get<std::string>(),
                            record.at("package").at("weight").get<double>()},
                released.is_null() ? std::nullopt : std::optional<std::int64_t>(released.get<std::int64_t>())};
}

std::optional<Flight> read_flight(Records& records, const std::string& delivery_id) {
  const std::optional<json> record = records.get(flight_record_id(delivery_id));
  if (!record) return std::nullopt;
  return flight_from_record(*record);
}

// A release before landing cancels the flight; the last known location is where it was released.
json tracked_position(const Flight& flight, std::int64_t at_ms) {
  const auto released_ms = flight.released_ms;
  const bool cancelled = released_ms && *released_ms < flight.plan.delivery_eta_ms && at_ms >= *released_ms;
  const FlightPosition position = position_at(flight.plan, cancelled ? *released_ms : at_ms);
  return {{"stage", cancelled ? std::string_view("Cancelled") : to_string(position.stage)},
          {"lastKnownLocation", to_json(position.location)},
          {"pickupEta", format_rfc3339(position.pickup_eta_ms)},
          {"deliveryEta", format_rfc3339(position.delivery_eta_ms)}};
}

// What drone.schedule and drone.reschedule report about a plan, seen from `now_ms`.
json route_output(const std::string& delivery_id, const FlightPlan& plan, std::int64_t now_ms) {
  json out{{"droneId", plan.vehicle_id}, {"deliveryId", delivery_id}};
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

ActivityResult schedule(Call& call) {
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
  const std::vector<std::string> delivery_by_drone = assignments(call.records);
  const std::vector<std::string>& fleet = fleet_drone_ids();
  const auto busy = std::find(delivery_by_drone.begin(), delivery_by_drone.end(), delivery_id);
  if (busy != delivery_by_drone.end()) {
    return conflict("delivery '" + delivery_id + "' already has " + fleet[busy - delivery_by_drone.begin()]);
  }
  const auto free = std::find(delivery_by_drone.begin(), delivery_by_drone.end(), std::string());
  if (free == delivery_by_drone.end()) return unavailable("all " + std::to_string(fleet.size()) + " drones are busy");
  const std::string& drone_id = fleet[free - delivery_by_drone.begin()];
  if (!call.records.get(flight_record_id(delivery_id)) && call.records.count() >= records_max) {
    return unavailable("the flight log is full", false);
  }

  RouteSpec spec;
  spec.vehicle_id = drone_id;
  spec.origin = hangar_location;
  spec.pickup = pickup;
  spec.dropoff = dropoff;
  spec.pickup_not_before_ms = pickup_time_ms;
  spec.speed_meters_per_second =
      expedited ? expedited_speed_meters_per_second : cruise_speed_meters_per_second;
  const FlightPlan plan = plan_route(spec, call.request.now_ms);
  call.records.put(drone_record_id(drone_id), {{"deliveryId", delivery_id}});
  call.records.put(flight_record_id(delivery_id), flight_record(Flight{plan, package, std::nullopt}));
  signal_landing(call, workflow_id, delivery_id, plan);
  return ActivityResult::success(route_output(delivery_id, plan, call.request.now_ms));
}

ActivityResult reschedule(Call& call) {
  const Args& args = call.args;
  const std::string delivery_id = args.text("deliveryId");
  const std::string workflow_id = args.optional_text("workflowId").value_or(call.request.workflow_id);
  const RouteChange change{args.optional_location("pickupLocation"), args.optional_time_ms("pickupTime"),
                           args.optional_location("dropOffLocation")};
  std::optional<Flight> flight = read_flight(call.records, delivery_id);
  if (!flight) return not_found("no drone flight for delivery '" + delivery_id + "'");
  if (flight->released_ms) {
    return conflict(flight->plan.vehicle_id + " was released from delivery '" + delivery_id + "'");
  }
  const std::int64_t now_ms = call.request.now_ms;
  const Replan replan = replan_route(flight->plan, change, now_ms);
  std::optional<std::string> refusal;
  if (!replan.applied) refusal = replan.reason;
  // A new drop-off may be out of the drone's reach: the flight then goes on as planned.
  if (replan.applied && change.dropoff) {
    const double last_leg_m = haversine_meters(replan.plan.departure_point, replan.plan.dropoff);
    if (const auto reason = third_party_reason(flight->package, last_leg_m)) refusal = *reason;
  }
  const bool replanned = !refusal && replan.plan.number != flight->plan.number;
  if (replanned) {
    flight->plan = replan.plan;
    call.records.put(flight_record_id(delivery_id), flight_record(*flight));
    signal_landing(call, workflow_id, delivery_id, flight->plan);
  }
  return ActivityResult::success(
      {{"deliveryId", delivery_id},
       {"droneId", flight->plan.vehicle_id},
       {"replanned", replanned},
       {"changed", refusal ? json::object() : applied_route_changes(call.request.arguments, replan.ignored)},
       {"ignored", replan.ignored},
       {"reason", refusal ? json(*refusal) : json(nullptr)},
       {"route", route_output(delivery_id, flight->plan, now_ms)}});
}

ActivityResult release(Call& call) {
  const std::string drone_id = call.args.text("droneId");
  const std::string delivery_id = call.args.text("deliveryId");
  const std::vector<std::string>& fleet = fleet_drone_ids();
  if (std::find(fleet.begin(), fleet.end(), drone_id) == fleet.end()) {
    return not_found("drone '" + drone_id + "' is not in the fleet (drone-001..drone-010)");
  }
  const std::optional<json> drone = call.records.get(drone_record_id(drone_id));
  const std::string assigned = drone ? drone->at("deliveryId").get<std::string>() : std::string();
  if (!assigned.empty() && assigned != delivery_id) {
    return conflict(drone_id + " is assigned to delivery '" + assigned + "', not '" + delivery_id + "'");
  }
  if (!assigned.empty()) {
    std::optional<Flight> flight = read_flight(call.records, delivery_id);
    if (!flight) throw std::logic_error(drone_id + " is assigned to delivery '" + delivery_id + "' without a flight");
    flight->released_ms = call.request.now_ms;
    call.records.put(flight_record_id(delivery_id), flight_record(*flight));
    call.records.erase(drone_record_id(drone_id));
  }
  return ActivityResult::success({{"droneId", drone_id}, {"status", "available"}});
}

ActivityResult track(Call& call) {
  const std::string delivery_id = call.args.text("deliveryId");
  const std::optional<Flight> flight = read_flight(call.records, delivery_id);
  if (!flight) return not_found("no drone flight for delivery '" + delivery_id + "'");
  json out{{"deliveryId", delivery_id}, {"droneId", flight->plan.vehicle_id}, {"plan", flight->plan.number}};
  out.update(tracked_position(*flight, call.request.now_ms));
  return ActivityResult::success(std::move(out));
}

}  // namespace

void register_drone_activities(ActivityRegistry& registry, ServiceStore& store) {
  const auto service = std::make_shared<Service>(store, "drone");
  add_service_activity(registry, "drone.schedule", service, schedule);
  add_service_activity(registry, "drone.reschedule", service, reschedule);
  add_service_activity(registry, "drone.release", service, release);
  add_service_activity(registry, "drone.track", service, track);
}

}  // namespace flightplan::activities::detail

namespace flightplan::activities {

const std::vector<std::string>& fleet_drone_ids() {
  static const std::vector<std::string> ids = [] {
    std::vector<std::string> names;
    for (std::size_t i = 1; i <= fleet_size; ++i) {
      char name[16];
      std::snprintf(name, sizeof name, "drone-%03zu", i);
      names.emplace_back(name);
    }
    return names;
  }();
  return ids;
}

nlohmann::json fleet_status(ServiceStore& store, std::int64_t now_ms) {
  using namespace detail;
  // Read-only: a transaction that is never committed, two round trips (drones, then their flights).
  Records records(store, "drone");
  const std::vector<std::string> delivery_by_drone = assignments(records);
  std::vector<std::string> flight_ids;
  for (const std::string& delivery_id : delivery_by_drone)
    if (!delivery_id.empty()) flight_ids.push_back(flight_record_id(delivery_id));
  records.get(flight_ids);
  json fleet = json::array();
  for (std::size_t i = 0; i < delivery_by_drone.size(); ++i) {
    json drone{{"droneId", fleet_drone_ids()[i]}};
    const std::string& delivery_id = delivery_by_drone[i];
    if (delivery_id.empty()) {
      drone["state"] = "available";
      drone["lastKnownLocation"] = to_json(hangar_location);
    } else {
      drone["state"] = "assigned";
      drone["deliveryId"] = delivery_id;
      if (const std::optional<Flight> flight = read_flight(records, delivery_id)) {
        drone["plan"] = flight->plan.number;
        drone.update(tracked_position(*flight, now_ms));
      }
    }
    fleet.push_back(std::move(drone));
  }
  return fleet;
}

}  // namespace flightplan::activities

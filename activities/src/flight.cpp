#include "flightplan/activities/flight.hpp"

#include "geo.hpp"
#include "json_args.hpp"
#include "rules.hpp"
#include "time_format.hpp"

#include <algorithm>
#include <cmath>

namespace flightplan::activities {

namespace {

using detail::haversine_meters;

std::int64_t leg_ms(const FlightPlan& plan, const GeoPoint& from, const GeoPoint& to) {
  return detail::travel_ms(haversine_meters(from, to), plan.speed_meters_per_second);
}

// A leg from `from` to `to`: on the ground (or hovering) at `from` until `start_ms`, at cruise
// altitude strictly between the two instants, at `to` from `end_ms`.
GeoPoint on_leg(const FlightPlan& plan, const GeoPoint& from, const GeoPoint& to, std::int64_t start_ms,
                std::int64_t end_ms, std::int64_t at_ms) {
  if (at_ms <= start_ms) return from;
  if (at_ms >= end_ms) return to;
  GeoPoint point = detail::interpolate(
      from, to, static_cast<double>(at_ms - start_ms) / static_cast<double>(end_ms - start_ms));
  point.altitude = plan.cruise_altitude_meters;
  return point;
}

// When the vehicle leaves the pickup if it arrives at `arrival_ms`: not before the requested pickup
// time, and after handling.
std::int64_t departure_after(const FlightPlan& plan, std::int64_t arrival_ms) {
  return std::max(arrival_ms, plan.pickup_not_before_ms.value_or(arrival_ms)) + plan.handling_ms;
}

// Fills the times of `plan` for a vehicle that is at its origin at `now_ms`. With `may_wait` (on the
// ground) it delays leaving so as to reach the pickup no earlier than the requested pickup time;
// otherwise (already travelling) it goes on at once and waits at the pickup if early.
void schedule_from_origin(FlightPlan& plan, std::int64_t now_ms, bool may_wait) {
  const std::int64_t to_pickup_ms = leg_ms(plan, plan.origin, plan.pickup);
  plan.start_ms = now_ms;
  if (may_wait && plan.pickup_not_before_ms)
    plan.start_ms = std::max(now_ms, *plan.pickup_not_before_ms - to_pickup_ms);
  plan.pickup_eta_ms = plan.start_ms + to_pickup_ms;
  plan.departure_point = plan.pickup;
  plan.departure_ms = departure_after(plan, plan.pickup_eta_ms);
  plan.delivery_eta_ms = plan.departure_ms + leg_ms(plan, plan.pickup, plan.dropoff);
}

// Re-plans a vehicle still headed to its pickup. Returns false when the change touches nothing.
bool replan_before_pickup(FlightPlan& next, const RouteChange& change, const FlightPosition& now,
                          std::int64_t now_ms) {
  if (!change.pickup && !change.pickup_not_before_ms && !change.dropoff) return false;
  if (change.pickup) next.pickup = *change.pickup;
  if (change.pickup_not_before_ms) next.pickup_not_before_ms = change.pickup_not_before_ms;
  if (change.dropoff) next.dropoff = *change.dropoff;
  const bool on_ground = now_ms <= next.start_ms;
  if (!on_ground) next.origin = now.location;
  schedule_from_origin(next, now_ms, on_ground);
  return true;
}

// Re-plans a vehicle that has the package: only the drop-off can change.
bool replan_after_pickup(FlightPlan& next, const RouteChange& change, const FlightPosition& now,
                         std::int64_t now_ms, std::vector<std::string>& ignored) {
  if (change.pickup) ignored.emplace_back("pickupLocation");
  if (change.pickup_not_before_ms) ignored.emplace_back("pickupTime");
  if (!change.dropoff) return false;
  next.dropoff = *change.dropoff;
  if (now_ms >= next.departure_ms) {
    // Turning in flight: the last leg now starts here and now.
    next.departure_point = now.location;
    next.departure_ms = now_ms;
  }
  next.delivery_eta_ms = next.departure_ms + leg_ms(next, next.departure_point, next.dropoff);
  return true;
}

// --- JSON ------------------------------------------------------------------------------------------

nlohmann::json optional_time(const std::optional<std::int64_t>& epoch_ms) {
  return epoch_ms ? nlohmann::json(detail::format_rfc3339(*epoch_ms)) : nlohmann::json(nullptr);
}

std::int64_t required_time_ms(const detail::Args& args, std::string_view field) {
  const auto value = args.optional_time_ms(field);
  if (!value) throw detail::ArgumentError("missing required field '" + std::string(field) + "'");
  return *value;
}

// A required finite number >= 0 (positive_number refuses 0, which a van's altitude is).
double non_negative_number(const nlohmann::json& object, std::string_view field) {
  const auto it = object.find(field);
  if (it == object.end() || it->is_null())
    throw detail::ArgumentError("missing required field '" + std::string(field) + "'");
  if (!it->is_number() || !std::isfinite(it->get<double>()) || it->get<double>() < 0.0)
    throw detail::ArgumentError("field '" + std::string(field) + "' must be a number >= 0");
  return it->get<double>();
}

int plan_number(const nlohmann::json& object) {
  const auto it = object.find("plan");
  if (it == object.end() || !it->is_number_integer() || it->get<std::int64_t>() < 1 ||
      it->get<std::int64_t>() > 1'000'000) {
    throw detail::ArgumentError("field 'plan' must be an integer from 1 to 1000000");
  }
  return static_cast<int>(it->get<std::int64_t>());
}

void check_plan(const FlightPlan& plan) {
  if (!(plan.start_ms <= plan.pickup_eta_ms && plan.pickup_eta_ms <= plan.departure_ms &&
        plan.departure_ms <= plan.delivery_eta_ms)) {
    throw detail::ArgumentError(
        "times must not decrease: startedAt <= pickupEta <= departureAt <= deliveryEta");
  }
  if (!(plan.speed_meters_per_second > 0.0))
    throw detail::ArgumentError("field 'speedMetersPerSecond' must be greater than 0");
}

}  // namespace

GeoPoint location_from_json(const nlohmann::json& value, std::string_view field) {
  const nlohmann::json arguments{{std::string(field), value}};
  try {
    return detail::Args(arguments).location(field);
  } catch (const detail::ArgumentError& error) {
    throw std::invalid_argument(error.what());
  }
}

FlightPlan plan_route(const RouteSpec& spec, std::int64_t now_ms) {
  FlightPlan plan;
  plan.vehicle_id = spec.vehicle_id;
  plan.origin = spec.origin;
  plan.pickup = spec.pickup;
  plan.dropoff = spec.dropoff;
  plan.pickup_not_before_ms = spec.pickup_not_before_ms;
  plan.speed_meters_per_second = spec.speed_meters_per_second;
  plan.handling_ms = spec.handling_ms;
  plan.cruise_altitude_meters = spec.cruise_altitude_meters;
  schedule_from_origin(plan, now_ms, true);
  return plan;
}

std::string_view to_string(FlightStage stage) {
  switch (stage) {
    case FlightStage::headed_to_pickup:
      return "HeadedToPickup";
    case FlightStage::headed_to_dropoff:
      return "HeadedToDropoff";
    case FlightStage::landed:
      return "Completed";
  }
  return "Completed";
}

FlightPosition position_at(const FlightPlan& plan, std::int64_t at_ms) {
  FlightPosition position;
  if (at_ms < plan.pickup_eta_ms) {
    position.stage = FlightStage::headed_to_pickup;
    position.location = on_leg(plan, plan.origin, plan.pickup, plan.start_ms, plan.pickup_eta_ms, at_ms);
    // Waiting at the origin, the vehicle leaves at start_ms; travelling, it goes on from here now.
    position.pickup_eta_ms = std::max(at_ms, plan.start_ms) + leg_ms(plan, position.location, plan.pickup);
    position.delivery_eta_ms =
        departure_after(plan, position.pickup_eta_ms) + leg_ms(plan, plan.departure_point, plan.dropoff);
    return position;
  }
  position.pickup_eta_ms = plan.pickup_eta_ms;
  if (at_ms >= plan.delivery_eta_ms) {
    position.stage = FlightStage::landed;
    position.location = plan.dropoff;
    position.delivery_eta_ms = plan.delivery_eta_ms;
    return position;
  }
  // Handling at the pickup counts as headed to the drop-off: the package is already aboard.
  position.stage = FlightStage::headed_to_dropoff;
  if (at_ms < plan.departure_ms) {
    position.location = plan.pickup;
    position.delivery_eta_ms = plan.departure_ms + leg_ms(plan, plan.departure_point, plan.dropoff);
  } else {
    position.location =
        on_leg(plan, plan.departure_point, plan.dropoff, plan.departure_ms, plan.delivery_eta_ms, at_ms);
    position.delivery_eta_ms = at_ms + leg_ms(plan, position.location, plan.dropoff);
  }
  return position;
}

double remaining_meters(const FlightPlan& plan, std::int64_t at_ms) {
  const FlightPosition position = position_at(plan, at_ms);
  switch (position.stage) {
    case FlightStage::headed_to_pickup:
      return haversine_meters(position.location, plan.pickup) +
             haversine_meters(plan.departure_point, plan.dropoff);
    case FlightStage::headed_to_dropoff:
      return haversine_meters(at_ms < plan.departure_ms ? plan.departure_point : position.location,
                              plan.dropoff);
    case FlightStage::landed:
      return 0.0;
  }
  return 0.0;
}

Replan replan_route(const FlightPlan& plan, const RouteChange& change, std::int64_t now_ms) {
  Replan result;
  result.plan = plan;
  const FlightPosition now = position_at(plan, now_ms);
  if (now.stage == FlightStage::landed) {
    result.reason = "the package was delivered at " + detail::format_rfc3339(plan.delivery_eta_ms);
    return result;
  }
  result.applied = true;
  FlightPlan next = plan;
  const bool changed = now.stage == FlightStage::headed_to_pickup
                           ? replan_before_pickup(next, change, now, now_ms)
                           : replan_after_pickup(next, change, now, now_ms, result.ignored);
  if (changed) {
    next.number = plan.number + 1;
    result.plan = std::move(next);
  }
  return result;
}

nlohmann::json to_json(const FlightPlan& plan) {
  return {{"plan", plan.number},
          {"origin", to_json(plan.origin)},
          {"pickup", to_json(plan.pickup)},
          {"departurePoint", to_json(plan.departure_point)},
          {"dropoff", to_json(plan.dropoff)},
          {"startedAt", detail::format_rfc3339(plan.start_ms)},
          {"pickupEta", detail::format_rfc3339(plan.pickup_eta_ms)},
          {"departureAt", detail::format_rfc3339(plan.departure_ms)},
          {"deliveryEta", detail::format_rfc3339(plan.delivery_eta_ms)},
          {"pickupNotBefore", optional_time(plan.pickup_not_before_ms)},
          {"speedMetersPerSecond", plan.speed_meters_per_second},
          {"handlingSeconds", static_cast<double>(plan.handling_ms) / 1000.0},
          {"cruiseAltitudeMeters", plan.cruise_altitude_meters}};
}

FlightPlan flight_plan_from_json(const nlohmann::json& value) {
  try {
    const detail::Args args(value);
    if (!value.is_object()) throw detail::ArgumentError("a flight plan must be a JSON object");
    FlightPlan plan;
    plan.vehicle_id = args.optional_text("droneId").value_or(args.optional_text("bookingId").value_or(""));
    plan.number = plan_number(value);
    plan.origin = args.location("origin");
    plan.pickup = args.location("pickup");
    plan.departure_point = args.location("departurePoint");
    plan.dropoff = args.location("dropoff");
    plan.start_ms = required_time_ms(args, "startedAt");
    plan.pickup_eta_ms = required_time_ms(args, "pickupEta");
    plan.departure_ms = required_time_ms(args, "departureAt");
    plan.delivery_eta_ms = required_time_ms(args, "deliveryEta");
    plan.pickup_not_before_ms = args.optional_time_ms("pickupNotBefore");
    plan.speed_meters_per_second = args.positive_number("speedMetersPerSecond");
    plan.handling_ms = std::llround(non_negative_number(value, "handlingSeconds") * 1000.0);
    plan.cruise_altitude_meters = non_negative_number(value, "cruiseAltitudeMeters");
    check_plan(plan);
    return plan;
  } catch (const detail::ArgumentError& error) {
    throw FlightPlanError(std::string("flight plan: ") + error.what());
  }
}

}  // namespace flightplan::activities

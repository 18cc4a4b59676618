#pragma once
// The flight model the simulated carriers and the delivery API share: a plan of one delivery's
// route (origin -> pickup, handling on the ground, -> drop-off, straight legs at a constant speed),
// where the vehicle is at any instant, the ETAs recomputed from there, and re-planning the rest of
// a route in flight. drone.schedule, drone.reschedule, transport.book and transport.reschedule
// output a plan as JSON (to_json below); the API reads it back from the workflow's state with
// flight_plan_from_json and answers "where is my package?" without asking the activity workers.
//
// Everything here is a pure function of its arguments: time is an input, never a clock read.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace flightplan::activities {

struct GeoPoint {
  double latitude = 0.0;   // degrees, -90..90
  double longitude = 0.0;  // degrees, -180..180
  double altitude = 0.0;   // metres above ground
};

// {"latitude", "longitude", "altitude"}.
nlohmann::json to_json(const GeoPoint& point);

// Reads a location as the activities accept it: a "lat,lon" string or a {latitude, longitude
// [, altitude]} object with coordinates in range. Throws std::invalid_argument whose message names
// `field`, e.g. "field 'dropOffLocation' has a latitude outside -90..90".
GeoPoint location_from_json(const nlohmann::json& value, std::string_view field);

// The drone's handling time at the pickup: landing, loading, taking off again.
inline constexpr std::int64_t drone_handling_ms = 60'000;
inline constexpr double drone_cruise_altitude_meters = 120.0;

// One planned route. Invariant: start_ms <= pickup_eta_ms <= departure_ms <= delivery_eta_ms, and
// speed_meters_per_second > 0. The vehicle waits at `origin` until start_ms, flies (or drives) to
// `pickup`, stays there until departure_ms, then travels from `departure_point` to `dropoff`.
// `departure_point` is the pickup, except after a re-plan on the drop-off leg: then it is where the
// vehicle was when it turned, and departure_ms is the instant it turned.
struct FlightPlan {
  std::string vehicle_id;  // "drone-001", or a third-party booking id
  int number = 1;          // 1 for the first plan, +1 per re-plan; `delivered` signals carry it
  GeoPoint origin;         // the hangar, or where the drone was when a re-plan began
  GeoPoint pickup;
  GeoPoint departure_point;
  GeoPoint dropoff;
  std::int64_t start_ms = 0;
  std::int64_t pickup_eta_ms = 0;
  std::int64_t departure_ms = 0;
  std::int64_t delivery_eta_ms = 0;
  std::optional<std::int64_t> pickup_not_before_ms;  // the requested pickup time, if any
  double speed_meters_per_second = 15.0;
  std::int64_t handling_ms = drone_handling_ms;
  double cruise_altitude_meters = drone_cruise_altitude_meters;  // 0 for a ground vehicle
};

// What a new plan is made from.
struct RouteSpec {
  std::string vehicle_id;
  GeoPoint origin;
  GeoPoint pickup;
  GeoPoint dropoff;
  std::optional<std::int64_t> pickup_not_before_ms;
  double speed_meters_per_second = 15.0;
  std::int64_t handling_ms = drone_handling_ms;
  double cruise_altitude_meters = drone_cruise_altitude_meters;
};

// Plans a route starting at `now_ms`. The vehicle leaves its origin at once, or later so as to
// reach the pickup exactly at the requested pickup time; it leaves the pickup after handling.
FlightPlan plan_route(const RouteSpec& spec, std::int64_t now_ms);

enum class FlightStage {
  headed_to_pickup,   // waiting at the origin or travelling to the pickup
  headed_to_dropoff,  // handling at the pickup (the package is with the carrier) or on the last leg
  landed,             // at the drop-off
};

// "HeadedToPickup", "HeadedToDropoff", "Completed": the seed's DeliveryStage names.
std::string_view to_string(FlightStage stage);

struct FlightPosition {
  FlightStage stage = FlightStage::headed_to_pickup;
  GeoPoint location;  // at cruise altitude while travelling, else the ground point's own altitude
  std::int64_t pickup_eta_ms = 0;    // recomputed; the actual pickup time once past it
  std::int64_t delivery_eta_ms = 0;  // recomputed; the landing time once landed
};

// Where the plan puts the vehicle at `at_ms`, with ETAs recomputed from the remaining distance at
// the plan's speed (not copied from the plan): the time to the next stop from the current
// location, then handling, then the last leg. Positions are linear in latitude/longitude between
// the ends of a leg, which over a drone's range stays within metres of the great circle.
FlightPosition position_at(const FlightPlan& plan, std::int64_t at_ms);

// Great-circle length of what is left of the route at `at_ms`: to the pickup (if not yet there),
// then the last leg; 0 once landed.
double remaining_meters(const FlightPlan& plan, std::int64_t at_ms);

// A change of route; an empty member keeps the plan's value.
struct RouteChange {
  std::optional<GeoPoint> pickup;
  std::optional<std::int64_t> pickup_not_before_ms;
  std::optional<GeoPoint> dropoff;
};

struct Replan {
  bool applied = false;
  std::string reason;                // why it was not applied
  FlightPlan plan;                   // the new plan (number + 1), or the unchanged one
  std::vector<std::string> ignored;  // "pickupLocation"/"pickupTime": asked for after the pickup
};

// Re-plans the rest of the route from where the vehicle is at `now_ms`:
//  - before the pickup, a vehicle still on the ground at its origin plans afresh from there; one
//    already travelling flies on from its current position to the (new) pickup and, if early,
//    waits there for the pickup time;
//  - at the pickup or on the last leg, pickup changes are ignored (the package is aboard) and the
//    last leg runs from the current position to the (new) drop-off;
//  - once landed, nothing changes (applied == false).
// A change that changes nothing still counts as applied, with the same plan and number.
Replan replan_route(const FlightPlan& plan, const RouteChange& change, std::int64_t now_ms);

// The plan as the activities output it: {"plan", "origin", "pickup", "departurePoint", "dropoff",
// "startedAt", "pickupEta", "departureAt", "deliveryEta", "pickupNotBefore", "speedMetersPerSecond",
// "handlingSeconds", "cruiseAltitudeMeters"}; the caller adds its vehicle id (droneId/bookingId).
nlohmann::json to_json(const FlightPlan& plan);

class FlightPlanError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Reads what to_json wrote (plus "droneId" or "bookingId" as the vehicle id). Throws
// FlightPlanError naming the first missing or malformed field, or a broken time order.
FlightPlan flight_plan_from_json(const nlohmann::json& value);

}  // namespace flightplan::activities

#define BOOST_TEST_MODULE flight
// The shared flight model (flightplan/activities/flight.hpp): plans, positions along the legs, ETAs
// recomputed from the remaining distance, re-planning in flight, the JSON form the API reads back;
// and the activities built on it (drone.schedule with a pickup time, drone.reschedule,
// transport.reschedule) with their plan-numbered `delivered` signals.
#include <boost/test/unit_test.hpp>

#include "flightplan/activities/activity.hpp"
#include "flightplan/activities/flight.hpp"
#include "flightplan/memory/memory_service_store.hpp"
#include "../support/recording_host.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>
#include <vector>

using namespace flightplan::activities;
using nlohmann::json;

namespace {

constexpr std::int64_t now_ms = 1'795'235'554'000;  // 2026-11-21T04:32:34.000Z

// The Seattle route of activities_test, whose leg lengths were computed independently:
// hangar -> pickup 1707.84 m (113.856 s at 15 m/s), pickup -> drop-off 17390.60 m (1159.374 s).
constexpr GeoPoint hangar{47.6205, -122.3493, 0.0};
constexpr GeoPoint pickup{47.6097, -122.3331, 0.0};
constexpr GeoPoint dropoff{47.6740, -122.1215, 0.0};
constexpr GeoPoint other_dropoff{47.6500, -122.2000, 0.0};
constexpr std::int64_t leg1_ms = 113'856;
constexpr std::int64_t leg2_ms = 1'159'374;

// An independent haversine (R = 6371 km) for the expected values of recomputed ETAs.
double distance_m(const GeoPoint& a, const GeoPoint& b) {
  const auto rad = [](double degrees) { return degrees * std::numbers::pi / 180.0; };
  const double s1 = std::sin(rad(b.latitude - a.latitude) / 2.0);
  const double s2 = std::sin(rad(b.longitude - a.longitude) / 2.0);
  const double h = s1 * s1 + std::cos(rad(a.latitude)) * std::cos(rad(b.latitude)) * s2 * s2;
  return 2.0 * 6371000.0 * std::asin(std::sqrt(h));
}

std::int64_t travel_ms(const GeoPoint& a, const GeoPoint& b, double speed = 15.0) {
  return std::llround(distance_m(a, b) / speed * 1000.0);
}

FlightPlan seattle_plan(std::optional<std::int64_t> pickup_time_ms = std::nullopt) {
  RouteSpec spec;
  spec.vehicle_id = "drone-001";
  spec.origin = hangar;
  spec.pickup = pickup;
  spec.dropoff = dropoff;
  spec.pickup_not_before_ms = pickup_time_ms;
  return plan_route(spec, now_ms);
}

void check_point(const GeoPoint& point, double latitude, double longitude, double altitude) {
  BOOST_TEST(point.latitude == latitude, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(point.longitude == longitude, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(point.altitude == altitude);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(plans_and_positions)

BOOST_AUTO_TEST_CASE(a_plan_without_pickup_time_leaves_at_once) {
  const FlightPlan plan = seattle_plan();
  BOOST_TEST(plan.number == 1);
  BOOST_TEST(plan.start_ms == now_ms);
  BOOST_TEST(plan.pickup_eta_ms == now_ms + leg1_ms);
  BOOST_TEST(plan.departure_ms == now_ms + leg1_ms + 60'000);
  BOOST_TEST(plan.delivery_eta_ms == now_ms + leg1_ms + 60'000 + leg2_ms);
  check_point(plan.departure_point, pickup.latitude, pickup.longitude, 0.0);
  BOOST_TEST(remaining_meters(plan, now_ms) == 1707.84 + 17390.60, boost::test_tools::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(a_later_pickup_time_delays_the_take_off) {
  const std::int64_t pickup_time_ms = now_ms + 3'600'000;
  const FlightPlan plan = seattle_plan(pickup_time_ms);
  BOOST_TEST(plan.start_ms == pickup_time_ms - leg1_ms);
  BOOST_TEST(plan.pickup_eta_ms == pickup_time_ms);
  // Waiting in the hangar counts as headed to the pickup; the ETA is the pickup time.
  const FlightPosition waiting = position_at(plan, now_ms + 60'000);
  BOOST_TEST(to_string(waiting.stage) == "HeadedToPickup");
  check_point(waiting.location, hangar.latitude, hangar.longitude, 0.0);
  BOOST_TEST(waiting.pickup_eta_ms == pickup_time_ms);
  BOOST_TEST(waiting.delivery_eta_ms == pickup_time_ms + 60'000 + leg2_ms);
  // A pickup time already past changes nothing.
  BOOST_TEST(seattle_plan(now_ms - 1).start_ms == now_ms);
}

BOOST_AUTO_TEST_CASE(positions_along_the_legs) {
  const FlightPlan plan = seattle_plan();
  const FlightPosition start = position_at(plan, now_ms);
  BOOST_TEST(to_string(start.stage) == "HeadedToPickup");
  check_point(start.location, hangar.latitude, hangar.longitude, 0.0);  // on the ground
  BOOST_TEST(start.pickup_eta_ms == plan.pickup_eta_ms);
  BOOST_TEST(start.delivery_eta_ms == plan.delivery_eta_ms);

  const FlightPosition halfway = position_at(plan, now_ms + leg1_ms / 2);
  BOOST_TEST(to_string(halfway.stage) == "HeadedToPickup");
  check_point(halfway.location, 47.6151, -122.3412, 120.0);

  const FlightPosition loading = position_at(plan, plan.pickup_eta_ms + 30'000);
  BOOST_TEST(to_string(loading.stage) == "HeadedToDropoff");
  check_point(loading.location, pickup.latitude, pickup.longitude, 0.0);
  BOOST_TEST(loading.pickup_eta_ms == plan.pickup_eta_ms);
  BOOST_TEST(loading.delivery_eta_ms == plan.delivery_eta_ms);

  const FlightPosition quarter = position_at(plan, plan.departure_ms + leg2_ms / 4);
  BOOST_TEST(to_string(quarter.stage) == "HeadedToDropoff");
  check_point(quarter.location, 47.6097 + 0.0643 * (leg2_ms / 4) / double(leg2_ms),
              -122.3331 + 0.2116 * (leg2_ms / 4) / double(leg2_ms), 120.0);

  const FlightPosition landed = position_at(plan, plan.delivery_eta_ms);
  BOOST_TEST(to_string(landed.stage) == "Completed");
  check_point(landed.location, dropoff.latitude, dropoff.longitude, 0.0);
  BOOST_TEST(landed.delivery_eta_ms == plan.delivery_eta_ms);
  BOOST_TEST(remaining_meters(plan, plan.delivery_eta_ms) == 0.0);
}

BOOST_AUTO_TEST_CASE(etas_are_recomputed_from_the_remaining_distance) {
  const FlightPlan plan = seattle_plan();
  // On the first leg: the time from here to the pickup, then handling and the whole second leg.
  const std::int64_t at1_ms = now_ms + 40'000;
  const FlightPosition first = position_at(plan, at1_ms);
  const std::int64_t pickup_eta_ms = at1_ms + travel_ms(first.location, pickup);
  BOOST_TEST(first.pickup_eta_ms == pickup_eta_ms);
  BOOST_TEST(first.delivery_eta_ms == pickup_eta_ms + 60'000 + leg2_ms);
  // On the second leg: the time from here to the drop-off. Linear interpolation in degrees is not
  // exactly the great circle, so it differs from the plan by a fraction of a second.
  const std::int64_t at2_ms = plan.departure_ms + leg2_ms / 4;
  const FlightPosition second = position_at(plan, at2_ms);
  BOOST_TEST(second.delivery_eta_ms == at2_ms + travel_ms(second.location, dropoff));
  BOOST_TEST(std::abs(second.delivery_eta_ms - plan.delivery_eta_ms) < 500);
  BOOST_TEST(second.delivery_eta_ms != plan.delivery_eta_ms);  // really recomputed, not copied
  // A faster vehicle on the same plan is due sooner: the speed is the plan's.
  FlightPlan fast = plan;
  fast.speed_meters_per_second = 30.0;
  BOOST_TEST(position_at(fast, at2_ms).delivery_eta_ms == at2_ms + travel_ms(second.location, dropoff, 30.0));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(replanning)

BOOST_AUTO_TEST_CASE(turning_on_the_last_leg_flies_from_here_to_the_new_drop_off) {
  const FlightPlan plan = seattle_plan();
  const std::int64_t turn_ms = plan.departure_ms + leg2_ms / 4;
  const GeoPoint here = position_at(plan, turn_ms).location;
  const Replan replan =
      replan_route(plan, RouteChange{GeoPoint{1.0, 1.0, 0.0}, now_ms, other_dropoff}, turn_ms);
  BOOST_TEST(replan.applied);
  BOOST_TEST(replan.ignored == (std::vector<std::string>{"pickupLocation", "pickupTime"}),
             boost::test_tools::per_element());
  const FlightPlan& next = replan.plan;
  BOOST_TEST(next.number == 2);
  check_point(next.pickup, pickup.latitude, pickup.longitude, 0.0);  // the package is aboard
  check_point(next.departure_point, here.latitude, here.longitude, 120.0);
  BOOST_TEST(next.departure_ms == turn_ms);
  BOOST_TEST(next.delivery_eta_ms == turn_ms + travel_ms(here, other_dropoff));
  BOOST_TEST(next.pickup_eta_ms == plan.pickup_eta_ms);  // the past stays as it was

  // A minute later it is on its way to the new drop-off, and lands there.
  const FlightPosition later = position_at(next, turn_ms + 60'000);
  BOOST_TEST(to_string(later.stage) == "HeadedToDropoff");
  BOOST_TEST(distance_m(later.location, other_dropoff) < distance_m(here, other_dropoff) - 800.0);
  BOOST_TEST(later.delivery_eta_ms == turn_ms + 60'000 + travel_ms(later.location, other_dropoff));
  const FlightPosition landed = position_at(next, next.delivery_eta_ms);
  BOOST_TEST(to_string(landed.stage) == "Completed");
  check_point(landed.location, other_dropoff.latitude, other_dropoff.longitude, 0.0);
}

BOOST_AUTO_TEST_CASE(during_handling_only_the_last_leg_changes) {
  const FlightPlan plan = seattle_plan();
  const Replan replan = replan_route(plan, RouteChange{{}, {}, other_dropoff}, plan.pickup_eta_ms + 10'000);
  BOOST_TEST(replan.applied);
  BOOST_TEST(replan.plan.departure_ms == plan.departure_ms);
  check_point(replan.plan.departure_point, pickup.latitude, pickup.longitude, 0.0);
  BOOST_TEST(replan.plan.delivery_eta_ms == plan.departure_ms + travel_ms(pickup, other_dropoff));
}

BOOST_AUTO_TEST_CASE(before_the_pickup_a_flying_drone_heads_for_the_new_pickup) {
  const FlightPlan plan = seattle_plan();
  const std::int64_t turn_ms = now_ms + leg1_ms / 2;
  const GeoPoint here = position_at(plan, turn_ms).location;
  const GeoPoint new_pickup{47.6300, -122.3400, 0.0};
  const std::int64_t pickup_time_ms = now_ms + 600'000;
  const Replan replan = replan_route(plan, RouteChange{new_pickup, pickup_time_ms, {}}, turn_ms);
  BOOST_TEST(replan.applied);
  BOOST_TEST(replan.ignored.empty());
  const FlightPlan& next = replan.plan;
  check_point(next.origin, here.latitude, here.longitude, 120.0);
  BOOST_TEST(next.start_ms == turn_ms);  // flying on at once ...
  BOOST_TEST(next.pickup_eta_ms == turn_ms + travel_ms(here, new_pickup));
  BOOST_TEST(next.departure_ms == pickup_time_ms + 60'000);  // ... and waiting there for the pickup time
  BOOST_TEST(next.delivery_eta_ms == next.departure_ms + travel_ms(new_pickup, dropoff));
  BOOST_TEST(to_string(position_at(next, next.pickup_eta_ms + 1).stage) == "HeadedToDropoff");
}

BOOST_AUTO_TEST_CASE(in_the_hangar_a_later_pickup_time_delays_the_take_off) {
  const FlightPlan plan = seattle_plan(now_ms + 600'000);
  const Replan replan = replan_route(plan, RouteChange{{}, now_ms + 3'600'000, {}}, now_ms + 1000);
  BOOST_TEST(replan.applied);
  BOOST_TEST(replan.plan.start_ms == now_ms + 3'600'000 - leg1_ms);
  BOOST_TEST(replan.plan.pickup_eta_ms == now_ms + 3'600'000);
  check_point(replan.plan.origin, hangar.latitude, hangar.longitude, 0.0);
}

BOOST_AUTO_TEST_CASE(after_landing_nothing_changes) {
  const FlightPlan plan = seattle_plan();
  const Replan replan = replan_route(plan, RouteChange{{}, {}, other_dropoff}, plan.delivery_eta_ms);
  BOOST_TEST(!replan.applied);
  BOOST_TEST(replan.reason == "the package was delivered at 2026-11-21T04:54:47.230Z");
  BOOST_TEST(replan.plan.number == 1);
  // A change that changes nothing keeps the plan and its number.
  const Replan same = replan_route(plan, RouteChange{pickup, {}, {}}, plan.departure_ms + 1);
  BOOST_TEST(same.applied);
  BOOST_TEST(same.plan.number == 1);
  BOOST_TEST(same.ignored == std::vector<std::string>{"pickupLocation"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(json_form)

BOOST_AUTO_TEST_CASE(a_plan_round_trips_through_json) {
  FlightPlan plan = replan_route(seattle_plan(now_ms + 1000), RouteChange{{}, {}, other_dropoff},
                                 now_ms + leg1_ms + 300'000)
                        .plan;
  json value = to_json(plan);
  BOOST_TEST(value.at("plan") == 2);
  BOOST_TEST(value.at("startedAt") == "2026-11-21T04:32:34.000Z");
  BOOST_TEST(value.at("pickupNotBefore") == "2026-11-21T04:32:35.000Z");
  BOOST_TEST(value.at("handlingSeconds") == 60.0);
  value["droneId"] = "drone-001";
  const FlightPlan back = flight_plan_from_json(value);
  BOOST_TEST(back.vehicle_id == "drone-001");
  BOOST_TEST(to_json(back) == to_json(plan));
  BOOST_TEST(back.delivery_eta_ms == plan.delivery_eta_ms);
}

BOOST_AUTO_TEST_CASE(malformed_plans_name_the_field) {
  json value = to_json(seattle_plan());
  const auto message = [](const json& bad) {
    try {
      flight_plan_from_json(bad);
    } catch (const FlightPlanError& error) {
      return std::string(error.what());
    }
    return std::string("accepted");
  };
  json bad = value;
  bad.erase("deliveryEta");
  BOOST_TEST(message(bad) == "flight plan: missing required field 'deliveryEta'");
  bad = value;
  bad["plan"] = 0;
  BOOST_TEST(message(bad) == "flight plan: field 'plan' must be an integer from 1 to 1000000");
  bad = value;
  bad["pickup"] = "north";
  BOOST_TEST(message(bad).find("field 'pickup' must be a \"lat,lon\" string") != std::string::npos);
  bad = value;
  bad["departureAt"] = "2020-01-01T00:00:00Z";
  BOOST_TEST(message(bad).find("times must not decrease") != std::string::npos);
  BOOST_TEST(message(json::array()) == "flight plan: arguments must be a JSON object");
}

BOOST_AUTO_TEST_CASE(locations_are_read_like_the_activities_read_them) {
  check_point(location_from_json("47.6, -122.3", "pickupLocation"), 47.6, -122.3, 0.0);
  check_point(location_from_json(json{{"latitude", 1.5}, {"longitude", 2.5}}, "x"), 1.5, 2.5, 0.0);
  BOOST_CHECK_EXCEPTION(location_from_json("91,0", "dropOffLocation"), std::invalid_argument,
                        [](const std::invalid_argument& e) {
                          return std::string(e.what()) ==
                                 "field 'dropOffLocation' has a latitude outside -90..90";
                        });
  BOOST_CHECK_THROW(location_from_json(json{{"latitude", 1}}, "x"), std::invalid_argument);
  BOOST_CHECK_THROW(location_from_json(7, "x"), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()

// --- The activities on top of the model ---------------------------------------------------------

namespace {

using flightplan::testing::RecordingHost;
using flightplan::testing::SentSignal;

struct Services {
  Services() { register_delivery_activities(registry, store); }
  ActivityResult call(const std::string& name, json arguments, std::int64_t at_ms = now_ms,
                      const std::string& key = "") {
    Activity* activity = registry.find(name);
    BOOST_REQUIRE_MESSAGE(activity != nullptr, name << " is not registered");
    return host.execute(*activity, ActivityRequest{"wf-1", name, key, 1, std::move(arguments), at_ms});
  }
  flightplan::memory::MemoryServiceStore store;
  ActivityRegistry registry;
  RecordingHost host;
};

json schedule_args() {
  return {{"deliveryId", "d1"},
          {"pickupLocation", "47.6097,-122.3331"},
          {"dropOffLocation", {{"latitude", 47.6740}, {"longitude", -122.1215}}},
          {"packageInfo", {{"size", "small"}, {"weight", 2.5}}}};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(activities)

BOOST_AUTO_TEST_CASE(schedule_outputs_a_plan_the_api_can_read) {
  Services services;
  json args = schedule_args();
  args["pickupTime"] = "2026-11-21T05:32:34Z";
  const ActivityResult result = services.call("drone.schedule", args);
  BOOST_REQUIRE(result.ok);
  const FlightPlan plan = flight_plan_from_json(result.output);
  BOOST_TEST(plan.vehicle_id == "drone-001");
  BOOST_TEST(plan.number == 1);
  BOOST_TEST(plan.pickup_eta_ms == now_ms + 3'600'000);
  BOOST_TEST(result.output.at("flightSeconds") == (3'600'000 + 60'000 + leg2_ms) / 1000.0);
  BOOST_REQUIRE_EQUAL(services.host.signals.size(), 1U);
  BOOST_TEST(services.host.signals[0].payload.at("plan") == 1);
  BOOST_TEST(services.host.signals[0].delay_ms == 3'600'000 + 60'000 + leg2_ms);
}

BOOST_AUTO_TEST_CASE(reschedule_mid_flight_replans_and_signals_the_new_plan) {
  Services services;
  BOOST_REQUIRE(services.call("drone.schedule", schedule_args()).ok);
  const std::int64_t turn_ms = now_ms + leg1_ms + 60'000 + leg2_ms / 4;
  const json args{{"deliveryId", "d1"}, {"dropOffLocation", "47.65,-122.2"}, {"pickupLocation", "1,1"}};
  const ActivityResult result = services.call("drone.reschedule", args, turn_ms, "wf-1/r/1");
  BOOST_REQUIRE(result.ok);
  BOOST_TEST(result.output.at("replanned") == true);
  BOOST_TEST(result.output.at("changed") == json({{"dropOffLocation", "47.65,-122.2"}}));
  BOOST_TEST(result.output.at("ignored") == json({"pickupLocation"}));
  BOOST_TEST(result.output.at("reason").is_null());
  const FlightPlan plan = flight_plan_from_json(result.output.at("route"));
  BOOST_TEST(plan.number == 2);
  check_point(plan.dropoff, 47.65, -122.2, 0.0);
  BOOST_REQUIRE_EQUAL(services.host.signals.size(), 2U);
  const SentSignal& landing = services.host.signals[1];
  BOOST_TEST(landing.payload.at("plan") == 2);
  BOOST_TEST(landing.delay_ms == plan.delivery_eta_ms - turn_ms);
  // The same key again: the same answer and no third signal.
  BOOST_TEST(services.call("drone.reschedule", args, turn_ms + 5, "wf-1/r/1").output == result.output);
  BOOST_TEST(services.host.signals.size() == 2U);
  // Tracking follows the new plan.
  const json track = services.call("drone.track", {{"deliveryId", "d1"}}, plan.delivery_eta_ms).output;
  BOOST_TEST(track.at("stage") == "Completed");
  BOOST_TEST(track.at("plan") == 2);
}

BOOST_AUTO_TEST_CASE(reschedule_refusals_keep_the_flight) {
  Services services;
  BOOST_REQUIRE(services.call("drone.schedule", schedule_args()).ok);
  // Out of drone range from the pickup: the flight goes on as planned.
  const ActivityResult far =
      services.call("drone.reschedule", {{"deliveryId", "d1"}, {"dropOffLocation", "48.5,-122.3"}});
  BOOST_REQUIRE(far.ok);
  BOOST_TEST(far.output.at("replanned") == false);
  BOOST_TEST(far.output.at("reason").get<std::string>().find("beyond the drone range of 30 km") !=
             std::string::npos);
  BOOST_TEST(far.output.at("route").at("plan") == 1);
  // After landing.
  const ActivityResult late = services.call(
      "drone.reschedule", {{"deliveryId", "d1"}, {"dropOffLocation", "47.65,-122.2"}}, now_ms + 10'000'000);
  BOOST_TEST(late.output.at("replanned") == false);
  BOOST_TEST(late.output.at("changed") == json::object());
  BOOST_TEST(services.host.signals.size() == 1U);
  // Unknown delivery, bad location.
  BOOST_TEST(services.call("drone.reschedule", {{"deliveryId", "d9"}}).failure.status == 404);
  const ActivityResult bad =
      services.call("drone.reschedule", {{"deliveryId", "d1"}, {"dropOffLocation", "x"}});
  BOOST_TEST(bad.failure.status == 400);
  BOOST_TEST(bad.failure.detail.find("'dropOffLocation'") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_van_is_booked_anew_before_pickup_and_turned_after) {
  Services services;
  const json book_args{{"deliveryId", "d1"},
                       {"pickupLocation", "47.6097,-122.3331"},
                       {"dropOffLocation", "47.6740,-122.1215"}};
  const ActivityResult booked = services.call("transport.book", book_args);
  BOOST_REQUIRE(booked.ok);
  const FlightPlan van = flight_plan_from_json(booked.output);
  BOOST_TEST(van.vehicle_id == "booking-0001");
  BOOST_TEST(van.pickup_eta_ms == now_ms + 900'000);
  BOOST_TEST(van.delivery_eta_ms == now_ms + 900'000 + travel_ms(pickup, dropoff, 10.0));
  BOOST_TEST(van.cruise_altitude_meters == 0.0);
  BOOST_TEST(services.host.signals.at(0).payload.at("plan") == 1);

  // Before the pickup: a fresh booking with the lead time from now.
  const ActivityResult before =
      services.call("transport.reschedule",
                    {{"bookingId", "booking-0001"}, {"dropOffLocation", "47.65,-122.2"}}, now_ms + 60'000);
  BOOST_REQUIRE(before.ok);
  const FlightPlan second = flight_plan_from_json(before.output.at("route"));
  BOOST_TEST(second.number == 2);
  BOOST_TEST(second.pickup_eta_ms == now_ms + 60'000 + 900'000);
  BOOST_TEST(second.delivery_eta_ms == second.pickup_eta_ms + travel_ms(pickup, other_dropoff, 10.0));

  // On the road: it turns where it is, on the ground.
  const std::int64_t turn_ms = second.pickup_eta_ms + 100'000;
  const ActivityResult after =
      services.call("transport.reschedule",
                    {{"bookingId", "booking-0001"}, {"dropOffLocation", "47.6740,-122.1215"}}, turn_ms);
  const FlightPlan third = flight_plan_from_json(after.output.at("route"));
  BOOST_TEST(third.number == 3);
  BOOST_TEST(third.departure_ms == turn_ms);
  BOOST_TEST(third.departure_point.altitude == 0.0);
  BOOST_TEST(third.delivery_eta_ms == turn_ms + travel_ms(third.departure_point, dropoff, 10.0));
  BOOST_TEST(services.host.signals.size() == 3U);
  BOOST_TEST(services.host.signals.back().payload.at("plan") == 3);
  BOOST_TEST(services.call("transport.reschedule", {{"bookingId", "booking-0009"}}).failure.status == 404);
}

BOOST_AUTO_TEST_SUITE_END()

#define BOOST_TEST_MODULE flight_workflow
// workflows/delivery.yaml with the signals the delivery API sends, in virtual time: reschedules in
// flight and before the drone is booked, stale `delivered` signals, a moved deadline, confirmations
// (required, missing, early hand-over) and a third-party reroute. Every run also replays. The delivery
// API's pure parts (request validation, the delivery and its status read from these workflows'
// states) are checked here too, without sockets.
#include "../support/harness.hpp"

#include "flightplan/activities/flight.hpp"
#include "flightplan/engine/duration.hpp"
#include "flightplan/rest/delivery_api.hpp"

using flightplan::activities::flight_plan_from_json;
using flightplan::engine::WorkflowStatus;
using flightplan::memory::WorkflowRecord;
using flightplan::testing::check_replay;
using flightplan::testing::compile_file;
using flightplan::testing::event_refs;
using flightplan::testing::Harness;
using flightplan::testing::start_ms;
using nlohmann::json;

namespace {

constexpr std::int64_t minute_ms = 60'000;

// Starts at 2026-11-21T00:00:00Z; the drone leaves the hangar at once, is at the pickup at
// 00:01:53.856, leaves it at 00:02:53.856 and would land at 00:22:13.230.
json delivery_input(bool confirmation_required = false) {
  return json{{"deliveryId", "d-1"},
              {"ownerId", "fabrikam-books"},
              {"pickupLocation", "47.6097,-122.3331"},
              {"pickupTime", "2026-11-21T00:10:00Z"},
              {"deadline", "2026-11-21T06:00:00Z"},
              {"expedited", false},
              {"confirmationRequired", confirmation_required},
              {"dropOffLocation", "47.6740,-122.1215"},
              {"packageInfo", {{"packageId", "p-1"}, {"size", "small"}, {"weight", 2.5}, {"tag", "books"}}}};
}

constexpr std::int64_t first_landing_ms = start_ms + 1'333'230;

struct Run {
  Harness h;
  flightplan::engine::DefinitionPtr definition = compile_file("workflows/delivery.yaml");

  explicit Run(json input) { h.runtime->start(definition, "wf", std::move(input)); }
  const WorkflowRecord& record() const { return h.runtime->workflow("wf"); }
  void signal(const std::string& name, json payload) { h.runtime->signal("wf", name, std::move(payload)); }
  const WorkflowRecord& finish() {
    h.runtime->run();
    check_replay(record());
    return record();
  }
};

std::int64_t epoch_ms(const json& text) {
  return flightplan::engine::parse_timestamp_ms(text.get<std::string>()).value();
}

std::vector<json> signals_received(const WorkflowRecord& record, const std::string& name) {
  std::vector<json> payloads;
  for (const auto& event : record.events)
    if (event.type == "signal_received" && event.data.at("signal") == name)
      payloads.push_back(event.data.at("payload"));
  return payloads;
}

}  // namespace

BOOST_AUTO_TEST_CASE(reschedule_in_flight_lands_at_the_new_drop_off_and_ignores_the_old_landing) {
  Run run(delivery_input());
  run.h.runtime->run_for(20 * minute_ms);  // on the way to the drop-off
  BOOST_TEST(run.record().state.status == WorkflowStatus::waiting);
  // Farther than the old drop-off, so the old plan's landing comes first and must be ignored.
  run.signal("reschedule", {{"dropOffLocation", "47.7000,-122.0500"}});
  const WorkflowRecord& record = run.finish();
  BOOST_TEST(record.state.status == WorkflowStatus::completed, record.state.error.dump());

  const json& carrier = record.state.context.at("carrier");
  BOOST_TEST(carrier.at("plan") == 2);
  BOOST_TEST(carrier.at("dropoff").at("latitude") == 47.7);
  BOOST_TEST(record.state.context.at("route").at("dropOffLocation") == "47.7000,-122.0500");
  BOOST_TEST(record.state.context.at("reschedules") == 1);
  BOOST_TEST(record.state.output.at("deliveredAt") == carrier.at("deliveryEta"));
  BOOST_TEST(epoch_ms(carrier.at("deliveryEta")) > first_landing_ms);
  // Both landings arrived; the stale one (plan 1) was left in the buffer, unconsumed.
  const auto landings = signals_received(record, "delivered");
  BOOST_REQUIRE_EQUAL(landings.size(), 2u);
  BOOST_TEST(landings[0].at("plan") == 1);
  BOOST_TEST(landings[1].at("plan") == 2);
  BOOST_REQUIRE_EQUAL(record.state.signals.size(), 1u);
  BOOST_TEST(record.state.signals[0].at("data").at("plan") == 1);
  const auto reroutes = event_refs(record, "activity_scheduled");
  BOOST_TEST(std::count(reroutes.begin(), reroutes.end(), "/do/10/rescheduleDrone") == 1);
}

BOOST_AUTO_TEST_CASE(a_reschedule_before_the_drone_is_booked_is_applied_when_the_wait_begins) {
  Run run(delivery_input());
  run.signal("reschedule", {{"dropOffLocation", {{"latitude", 47.65}, {"longitude", -122.2}}}});
  const WorkflowRecord& record = run.finish();
  BOOST_TEST(record.state.status == WorkflowStatus::completed, record.state.error.dump());
  // Booked for the old drop-off, then re-planned from the hangar before it took off.
  const auto plan = flight_plan_from_json(record.state.context.at("carrier"));
  BOOST_TEST(plan.number == 2);
  BOOST_TEST(plan.dropoff.latitude == 47.65);
  BOOST_TEST(plan.start_ms == start_ms);
  BOOST_TEST(plan.pickup_eta_ms == start_ms + 113'856);
  BOOST_TEST(epoch_ms(record.state.output.at("deliveredAt")) == plan.delivery_eta_ms);
  bool consumed_from_buffer = false;
  for (const auto& event : record.events)
    if (event.type == "signal_consumed" && event.reference == "/do/8/awaitDelivered" &&
        event.data.at("signal") == "reschedule")
      consumed_from_buffer = event.data.at("buffered") == true;
  BOOST_TEST(consumed_from_buffer);
}

BOOST_AUTO_TEST_CASE(a_moved_deadline_is_the_one_waited_for) {
  Run run(delivery_input());
  run.h.runtime->run_for(5 * minute_ms);
  run.signal("reschedule", {{"deadline", "2026-11-21T00:15:00Z"}});
  const WorkflowRecord& record = run.finish();
  BOOST_TEST(record.state.status == WorkflowStatus::compensated);
  BOOST_TEST(record.state.error.at("instance") == "/do/8/awaitDelivered");
  BOOST_TEST(record.state.closed_ms >= start_ms + 15 * minute_ms);
  // Only the deadline changed: the flight kept its plan.
  BOOST_TEST(record.state.context.at("carrier").at("plan") == 1);
  BOOST_TEST(
      event_refs(record, "compensation_started") ==
          (std::vector<std::string>{"/do/7/createDelivery", "/do/6/scheduleDrone", "/do/5/createPackage"}),
      boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_required_confirmation_sent_early_completes_after_the_landing) {
  Run run(delivery_input(true));
  run.h.runtime->run_for(20 * minute_ms);
  const json confirmation{{"dateTime", "2026-11-21T00:20:00.000Z"}, {"confirmationType", "Signature"}};
  run.signal("confirmation", confirmation);
  const WorkflowRecord& record = run.finish();
  BOOST_TEST(record.state.status == WorkflowStatus::completed, record.state.error.dump());
  BOOST_TEST(record.state.output.at("confirmation") == confirmation);
  // Delivered when it landed, not when the confirmation was sent.
  BOOST_TEST(epoch_ms(record.state.output.at("deliveredAt")) == first_landing_ms);
  BOOST_TEST(record.state.closed_ms >= first_landing_ms);
  BOOST_TEST(event_refs(record, "task_completed").back() == "/do/15/complete");
}

BOOST_AUTO_TEST_CASE(a_missing_confirmation_undoes_the_delivery_after_an_hour) {
  Run run(delivery_input(true));
  const WorkflowRecord& record = run.finish();
  BOOST_TEST(record.state.status == WorkflowStatus::compensated);
  BOOST_TEST(record.state.error.at("type") == "https://serverlessworkflow.io/spec/1.0.0/errors/timeout");
  BOOST_TEST(record.state.error.at("instance") == "/do/12/awaitConfirmation");
  BOOST_TEST(record.state.closed_ms >= first_landing_ms + 60 * minute_ms);
  BOOST_TEST(
      event_refs(record, "compensation_completed") ==
          (std::vector<std::string>{"/do/7/createDelivery", "/do/6/scheduleDrone", "/do/5/createPackage"}),
      boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_confirmation_hands_the_package_over_early) {
  Run run(delivery_input(false));
  run.h.runtime->run_for(20 * minute_ms);
  run.signal("confirmation", {{"dateTime", "2026-11-21T00:20:00.000Z"}, {"confirmationType", "Picture"}});
  const WorkflowRecord& record = run.finish();
  BOOST_TEST(record.state.status == WorkflowStatus::completed, record.state.error.dump());
  BOOST_TEST(record.state.output.at("deliveredAt") == "2026-11-21T00:20:00.000Z");
  BOOST_TEST(record.state.output.at("confirmation").at("confirmationType") == "Picture");
  BOOST_TEST(record.state.closed_ms == start_ms + 20 * minute_ms);
  // The drone went back to the fleet: its own landing report never arrived.
  BOOST_TEST(signals_received(record, "delivered").empty());
}

BOOST_AUTO_TEST_CASE(a_third_party_booking_is_rerouted_too) {
  json input = delivery_input();
  input["packageInfo"]["size"] = "large";
  Run run(input);
  run.h.runtime->run_for(20 * minute_ms);  // the van picked up at 00:15
  run.signal("reschedule",
             {{"dropOffLocation", "47.6500,-122.2000"}, {"pickupTime", "2026-11-21T01:00:00Z"}});
  const WorkflowRecord& record = run.finish();
  BOOST_TEST(record.state.status == WorkflowStatus::completed, record.state.error.dump());
  const json& carrier = record.state.context.at("carrier");
  BOOST_TEST(carrier.at("bookingId") == "booking-0001");
  BOOST_TEST(carrier.at("plan") == 2);
  BOOST_TEST(record.state.output.at("bookingId") == "booking-0001");
  BOOST_TEST(record.state.output.at("deliveredAt") == carrier.at("deliveryEta"));
  // The pickup time came too late: only the drop-off changed.
  BOOST_TEST(record.state.context.at("route").at("pickupTime") == "2026-11-21T00:10:00Z");
  BOOST_TEST(record.state.context.at("route").at("dropOffLocation") == "47.6500,-122.2000");
}

BOOST_AUTO_TEST_CASE(malformed_signals_are_left_alone) {
  Run run(delivery_input());
  run.h.runtime->run_for(20 * minute_ms);
  run.signal("reschedule", "somewhere else");
  run.signal("delivered", "now");
  run.signal("delivered", {{"plan", 7}});
  const WorkflowRecord& record = run.finish();
  BOOST_TEST(record.state.status == WorkflowStatus::completed, record.state.error.dump());
  BOOST_TEST(epoch_ms(record.state.output.at("deliveredAt")) == first_landing_ms);
  BOOST_TEST(record.state.signals.size() == 3u);
}

// --- The delivery API's view of these workflows ----------------------------------------------------

namespace {

json status_at(const Run& run, std::int64_t at_ms) {
  return flightplan::rest::delivery_status(run.record().state, at_ms);
}

// The problem detail an invalid body gets, or "accepted".
template <typename Normalise>
std::string rejection(Normalise normalise, const json& body) {
  try {
    normalise(body);
  } catch (const flightplan::engine::OperationError& error) {
    BOOST_TEST((error.category() == flightplan::engine::ErrorCategory::invalid_argument));
    return error.what();
  }
  return "accepted";
}

json request_body() {
  json body = delivery_input();
  body.erase("deliveryId");
  return body;
}

}  // namespace

BOOST_AUTO_TEST_CASE(status_moves_along_the_flight) {
  Run run(delivery_input());
  json status = status_at(run, start_ms);
  BOOST_TEST(status.at("stage") == "Created");  // only the account check is under way
  BOOST_TEST(status.at("lastKnownLocation").is_null());
  BOOST_TEST(status.at("droneId").is_null());

  run.h.runtime->run_for(minute_ms);
  status = status_at(run, start_ms + minute_ms);
  BOOST_TEST(status.at("stage") == "HeadedToPickup");
  BOOST_TEST(status.at("droneId") == "drone-001");
  BOOST_TEST(status.at("carrier") == "drone");
  BOOST_TEST(status.at("lastKnownLocation").at("altitude") == 120.0);
  // Recomputed from where the drone is: within milliseconds of the planned 00:01:53.856.
  BOOST_TEST(std::abs(epoch_ms(status.at("pickupETA")) - (start_ms + 113'856)) < 50);

  run.h.runtime->run_for(9 * minute_ms);
  const json a = status_at(run, start_ms + 10 * minute_ms);
  const json b = status_at(run, start_ms + 11 * minute_ms);
  BOOST_TEST(a.at("stage") == "HeadedToDropoff");
  BOOST_TEST(b.at("stage") == "HeadedToDropoff");
  BOOST_TEST(a.at("lastKnownLocation") != b.at("lastKnownLocation"));
  BOOST_TEST(b.at("lastKnownLocation").at("latitude").get<double>() >
             a.at("lastKnownLocation").at("latitude").get<double>());
  // Recomputed at each instant, close to the planned landing.
  BOOST_TEST(std::abs(epoch_ms(b.at("deliveryETA")) - first_landing_ms) < 1000);

  const WorkflowRecord& record = run.finish();
  status = flightplan::rest::delivery_status(record.state, first_landing_ms + 3'600'000);
  BOOST_TEST(status.at("stage") == "Completed");
  BOOST_TEST(status.at("lastKnownLocation").at("latitude") == 47.674);
  BOOST_TEST(status.at("lastKnownLocation").at("altitude") == 0.0);
  BOOST_TEST(status.at("deliveryETA") == record.state.output.at("deliveredAt"));

  const json view = flightplan::rest::delivery_view(record.state);
  BOOST_TEST(view.at("id") == "wf");
  BOOST_TEST(view.at("status") == "completed");
  BOOST_TEST(view.at("workflowStatus") == "completed");
  BOOST_TEST(view.at("droneId") == "drone-001");
  BOOST_TEST(view.at("dropoff") == json({{"latitude", 47.674}, {"longitude", -122.1215}, {"altitude", 0.0}}));
  BOOST_TEST(view.at("deliveredAt") == record.state.output.at("deliveredAt"));
}

BOOST_AUTO_TEST_CASE(status_after_a_cancel_is_cancelled_where_the_drone_was) {
  Run run(delivery_input());
  run.h.runtime->run_for(minute_ms);
  const json flying = status_at(run, start_ms + minute_ms);
  run.h.runtime->cancel("wf", "changed my mind");
  const WorkflowRecord& record = run.finish();
  BOOST_TEST(record.state.status == WorkflowStatus::compensated);
  const json status = flightplan::rest::delivery_status(record.state, start_ms + 2 * 3'600'000);
  BOOST_TEST(status.at("stage") == "Cancelled");
  BOOST_TEST(status.at("lastKnownLocation") == flying.at("lastKnownLocation"));
  BOOST_TEST(status.at("deliveryETA").is_null());
  BOOST_TEST(flightplan::rest::delivery_view(record.state).at("status") == "cancelled");
}

BOOST_AUTO_TEST_CASE(a_reschedule_shows_in_the_delivery_and_a_landing_awaits_confirmation) {
  Run run(delivery_input(true));
  run.h.runtime->run_for(20 * minute_ms);
  run.signal("reschedule", {{"dropOffLocation", "47.7000,-122.0500"}, {"deadline", "2026-11-21T07:00:00Z"}});
  run.h.runtime->run_for(minute_ms);
  const json view = flightplan::rest::delivery_view(run.record().state);
  BOOST_TEST(view.at("dropoff").at("latitude") == 47.7);
  BOOST_TEST(view.at("deadline") == "2026-11-21T07:00:00Z");
  BOOST_TEST(view.at("reschedules") == 1);
  BOOST_TEST(view.at("plan") == 2);
  BOOST_TEST(view.at("status") == "scheduled");
  const auto plan = flight_plan_from_json(run.record().state.context.at("carrier"));
  // Landed at the new drop-off, waiting for the recipient: not complete yet.
  const json landed = status_at(run, plan.delivery_eta_ms + 1000);
  BOOST_TEST(landed.at("stage") == "HeadedToDropoff");
  BOOST_TEST(landed.at("awaitingConfirmation") == true);
  BOOST_TEST(landed.at("lastKnownLocation").at("latitude") == 47.7);
}

BOOST_AUTO_TEST_CASE(delivery_requests_are_validated_field_by_field) {
  using flightplan::rest::normalise_delivery_request;
  const json normalised = normalise_delivery_request(request_body());
  BOOST_TEST(normalised.at("deadline") == "2026-11-21T06:00:00Z");
  BOOST_TEST(normalised.at("pickupTime") == "2026-11-21T00:10:00.000Z");
  BOOST_TEST(normalised.at("packageInfo").at("size") == "small");

  json body = request_body();
  body["deadline"] = "2026-11-21T10:00:00.750+02:00";
  BOOST_TEST(normalise_delivery_request(body).at("deadline") == "2026-11-21T08:00:00Z");
  body.erase("deadline");
  body.erase("expedited");
  BOOST_TEST(!normalise_delivery_request(body).contains("deadline"));
  BOOST_TEST(normalise_delivery_request(body).at("expedited") == false);

  const auto rejected = [](const std::string& pointer, const json& value) {
    json bad = request_body();
    if (value.is_discarded())
      bad.erase(pointer);
    else
      bad[json::json_pointer(pointer)] = value;
    return rejection(normalise_delivery_request, bad);
  };
  BOOST_TEST(rejection(normalise_delivery_request, json::array()) == "the body must be a JSON object");
  json missing = request_body();
  missing.erase("ownerId");
  BOOST_TEST(rejection(normalise_delivery_request, missing) == "field 'ownerId' is required");
  BOOST_TEST(rejected("/ownerId", 7) == "field 'ownerId' must be a string");
  BOOST_TEST(
      rejected("/pickupLocation", "north").find("field 'pickupLocation' must be a \"lat,lon\" string") == 0u);
  BOOST_TEST(rejected("/dropOffLocation", json{{"latitude", 95}, {"longitude", 1}}) ==
             "field 'dropOffLocation' has a latitude outside -90..90");
  BOOST_TEST(rejected("/pickupTime", "tomorrow").find("field 'pickupTime' is not a valid date-time") == 0u);
  BOOST_TEST(rejected("/deadline", "2026-11-21").find("field 'deadline' is not a valid date-time") == 0u);
  BOOST_TEST(rejected("/deadline", "2026-11-21T10:00:00").find("field 'deadline'") == 0u);  // no zone
  BOOST_TEST(rejected("/deadline", 5).find("field 'deadline' must be a date-time string") == 0u);
  BOOST_TEST(rejected("/expedited", "yes") == "field 'expedited' must be true or false");
  BOOST_TEST(rejected("/packageInfo/size", "huge") ==
             "field 'packageInfo.size' must be one of small, medium, large (got 'huge')");
  BOOST_TEST(rejected("/packageInfo/weight", -1).find("field 'packageInfo.weight' must be a number") == 0u);
  BOOST_TEST(rejected("/packageInfo/colour", "red") ==
             "unknown field 'packageInfo.colour' (expected packageId, size, weight, tag)");
  BOOST_TEST(rejected("/packageInfo", "small") == "field 'packageInfo' must be an object");
  BOOST_TEST(rejected("/colour", "red").find("unknown field 'colour'") == 0u);
  BOOST_TEST(rejected("/deliveryId", "mine") == "field 'deliveryId' is assigned by the server; leave it out");
  BOOST_TEST(rejected("/ownerId", std::string(300, 'o')) == "field 'ownerId' is longer than 256 characters");
}

BOOST_AUTO_TEST_CASE(reschedules_and_confirmations_are_validated) {
  using flightplan::rest::normalise_confirmation;
  using flightplan::rest::normalise_reschedule;
  BOOST_TEST(rejection(normalise_reschedule, json::object()) ==
             "the body must change at least one of pickupTime, pickupLocation, dropOffLocation, deadline");
  BOOST_TEST(rejection(normalise_reschedule, json{{"ownerId", "x"}}).find("unknown field 'ownerId'") == 0u);
  BOOST_TEST(rejection(normalise_reschedule, json{{"dropOffLocation", 1}}).find("field 'dropOffLocation'") ==
             0u);
  BOOST_TEST(normalise_reschedule(json{{"deadline", "2026-11-21T07:00:00.999Z"}}) ==
             json({{"deadline", "2026-11-21T07:00:00Z"}}));
  const auto confirmation = [](const json& body) { return normalise_confirmation(body, start_ms); };
  BOOST_TEST(confirmation(json::object()) == json({{"dateTime", "2026-11-21T00:00:00.000Z"}}));
  BOOST_TEST(rejection(confirmation, json{{"confirmationType", "Smile"}}) ==
             "field 'confirmationType' must be one of None, Picture, Signature");
  BOOST_TEST(rejection(confirmation, json{{"geo", 1}}).find("unknown field 'geo'") == 0u);
  BOOST_TEST(rejection(confirmation, json{{"confirmationBlob", std::string(70'000, 'b')}}) ==
             "field 'confirmationBlob' is longer than 65536 bytes");
}

BOOST_AUTO_TEST_CASE(odd_states_give_a_view_not_a_crash) {
  // A `delivery` started through the generic workflow API may carry any input.
  flightplan::engine::WorkflowState state;
  state.id = "odd";
  state.name = "delivery";
  state.status = WorkflowStatus::running;
  state.input = json::array({1, 2});
  state.context = json{{"carrier", nullptr}, {"reschedules", "many"}};
  const json view = flightplan::rest::delivery_view(state);
  BOOST_TEST(view.at("pickup").is_null());
  BOOST_TEST(view.at("expedited") == false);
  BOOST_TEST(view.at("carrier").is_null());
  BOOST_TEST(view.at("status") == "created");
  BOOST_TEST(flightplan::rest::delivery_status(state, start_ms).at("stage") == "Created");
  state.input = json{{"pickupLocation", "nowhere"}, {"expedited", "very"}};
  BOOST_TEST(flightplan::rest::delivery_view(state).at("expedited") == "very");
  BOOST_TEST(flightplan::rest::delivery_view(state).at("pickup").is_null());
  // A carrier plan that cannot be read is the server's fault: an internal error, not a wrong answer.
  state.context = json{{"carrier", {{"droneId", "drone-001"}, {"plan", 1}}}};
  BOOST_CHECK_EXCEPTION(flightplan::rest::delivery_status(state, start_ms),
                        flightplan::engine::OperationError,
                        [](const flightplan::engine::OperationError& error) {
                          return error.category() == flightplan::engine::ErrorCategory::internal;
                        });
}

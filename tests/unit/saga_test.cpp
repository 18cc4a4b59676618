#define BOOST_TEST_MODULE saga
// The delivery saga end to end in virtual time: happy path, faults, timeouts, cancellation, and the
// order and outcome of compensations.
#include "../support/harness.hpp"

using flightplan::engine::WorkflowStatus;
using flightplan::testing::Harness;
using flightplan::testing::compile_file;
using flightplan::testing::event_refs;
using flightplan::testing::event_types;
using flightplan::testing::start_ms;
using nlohmann::json;

namespace {

json delivery_input(const std::string& deadline = "2026-11-21T06:00:00Z") {
  return json{{"deliveryId", "d-1"},
              {"ownerId", "fabrikam-books"},
              {"pickupLocation", "47.6097,-122.3331"},
              {"pickupTime", "2026-11-21T00:10:00Z"},
              {"deadline", deadline},
              {"expedited", false},
              {"confirmationRequired", false},
              {"dropOffLocation", "47.6740,-122.1215"},
              {"packageInfo", {{"packageId", "p-1"}, {"size", "small"}, {"weight", 2.5}, {"tag", "books"}}}};
}

const std::vector<std::string> all_compensations{"/do/7/createDelivery", "/do/6/scheduleDrone",
                                                  "/do/5/createPackage"};

}  // namespace

BOOST_AUTO_TEST_CASE(happy_path_completes_when_the_drone_lands) {
  Harness h;
  const auto& record = h.run(compile_file("workflows/delivery.yaml"), delivery_input());
  BOOST_TEST(record.state.status == WorkflowStatus::completed);
  BOOST_TEST(record.state.output.at("deliveryId") == "d-1");
  BOOST_TEST(record.state.output.at("droneId").get<std::string>().rfind("drone-", 0) == 0);
  BOOST_TEST(record.state.output.at("eta").is_string());
  BOOST_TEST(!record.state.output.at("deliveredAt").is_null());
  BOOST_TEST(event_refs(record, "task_skipped") == (std::vector<std::string>{"/do/4/bookThirdParty"}),
             boost::test_tools::per_element());
  BOOST_TEST(event_types(record, "compensation").empty());
}

BOOST_AUTO_TEST_CASE(drone_failures_compensate_what_completed) {
  Harness h("drone.schedule:fail=1");
  const auto& record = h.run(compile_file("workflows/delivery.yaml"), delivery_input());
  BOOST_TEST(record.state.status == WorkflowStatus::compensated);
  BOOST_TEST(event_types(record, "activity_failed").size() == 3u);  // droneBooking allows 3 attempts
  BOOST_TEST(event_refs(record, "compensation_started") == (std::vector<std::string>{"/do/5/createPackage"}),
             boost::test_tools::per_element());
  BOOST_TEST(record.state.error.at("type") == "https://flightplan.dev/errors/injected-fault");
  BOOST_TEST(record.events.back().type == "workflow_compensated");
  BOOST_TEST(record.events.back().data.at("cause") == "faulted");
}

BOOST_AUTO_TEST_CASE(missed_deadline_compensates_newest_first) {
  Harness h;
  const auto& record = h.run(compile_file("workflows/delivery.yaml"), delivery_input("2026-11-21T00:02:00Z"));
  BOOST_TEST(record.state.status == WorkflowStatus::compensated);
  BOOST_TEST(record.state.error.at("type") == "https://serverlessworkflow.io/spec/1.0.0/errors/timeout");
  BOOST_TEST(record.state.error.at("instance") == "/do/8/awaitDelivered");
  BOOST_TEST(event_refs(record, "compensation_started") == all_compensations, boost::test_tools::per_element());
  BOOST_TEST(event_refs(record, "compensation_completed") == all_compensations, boost::test_tools::per_element());
  // The timeout fired exactly at the deadline.
  for (const auto& event : record.events)
    if (event.type == "task_faulted") BOOST_TEST(event.time_ms == start_ms + 120'000);
}

BOOST_AUTO_TEST_CASE(a_failing_compensation_needs_an_operator) {
  Harness h("package.cancel:fail=1");
  const auto& record = h.run(compile_file("workflows/delivery.yaml"), delivery_input("2026-11-21T00:02:00Z"));
  BOOST_TEST(record.state.status == WorkflowStatus::compensation_failed);
  // The other compensations still ran, in order.
  BOOST_TEST(event_refs(record, "compensation_completed") ==
                 (std::vector<std::string>{"/do/7/createDelivery", "/do/6/scheduleDrone"}),
             boost::test_tools::per_element());
  BOOST_TEST(event_refs(record, "compensation_failed") == (std::vector<std::string>{"/do/5/createPackage"}),
             boost::test_tools::per_element());
  const json& last = record.events.back().data;
  BOOST_TEST(last.at("failures").size() == 1u);
  BOOST_TEST(last.at("failures")[0].at("task") == "/do/5/createPackage");
  // The error that started it all is kept.
  BOOST_TEST(record.state.error.at("type") == "https://serverlessworkflow.io/spec/1.0.0/errors/timeout");
}

BOOST_AUTO_TEST_CASE(cancellation_while_in_flight_compensates) {
  Harness h;
  auto definition = compile_file("workflows/delivery.yaml");
  h.runtime->start(definition, "wf", delivery_input());
  h.runtime->run_for(60'000);  // the drone is in the air
  BOOST_TEST(h.runtime->workflow("wf").state.status == WorkflowStatus::waiting);
  h.runtime->cancel("wf", "customer cancelled");
  h.runtime->run();
  const auto& record = h.runtime->workflow("wf");
  BOOST_TEST(record.state.status == WorkflowStatus::compensated);
  BOOST_TEST(record.events.back().data.at("cause") == "cancelled");
  BOOST_TEST(event_refs(record, "compensation_started") == all_compensations, boost::test_tools::per_element());
  BOOST_TEST(record.state.error.at("detail") == "customer cancelled");
  flightplan::testing::check_replay(record);
}

BOOST_AUTO_TEST_CASE(cancellation_with_nothing_to_undo_is_cancelled) {
  Harness h;
  auto definition = flightplan::testing::compile_yaml(R"(document:
  dsl: '1.0.0'
  namespace: test
  name: idle
  version: '0.1.0'
do:
  - idle:
      wait: PT1H
)");
  h.runtime->start(definition, "wf", json::object());
  h.runtime->cancel("wf", "no longer needed");
  const auto& record = h.runtime->workflow("wf");
  BOOST_TEST(record.state.status == WorkflowStatus::cancelled);
  BOOST_TEST(record.state.timers.empty());
  BOOST_TEST(event_types(record, "timer_cancelled").size() == 1u);
  flightplan::testing::check_replay(record);
}

BOOST_AUTO_TEST_CASE(inactive_account_faults_without_compensation) {
  Harness h;
  json input = delivery_input();
  input["ownerId"] = "inactive-acme";
  const auto& record = h.run(compile_file("workflows/delivery.yaml"), input);
  BOOST_TEST(record.state.status == WorkflowStatus::faulted);
  BOOST_TEST(record.state.error.at("status") == 403);
  BOOST_TEST(event_refs(record, "switch_matched").size() == 1u);
}

BOOST_AUTO_TEST_CASE(many_fault_seeds_fold_and_replay) {
  // For many seeds of fault injection the final state must equal the fold of the history (checked
  // by Harness::run), nothing may be left pending, and compensations run newest first.
  auto definition = compile_file("workflows/delivery.yaml");
  const std::string faults =
      "account:fail=0.1;transport:fail=0.1;package:fail=0.2,hang=0.05;drone:fail=0.5,hang=0.1;"
      "delivery:fail=0.4,hang=0.1";
  int completed = 0;
  int compensated = 0;
  for (std::uint64_t seed = 1; seed <= 150; ++seed) {
    BOOST_TEST_CONTEXT("seed " << seed) {
      Harness h(faults, seed);
      const auto& record = h.run(definition, delivery_input());
      BOOST_TEST(flightplan::engine::is_final(record.state.status));
      BOOST_TEST(record.state.activities.empty());
      BOOST_TEST(record.state.timers.empty());
      BOOST_TEST(record.state.nodes.empty());
      if (record.state.status == WorkflowStatus::completed) ++completed;
      if (record.state.status == WorkflowStatus::compensated) ++compensated;
      // Compensations appear in reverse order of the completions they undo.
      std::vector<std::string> done;
      for (const auto& event : record.events)
        if (event.type == "task_completed" &&
            (event.reference == "/do/5/createPackage" || event.reference == "/do/6/scheduleDrone" ||
             event.reference == "/do/7/createDelivery" || event.reference == "/do/4/bookThirdParty"))
          done.push_back(event.reference);
      // Late results (an attempt given up on that acted after all) are the newest effects: undone first.
      std::vector<std::string> late;
      for (const auto& event : record.events)
        if (event.type == "activity_completed_late") late.push_back(event.reference);
      std::vector<std::string> expected(late.rbegin(), late.rend());
      expected.insert(expected.end(), done.rbegin(), done.rend());
      if (!flightplan::testing::event_types(record, "workflow_compensating").empty())
        BOOST_TEST(event_refs(record, "compensation_started") == expected, boost::test_tools::per_element());
    }
  }
  BOOST_TEST_MESSAGE("completed " << completed << ", compensated " << compensated << " of 150");
  // The mix must exercise both outcomes, or the test proves little.
  BOOST_TEST(completed > 10);
  BOOST_TEST(compensated > 10);
}

BOOST_AUTO_TEST_CASE(drones_return_to_the_fleet_after_each_delivery) {
  // Ten drones serve any number of deliveries in sequence: each completed delivery releases its drone.
  Harness h;
  auto definition = compile_file("workflows/delivery.yaml");
  for (int i = 0; i < 15; ++i) {
    json input = delivery_input();
    input["deliveryId"] = "d-fleet-" + std::to_string(i);
    input["packageInfo"]["packageId"] = "p-fleet-" + std::to_string(i);
    const auto& record = h.run(definition, input, "wf-fleet-" + std::to_string(i));
    BOOST_TEST(record.state.status == WorkflowStatus::completed, "delivery " << i);
  }
}

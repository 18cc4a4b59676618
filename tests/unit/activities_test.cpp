#define BOOST_TEST_MODULE activities
#include <boost/test/unit_test.hpp>

#include "flightplan/activities/activity.hpp"
#include "flightplan/activities/fault_injection.hpp"
#include "flightplan/activities/fleet.hpp"
#include "flightplan/memory/memory_service_store.hpp"
#include "../support/recording_host.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

using flightplan::activities::Activity;
using flightplan::activities::ActivityHost;
using flightplan::activities::ActivityRegistry;
using flightplan::activities::ActivityRequest;
using flightplan::activities::ActivityResult;
using flightplan::activities::FaultDecision;
using flightplan::activities::FaultInjector;
using flightplan::activities::FaultRule;
using flightplan::activities::ServiceStore;
using flightplan::activities::fleet_status;
using flightplan::memory::MemoryServiceStore;
using nlohmann::json;

namespace {

constexpr std::int64_t test_now_ms = 1'795'235'554'000;  // 2026-11-21T04:32:34.000Z
constexpr const char* validation_type = "https://serverlessworkflow.io/spec/1.0.0/errors/validation";
constexpr const char* not_found_type = "https://flightplan.dev/errors/not-found";
constexpr const char* conflict_type = "https://flightplan.dev/errors/conflict";
constexpr const char* unavailable_type = "https://flightplan.dev/errors/unavailable";

// A route in Seattle whose expected figures were computed independently (haversine, R = 6371 km):
// hangar -> pickup 1707.84 m, pickup -> drop-off 17390.60 m.
const json pickup_location = "47.6097,-122.3331";
const json dropoff_location = {{"latitude", 47.6740}, {"longitude", -122.1215}};

using flightplan::testing::RecordingHost;
using flightplan::testing::SentSignal;

// One worker process's activities. By default over a fresh store of its own; given a store, it
// shares the services' state with every other Services over that store (other worker processes).
struct Services {
  Services() : store(own_store) { register_delivery_activities(registry, store); }
  explicit Services(ServiceStore& shared) : store(shared) { register_delivery_activities(registry, store); }

  // Calls `name`; an empty key means "no idempotency", so repeated calls really run again.
  ActivityResult call(const std::string& name, json arguments, std::int64_t now_ms = test_now_ms,
                      const std::string& key = "", const std::string& workflow_id = "wf-1") {
    Activity* activity = registry.find(name);
    BOOST_REQUIRE_MESSAGE(activity != nullptr, "activity " << name << " is not registered");
    const ActivityRequest request{workflow_id, name, key, 1, std::move(arguments), now_ms};
    return host.execute(*activity, request);
  }

  std::optional<ActivityResult> cancel(const std::string& name, const std::string& key) {
    Activity* activity = registry.find(name);
    BOOST_REQUIRE_MESSAGE(activity != nullptr, "activity " << name << " is not registered");
    return activity->cancel(ActivityRequest{"wf-1", name, key, 1, json::object(), test_now_ms});
  }

  json schedule_args(const std::string& delivery_id, bool expedited = false) const {
    return {{"deliveryId", delivery_id},
            {"pickupLocation", pickup_location},
            {"dropOffLocation", dropoff_location},
            {"packageInfo", {{"size", "small"}, {"weight", 2.5}}},
            {"expedited", expedited}};
  }

  MemoryServiceStore own_store;
  ServiceStore& store;
  ActivityRegistry registry;
  RecordingHost host;
};

void check_failure(const ActivityResult& result, const std::string& type, int status, bool retryable,
                   const std::string& detail) {
  BOOST_REQUIRE(!result.ok);
  BOOST_TEST(result.failure.type == type);
  BOOST_TEST(result.failure.status == status);
  BOOST_TEST(result.failure.retryable == retryable);
  BOOST_TEST(result.failure.detail == detail);
}

void check_validation(const ActivityResult& result, const std::string& detail) {
  check_failure(result, validation_type, 400, false, detail);
}

void check_location(const json& location, double latitude, double longitude, double altitude) {
  BOOST_TEST(location.at("latitude").get<double>() == latitude, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(location.at("longitude").get<double>() == longitude, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(location.at("altitude").get<double>() == altitude);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(registry)

BOOST_AUTO_TEST_CASE(registers_every_delivery_activity) {
  Services services;
  const std::vector<std::string> expected{
      "account.check",  "delivery.cancel", "delivery.complete", "delivery.create", "delivery.get",
      "drone.release",  "drone.reschedule", "drone.schedule",   "drone.track",     "package.cancel",
      "package.get",    "package.upsert",   "transport.book",   "transport.cancel", "transport.check",
      "transport.reschedule"};
  BOOST_TEST(services.registry.names() == expected, boost::test_tools::per_element());
  BOOST_TEST(services.registry.find("drone.fly") == nullptr);
  BOOST_TEST(!services.registry.contains("drone"));
}

BOOST_AUTO_TEST_CASE(rejects_duplicate_and_empty_registrations) {
  Services services;
  BOOST_CHECK_THROW(register_delivery_activities(services.registry, services.store), std::invalid_argument);
  BOOST_CHECK_THROW(services.registry.add("x.y", nullptr), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(result_factories) {
  const ActivityResult ok = ActivityResult::success({{"a", 1}});
  BOOST_TEST(ok.ok);
  BOOST_TEST(ok.output == json({{"a", 1}}));
  const ActivityResult failed = ActivityResult::fail("t", 418, "Teapot", "short and stout", false);
  BOOST_TEST(!failed.ok);
  BOOST_TEST(failed.failure.status == 418);
  BOOST_TEST(failed.failure.title == "Teapot");
  BOOST_TEST(failed.failure.detail == "short and stout");
  BOOST_TEST(!failed.failure.retryable);
}

BOOST_AUTO_TEST_CASE(independent_registrations_do_not_share_state) {
  Services first;
  Services second;
  for (int i = 0; i < 10; ++i)
    BOOST_TEST(first.call("drone.schedule", first.schedule_args("d" + std::to_string(i))).ok);
  const ActivityResult other = second.call("drone.schedule", second.schedule_args("d0"));
  BOOST_REQUIRE(other.ok);
  BOOST_TEST(other.output["droneId"] == "drone-001");
}

BOOST_AUTO_TEST_SUITE_END()

// The services' state lives in the ServiceStore, not in the worker process: registries over one
// store behave like worker processes over one Redis.
BOOST_AUTO_TEST_SUITE(shared_state)

BOOST_AUTO_TEST_CASE(a_task_redelivered_to_another_worker_books_one_drone) {
  MemoryServiceStore store;
  Services first_worker(store);
  Services second_worker(store);
  const json args = first_worker.schedule_args("d1");
  const ActivityResult first = first_worker.call("drone.schedule", args, test_now_ms, "wf-1/schedule/1");
  // The same task, redelivered to the other process after a lost acknowledgement.
  const ActivityResult again = second_worker.call("drone.schedule", args, test_now_ms + 30'000, "wf-1/schedule/1");
  BOOST_REQUIRE(first.ok);
  BOOST_TEST((again == first));
  BOOST_TEST(first.output["droneId"] == "drone-001");
  const json fleet = fleet_status(store, test_now_ms);
  int assigned = 0;
  for (const json& drone : fleet) assigned += drone["state"] == "assigned" ? 1 : 0;
  BOOST_TEST(assigned == 1);

  // A worker started later (a restart) sees the fleet as it is: d1 keeps drone-001, d2 gets the next.
  Services restarted(store);
  BOOST_TEST(restarted.call("drone.track", {{"deliveryId", "d1"}}).output["droneId"] == "drone-001");
  BOOST_TEST(restarted.call("drone.schedule", restarted.schedule_args("d2")).output["droneId"] == "drone-002");
  check_failure(restarted.call("drone.schedule", args), conflict_type, 409, false,
                "delivery 'd1' already has drone-001");
}

// A store that runs `hook` once, just before the first record read: what another worker process
// does between this execution's look-up of its key and its reads.
class InterleavedStore final : public ServiceStore {
 public:
  std::vector<std::optional<std::string>> get(std::string_view service, const std::vector<std::string>& ids) override {
    if (hook) std::exchange(hook, nullptr)();
    return inner.get(service, ids);
  }
  std::size_t count(std::string_view service) override { return inner.count(service); }
  std::optional<std::string> recorded(std::string_view service, const std::string& key) override {
    return inner.recorded(service, key);
  }
  bool commit(std::string_view service, const std::vector<flightplan::activities::ServiceRead>& reads,
              const std::vector<flightplan::activities::ServiceWrite>& writes, const std::string& key,
              const std::string& outcome) override {
    return inner.commit(service, reads, writes, key, outcome);
  }
  std::optional<std::string> fence(std::string_view service, const std::string& key, const std::string& tombstone) override {
    return inner.fence(service, key, tombstone);
  }
  std::vector<std::pair<std::string, std::string>> scan(std::string_view service, std::string_view prefix,
                                                        std::size_t limit) override {
    return inner.scan(service, prefix, limit);
  }
  MemoryServiceStore inner;
  std::function<void()> hook;
};

BOOST_AUTO_TEST_CASE(a_redelivered_task_that_sees_its_own_effect_answers_with_its_outcome) {
  InterleavedStore store;
  Services late_worker(store);
  Services first_worker(store.inner);
  ActivityResult first;
  // The late worker finds no outcome for the key, then the first worker runs the same task to the
  // end, then the late worker reads the fleet: d1 already has a drone. Not a 409: the outcome of
  // the key is the answer.
  store.hook = [&] {
    first = first_worker.call("drone.schedule", first_worker.schedule_args("d1"), test_now_ms, "wf-1/schedule/1");
  };
  const ActivityResult late =
      late_worker.call("drone.schedule", late_worker.schedule_args("d1"), test_now_ms, "wf-1/schedule/1");
  BOOST_REQUIRE(first.ok);
  BOOST_TEST((late == first));
}

BOOST_AUTO_TEST_CASE(booking_numbers_are_shared_by_every_worker) {
  MemoryServiceStore store;
  Services first_worker(store);
  Services second_worker(store);
  const json args{{"deliveryId", "d1"}, {"pickupLocation", pickup_location}, {"dropOffLocation", dropoff_location}};
  BOOST_TEST(first_worker.call("transport.book", args).output["bookingId"] == "booking-0001");
  BOOST_TEST(second_worker.call("transport.book", args).output["bookingId"] == "booking-0002");
  BOOST_TEST(first_worker.call("transport.cancel", {{"bookingId", "booking-0002"}}).ok);
}

BOOST_AUTO_TEST_CASE(fleet_status_lists_every_drone) {
  Services services;
  BOOST_REQUIRE(services.call("drone.schedule", services.schedule_args("d1")).ok);
  BOOST_REQUIRE(services.call("drone.schedule", services.schedule_args("d2")).ok);
  BOOST_REQUIRE(services.call("drone.release", {{"droneId", "drone-001"}, {"deliveryId", "d1"}}).ok);
  const std::int64_t at_ms = test_now_ms + 113'856 / 2;
  const json fleet = fleet_status(services.store, at_ms);
  BOOST_REQUIRE_EQUAL(fleet.size(), 10U);
  BOOST_TEST(fleet[0]["droneId"] == "drone-001");
  BOOST_TEST(fleet[0]["state"] == "available");
  BOOST_TEST(!fleet[0].contains("deliveryId"));
  check_location(fleet[0]["lastKnownLocation"], 47.6205, -122.3493, 0.0);
  BOOST_TEST(fleet[1]["droneId"] == "drone-002");
  BOOST_TEST(fleet[1]["state"] == "assigned");
  BOOST_TEST(fleet[1]["deliveryId"] == "d2");
  BOOST_TEST(fleet[1]["plan"] == 1);
  BOOST_TEST(fleet[1]["stage"] == "HeadedToPickup");
  check_location(fleet[1]["lastKnownLocation"], 47.6151, -122.3412, 120.0);
  // What drone.track says at that time.
  const json tracked = services.call("drone.track", {{"deliveryId", "d2"}}, at_ms).output;
  for (const char* field : {"stage", "pickupEta", "deliveryEta", "lastKnownLocation", "plan"})
    BOOST_TEST(fleet[1][field] == tracked[field]);
  BOOST_TEST(fleet[9]["droneId"] == "drone-010");
  BOOST_TEST(fleet[9]["state"] == "available");
}

BOOST_AUTO_TEST_CASE(cancel_fences_a_key_that_has_not_acted) {
  Services services;
  BOOST_TEST(!services.cancel("drone.schedule", "wf-1/schedule/1"));
  // The task arrives after all: it does not act, and says why.
  const ActivityResult late =
      services.call("drone.schedule", services.schedule_args("d1"), test_now_ms, "wf-1/schedule/1");
  check_failure(late, "https://flightplan.dev/errors/cancelled", 499, false,
                "drone.schedule with idempotency key 'wf-1/schedule/1' was cancelled before it ran");
  BOOST_TEST(late.signals.empty());
  BOOST_TEST(services.host.signals.empty());
  for (const json& drone : fleet_status(services.store, test_now_ms)) BOOST_TEST(drone["state"] == "available");
  // Fencing again still reports "did not act".
  BOOST_TEST(!services.cancel("drone.schedule", "wf-1/schedule/1"));
}

BOOST_AUTO_TEST_CASE(cancel_after_the_effect_returns_the_recorded_result) {
  Services services;
  const ActivityResult done =
      services.call("drone.schedule", services.schedule_args("d1"), test_now_ms, "wf-1/schedule/1");
  BOOST_REQUIRE(done.ok);
  const std::optional<ActivityResult> fenced = services.cancel("drone.schedule", "wf-1/schedule/1");
  BOOST_REQUIRE(fenced.has_value());
  BOOST_TEST((*fenced == done));
  // No key, no record, nothing to fence.
  BOOST_TEST(!services.cancel("drone.schedule", ""));
}

// A store that cannot be reached: every call throws ServiceStoreUnavailable.
class UnreachableStore final : public ServiceStore {
 public:
  std::vector<std::optional<std::string>> get(std::string_view, const std::vector<std::string>&) override { fail(); }
  std::size_t count(std::string_view) override { fail(); }
  std::optional<std::string> recorded(std::string_view, const std::string&) override { fail(); }
  bool commit(std::string_view, const std::vector<flightplan::activities::ServiceRead>&,
              const std::vector<flightplan::activities::ServiceWrite>&, const std::string&,
              const std::string&) override {
    fail();
  }
  std::optional<std::string> fence(std::string_view, const std::string&, const std::string&) override { fail(); }
  std::vector<std::pair<std::string, std::string>> scan(std::string_view, std::string_view, std::size_t) override {
    fail();
  }

 private:
  [[noreturn]] static void fail() { throw flightplan::activities::ServiceStoreUnavailable("connection refused"); }
};

// A store where some other process always commits first: every commit is refused.
class ContendedStore final : public ServiceStore {
 public:
  std::vector<std::optional<std::string>> get(std::string_view service, const std::vector<std::string>& ids) override {
    return inner.get(service, ids);
  }
  std::size_t count(std::string_view service) override { return inner.count(service); }
  std::optional<std::string> recorded(std::string_view service, const std::string& key) override {
    return inner.recorded(service, key);
  }
  bool commit(std::string_view, const std::vector<flightplan::activities::ServiceRead>&,
              const std::vector<flightplan::activities::ServiceWrite>&, const std::string&,
              const std::string&) override {
    ++commits;
    return false;
  }
  std::optional<std::string> fence(std::string_view service, const std::string& key, const std::string& tombstone) override {
    return inner.fence(service, key, tombstone);
  }
  std::vector<std::pair<std::string, std::string>> scan(std::string_view service, std::string_view prefix,
                                                        std::size_t limit) override {
    return inner.scan(service, prefix, limit);
  }
  MemoryServiceStore inner;
  int commits = 0;
};

BOOST_AUTO_TEST_CASE(an_unreachable_store_is_a_retryable_failure) {
  UnreachableStore store;
  Services services(store);
  check_failure(services.call("drone.schedule", services.schedule_args("d1"), test_now_ms, "k"), unavailable_type,
                503, true, "the drone service store is unavailable: connection refused");
  BOOST_CHECK_THROW(services.cancel("drone.schedule", "k"), flightplan::activities::ServiceStoreUnavailable);
  BOOST_CHECK_THROW(fleet_status(store, test_now_ms), flightplan::activities::ServiceStoreUnavailable);
}

BOOST_AUTO_TEST_CASE(endless_contention_gives_up_with_a_retryable_failure) {
  ContendedStore store;
  Services services(store);
  check_failure(services.call("drone.schedule", services.schedule_args("d1"), test_now_ms, "k"), unavailable_type,
                503, true, "the drone records kept changing during 16 attempts to commit");
  BOOST_TEST(store.commits == 16);
  // Failures that are not remembered and write nothing never commit.
  check_failure(services.call("drone.track", {{"deliveryId", "d1"}}, test_now_ms, "k2"), not_found_type, 404, false,
                "no drone flight for delivery 'd1'");
  BOOST_TEST(store.commits == 16);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(account)

BOOST_AUTO_TEST_CASE(active_inactive_and_unknown_owners) {
  Services services;
  BOOST_TEST(services.call("account.check", {{"ownerId", "fabrikam-42"}}).output ==
             json({{"ownerId", "fabrikam-42"}, {"active", true}, {"name", "Business fabrikam-42"}}));
  BOOST_TEST(services.call("account.check", {{"ownerId", "inactive-7"}}).output ==
             json({{"ownerId", "inactive-7"}, {"active", false}, {"name", "Business inactive-7"}}));
  check_failure(services.call("account.check", {{"ownerId", "unknown-3"}}), not_found_type, 404, false,
                "account 'unknown-3' does not exist");
}

BOOST_AUTO_TEST_CASE(bad_arguments_name_the_field) {
  Services services;
  check_validation(services.call("account.check", json::object()), "missing required field 'ownerId'");
  check_validation(services.call("account.check", {{"ownerId", 5}}), "field 'ownerId' must be a string");
  check_validation(services.call("account.check", {{"ownerId", ""}}), "field 'ownerId' must not be empty");
  check_validation(services.call("account.check", {{"ownerId", std::string(257, 'x')}}),
                   "field 'ownerId' is longer than 256 characters");
  check_validation(services.call("account.check", json::array()), "arguments must be a JSON object");
  check_validation(services.call("account.check", {{"ownerId", nullptr}}),
                   "missing required field 'ownerId'");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(package)

BOOST_AUTO_TEST_CASE(upsert_get_cancel) {
  Services services;
  const json created = services
                           .call("package.upsert", {{"packageId", "p1"},
                                                    {"ownerId", "o1"},
                                                    {"size", "small"},
                                                    {"weight", 2.5},
                                                    {"tag", "fragile"}})
                           .output;
  BOOST_TEST(created == json({{"packageId", "p1"},
                              {"ownerId", "o1"},
                              {"size", "small"},
                              {"weight", 2.5},
                              {"tag", "fragile"},
                              {"status", "created"}}));
  BOOST_TEST(services.call("package.get", {{"packageId", "p1"}}).output == created);
  BOOST_TEST(services.call("package.cancel", {{"packageId", "p1"}}).output ==
             json({{"packageId", "p1"}, {"status", "cancelled"}}));

  // An update changes the details but keeps the status.
  const json updated =
      services
          .call("package.upsert", {{"packageId", "p1"}, {"ownerId", "o1"}, {"size", "medium"}, {"weight", 4}})
          .output;
  BOOST_TEST(updated == json({{"packageId", "p1"},
                              {"ownerId", "o1"},
                              {"size", "medium"},
                              {"weight", 4.0},
                              {"tag", nullptr},
                              {"status", "cancelled"}}));
  BOOST_TEST(services.call("package.get", {{"packageId", "p1"}}).output == updated);
}

BOOST_AUTO_TEST_CASE(unknown_packages_and_bad_fields) {
  Services services;
  check_failure(services.call("package.cancel", {{"packageId", "nope"}}), not_found_type, 404, false,
                "package 'nope' does not exist");
  check_failure(services.call("package.get", {{"packageId", "nope"}}), not_found_type, 404, false,
                "package 'nope' does not exist");
  const json good{{"packageId", "p1"}, {"ownerId", "o1"}, {"size", "small"}, {"weight", 1}};
  json bad = good;
  bad["size"] = "huge";
  check_validation(services.call("package.upsert", bad),
                   "field 'size' must be one of small, medium, large (got 'huge')");
  bad = good;
  bad["weight"] = 0;
  check_validation(services.call("package.upsert", bad), "field 'weight' must be greater than 0");
  bad["weight"] = "3";
  check_validation(services.call("package.upsert", bad), "field 'weight' must be a number");
  bad = good;
  bad.erase("ownerId");
  check_validation(services.call("package.upsert", bad), "missing required field 'ownerId'");
  bad = good;
  bad["tag"] = 7;
  check_validation(services.call("package.upsert", bad), "field 'tag' must be a string");
  // Nothing was stored by the failed upserts.
  BOOST_TEST(!services.call("package.get", {{"packageId", "p1"}}).ok);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(transport)

json check_args(double weight, const std::string& size, const json& dropoff) {
  return {{"pickupLocation", "47.0,-122.0"},
          {"dropOffLocation", dropoff},
          {"packageInfo", {{"size", size}, {"weight", weight}}}};
}

BOOST_AUTO_TEST_CASE(third_party_thresholds) {
  Services services;
  const json near = "47.1,-122.0";  // 11.1 km due north
  const auto check = [&](double weight, const std::string& size, const json& dropoff) {
    return services.call("transport.check", check_args(weight, size, dropoff)).output;
  };
  BOOST_TEST(check(20.0, "medium", near) ==
             json({{"thirdParty", false}, {"reason", "within drone payload and range limits"}}));
  BOOST_TEST(check(20.5, "medium", near) ==
             json({{"thirdParty", true},
                   {"reason", "package weighs 20.5 kg, above the drone payload limit of 20 kg"}}));
  BOOST_TEST(check(1.0, "large", near) ==
             json({{"thirdParty", true}, {"reason", "large packages do not fit a drone"}}));
  // One degree of latitude is 111194.93 m, so these are 29989 m and 30012 m.
  BOOST_TEST(check(1.0, "small", "47.2697,-122.0")["thirdParty"] == false);
  BOOST_TEST(
      check(1.0, "small", "47.2699,-122.0") ==
      json({{"thirdParty", true}, {"reason", "route is 30.0115 km, beyond the drone range of 30 km"}}));
}

BOOST_AUTO_TEST_CASE(check_validates_nested_fields) {
  Services services;
  json args = check_args(1.0, "small", "47.1,-122.0");
  args["packageInfo"].erase("weight");
  check_validation(services.call("transport.check", args), "missing required field 'packageInfo.weight'");
  args["packageInfo"] = "small";
  check_validation(services.call("transport.check", args), "field 'packageInfo' must be an object");
  args = check_args(1.0, "small", "47.1,-122.0");
  args["expedited"] = "yes";
  check_validation(services.call("transport.check", args), "field 'expedited' must be a boolean");
}

BOOST_AUTO_TEST_CASE(book_and_cancel) {
  Services services;
  const json args{{"deliveryId", "d1"}, {"pickupLocation", pickup_location}, {"dropOffLocation", dropoff_location}};
  // Pickup 15 minutes after now; 17390.60 m at 10 m/s is 1739.060 s.
  // The output also carries the van's route (flight_test checks it); these are the booking's own fields.
  const json booked = services.call("transport.book", args).output;
  BOOST_TEST(json({{"bookingId", booked["bookingId"]},
                   {"carrier", booked["carrier"]},
                   {"pickupEta", booked["pickupEta"]},
                   {"deliveryEta", booked["deliveryEta"]}}) ==
             json({{"bookingId", "booking-0001"},
                   {"carrier", "Fabrikam Ground"},
                   {"pickupEta", "2026-11-21T04:47:34.000Z"},
                   {"deliveryEta", "2026-11-21T05:16:33.060Z"}}));
  json later = args;
  later["pickupTime"] = "2026-11-21T10:00:00+02:00";  // 08:00Z, later than now + 15 min
  const json second = services.call("transport.book", later).output;
  BOOST_TEST(second["bookingId"] == "booking-0002");
  BOOST_TEST(second["pickupEta"] == "2026-11-21T08:00:00.000Z");
  BOOST_TEST(second["deliveryEta"] == "2026-11-21T08:28:59.060Z");
  later["pickupTime"] = "2026-11-21T04:40:00Z";  // earlier than the carrier can come
  BOOST_TEST(services.call("transport.book", later).output["pickupEta"] == "2026-11-21T04:47:34.000Z");

  BOOST_TEST(services.call("transport.cancel", {{"bookingId", "booking-0001"}}).output ==
             json({{"bookingId", "booking-0001"}, {"status", "cancelled"}}));
  check_failure(services.call("transport.cancel", {{"bookingId", "booking-9999"}}), not_found_type, 404, false,
                "booking 'booking-9999' does not exist");
  later["pickupTime"] = "tomorrow";
  check_validation(services.call("transport.book", later),
                   "field 'pickupTime' must be an RFC 3339 timestamp such as \"2026-11-21T04:32:34.000Z\"");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(drone)

BOOST_AUTO_TEST_CASE(schedule_plans_the_flight_and_signals_delivery) {
  Services services;
  const ActivityResult result = services.call("drone.schedule", services.schedule_args("d1"));
  BOOST_REQUIRE(result.ok);
  // 1707.84 m and 17390.60 m at 15 m/s are 113.856 s and 1159.374 s, plus 60 s at the pickup.
  // The output also carries the whole flight plan (flight_test checks it); these are its summary.
  json summary;
  for (const char* field : {"droneId", "deliveryId", "pickupEta", "deliveryEta", "distanceMeters", "flightSeconds"})
    summary[field] = result.output.at(field);
  BOOST_TEST(summary == json({{"droneId", "drone-001"},
                                    {"deliveryId", "d1"},
                                    {"pickupEta", "2026-11-21T04:34:27.856Z"},
                                    {"deliveryEta", "2026-11-21T04:54:47.230Z"},
                                    {"distanceMeters", 19098},
                                    {"flightSeconds", 1333.23}}));
  BOOST_REQUIRE_EQUAL(services.host.signals.size(), 1U);
  const SentSignal& signal = services.host.signals[0];
  BOOST_TEST(signal.workflow_id == "wf-1");
  BOOST_TEST(signal.name == "delivered");
  BOOST_TEST(signal.delay_ms == 1'333'230);
  BOOST_TEST(
      signal.payload ==
      json({{"deliveryId", "d1"}, {"droneId", "drone-001"}, {"plan", 1}, {"deliveredAt", "2026-11-21T04:54:47.230Z"}}));
}

BOOST_AUTO_TEST_CASE(expedited_flights_are_faster_and_workflow_id_can_be_given) {
  Services services;
  json args = services.schedule_args("d2", true);
  args["workflowId"] = "other-workflow";
  const ActivityResult result = services.call("drone.schedule", args);
  BOOST_REQUIRE(result.ok);
  BOOST_TEST(result.output["pickupEta"] == "2026-11-21T04:33:59.392Z");
  BOOST_TEST(result.output["deliveryEta"] == "2026-11-21T04:49:28.922Z");
  BOOST_TEST(result.output["flightSeconds"] == 1014.922);
  BOOST_REQUIRE_EQUAL(services.host.signals.size(), 1U);
  BOOST_TEST(services.host.signals[0].workflow_id == "other-workflow");
  BOOST_TEST(services.host.signals[0].delay_ms == 1'014'922);
}

BOOST_AUTO_TEST_CASE(same_key_twice_takes_one_drone_and_sends_one_signal) {
  Services services;
  const ActivityResult first =
      services.call("drone.schedule", services.schedule_args("d1"), test_now_ms, "wf-1/s/1");
  const ActivityResult again =
      services.call("drone.schedule", services.schedule_args("d1"), test_now_ms + 5000, "wf-1/s/1");
  BOOST_REQUIRE(first.ok);
  BOOST_REQUIRE(again.ok);
  BOOST_TEST(again.output == first.output);
  // The repeat carries the recorded signal again, with the same absolute due time and id, and the
  // host delivers that id once.
  BOOST_TEST((again == first));
  BOOST_REQUIRE_EQUAL(first.signals.size(), 1U);
  BOOST_TEST(first.signals[0].id == "wf-1/s/1#0");
  BOOST_TEST(first.signals[0].due_ms == test_now_ms + 1'333'230);
  BOOST_TEST(services.host.signals.size() == 1U);
  // The second delivery gets the second drone: the repeat did not take one.
  BOOST_TEST(services.call("drone.schedule", services.schedule_args("d2")).output["droneId"] == "drone-002");
}

BOOST_AUTO_TEST_CASE(validation_failures_are_remembered_but_unavailability_is_not) {
  Services services;
  check_validation(services.call("drone.schedule", json::object(), test_now_ms, "k-bad"),
                   "missing required field 'deliveryId'");
  // Same key, now with good arguments: the stored failure comes back and no drone is taken.
  check_validation(services.call("drone.schedule", services.schedule_args("d1"), test_now_ms, "k-bad"),
                   "missing required field 'deliveryId'");
  BOOST_TEST(services.host.signals.empty());

  for (int i = 0; i < 10; ++i)
    services.call("drone.schedule", services.schedule_args("f" + std::to_string(i)));
  check_failure(services.call("drone.schedule", services.schedule_args("d1"), test_now_ms, "k-busy"), unavailable_type,
                503, true, "all 10 drones are busy");
  BOOST_TEST(services.call("drone.release", {{"droneId", "drone-004"}, {"deliveryId", "f3"}}).ok);
  // The retry with the same key runs again and gets the freed drone.
  const ActivityResult retry =
      services.call("drone.schedule", services.schedule_args("d1"), test_now_ms, "k-busy");
  BOOST_REQUIRE(retry.ok);
  BOOST_TEST(retry.output["droneId"] == "drone-004");
}

BOOST_AUTO_TEST_CASE(fleet_exhaustion_then_release) {
  Services services;
  for (int i = 1; i <= 10; ++i) {
    const ActivityResult result =
        services.call("drone.schedule", services.schedule_args("d" + std::to_string(i)));
    BOOST_REQUIRE(result.ok);
    BOOST_TEST(result.output["droneId"] == (i < 10 ? "drone-00" : "drone-0") + std::to_string(i));
  }
  check_failure(services.call("drone.schedule", services.schedule_args("d11")), unavailable_type, 503, true,
                "all 10 drones are busy");
  BOOST_TEST(services.host.signals.size() == 10U);

  BOOST_TEST(services.call("drone.release", {{"droneId", "drone-007"}, {"deliveryId", "d7"}}).output ==
             json({{"droneId", "drone-007"}, {"status", "available"}}));
  // Releasing a free drone again is fine.
  BOOST_TEST(services.call("drone.release", {{"droneId", "drone-007"}, {"deliveryId", "d7"}}).ok);
  BOOST_TEST(services.call("drone.schedule", services.schedule_args("d11")).output["droneId"] == "drone-007");
  BOOST_TEST(services.host.signals.size() == 11U);
}

BOOST_AUTO_TEST_CASE(release_and_schedule_conflicts) {
  Services services;
  BOOST_REQUIRE(services.call("drone.schedule", services.schedule_args("d1")).ok);
  check_failure(services.call("drone.schedule", services.schedule_args("d1")), conflict_type, 409, false,
                "delivery 'd1' already has drone-001");
  check_failure(services.call("drone.release", {{"droneId", "drone-001"}, {"deliveryId", "d9"}}), conflict_type,
                409, false, "drone-001 is assigned to delivery 'd1', not 'd9'");
  check_failure(services.call("drone.release", {{"droneId", "drone-011"}, {"deliveryId", "d1"}}), not_found_type,
                404, false, "drone 'drone-011' is not in the fleet (drone-001..drone-010)");
  check_validation(services.call("drone.release", {{"droneId", "drone-001"}}),
                   "missing required field 'deliveryId'");
}

BOOST_AUTO_TEST_CASE(packages_a_drone_cannot_carry_are_rejected) {
  Services services;
  json args = services.schedule_args("d1");
  args["packageInfo"]["weight"] = 25;
  check_validation(
      services.call("drone.schedule", args),
      "a drone cannot take delivery 'd1': package weighs 25 kg, above the drone payload limit of 20 kg");
  BOOST_TEST(services.host.signals.empty());
}

BOOST_AUTO_TEST_CASE(locations_are_validated) {
  Services services;
  json args = services.schedule_args("d1");
  args["pickupLocation"] = {{"longitude", -122.0}};
  check_validation(services.call("drone.schedule", args), "missing required field 'pickupLocation.latitude'");
  args["pickupLocation"] = {{"latitude", "47"}, {"longitude", -122.0}};
  check_validation(services.call("drone.schedule", args), "field 'pickupLocation.latitude' must be a number");
  args["pickupLocation"] = "47.6;-122.3";
  check_validation(services.call("drone.schedule", args),
                   "field 'pickupLocation' must be a \"lat,lon\" string such as \"47.6205,-122.3493\" (got "
                   "'47.6;-122.3')");
  args["pickupLocation"] = "91,-122.3";
  check_validation(services.call("drone.schedule", args),
                   "field 'pickupLocation' has a latitude outside -90..90");
  args["pickupLocation"] = " 47.6 , -122.3 ";
  args["dropOffLocation"] = 12;
  check_validation(
      services.call("drone.schedule", args),
      "field 'dropOffLocation' must be a \"lat,lon\" string or an object with latitude and longitude");
}

BOOST_AUTO_TEST_CASE(tracking_follows_the_route) {
  Services services;
  BOOST_REQUIRE(services.call("drone.schedule", services.schedule_args("d1")).ok);
  const auto track = [&](std::int64_t at_ms) {
    return services.call("drone.track", {{"deliveryId", "d1"}}, at_ms).output;
  };
  const std::int64_t pickup_eta_ms = test_now_ms + 113'856;
  const std::int64_t departure_ms = pickup_eta_ms + 60'000;
  const std::int64_t delivery_eta_ms = departure_ms + 1'159'374;

  const json start = track(test_now_ms);
  BOOST_TEST(start["stage"] == "HeadedToPickup");
  BOOST_TEST(start["droneId"] == "drone-001");
  BOOST_TEST(start["pickupEta"] == "2026-11-21T04:34:27.856Z");
  BOOST_TEST(start["deliveryEta"] == "2026-11-21T04:54:47.230Z");
  check_location(start["lastKnownLocation"], 47.6205, -122.3493, 0.0);  // on the ground at the hangar

  const json halfway = track(test_now_ms + 113'856 / 2);
  BOOST_TEST(halfway["stage"] == "HeadedToPickup");
  check_location(halfway["lastKnownLocation"], 47.6151, -122.3412, 120.0);

  const json loading = track(pickup_eta_ms + 30'000);
  BOOST_TEST(loading["stage"] == "HeadedToDropoff");
  check_location(loading["lastKnownLocation"], 47.6097, -122.3331, 0.0);

  const json quarter = track(departure_ms + 1'159'374 / 4);
  BOOST_TEST(quarter["stage"] == "HeadedToDropoff");
  check_location(quarter["lastKnownLocation"], 47.6097 + 0.0643 / 4, -122.3331 + 0.2116 / 4, 120.0);

  const json landed = track(delivery_eta_ms);
  BOOST_TEST(landed["stage"] == "Completed");
  check_location(landed["lastKnownLocation"], 47.6740, -122.1215, 0.0);
  check_failure(services.call("drone.track", {{"deliveryId", "d404"}}), not_found_type, 404, false,
                "no drone flight for delivery 'd404'");
}

BOOST_AUTO_TEST_CASE(release_before_landing_cancels_the_flight) {
  Services services;
  BOOST_REQUIRE(services.call("drone.schedule", services.schedule_args("d1")).ok);
  const std::int64_t released_ms = test_now_ms + 113'856 / 2;
  BOOST_REQUIRE(
      services.call("drone.release", {{"droneId", "drone-001"}, {"deliveryId", "d1"}}, released_ms).ok);
  const json before = services.call("drone.track", {{"deliveryId", "d1"}}, released_ms - 1).output;
  BOOST_TEST(before["stage"] == "HeadedToPickup");
  const json after = services.call("drone.track", {{"deliveryId", "d1"}}, released_ms + 600'000).output;
  BOOST_TEST(after["stage"] == "Cancelled");
  check_location(after["lastKnownLocation"], 47.6151, -122.3412, 120.0);

  // Released after landing: the flight stays completed.
  BOOST_REQUIRE(services.call("drone.schedule", services.schedule_args("d2")).ok);
  BOOST_REQUIRE(
      services.call("drone.release", {{"droneId", "drone-001"}, {"deliveryId", "d2"}}, test_now_ms + 2'000'000)
          .ok);
  BOOST_TEST(services.call("drone.track", {{"deliveryId", "d2"}}, test_now_ms + 3'000'000).output["stage"] ==
             "Completed");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(delivery)

json create_args(const std::string& delivery_id) {
  return {{"deliveryId", delivery_id},
          {"ownerId", "o1"},
          {"pickupLocation", pickup_location},
          {"dropOffLocation", dropoff_location}};
}

BOOST_AUTO_TEST_CASE(create_get_complete) {
  Services services;
  json args = create_args("d1");
  args["droneId"] = "drone-003";
  args["eta"] = "2026-11-21T05:54:47.23+01:00";
  args["deadline"] = "2026-11-21T12:00:00Z";
  args["expedited"] = true;
  BOOST_TEST(services.call("delivery.create", args).output == json({{"deliveryId", "d1"},
                                                                    {"status", "created"},
                                                                    {"droneId", "drone-003"},
                                                                    {"eta", "2026-11-21T04:54:47.230Z"}}));
  const json stored = services.call("delivery.get", {{"deliveryId", "d1"}}).output;
  BOOST_TEST(stored["ownerId"] == "o1");
  BOOST_TEST(stored["deadline"] == "2026-11-21T12:00:00.000Z");
  BOOST_TEST(stored["expedited"] == true);
  BOOST_TEST(stored["confirmationRequired"] == false);
  BOOST_TEST(stored["status"] == "created");
  BOOST_TEST(!stored.contains("bookingId"));
  check_location(stored["pickupLocation"], 47.6097, -122.3331, 0.0);

  BOOST_TEST(services.call("delivery.complete", {{"deliveryId", "d1"}}).output ==
             json({{"deliveryId", "d1"}, {"status", "completed"}}));
  BOOST_TEST(
      services.call("delivery.complete", {{"deliveryId", "d1"}}).ok);  // repeating an end state is fine
  check_failure(services.call("delivery.cancel", {{"deliveryId", "d1"}}), conflict_type, 409, false,
                "delivery 'd1' is already completed");
  BOOST_TEST(services.call("delivery.get", {{"deliveryId", "d1"}}).output["status"] == "completed");
}

BOOST_AUTO_TEST_CASE(create_cancel_with_booking) {
  Services services;
  json args = create_args("d2");
  args["bookingId"] = "booking-0001";
  BOOST_TEST(
      services.call("delivery.create", args).output ==
      json({{"deliveryId", "d2"}, {"status", "created"}, {"bookingId", "booking-0001"}, {"eta", nullptr}}));
  check_failure(services.call("delivery.create", args), conflict_type, 409, false,
                "delivery 'd2' already exists");
  BOOST_TEST(services.call("delivery.cancel", {{"deliveryId", "d2"}}).output ==
             json({{"deliveryId", "d2"}, {"status", "cancelled"}}));
  check_failure(services.call("delivery.complete", {{"deliveryId", "d2"}}), conflict_type, 409, false,
                "delivery 'd2' is already cancelled");
  check_failure(services.call("delivery.cancel", {{"deliveryId", "d3"}}), not_found_type, 404, false,
                "delivery 'd3' does not exist");
}

BOOST_AUTO_TEST_CASE(create_validates_fields_and_timestamps) {
  Services services;
  json args = create_args("d1");
  args["droneId"] = "drone-001";
  args["bookingId"] = "booking-0001";
  check_validation(services.call("delivery.create", args),
                   "fields 'droneId' and 'bookingId' exclude each other: a delivery has one carrier");
  args = create_args("d1");
  args["deadline"] = "2026-02-29T00:00:00Z";  // 2026 is not a leap year
  check_validation(services.call("delivery.create", args),
                   "field 'deadline' must be an RFC 3339 timestamp such as \"2026-11-21T04:32:34.000Z\"");
  args["deadline"] = "2028-02-29T23:59:59.9999Z";  // extra fraction digits are truncated
  BOOST_REQUIRE(services.call("delivery.create", args).ok);
  BOOST_TEST(services.call("delivery.get", {{"deliveryId", "d1"}}).output["deadline"] ==
             "2028-02-29T23:59:59.999Z");
  args = create_args("d-old");
  args["deadline"] = "1969-12-31T23:59:59.5-00:30";
  BOOST_REQUIRE(services.call("delivery.create", args).ok);
  BOOST_TEST(services.call("delivery.get", {{"deliveryId", "d-old"}}).output["deadline"] ==
             "1970-01-01T00:29:59.500Z");
  args = create_args("d4");
  args["confirmationRequired"] = 1;
  check_validation(services.call("delivery.create", args), "field 'confirmationRequired' must be a boolean");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(fault_injection)

BOOST_AUTO_TEST_CASE(no_rule_means_no_fault) {
  const FaultInjector injector(7);
  BOOST_TEST(injector.empty());
  const FaultDecision decision = injector.decide("drone.schedule", "k", 1);
  BOOST_TEST(!decision.fail);
  BOOST_TEST(!decision.hang);
  BOOST_TEST(decision.latency_ms == 0);
}

BOOST_AUTO_TEST_CASE(decisions_are_pure_functions_of_their_inputs) {
  FaultInjector first(42);
  FaultInjector again(42);
  FaultInjector other(43);
  for (FaultInjector* injector : {&first, &again, &other}) injector->set_rule("*", FaultRule{0.5, 0.5, 3});
  int seed_differences = 0;
  int attempt_differences = 0;
  for (int i = 0; i < 200; ++i) {
    const std::string key = "wf/task/" + std::to_string(i);
    const FaultDecision a = first.decide("drone.schedule", key, 1);
    const FaultDecision b = again.decide("drone.schedule", key, 1);
    const FaultDecision c = other.decide("drone.schedule", key, 1);
    const FaultDecision d = first.decide("drone.schedule", key, 2);
    BOOST_TEST(a.fail == b.fail);
    BOOST_TEST(a.hang == b.hang);
    BOOST_TEST(a.latency_ms == 3);
    BOOST_TEST(!(a.fail && a.hang));
    seed_differences += (a.fail != c.fail || a.hang != c.hang) ? 1 : 0;
    attempt_differences += (a.fail != d.fail || a.hang != d.hang) ? 1 : 0;
  }
  BOOST_TEST(seed_differences > 0);
  BOOST_TEST(attempt_differences > 0);
}

BOOST_AUTO_TEST_CASE(observed_rates_match_the_rule) {
  // Deterministic for this seed, so the bounds cannot flake.
  FaultInjector injector(20261121);
  BOOST_REQUIRE(!injector.parse_and_add("drone.schedule:fail=0.2,hang=0.25"));
  int failures = 0;
  int hangs = 0;
  for (int i = 0; i < 10'000; ++i) {
    const FaultDecision decision =
        injector.decide("drone.schedule", "wf-" + std::to_string(i) + "/schedule/1", 1);
    failures += decision.fail ? 1 : 0;
    hangs += decision.hang ? 1 : 0;
  }
  BOOST_TEST(failures >= 1700);
  BOOST_TEST(failures <= 2300);
  // Hangs are drawn only from attempts that did not fail: 0.8 * 0.25 = 0.2.
  BOOST_TEST(hangs >= 1700);
  BOOST_TEST(hangs <= 2300);
}

BOOST_AUTO_TEST_CASE(rule_lookup_prefers_activity_then_queue_then_star) {
  FaultInjector injector(1);
  BOOST_REQUIRE(!injector.parse_and_add("*:latency_ms=1; drone:latency_ms=2;drone.schedule:latency_ms=3;"));
  BOOST_TEST(!injector.empty());
  BOOST_TEST(injector.decide("drone.schedule", "k", 1).latency_ms == 3);
  BOOST_TEST(injector.decide("drone.track", "k", 1).latency_ms == 2);
  BOOST_TEST(injector.decide("package.upsert", "k", 1).latency_ms == 1);
  BOOST_TEST(injector.decide("drone", "k", 1).latency_ms == 2);

  FaultInjector certain(1);
  BOOST_REQUIRE(!certain.parse_and_add("package:fail=1;account.check:hang=1"));
  BOOST_TEST(certain.decide("package.get", "k", 3).fail);
  BOOST_TEST(!certain.decide("account.check", "k", 3).fail);
  BOOST_TEST(certain.decide("account.check", "k", 3).hang);
  BOOST_TEST(!certain.decide("delivery.get", "k", 3).fail);
}

BOOST_AUTO_TEST_CASE(parse_errors_name_the_offending_part) {
  FaultInjector injector(1);
  const auto error = [&](const std::string& spec) {
    return injector.parse_and_add(spec).value_or("<accepted>");
  };
  BOOST_TEST(error("package:fail=0.1;drone.schedule:fial=0.2") ==
             "fault spec 'drone.schedule:fial=0.2': unknown key 'fial' (expected fail, hang, latency_ms)");
  BOOST_TEST(error("drone.schedule:fail=1.5") ==
             "fault spec 'drone.schedule:fail=1.5': fail must be a number from 0 to 1, got '1.5'");
  BOOST_TEST(error("drone:hang=abc") ==
             "fault spec 'drone:hang=abc': hang must be a number from 0 to 1, got 'abc'");
  BOOST_TEST(error("drone:latency_ms=-5") ==
             "fault spec 'drone:latency_ms=-5': latency_ms must be an integer from 0 to 3600000, got '-5'");
  BOOST_TEST(error("drone:latency_ms=2.5") ==
             "fault spec 'drone:latency_ms=2.5': latency_ms must be an integer from 0 to 3600000, got '2.5'");
  BOOST_TEST(error("drone.schedule") ==
             "fault spec 'drone.schedule': expected <activity>:<key>=<value>[,<key>=<value>]");
  BOOST_TEST(error(":fail=0.1") == "fault spec ':fail=0.1': missing activity, queue or '*' before ':'");
  BOOST_TEST(error("drone:fail") == "fault spec 'drone:fail': expected <key>=<value>, got 'fail'");
  // A rejected spec adds nothing, not even its valid rules.
  BOOST_TEST(injector.empty());
  BOOST_TEST(error("") == "<accepted>");
  BOOST_TEST(injector.empty());
}

BOOST_AUTO_TEST_SUITE_END()

// The benchmark workload's activities: pure functions of their arguments, the peers' step bodies.
BOOST_AUTO_TEST_SUITE(bench)

struct BenchServices {
  BenchServices() { flightplan::activities::register_bench_activities(registry); }
  ActivityResult call(const std::string& name, json arguments, int attempt = 1) {
    Activity* activity = registry.find(name);
    BOOST_REQUIRE_MESSAGE(activity != nullptr, "activity " << name << " is not registered");
    const ActivityRequest request{"wf-1", name, "wf-1/ref/1", attempt, std::move(arguments), test_now_ms};
    return host.execute(*activity, request);
  }
  ActivityRegistry registry;
  RecordingHost host;
};

BOOST_AUTO_TEST_CASE(registers_the_five_steps_and_undo) {
  BenchServices services;
  const std::vector<std::string> expected{"bench.checkAccount",   "bench.checkThirdPartyTransport",
                                          "bench.createDelivery", "bench.createPackage",
                                          "bench.scheduleDrone",  "bench.undo"};
  BOOST_TEST(services.registry.names() == expected, boost::test_tools::per_element());
  BOOST_CHECK_THROW(flightplan::activities::register_bench_activities(services.registry),
                    std::invalid_argument);
  // Both sets live in one registry, as the binary registers them.
  MemoryServiceStore store;
  register_delivery_activities(services.registry, store);
  BOOST_TEST(services.registry.names().size() == 22u);
  // Stateless: nothing to fence, nothing to undo.
  Activity* undo = services.registry.find("bench.undo");
  BOOST_TEST(!undo->cancel(ActivityRequest{"wf-1", "bench.undo", "wf-1/ref/1", 1, json::object(), test_now_ms}));
}

BOOST_AUTO_TEST_CASE(each_step_returns_the_peers_result) {
  BenchServices services;
  const ActivityResult account = services.call("bench.checkAccount", {{"accountId", "acct-7"}});
  BOOST_REQUIRE(account.ok);
  BOOST_TEST(account.output == json({{"accountId", "acct-7"}, {"ok", true}, {"tier", "standard"}}));

  const ActivityResult package =
      services.call("bench.createPackage", {{"deliveryId", "r-7"}, {"size", "medium"}, {"weightKg", 3.5}});
  BOOST_REQUIRE(package.ok);
  BOOST_TEST(package.output == json({{"packageId", "pkg-r-7"}, {"size", "medium"}, {"weightKg", 3.5}}));
  const ActivityResult defaults =
      services.call("bench.createPackage", {{"deliveryId", "r-8"}, {"size", nullptr}});
  BOOST_REQUIRE(defaults.ok);
  BOOST_TEST(defaults.output == json({{"packageId", "pkg-r-8"}, {"size", "small"}, {"weightKg", 1.2}}));

  const ActivityResult transport = services.call("bench.checkThirdPartyTransport", {{"deliveryId", "r-7"}});
  BOOST_REQUIRE(transport.ok);
  BOOST_TEST(transport.output == json({{"deliveryId", "r-7"}, {"thirdPartyRequired", false}}));

  const json drone_args{{"seq", 100}, {"packageId", "pkg-r-7"}, {"pickup", "A"}, {"dropoff", "B"}};
  const ActivityResult drone = services.call("bench.scheduleDrone", drone_args);
  BOOST_REQUIRE(drone.ok);
  BOOST_TEST(drone.output ==
             json({{"droneId", "drone-3"}, {"packageId", "pkg-r-7"}, {"pickup", "A"}, {"dropoff", "B"}}));

  const ActivityResult delivery =
      services.call("bench.createDelivery", {{"deliveryId", "r-7"}, {"droneId", "drone-3"}});
  BOOST_REQUIRE(delivery.ok);
  BOOST_TEST(delivery.output ==
             json({{"deliveryId", "r-7"}, {"droneId", "drone-3"}, {"status", "scheduled"}}));

  const ActivityResult undo = services.call("bench.undo", {{"step", "scheduleDrone"}, {"id", "drone-3"}});
  BOOST_REQUIRE(undo.ok);
  BOOST_TEST(undo.output == json({{"undone", "scheduleDrone"}, {"id", "drone-3"}}));
  BOOST_TEST(services.host.signals.empty());
}

BOOST_AUTO_TEST_CASE(steps_are_pure_so_repeats_and_retries_agree) {
  BenchServices services;
  const json args{{"seq", 5}, {"packageId", "p"}, {"pickup", "A"}, {"dropoff", "B"}};
  const ActivityResult first = services.call("bench.scheduleDrone", args, 1);
  const ActivityResult retry = services.call("bench.scheduleDrone", args, 2);
  BOOST_REQUIRE(first.ok);
  BOOST_TEST(first.output == retry.output);
  BOOST_TEST(first.output["droneId"] == "drone-5");
}

BOOST_AUTO_TEST_CASE(bad_arguments_are_validation_failures_naming_the_field) {
  BenchServices services;
  check_validation(services.call("bench.checkAccount", json::object()), "missing required field 'accountId'");
  check_validation(services.call("bench.checkAccount", json::array()), "arguments must be a JSON object");
  check_validation(services.call("bench.createPackage", {{"deliveryId", "r"}, {"weightKg", 0}}),
                   "field 'weightKg' must be a number greater than zero");
  check_validation(services.call("bench.scheduleDrone", {{"seq", -1}, {"packageId", "p"}, {"pickup", "A"}}),
                   "field 'seq' must be a non-negative integer");
  check_validation(services.call("bench.scheduleDrone", {{"packageId", "p"}, {"pickup", "A"}}),
                   "missing required field 'dropoff'");
  check_validation(services.call("bench.createDelivery", {{"deliveryId", ""}, {"droneId", "d"}}),
                   "field 'deliveryId' must not be empty");
  check_validation(services.call("bench.undo", {{"id", "x"}}), "missing required field 'step'");
}

BOOST_AUTO_TEST_SUITE_END()

#pragma once
// The ServiceStore contract: one suite, run against every implementation
// (memory_service_store_test.cpp, redis_service_store_redistest.cpp). A fixture type provides
//   activities::ServiceStore& store();   // empty at the start of each case
// and FLIGHTPLAN_SERVICE_STORE_CONTRACT(Fixture) instantiates every case for it. The last cases run
// the drone and transport services from many threads, each with its own activity registry (a
// worker process of its own) over the one store, and check the fleet stays consistent.
#include "flightplan/activities/activity.hpp"
#include "flightplan/activities/fleet.hpp"
#include "flightplan/activities/service_store.hpp"

#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace flightplan::contract {

using activities::ServiceRead;
using activities::ServiceStore;
using activities::ServiceWrite;
using nlohmann::json;

using Records = std::vector<std::pair<std::string, std::string>>;

inline constexpr std::int64_t service_now_ms = 1'795'235'554'000;  // 2026-11-21T04:32:34.000Z

// Writes `records` unconditionally, without a key.
inline void put(ServiceStore& store, const std::string& service, const Records& records) {
  std::vector<ServiceWrite> writes;
  for (const auto& [id, value] : records) writes.push_back(ServiceWrite{id, value});
  BOOST_REQUIRE(store.commit(service, {}, writes, "", ""));
}

template <typename Fixture>
void records_round_trip(Fixture& f) {
  ServiceStore& store = f.store();
  BOOST_TEST(store.count("drone") == 0U);
  BOOST_TEST((store.get("drone", {"a", "b"}) == (std::vector<std::optional<std::string>>{std::nullopt, std::nullopt})));
  const std::string binary("v\0\n{x}", 6);
  put(store, "drone", {{"a", "1"}, {"b", binary}, {"c", ""}});
  BOOST_TEST((store.get("drone", {"b", "missing", "a", "c"}) ==
             (std::vector<std::optional<std::string>>{binary, std::nullopt, "1", ""})));
  BOOST_TEST(store.count("drone") == 3U);
  BOOST_TEST(store.get("drone", {}).empty());
  // An erase, and an overwrite, in one commit.
  BOOST_REQUIRE(store.commit("drone", {}, {ServiceWrite{"a", std::nullopt}, ServiceWrite{"c", "2"}}, "", ""));
  BOOST_TEST((store.get("drone", {"a", "c"}) == (std::vector<std::optional<std::string>>{std::nullopt, "2"})));
  BOOST_TEST(store.count("drone") == 2U);
  // Keyspaces are separate: the same id in another service is another record.
  BOOST_TEST((!store.get("transport", {"b"}).front().has_value()));
  BOOST_TEST(store.count("transport") == 0U);
}

template <typename Fixture>
void read_checks_guard_every_commit(Fixture& f) {
  ServiceStore& store = f.store();
  put(store, "drone", {{"a", "1"}, {"r", "x"}});
  const std::vector<ServiceWrite> writes{ServiceWrite{"w", "written"}, ServiceWrite{"r", std::nullopt}};
  const auto nothing_written = [&](const std::string& key) {
    BOOST_TEST((!store.get("drone", {"w"}).front().has_value()));
    BOOST_TEST((store.get("drone", {"r"}).front() == std::optional<std::string>("x")));
    BOOST_TEST(!store.recorded("drone", key).has_value());
  };
  // Changed: read "1", now "2".
  put(store, "drone", {{"a", "2"}});
  BOOST_TEST(!store.commit("drone", {ServiceRead{"a", "1"}}, writes, "k-changed", "outcome"));
  nothing_written("k-changed");
  // Added: read as absent, now present.
  put(store, "drone", {{"b", "new"}});
  BOOST_TEST(!store.commit("drone", {ServiceRead{"b", std::nullopt}}, writes, "k-added", "outcome"));
  nothing_written("k-added");
  // Removed: read "2", now absent.
  BOOST_REQUIRE(store.commit("drone", {}, {ServiceWrite{"a", std::nullopt}}, "", ""));
  BOOST_TEST(!store.commit("drone", {ServiceRead{"a", "2"}}, writes, "k-removed", "outcome"));
  nothing_written("k-removed");
  // One stale read among good ones is enough to refuse.
  BOOST_TEST(!store.commit("drone", {ServiceRead{"b", "new"}, ServiceRead{"a", "2"}, ServiceRead{"r", "x"}}, writes,
                           "k-mixed", "outcome"));
  nothing_written("k-mixed");
  // Every read still holds: the writes and the outcome land together.
  BOOST_TEST(store.commit("drone", {ServiceRead{"a", std::nullopt}, ServiceRead{"b", "new"}, ServiceRead{"r", "x"}},
                          writes, "k-good", "outcome"));
  BOOST_TEST((store.get("drone", {"w", "r"}) == (std::vector<std::optional<std::string>>{"written", std::nullopt})));
  BOOST_TEST((store.recorded("drone", "k-good") == std::optional<std::string>("outcome")));
}

template <typename Fixture>
void a_key_records_one_outcome(Fixture& f) {
  ServiceStore& store = f.store();
  BOOST_TEST(!store.recorded("drone", "wf-1/schedule/1").has_value());
  BOOST_REQUIRE(store.commit("drone", {}, {ServiceWrite{"a", "first"}}, "wf-1/schedule/1", "first outcome"));
  BOOST_TEST((store.recorded("drone", "wf-1/schedule/1") == std::optional<std::string>("first outcome")));
  // A second commit with the key is refused and writes nothing, even with nothing to check.
  BOOST_TEST(!store.commit("drone", {}, {ServiceWrite{"a", "second"}}, "wf-1/schedule/1", "second outcome"));
  BOOST_TEST((store.get("drone", {"a"}).front() == std::optional<std::string>("first")));
  BOOST_TEST((store.recorded("drone", "wf-1/schedule/1") == std::optional<std::string>("first outcome")));
  // Outcomes are per service, and commits without a key record none.
  BOOST_TEST(!store.recorded("transport", "wf-1/schedule/1").has_value());
  BOOST_REQUIRE(store.commit("transport", {}, {}, "wf-1/schedule/1", "transport outcome"));
  BOOST_REQUIRE(store.commit("drone", {}, {ServiceWrite{"b", "1"}}, "", "ignored"));
  BOOST_REQUIRE(store.commit("drone", {}, {ServiceWrite{"b", "2"}}, "", "ignored"));
  BOOST_TEST((store.get("drone", {"b"}).front() == std::optional<std::string>("2")));
}

template <typename Fixture>
void fences_hold_back_a_key_that_has_not_acted(Fixture& f) {
  ServiceStore& store = f.store();
  // Not acted yet: the tombstone goes in, and the key can no longer commit.
  BOOST_TEST(!store.fence("drone", "k1", "tombstone").has_value());
  BOOST_TEST((store.recorded("drone", "k1") == std::optional<std::string>("tombstone")));
  BOOST_TEST(!store.commit("drone", {}, {ServiceWrite{"a", "effect"}}, "k1", "outcome"));
  BOOST_TEST((!store.get("drone", {"a"}).front().has_value()));
  // Fencing again answers with the tombstone, unchanged.
  BOOST_TEST((store.fence("drone", "k1", "another") == std::optional<std::string>("tombstone")));
  // Acted: the fence answers with the outcome and leaves it alone.
  BOOST_REQUIRE(store.commit("drone", {}, {ServiceWrite{"a", "effect"}}, "k2", "outcome"));
  BOOST_TEST((store.fence("drone", "k2", "tombstone") == std::optional<std::string>("outcome")));
  BOOST_TEST((store.recorded("drone", "k2") == std::optional<std::string>("outcome")));
  BOOST_TEST((store.get("drone", {"a"}).front() == std::optional<std::string>("effect")));
}

template <typename Fixture>
void scans_list_by_prefix_in_id_order(Fixture& f) {
  ServiceStore& store = f.store();
  put(store, "drone",
      {{"flight:b", "fb"}, {"drone:drone-003", "3"}, {"drone:drone-001", "1"}, {"flight:a", "fa"}, {"drone:drone-002", "2"}});
  put(store, "transport", {{"drone:elsewhere", "x"}});
  BOOST_TEST((store.scan("drone", "drone:", 10) ==
             (Records{{"drone:drone-001", "1"}, {"drone:drone-002", "2"}, {"drone:drone-003", "3"}})));
  BOOST_TEST((store.scan("drone", "drone:", 2) == (Records{{"drone:drone-001", "1"}, {"drone:drone-002", "2"}})));
  BOOST_TEST((store.scan("drone", "", 100) == (Records{{"drone:drone-001", "1"},
                                                      {"drone:drone-002", "2"},
                                                      {"drone:drone-003", "3"},
                                                      {"flight:a", "fa"},
                                                      {"flight:b", "fb"}})));
  BOOST_TEST((store.scan("drone", "flight:a", 10) == (Records{{"flight:a", "fa"}})));
  BOOST_TEST(store.scan("drone", "zzz", 10).empty());
  BOOST_REQUIRE(store.commit("drone", {}, {ServiceWrite{"drone:drone-002", std::nullopt}}, "", ""));
  BOOST_TEST((store.scan("drone", "drone:", 10) == (Records{{"drone:drone-001", "1"}, {"drone:drone-003", "3"}})));
}

template <typename Fixture>
void bad_arguments_are_refused(Fixture& f) {
  ServiceStore& store = f.store();
  BOOST_CHECK_THROW(store.get("", {"a"}), std::invalid_argument);
  BOOST_CHECK_THROW(store.get("Drone", {"a"}), std::invalid_argument);
  BOOST_CHECK_THROW(store.count("a{b}"), std::invalid_argument);
  BOOST_CHECK_THROW(store.recorded("drone", ""), std::invalid_argument);
  BOOST_CHECK_THROW(store.fence("drone", "", "t"), std::invalid_argument);
  BOOST_CHECK_THROW(store.scan("drone", "", 0), std::invalid_argument);
  BOOST_CHECK_THROW(store.scan("drone", "", activities::service_store_scan_max + 1), std::invalid_argument);
  const std::vector<std::string> too_many(activities::service_store_batch_max + 1, "a");
  BOOST_CHECK_THROW(store.get("drone", too_many), std::invalid_argument);
  const std::vector<ServiceWrite> too_many_writes(activities::service_store_batch_max + 1, ServiceWrite{"a", "1"});
  BOOST_CHECK_THROW(store.commit("drone", {}, too_many_writes, "", ""), std::invalid_argument);
  BOOST_TEST(store.count("drone") == 0U);
}

// --- The services over the store, from many "worker processes" at once ----------------------------

inline json schedule_args(const std::string& delivery_id) {
  return {{"deliveryId", delivery_id},
          {"pickupLocation", "47.6097,-122.3331"},
          {"dropOffLocation", {{"latitude", 47.6740}, {"longitude", -122.1215}}},
          {"packageInfo", {{"size", "small"}, {"weight", 2.5}}}};
}

// Runs `count` threads; thread i gets its own activity registry over `store` and runs body(i, registry).
template <typename Body>
void run_workers(ServiceStore& store, int count, const Body& body) {
  std::vector<std::thread> threads;
  for (int i = 0; i < count; ++i) {
    threads.emplace_back([&store, &body, i] {
      activities::ActivityRegistry registry;
      activities::register_delivery_activities(registry, store);
      body(i, registry);
    });
  }
  for (std::thread& thread : threads) thread.join();
}

class NoHost final : public activities::ActivityHost {};

inline std::string describe(const activities::ActivityResult& result) {
  json signals = json::array();
  for (const auto& signal : result.signals)
    signals.push_back({{"workflowId", signal.workflow_id}, {"name", signal.name}, {"payload", signal.payload},
                       {"dueMs", signal.due_ms}, {"id", signal.id}});
  return json{{"ok", result.ok},
              {"output", result.output},
              {"failure", {{"type", result.failure.type}, {"status", result.failure.status}, {"detail", result.failure.detail}}},
              {"signals", signals}}
      .dump();
}

inline activities::ActivityResult run_activity(activities::ActivityRegistry& registry, const std::string& name,
                                               const std::string& key, json arguments) {
  NoHost host;
  return registry.find(name)->execute(
      activities::ActivityRequest{"wf-1", name, key, 1, std::move(arguments), service_now_ms}, host);
}

template <typename Fixture>
void one_task_on_many_workers_books_one_drone(Fixture& f) {
  constexpr int workers = 8;
  std::vector<activities::ActivityResult> results(workers);
  run_workers(f.store(), workers, [&](int i, activities::ActivityRegistry& registry) {
    results[static_cast<std::size_t>(i)] = run_activity(registry, "drone.schedule", "wf-1/schedule/1", schedule_args("d1"));
  });
  BOOST_REQUIRE_MESSAGE(results[0].ok, describe(results[0]));
  for (const auto& result : results)
    BOOST_TEST((result == results[0]), describe(result) << "\n  differs from\n" << describe(results[0]));
  BOOST_TEST(results[0].signals.at(0).id == "wf-1/schedule/1#0");
  BOOST_TEST(f.store().scan("drone", "drone:", 100).size() == 1U);
  int assigned = 0;
  for (const json& drone : activities::fleet_status(f.store(), service_now_ms))
    assigned += drone.at("state") == "assigned" ? 1 : 0;
  BOOST_TEST(assigned == 1);
}

template <typename Fixture>
void racing_deliveries_never_share_a_drone(Fixture& f) {
  constexpr int workers = 12;  // two more deliveries than drones
  std::vector<activities::ActivityResult> results(workers);
  run_workers(f.store(), workers, [&](int i, activities::ActivityRegistry& registry) {
    const std::string delivery = "d" + std::to_string(i);
    results[static_cast<std::size_t>(i)] =
        run_activity(registry, "drone.schedule", "wf-" + delivery + "/schedule/1", schedule_args(delivery));
  });
  std::set<std::string> drones;
  std::set<std::string> scheduled;
  for (int i = 0; i < workers; ++i) {
    const auto& result = results[static_cast<std::size_t>(i)];
    if (result.ok) {
      drones.insert(result.output.at("droneId").get<std::string>());
      scheduled.insert("d" + std::to_string(i));
    } else {
      BOOST_TEST(result.failure.status == 503);
      BOOST_TEST(result.failure.retryable);
    }
  }
  BOOST_TEST(drones.size() == activities::fleet_size);
  BOOST_TEST(scheduled.size() == activities::fleet_size);
  // The fleet agrees with the answers: each assigned drone flies one of the scheduled deliveries.
  std::set<std::string> assigned;
  for (const auto& [id, value] : f.store().scan("drone", "drone:", 100))
    assigned.insert(json::parse(value).at("deliveryId").template get<std::string>());
  BOOST_TEST(assigned == scheduled);
}

template <typename Fixture>
void concurrent_bookings_get_distinct_numbers(Fixture& f) {
  constexpr int workers = 4;
  constexpr int bookings_each = 5;
  std::vector<std::vector<std::string>> ids(workers);
  run_workers(f.store(), workers, [&](int i, activities::ActivityRegistry& registry) {
    for (int b = 0; b < bookings_each; ++b) {
      const std::string key = "wf-" + std::to_string(i) + "/book/" + std::to_string(b);
      const json args{{"deliveryId", "d"}, {"pickupLocation", "47.6,-122.3"}, {"dropOffLocation", "47.7,-122.2"}};
      // As the engine would: a retryable failure (heavy contention) is tried again with the same key.
      activities::ActivityResult result;
      for (int attempt = 0; attempt < 50; ++attempt) {
        result = run_activity(registry, "transport.book", key, args);
        if (result.ok || !result.failure.retryable) break;
      }
      if (result.ok) ids[static_cast<std::size_t>(i)].push_back(result.output.at("bookingId").get<std::string>());
    }
  });
  std::set<std::string> distinct;
  for (const auto& list : ids) distinct.insert(list.begin(), list.end());
  BOOST_TEST(distinct.size() == static_cast<std::size_t>(workers * bookings_each));
  BOOST_TEST(*distinct.begin() == "booking-0001");
  BOOST_TEST(*distinct.rbegin() == "booking-0020");
}

}  // namespace flightplan::contract

#define FLIGHTPLAN_SERVICE_STORE_CONTRACT(Fixture)                                                        \
  BOOST_FIXTURE_TEST_CASE(records_round_trip, Fixture) { flightplan::contract::records_round_trip(*this); } \
  BOOST_FIXTURE_TEST_CASE(read_checks_guard_every_commit, Fixture) {                                      \
    flightplan::contract::read_checks_guard_every_commit(*this);                                          \
  }                                                                                                       \
  BOOST_FIXTURE_TEST_CASE(a_key_records_one_outcome, Fixture) {                                           \
    flightplan::contract::a_key_records_one_outcome(*this);                                               \
  }                                                                                                       \
  BOOST_FIXTURE_TEST_CASE(fences_hold_back_a_key_that_has_not_acted, Fixture) {                           \
    flightplan::contract::fences_hold_back_a_key_that_has_not_acted(*this);                               \
  }                                                                                                       \
  BOOST_FIXTURE_TEST_CASE(scans_list_by_prefix_in_id_order, Fixture) {                                    \
    flightplan::contract::scans_list_by_prefix_in_id_order(*this);                                        \
  }                                                                                                       \
  BOOST_FIXTURE_TEST_CASE(bad_arguments_are_refused, Fixture) {                                           \
    flightplan::contract::bad_arguments_are_refused(*this);                                               \
  }                                                                                                       \
  BOOST_FIXTURE_TEST_CASE(one_task_on_many_workers_books_one_drone, Fixture) {                            \
    flightplan::contract::one_task_on_many_workers_books_one_drone(*this);                                \
  }                                                                                                       \
  BOOST_FIXTURE_TEST_CASE(racing_deliveries_never_share_a_drone, Fixture) {                               \
    flightplan::contract::racing_deliveries_never_share_a_drone(*this);                                   \
  }                                                                                                       \
  BOOST_FIXTURE_TEST_CASE(concurrent_bookings_get_distinct_numbers, Fixture) {                            \
    flightplan::contract::concurrent_bookings_get_distinct_numbers(*this);                                \
  }

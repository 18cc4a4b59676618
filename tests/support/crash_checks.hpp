#pragma once
// Test support: what the crash tests (crash_redistest, chaos_redistest) check after processes died,
// read from the histories in Redis: each activity completed once, one carrier per delivery; and the
// small helpers they share (bounded polling, numbered ids, counts by status).
#include "cluster.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace flightplan::testing {

inline bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "k-007": ids that sort in submission order.
inline std::string numbered(const std::string& prefix, int n) {
  char text[32];
  std::snprintf(text, sizeof text, "%s-%03d", prefix.c_str(), n);
  return text;
}

// Polls (every 50 ms, at most `seconds_max`) until `done` holds.
template <typename Predicate>
bool eventually(int seconds_max, Predicate done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds_max);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

// The first event of `type` whose reference ends with `reference_suffix` (a copy: histories are
// usually temporaries here).
inline std::optional<engine::Event> find_event(const engine::History& history, const std::string& type,
                                               const std::string& reference_suffix) {
  for (const engine::Event& event : history.events)
    if (event.type == type && ends_with(event.reference, reference_suffix)) return event;
  return std::nullopt;
}

// How many of `ids` are in each status ("missing" for none stored).
inline std::map<std::string, int> count_by_status(Cluster& cluster, const std::vector<std::string>& ids) {
  std::map<std::string, int> counts;
  for (const std::string& id : ids) {
    const auto stored = cluster.load(id);
    ++counts[stored ? std::string(engine::to_string(stored->state.status)) : "missing"];
  }
  return counts;
}

// The carrier ids one delivery's history names: the booking result, delivery.create, the
// `delivered` signal and the output must all name the same single drone or booking.
struct Carrier {
  std::set<std::string> drone_ids;
  std::set<std::string> booking_ids;
};

inline void add_carrier(Carrier& carrier, const nlohmann::json& object) {
  if (!object.is_object()) return;
  if (auto it = object.find("droneId"); it != object.end() && it->is_string()) carrier.drone_ids.insert(*it);
  if (auto it = object.find("bookingId"); it != object.end() && it->is_string())
    carrier.booking_ids.insert(*it);
}

// Each activity of the history completed at most once per activity id (a redelivered or retried
// task reports once, and only the current attempt's outcome is applied).
inline void check_activities_completed_once(const engine::History& history) {
  std::map<std::int64_t, int> completions;
  for (const engine::Event& event : history.events)
    if (event.type == "activity_completed") ++completions[event.data.at("activity_id").get<std::int64_t>()];
  for (const auto& [activity_id, count] : completions)
    BOOST_TEST(count == 1,
               history.workflow_id << ": activity " << activity_id << " completed " << count << " times");
}

// Checks a completed delivery's history: each activity completed at most once per activity id, and
// exactly one carrier (drone or booking) is named throughout. Returns that carrier.
inline Carrier check_side_effects_once(const engine::History& history) {
  check_activities_completed_once(history);
  Carrier carrier;
  for (const engine::Event& event : history.events) {
    if (event.type == "activity_completed" &&
        (ends_with(event.reference, "/scheduleDrone") || ends_with(event.reference, "/bookThirdParty") ||
         ends_with(event.reference, "/createDelivery")))
      add_carrier(carrier, event.data.at("result"));
    if (event.type == "signal_received") add_carrier(carrier, event.data.at("payload"));
    if (event.type == "workflow_completed") add_carrier(carrier, event.data.at("output"));
  }
  BOOST_TEST(carrier.drone_ids.size() + carrier.booking_ids.size() == 1u,
             history.workflow_id << " names " << carrier.drone_ids.size() << " drones and "
                                 << carrier.booking_ids.size() << " bookings");
  return carrier;
}

}  // namespace flightplan::testing

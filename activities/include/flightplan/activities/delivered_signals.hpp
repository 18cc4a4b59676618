#pragma once
// For hosts: the ids of the signals already taken for delivery. A repeat of an idempotency key
// returns the recorded result again, with the same signals and the same ids (activity.hpp), and a
// host must not send them twice. This memory is per process; a runtime that shares it across
// processes keeps the ids in its store instead.
#include "flightplan/activities/activity.hpp"

#include <cstddef>
#include <deque>
#include <mutex>
#include <set>
#include <string>

namespace flightplan::activities {

class DeliveredSignals {
 public:
  // Remembers the latest `capacity` ids (at least 1); a repeat arrives within a retry window, far
  // sooner than that many later signals.
  explicit DeliveredSignals(std::size_t capacity = 100'000);

  // True the first time `signal.id` is offered, and always for an empty id (a request without an
  // idempotency key is never repeated). Thread-safe.
  bool first_delivery(const DelayedSignal& signal);

 private:
  std::size_t capacity_;
  std::mutex mutex_;
  std::set<std::string, std::less<>> ids_;       // guarded by mutex_
  std::deque<std::string> ids_oldest_first_;     // guarded by mutex_
};

}  // namespace flightplan::activities

#include "flightplan/activities/delivered_signals.hpp"

#include <algorithm>

namespace flightplan::activities {

DeliveredSignals::DeliveredSignals(std::size_t capacity) : capacity_(std::max<std::size_t>(capacity, 1)) {}

bool DeliveredSignals::first_delivery(const DelayedSignal& signal) {
  if (signal.id.empty()) return true;
  const std::lock_guard lock(mutex_);
  if (!ids_.insert(signal.id).second) return false;
  ids_oldest_first_.push_back(signal.id);
  if (ids_oldest_first_.size() > capacity_) {
    ids_.erase(ids_oldest_first_.front());
    ids_oldest_first_.pop_front();
  }
  return true;
}

}  // namespace flightplan::activities

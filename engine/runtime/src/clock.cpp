#include "flightplan/runtime/clock.hpp"

#include <chrono>
#include <thread>

namespace flightplan::runtime {

std::int64_t SystemClock::now_ms() const {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

void SystemClock::wait_until(std::int64_t due_ms) {
  const std::int64_t delta_ms = due_ms - now_ms();
  if (delta_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delta_ms));
}

ScaledClock::ScaledClock(std::int64_t origin_ms, double scale)
    : origin_ms_(origin_ms),
      scale_(scale > 0 ? scale : 1.0),
      steady_origin_ns_(std::chrono::steady_clock::now().time_since_epoch().count()) {}

std::int64_t ScaledClock::now_ms() const {
  const std::int64_t elapsed_ns = std::chrono::steady_clock::now().time_since_epoch().count() - steady_origin_ns_;
  return origin_ms_ + static_cast<std::int64_t>(static_cast<double>(elapsed_ns) / 1e6 * scale_);
}

void ScaledClock::wait_until(std::int64_t due_ms) {
  const std::int64_t delta_ms = due_ms - now_ms();
  if (delta_ms > 0)
    std::this_thread::sleep_for(std::chrono::microseconds(static_cast<std::int64_t>(delta_ms * 1000 / scale_)));
}

}  // namespace flightplan::runtime

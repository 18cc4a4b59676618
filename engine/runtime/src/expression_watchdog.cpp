#include "flightplan/runtime/expression_watchdog.hpp"

#include <cassert>

namespace flightplan::runtime {

ExpressionWatchdog::ExpressionWatchdog() : thread_([this] { run(); }) {}

ExpressionWatchdog::~ExpressionWatchdog() {
  {
    std::lock_guard lock(mutex_);
    assert(armed_.empty() && "a control is still armed");
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

ExpressionWatchdog& ExpressionWatchdog::shared() {
  // Never destroyed: an orchestrator still running during static destruction could otherwise arm a
  // destroyed watchdog. The thread ends with the process.
  static ExpressionWatchdog* const watchdog = new ExpressionWatchdog();
  return *watchdog;
}

ExpressionWatchdog::Armed ExpressionWatchdog::arm(engine::EvaluationControl& control, std::int64_t budget_ms) {
  if (budget_ms <= 0) return Armed();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(budget_ms);
  Key key;
  bool earliest = false;
  {
    std::lock_guard lock(mutex_);
    key = Key{deadline, next_id_++};
    armed_.emplace(key, &control);
    earliest = armed_.begin()->first == key;
  }
  if (earliest) wake_.notify_one();  // the thread may be sleeping towards a later deadline
  return Armed(this, key);
}

void ExpressionWatchdog::disarm(const Key& key) noexcept {
  std::lock_guard lock(mutex_);
  armed_.erase(key);  // gone already when it fired
}

std::size_t ExpressionWatchdog::armed_count() const {
  std::lock_guard lock(mutex_);
  return armed_.size();
}

std::uint64_t ExpressionWatchdog::interrupt_count() const {
  std::lock_guard lock(mutex_);
  return interrupt_count_;
}

void ExpressionWatchdog::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (armed_.empty()) {
      wake_.wait(lock);
      continue;
    }
    const auto first = armed_.begin();
    if (std::chrono::steady_clock::now() < first->first.first) {
      wake_.wait_until(lock, first->first.first);
      continue;
    }
    // Under our mutex, so a control being disarmed is either still here (interrupted before disarm()
    // returns) or gone (never touched again). interrupt() takes the control's own mutex; nothing holds
    // that one while waiting for ours.
    first->second->interrupt();
    armed_.erase(first);
    ++interrupt_count_;
  }
}

ExpressionWatchdog::Armed& ExpressionWatchdog::Armed::operator=(Armed&& other) noexcept {
  if (this != &other) {
    disarm();
    watchdog_ = std::exchange(other.watchdog_, nullptr);
    key_ = other.key_;
  }
  return *this;
}

void ExpressionWatchdog::Armed::disarm() noexcept {
  if (watchdog_ != nullptr) std::exchange(watchdog_, nullptr)->disarm(key_);
}

}  // namespace flightplan::runtime

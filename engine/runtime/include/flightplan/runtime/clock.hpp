#pragma once
// Time for the runtime: the Clock port. The engine never reads a clock; the runtime stamps every
// input with its clock's time, measures leases and fires deadlines by it. Production uses the system
// clock (or a scaled one for demos); tests and the simulator use a manual clock they move by hand.
#include <cstdint>

namespace flightplan::runtime {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::int64_t now_ms() const = 0;
  // Blocks (system clock) or jumps (manual clock) until `due_ms`; never goes backwards.
  virtual void wait_until(std::int64_t due_ms) = 0;
};

// Virtual time: moves only when told to.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::int64_t start_ms) : now_ms_(start_ms) {}
  std::int64_t now_ms() const override { return now_ms_; }
  void wait_until(std::int64_t due_ms) override {
    if (due_ms > now_ms_) now_ms_ = due_ms;
  }
  void advance(std::int64_t delta_ms) { now_ms_ += delta_ms; }

 private:
  std::int64_t now_ms_;
};

class SystemClock final : public Clock {
 public:
  std::int64_t now_ms() const override;
  void wait_until(std::int64_t due_ms) override;
};

// Real time sped up `scale` times from `origin_ms`: a 20-minute drone flight at scale 100 takes 12 s.
// For demos and integration tests of the distributed runtime, where virtual time cannot jump.
class ScaledClock final : public Clock {
 public:
  ScaledClock(std::int64_t origin_ms, double scale);
  std::int64_t now_ms() const override;
  void wait_until(std::int64_t due_ms) override;

 private:
  std::int64_t origin_ms_;
  double scale_;
  std::int64_t steady_origin_ns_;
};

}  // namespace flightplan::runtime

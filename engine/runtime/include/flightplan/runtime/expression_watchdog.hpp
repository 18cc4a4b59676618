#pragma once
// The time side of bounded expressions (docs/engine.md, "Bounded expressions"). The engine reads no
// clock: it stops an evaluation when its engine::EvaluationControl is interrupted. This watchdog is
// the one thread per process that does the interrupting: a caller arms a control with a budget before
// engine::apply and disarms it after; if the budget passes first, the watchdog interrupts the control,
// the expression running fails at its next jq instruction and the step faults its workflow.
//
// It measures real elapsed time (std::chrono::steady_clock), not the injected runtime Clock: the
// budget protects a thread of this process, and workflow time may be virtual (a manual clock never
// moves while an expression loops).
#include "flightplan/engine/expression.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

namespace flightplan::runtime {

class ExpressionWatchdog {
 public:
  ExpressionWatchdog();
  // Stops and joins the thread. Precondition: nothing is armed.
  ~ExpressionWatchdog();
  ExpressionWatchdog(const ExpressionWatchdog&) = delete;
  ExpressionWatchdog& operator=(const ExpressionWatchdog&) = delete;

  // The process's watchdog, started on first use and never stopped (it outlives every orchestrator).
  static ExpressionWatchdog& shared();

  // One armed control; disarms it when destroyed. After that the watchdog never touches the control
  // again, so the control may be destroyed.
  class [[nodiscard]] Armed {
   public:
    Armed() = default;
    ~Armed() { disarm(); }
    Armed(Armed&& other) noexcept : watchdog_(std::exchange(other.watchdog_, nullptr)), key_(other.key_) {}
    Armed& operator=(Armed&& other) noexcept;
    Armed(const Armed&) = delete;
    Armed& operator=(const Armed&) = delete;
    void disarm() noexcept;

   private:
    friend class ExpressionWatchdog;
    using Key = std::pair<std::chrono::steady_clock::time_point, std::uint64_t>;
    Armed(ExpressionWatchdog* watchdog, Key key) : watchdog_(watchdog), key_(key) {}
    ExpressionWatchdog* watchdog_ = nullptr;
    Key key_{};
  };

  // Interrupts `control` unless disarmed within `budget_ms`. A budget of 0 or less arms nothing.
  // `control` must outlive the returned Armed.
  Armed arm(engine::EvaluationControl& control, std::int64_t budget_ms);

  // How many controls are armed, and how many were interrupted so far (tests, metrics).
  std::size_t armed_count() const;
  std::uint64_t interrupt_count() const;

 private:
  using Key = Armed::Key;
  void run();
  void disarm(const Key& key) noexcept;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<Key, engine::EvaluationControl*> armed_;  // by deadline, then arming order
  std::uint64_t next_id_ = 0;
  std::uint64_t interrupt_count_ = 0;
  bool stopping_ = false;
  std::thread thread_;  // last: starts after the members it uses exist
};

}  // namespace flightplan::runtime

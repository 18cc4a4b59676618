#include "flightplan/runtime/supervisor.hpp"

#include "flightplan/runtime/log.hpp"

#include <chrono>

namespace flightplan::runtime {

Supervisor::Supervisor(engine::WorkflowStore& store, Clock& clock, SupervisorSettings settings)
    : store_(store), clock_(clock), settings_(settings) {}

Supervisor::~Supervisor() { stop(); }

std::size_t Supervisor::run_once() { return store_.fire_due_timers(clock_.now_ms(), settings_.batch_max); }

std::size_t Supervisor::sweep_once() { return store_.sweep_expired(clock_.now_ms(), settings_.sweep_batch_max); }

void Supervisor::start_thread() {
  if (running_.exchange(true)) return;
  thread_ = std::thread([this] {
    auto next_sweep = std::chrono::steady_clock::now();
    while (running_) {
      try {
        if (const auto now = std::chrono::steady_clock::now(); now >= next_sweep) {
          next_sweep = now + std::chrono::milliseconds(settings_.sweep_interval_ms);
          sweep_once();
        }
        // A full batch means more may be due: go again at once.
        if (run_once() >= settings_.batch_max) continue;
      } catch (const std::exception& e) {
        log(LogLevel::warn, "supervisor round failed", {{"error", e.what()}});
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(settings_.tick_ms));
    }
  });
}

void Supervisor::stop() {
  running_ = false;
  if (thread_.joinable()) thread_.join();
}

}  // namespace flightplan::runtime

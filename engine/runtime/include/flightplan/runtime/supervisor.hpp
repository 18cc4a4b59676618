#pragma once
// The supervisor: finds due deadlines in the store and turns them into inputs for the engine.
#include "flightplan/engine/store.hpp"
#include "flightplan/runtime/clock.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>

namespace flightplan::runtime {

struct SupervisorSettings {
  std::int64_t tick_ms = 10;        // how often due timers are looked for
  std::size_t batch_max = 1000;
  std::int64_t sweep_interval_ms = 60'000;  // how often expired workflows leave the visibility indexes
  std::size_t sweep_batch_max = 1000;
};

// Finds due deadlines and feeds them to the engine as inputs (through the store's atomic timer
// claim, so replicas never fire one twice). A deadline that passed while everything was down fires
// on the first tick.
class Supervisor {
 public:
  Supervisor(engine::WorkflowStore& store, Clock& clock, SupervisorSettings settings);
  ~Supervisor();
  std::size_t run_once();
  // Drops index entries of expired workflows (store.sweep_expired); returns how many.
  std::size_t sweep_once();
  void start_thread();
  void stop();

 private:
  engine::WorkflowStore& store_;
  Clock& clock_;
  SupervisorSettings settings_;
  std::atomic<bool> running_{false};
  std::thread thread_;
};

}  // namespace flightplan::runtime

#pragma once
// Activity workers: run the tasks of their queues and report each outcome to the store.
#include "flightplan/activities/activity.hpp"
#include "flightplan/activities/delivered_signals.hpp"
#include "flightplan/activities/fault_injection.hpp"
#include "flightplan/engine/store.hpp"
#include "flightplan/runtime/clock.hpp"
#include "flightplan/runtime/observer.hpp"

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace flightplan::runtime {

struct WorkerSettings {
  std::vector<std::string> queues;    // e.g. {"account", "package", "transport", "drone", "delivery"}
  int threads_per_queue = 1;
  std::string consumer = "worker-1";  // unique per process; threads add a suffix
  std::size_t batch_max = 16;
  std::int64_t block_ms = 50;
  std::int64_t visibility_ms = 30'000;  // a task not finished in this long goes to another worker
  // At most one heartbeat per running task is sent in this long; the ones in between are dropped
  // (their details too: the next one sent carries the latest).
  std::int64_t heartbeat_throttle_ms = 1000;
  RuntimeObserver* observer = nullptr;  // optional: activity durations and outcomes; must outlive the pool
};

// Runs activities for the tasks of its queues: reports each started, executes it (with the fault
// injector's decision), forwards its heartbeats, and acknowledges it together with its outcome. Signals an activity's result
// carries are kept in process until due (a crash loses them; the workflow's deadlines cover
// that).
class WorkerPool final : public activities::ActivityHost {
 public:
  WorkerPool(engine::WorkflowStore& store, activities::ActivityRegistry& registry,
             activities::FaultInjector faults, Clock& clock, WorkerSettings settings);
  ~WorkerPool() override;

  // One round for one queue: returns the number of tasks handled.
  std::size_t run_once(const std::string& queue, const std::string& consumer);
  // Delivers delayed signals that are due; returns how many.
  std::size_t deliver_due_signals();

  void start_threads();
  void stop();

  // Keeps a signal an activity's result carries until `delay_ms` from now.
  void send_signal(const std::string& workflow_id, const std::string& signal, nlohmann::json payload,
                   std::int64_t delay_ms);
  // Sends an activity_heartbeat input for the task the calling thread is running (see ActivityHost).
  // Outside a task it does nothing. A store error is logged, not thrown: the activity goes on, and
  // if heartbeats keep failing its heartbeat deadline decides.
  void heartbeat(const nlohmann::json& details) override;

 private:
  // Runs one task; returns its outcome for the metrics: completed, failed or lost.
  std::string_view handle(const engine::ActivityTask& task);

  engine::WorkflowStore& store_;
  activities::ActivityRegistry& registry_;
  activities::FaultInjector faults_;
  Clock& clock_;
  WorkerSettings settings_;
  std::atomic<bool> running_{false};
  std::vector<std::thread> threads_;
  std::mutex signals_mutex_;
  std::condition_variable signals_changed_;
  std::multimap<std::int64_t, std::pair<std::string, engine::Input>> delayed_signals_;  // due -> (workflow, input)
  activities::DeliveredSignals delivered_signals_;  // ids taken for delivery: a repeated key's are dropped
};

}  // namespace flightplan::runtime

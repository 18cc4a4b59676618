#pragma once
// Activity workers: run the tasks of their queues and report each outcome to the store.
//
// A task runs in three steps, each its own call so that the simulator can interleave them with
// anything else (and crash the process between any two):
//   claim()  takes a batch of tasks under a lease; work delivered too often goes to the dead letters;
//   begin()  checks the lease and notes when the attempt started (reported with its outcome, or on
//            its own by report_started() when it runs longer than started_report_ms);
//   finish() checks the lease, acts, checks again and reports the outcome with the delayed inputs
//            the activity scheduled (the drone's landing signal), in one atomic store call.
// Between begin() and finish() the task may take time (an injected latency, a long activity); renew()
// keeps its lease. A worker never acts on a task whose lease it lost, and never acts on an attempt
// the engine cancelled: it fences it instead (activities::Activity::cancel) and reports what that
// found — "never acted" (activity_cancelled) or the recorded result (a late result to undo).
// run_once() and start_threads() drive the same steps on threads, sleeping real time.
#include "flightplan/activities/activity.hpp"
#include "flightplan/activities/fault_injection.hpp"
#include "flightplan/engine/store.hpp"
#include "flightplan/runtime/clock.hpp"
#include "flightplan/runtime/observer.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace flightplan::runtime {

struct WorkerSettings {
  std::vector<std::string> queues;    // e.g. {"account", "package", "transport", "drone", "delivery"}
  int threads_per_queue = 1;
  std::string consumer = "worker-1";  // unique per process; threads add a suffix
  std::size_t batch_max = 16;
  std::int64_t block_ms = 50;
  // A claimed task's lease: renewed while the task runs, checked before acting and before reporting.
  // A task whose worker goes silent this long goes to another worker.
  std::int64_t lease_ms = 30'000;
  // At most one heartbeat per running task is sent in this long; the ones in between are dropped
  // (their details too: the next one sent carries the latest).
  std::int64_t heartbeat_throttle_ms = 1000;
  // An attempt's start travels with its outcome (or first heartbeat): one input and one commit fewer
  // per step. One still running this long after begin() reports its start on its own, so that the
  // workflow shows it running and its schedule-to-start deadline stops.
  std::int64_t started_report_ms = 1000;
  // A task handed out more often than this goes to the dead letters; its attempt fails.
  int deliveries_max = 5;
  // Injected latency is slept in real time on threads; one task holds a thread at most this long.
  std::int64_t injected_latency_ms_max = 10'000;
  RuntimeObserver* observer = nullptr;  // optional: activity durations and outcomes; must outlive the pool
};

// One claimed task as the pool runs it.
struct TaskRun {
  engine::ActivityTask task;
  activities::FaultDecision fault;
  std::int64_t act_at_ms = 0;  // begin() time + injected latency: when the activity acts
  std::int64_t lease_checked_ms = 0;  // when the store last said the lease is held (claim, renew)
  std::int64_t started_ms = 0;        // begin() time: when the attempt started
};

// What finish() did, for metrics and the simulator.
enum class TaskOutcome {
  completed,  // acted, reported success
  failed,     // acted (or an injected failure), reported failure
  lost,       // acted, reply dropped on purpose (an injected hang): the engine's deadlines decide
  skipped,    // the lease was gone: did not act, or acted but could not report (another holder will)
  fenced,     // the attempt was cancelled: fenced and reported what the fence found
  unknown,    // acted, but whether the effect happened is unknown: not reported, the task comes back
};

std::string_view to_string(TaskOutcome outcome);

class WorkerPool final : public activities::ActivityHost {
 public:
  WorkerPool(engine::WorkflowStore& store, activities::ActivityRegistry& registry,
             activities::FaultInjector faults, Clock& clock, WorkerSettings settings);
  ~WorkerPool() override;
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Claims up to batch_max tasks of `queue` for `consumer`, waiting up to `block_ms` for one. A task
  // delivered more than deliveries_max times is set aside here (fenced, then reported if it acted,
  // else dead-lettered: its attempt fails with the reason) and not returned.
  std::vector<TaskRun> claim(const std::string& queue, const std::string& consumer, std::int64_t block_ms);
  // Checks the lease and reports the attempt started (not for a cancelled attempt: finish() fences
  // it). Returns false when the lease is gone: the run is over, nothing was done.
  bool begin(TaskRun& run);
  // Renews the lease of a run in progress (what a heartbeat does).
  engine::LeaseState renew(const TaskRun& run);
  // Reports a begun run's start on its own (an activity_started input), for a run that takes long;
  // harmless when the outcome, which carries the start too, gets there first.
  void report_started(const TaskRun& run);
  // Acts and reports, as described above.
  TaskOutcome finish(TaskRun& run);
  // Gives the run's task back at once (a draining worker that will not run it).
  void release(const TaskRun& run);

  // One round for one queue on the calling thread: claim, then each task in turn, sleeping its
  // injected latency (renewing its lease). Returns the number of tasks claimed.
  std::size_t run_once(const std::string& queue, const std::string& consumer);

  void start_threads();
  // Drains: threads stop claiming, hand back the tasks they have not begun, finish the one they are
  // running (an injected latency is cut short and its task handed back), and are joined. Bounded by
  // the longest activity in progress.
  void stop();

  // ActivityHost: the running activity is alive. Renews the lease of the task the calling thread
  // runs and sends an activity_heartbeat input (throttled). Outside a task it does nothing. A store
  // error is logged, not thrown: the activity goes on, and if heartbeats keep failing its heartbeat
  // deadline decides.
  activities::Heartbeat heartbeat(const nlohmann::json& details) override;

 private:
  // Reports `result` for `run` (fenced); false when the lease moved on.
  bool report(const TaskRun& run, const activities::ActivityResult& result);
  TaskOutcome fence(const TaskRun& run);
  // The lease of `run` as the store last said, asked again unless it said so a moment ago.
  engine::LeaseState check_lease(TaskRun& run);
  void set_aside(const engine::ActivityTask& task);
  void observe(const TaskRun& run, TaskOutcome outcome, double seconds);
  // The lease keeper's loop (a thread of start_threads()): renews the lease of every task whose
  // activity is running, every third of a lease, so a long activity that never heartbeats keeps its
  // task; and reports the start of one running longer than started_report_ms. Runs until stop() has
  // joined the workers.
  void keep_leases();
  // The outcome input of `run` for `result`, carrying its start.
  engine::Input outcome(const TaskRun& run, const activities::ActivityResult& result);

  engine::WorkflowStore& store_;
  activities::ActivityRegistry& registry_;
  activities::FaultInjector faults_;
  Clock& clock_;
  WorkerSettings settings_;
  std::atomic<bool> running_{false};
  std::vector<std::thread> threads_;
  // Tasks whose activity runs now, by run; what the lease keeper renews (and reports started, when
  // they run long).
  struct Running {
    TaskRun run;  // a copy: the keeper reads it on its own thread
    std::chrono::steady_clock::time_point began;
    bool start_reported = false;
  };
  std::mutex leases_mutex_;
  std::condition_variable keeper_wake_;
  std::map<const TaskRun*, Running> running_tasks_;
  bool keeper_running_ = false;  // guarded by leases_mutex_
  std::thread keeper_;
};

// The outcome input of an attempt for `result` at `now_ms`.
engine::Input outcome_of(const engine::ActivityTask& task, const activities::ActivityResult& result,
                         std::int64_t now_ms);

}  // namespace flightplan::runtime

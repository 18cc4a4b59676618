#include "flightplan/runtime/worker_pool.hpp"

#include "flightplan/runtime/log.hpp"

#include <algorithm>
#include <chrono>

namespace flightplan::runtime {

using engine::Input;
using engine::LeaseState;
using nlohmann::json;

namespace {

constexpr std::string_view dead_letter_type = "https://flightplan.dev/errors/dead-letter";

// The task this thread is running, for heartbeats: activities call the host without naming their
// task, and each worker thread runs one task at a time.
struct RunningTask {
  const TaskRun* run = nullptr;
  std::int64_t last_heartbeat_ms = 0;
  bool heartbeat_sent = false;
  activities::Heartbeat verdict = activities::Heartbeat::carry_on;  // what the last renewal said
};
thread_local RunningTask running_task;

std::string_view lease_name(LeaseState lease) {
  switch (lease) {
    case LeaseState::held: return "held";
    case LeaseState::lost: return "lost";
    case LeaseState::cancelled: return "cancelled";
    case LeaseState::superseded: return "superseded";
  }
  return "?";
}

// Clears the thread's running task however finish() leaves.
class RunningTaskScope {
 public:
  explicit RunningTaskScope(const TaskRun& run) { running_task = RunningTask{&run, 0, false, activities::Heartbeat::carry_on}; }
  ~RunningTaskScope() { running_task = RunningTask{}; }
  RunningTaskScope(const RunningTaskScope&) = delete;
  RunningTaskScope& operator=(const RunningTaskScope&) = delete;
};

activities::ActivityRequest request_of(const engine::ActivityTask& task, std::int64_t now_ms) {
  return activities::ActivityRequest{task.workflow_id, task.activity, task.idempotency_key, task.attempt,
                                     task.arguments, now_ms};
}

// The delayed inputs an activity's result schedules: each signal, with its stable id so that a repeat
// (a redelivered task answered from the service's records) schedules it once and the engine drops a
// second delivery.
std::vector<engine::DelayedInput> delayed_inputs(const activities::ActivityResult& result) {
  std::vector<engine::DelayedInput> later;
  for (const activities::DelayedSignal& signal : result.signals) {
    Input input = Input::signal(signal.name, signal.payload, signal.due_ms);
    input.id = signal.id;
    later.push_back(engine::DelayedInput{signal.id.empty() ? signal.workflow_id + "#" + std::to_string(signal.due_ms)
                                                           : signal.id,
                                         signal.workflow_id, std::move(input), signal.due_ms});
  }
  return later;
}

}  // namespace

std::string_view to_string(TaskOutcome outcome) {
  switch (outcome) {
    case TaskOutcome::completed: return "completed";
    case TaskOutcome::failed: return "failed";
    case TaskOutcome::lost: return "lost";
    case TaskOutcome::skipped: return "skipped";
    case TaskOutcome::fenced: return "fenced";
    case TaskOutcome::unknown: return "unknown";
  }
  return "unknown";
}

Input outcome_of(const engine::ActivityTask& task, const activities::ActivityResult& result, std::int64_t now_ms) {
  Input outcome;
  outcome.activity_id = task.activity_id;
  outcome.attempt = task.attempt;
  outcome.time_ms = now_ms;
  if (result.ok) {
    outcome.type = Input::Type::activity_completed;
    outcome.payload = result.output;
  } else {
    outcome.type = Input::Type::activity_failed;
    outcome.error = engine::make_error(result.failure.type, result.failure.status, result.failure.title,
                                       result.failure.detail);
    outcome.retryable = result.failure.retryable;
  }
  return outcome;
}

WorkerPool::WorkerPool(engine::WorkflowStore& store, activities::ActivityRegistry& registry,
                       activities::FaultInjector faults, Clock& clock, WorkerSettings settings)
    : store_(store), registry_(registry), faults_(std::move(faults)), clock_(clock), settings_(std::move(settings)) {}

WorkerPool::~WorkerPool() { stop(); }

std::vector<TaskRun> WorkerPool::claim(const std::string& queue, const std::string& consumer, std::int64_t block_ms) {
  std::vector<TaskRun> runs;
  for (engine::ActivityTask& task :
       store_.claim_tasks(queue, consumer, settings_.batch_max, block_ms, settings_.lease_ms)) {
    if (task.deliveries > settings_.deliveries_max) {
      // A superseded attempt shares its key with the retry that replaced it: fencing the key would
      // fail the retry. Nobody needs its outcome, so it simply goes.
      if (task.superseded)
        store_.drop_task(task);
      else
        set_aside(task);
      continue;
    }
    runs.push_back(TaskRun{std::move(task), {}, 0, clock_.now_ms()});
  }
  return runs;
}

// Poison: every worker that took the task went silent (crashed or hung) before reporting. First the
// attempt is fenced, so that no worker still holding it can act; if it did act, that result is
// reported; otherwise the task goes to the dead letters and its attempt fails with the reason (not
// retryable: the fenced key would only answer "cancelled"). The saga takes it from there. A fence
// that cannot reach the service's store throws: the task stays, and comes back later.
void WorkerPool::set_aside(const engine::ActivityTask& task) {
  activities::Activity* activity = registry_.find(task.activity);
  const std::optional<activities::ActivityResult> recorded =
      activity == nullptr ? std::nullopt : activity->cancel(request_of(task, clock_.now_ms()));
  if (recorded) {
    store_.complete_task(task, outcome_of(task, *recorded, clock_.now_ms()), delayed_inputs(*recorded));
    return;
  }
  const std::string reason = task.activity + " was handed out " + std::to_string(task.deliveries) +
                             " times without a report (the limit is " + std::to_string(settings_.deliveries_max) +
                             ")";
  Input failure;
  failure.type = Input::Type::activity_failed;
  failure.activity_id = task.activity_id;
  failure.attempt = task.attempt;
  failure.time_ms = clock_.now_ms();
  failure.error = engine::make_error(dead_letter_type, 500, "Task set aside", reason);
  failure.retryable = false;
  if (store_.dead_letter_task(task, reason, failure))
    log(LogLevel::warn, "task dead-lettered",
        {{"workflow_id", task.workflow_id}, {"activity", task.activity}, {"deliveries", task.deliveries}});
}

// A lease the store confirmed this recently (claimed, or renewed, with its cancellation marks read)
// is not asked about again by begin(): a task begun a moment after its claim reports "started" on
// the claim's answer, which saves a store round trip per task. finish() always asks before acting.
LeaseState WorkerPool::check_lease(TaskRun& run) {
  const std::int64_t recheck_ms = std::min<std::int64_t>(1000, settings_.lease_ms / 10);
  const std::int64_t now_ms = clock_.now_ms();
  if (run.lease_checked_ms > 0 && now_ms >= run.lease_checked_ms && now_ms - run.lease_checked_ms < recheck_ms)
    return run.task.cancelled ? LeaseState::cancelled : run.task.superseded ? LeaseState::superseded : LeaseState::held;
  const LeaseState lease = renew(run);
  if (lease != LeaseState::lost) run.lease_checked_ms = now_ms;
  return lease;
}

bool WorkerPool::begin(TaskRun& run) {
  const LeaseState lease = check_lease(run);
  if (lease == LeaseState::lost) return false;
  if (lease == LeaseState::cancelled) run.task.cancelled = true;
  if (lease == LeaseState::superseded) run.task.superseded = true;
  run.fault = faults_.decide(run.task.activity, run.task.idempotency_key, run.task.attempt);
  run.act_at_ms = clock_.now_ms() + run.fault.latency_ms;
  // A cancelled or superseded attempt never starts: finish() settles it.
  if (run.task.cancelled || run.task.superseded) return true;
  run.started_ms = clock_.now_ms();
  if (run.task.report_start) report_started(run);
  return true;
}

void WorkerPool::report_started(const TaskRun& run) {
  if (run.started_ms == 0) return;
  Input started;
  started.type = Input::Type::activity_started;
  started.activity_id = run.task.activity_id;
  started.attempt = run.task.attempt;
  started.name = settings_.consumer;
  started.time_ms = run.started_ms;
  store_.enqueue_input(run.task.workflow_id, started);
}

Input WorkerPool::outcome(const TaskRun& run, const activities::ActivityResult& result) {
  Input reported = outcome_of(run.task, result, clock_.now_ms());
  reported.started_ms = run.started_ms;
  if (run.started_ms != 0) reported.name = settings_.consumer;
  return reported;
}

LeaseState WorkerPool::renew(const TaskRun& run) { return store_.renew_task(run.task, settings_.lease_ms); }

void WorkerPool::release(const TaskRun& run) { store_.release_task(run.task); }

bool WorkerPool::report(const TaskRun& run, const activities::ActivityResult& result) {
  return store_.complete_task(run.task, outcome(run, result), delayed_inputs(result));
}

// A cancelled attempt: make sure it never acts, and tell the engine whether it already had.
TaskOutcome WorkerPool::fence(const TaskRun& run) {
  activities::Activity* activity = registry_.find(run.task.activity);
  const std::optional<activities::ActivityResult> recorded =
      activity == nullptr ? std::nullopt : activity->cancel(request_of(run.task, clock_.now_ms()));
  if (recorded) {
    report(run, *recorded);  // a late result: the engine undoes it
    return TaskOutcome::fenced;
  }
  Input cancelled;
  cancelled.type = Input::Type::activity_cancelled;
  cancelled.activity_id = run.task.activity_id;
  cancelled.attempt = run.task.attempt;
  cancelled.time_ms = clock_.now_ms();
  store_.complete_task(run.task, cancelled);
  return TaskOutcome::fenced;
}

TaskOutcome WorkerPool::finish(TaskRun& run) {
  // Before acting: is the task still ours, and still wanted?
  // Always asked, however recent the last answer: a cancel may have landed since (the attempt then
  // never acts).
  const LeaseState before = renew(run);
  if (before == LeaseState::lost) return TaskOutcome::skipped;
  if (before == LeaseState::cancelled || run.task.cancelled) return fence(run);
  if (before == LeaseState::superseded || run.task.superseded) {
    // A retry of the activity uses the same idempotency key: it acts (or finds the effect), not us.
    return store_.drop_task(run.task) ? TaskOutcome::fenced : TaskOutcome::skipped;
  }
  if (run.fault.fail) {
    // An injected failure happens before the activity runs: like a request lost on the way.
    const activities::ActivityResult failed = activities::ActivityResult::fail(
        "https://flightplan.dev/errors/injected-fault", 503, "Injected failure",
        "fault injection failed " + run.task.activity);
    return report(run, failed) ? TaskOutcome::failed : TaskOutcome::skipped;
  }
  activities::ActivityResult result;
  {
    const RunningTaskScope scope(run);
    {
      const std::lock_guard lock(leases_mutex_);
      running_tasks_.emplace(&run, Running{run, std::chrono::steady_clock::now(), false});
    }
    struct Unregister {
      WorkerPool& pool;
      const TaskRun* run;
      ~Unregister() {
        const std::lock_guard lock(pool.leases_mutex_);
        pool.running_tasks_.erase(run);
      }
    } unregister{*this, &run};
    activities::Activity* activity = registry_.find(run.task.activity);
    try {
      result = activity == nullptr
                   ? activities::ActivityResult::fail("https://flightplan.dev/errors/not-found", 404,
                                                      "Unknown activity",
                                                      "this worker does not serve " + run.task.activity, false)
                   : activity->execute(request_of(run.task, clock_.now_ms()), *this);
    } catch (const std::exception& e) {
      // An activity that throws fails its attempt (retryable); it never takes the worker down.
      result = activities::ActivityResult::fail("https://flightplan.dev/errors/internal", 500, "Activity failed",
                                                run.task.activity + ": " + e.what());
    }
  }
  // An injected hang: the work happened, the reply is lost. The engine's deadlines take over, which
  // needs the start (start-to-close counts from it): like an activity that never returns, whose
  // start the lease keeper reports.
  if (run.fault.hang) {
    report_started(run);
    return store_.drop_task(run.task) ? TaskOutcome::lost : TaskOutcome::skipped;
  }
  // Whether the effect happened is unknown (the service's store did not answer): not a result to
  // report. The task stays unacknowledged and comes back after its lease; run again with the same
  // key it finds the recorded outcome, or acts. The engine's deadlines bound the wait, and they count
  // from the start: report it.
  if (!result.ok && result.failure.outcome_unknown) {
    report_started(run);
    return TaskOutcome::unknown;
  }
  // The report is fenced: if another worker took the task over meanwhile, it reports (the same
  // recorded result: the services are idempotent) and this one does not.
  if (!report(run, result)) return TaskOutcome::skipped;
  return result.ok ? TaskOutcome::completed : TaskOutcome::failed;
}

void WorkerPool::observe(const TaskRun& run, TaskOutcome outcome, double seconds) {
  if (settings_.observer != nullptr) settings_.observer->activity_observed(run.task.activity, to_string(outcome), seconds);
}

activities::Heartbeat WorkerPool::heartbeat(const json& details) {
  RunningTask& running = running_task;
  if (running.run == nullptr) return activities::Heartbeat::carry_on;
  const engine::ActivityTask& task = running.run->task;
  const std::int64_t now_ms = clock_.now_ms();
  if (running.heartbeat_sent && now_ms - running.last_heartbeat_ms < settings_.heartbeat_throttle_ms)
    return running.verdict;
  Input beat;
  beat.type = Input::Type::activity_heartbeat;
  beat.activity_id = task.activity_id;
  beat.attempt = task.attempt;
  beat.payload = details;
  beat.time_ms = now_ms;
  beat.started_ms = running.run->started_ms;  // the engine needs the start before a heartbeat counts
  beat.name = settings_.consumer;
  try {
    // The renewal answers whether the attempt is still this worker's and still wanted.
    const LeaseState lease = store_.renew_task(task, settings_.lease_ms);
    if (lease == LeaseState::held) {
      store_.enqueue_input(task.workflow_id, beat);
    } else {
      running.verdict = activities::Heartbeat::stop;
      log(LogLevel::info, "activity told to stop",
          {{"workflow_id", task.workflow_id}, {"activity", task.activity}, {"attempt", task.attempt},
           {"lease", std::string(lease_name(lease))}});
    }
    running.last_heartbeat_ms = now_ms;
    running.heartbeat_sent = true;
  } catch (const std::exception& e) {
    // The store did not answer: the activity carries on; its lease says later whether it may report.
    log(LogLevel::warn, "heartbeat not sent",
        {{"workflow_id", task.workflow_id}, {"activity", task.activity}, {"error", e.what()}});
  }
  return running.verdict;
}

std::size_t WorkerPool::run_once(const std::string& queue, const std::string& consumer) {
  std::vector<TaskRun> runs = claim(queue, consumer, settings_.block_ms);
  for (std::size_t i = 0; i < runs.size(); ++i) {
    TaskRun& run = runs[i];
    if (!running_ && !threads_.empty()) {
      // Draining: the rest of the batch goes back at once, for another worker.
      for (std::size_t j = i; j < runs.size(); ++j) release(runs[j]);
      break;
    }
    const auto began = std::chrono::steady_clock::now();
    if (!begin(run)) {
      observe(run, TaskOutcome::skipped, 0.0);
      continue;
    }
    // The injected latency, in real time, in slices that keep the lease alive and notice a drain.
    const std::int64_t latency_ms = std::min(run.fault.latency_ms, settings_.injected_latency_ms_max);
    const auto act_at = began + std::chrono::milliseconds(latency_ms);
    const auto slice = std::chrono::milliseconds(std::max<std::int64_t>(1, std::min<std::int64_t>(50, settings_.lease_ms / 3)));
    bool handed_back = false;
    bool start_reported = false;
    for (auto renewed = began; std::chrono::steady_clock::now() < act_at;) {
      if (!running_ && !threads_.empty()) {
        release(run);
        handed_back = true;
        break;
      }
      if (!start_reported && std::chrono::steady_clock::now() - began >=
                                 std::chrono::milliseconds(settings_.started_report_ms)) {
        report_started(run);  // a long wait before acting: the workflow sees the attempt running
        start_reported = true;
      }
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(slice, act_at - std::chrono::steady_clock::now()));
      if (std::chrono::steady_clock::now() - renewed >= std::chrono::milliseconds(settings_.lease_ms / 3)) {
        renew(run);
        renewed = std::chrono::steady_clock::now();
      }
    }
    if (handed_back) continue;
    const TaskOutcome outcome = finish(run);
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - began;
    observe(run, outcome, took.count());
  }
  return runs.size();
}

void WorkerPool::keep_leases() {
  using std::chrono::milliseconds;
  const auto renew_period = milliseconds(std::max<std::int64_t>(1, settings_.lease_ms / 3));
  const auto report_after = milliseconds(std::max<std::int64_t>(0, settings_.started_report_ms));
  const auto tick = std::max(milliseconds(10), std::min(renew_period, report_after / 2));
  auto renewed_at = std::chrono::steady_clock::now();
  std::unique_lock lock(leases_mutex_);
  while (keeper_running_) {
    keeper_wake_.wait_for(lock, tick, [this] { return !keeper_running_; });
    if (!keeper_running_) break;
    const auto now = std::chrono::steady_clock::now();
    const bool renew_now = now - renewed_at >= renew_period;
    if (renew_now) renewed_at = now;
    std::vector<TaskRun> to_renew;
    std::vector<TaskRun> to_report;
    for (auto& [key, running] : running_tasks_) {
      if (renew_now) to_renew.push_back(running.run);
      if (!running.start_reported && now - running.began >= report_after) {
        running.start_reported = true;
        to_report.push_back(running.run);
      }
    }
    lock.unlock();
    for (const TaskRun& run : to_report) {
      try {
        report_started(run);
      } catch (const std::exception& e) {
        // Not lost: the outcome carries the start too.
        log(LogLevel::warn, "start not reported",
            {{"workflow_id", run.task.workflow_id}, {"activity", run.task.activity}, {"error", e.what()}});
      }
    }
    for (const TaskRun& run : to_renew) {
      try {
        // The answer matters only to the worker, which checks its lease again before reporting.
        store_.renew_task(run.task, settings_.lease_ms);
      } catch (const std::exception& e) {
        log(LogLevel::warn, "lease not renewed",
            {{"workflow_id", run.task.workflow_id}, {"activity", run.task.activity}, {"error", e.what()}});
      }
    }
    lock.lock();
  }
}

void WorkerPool::start_threads() {
  if (running_.exchange(true)) return;
  {
    const std::lock_guard lock(leases_mutex_);
    keeper_running_ = true;
  }
  keeper_ = std::thread([this] { keep_leases(); });
  for (const std::string& queue : settings_.queues) {
    for (int i = 0; i < settings_.threads_per_queue; ++i) {
      const std::string consumer = settings_.consumer + "/" + queue + "/" + std::to_string(i);
      threads_.emplace_back([this, queue, consumer] {
        std::int64_t backoff_ms = 10;
        while (running_) {
          try {
            run_once(queue, consumer);
            backoff_ms = 10;
          } catch (const std::exception& e) {
            // Usually the store is unreachable: wait and try again; unreported tasks come back
            // after their lease, so nothing is lost.
            log(LogLevel::warn, "worker round failed", {{"queue", queue}, {"error", e.what()}});
            std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
            backoff_ms = std::min<std::int64_t>(backoff_ms * 2, 2000);
          }
        }
      });
    }
  }
}

void WorkerPool::stop() {
  running_ = false;
  for (auto& thread : threads_)
    if (thread.joinable()) thread.join();
  threads_.clear();
  // Only now: a draining worker's running activity keeps its lease until it finishes.
  {
    const std::lock_guard lock(leases_mutex_);
    keeper_running_ = false;
  }
  keeper_wake_.notify_all();
  if (keeper_.joinable()) keeper_.join();
}

}  // namespace flightplan::runtime

#include "flightplan/runtime/worker_pool.hpp"

#include "flightplan/runtime/log.hpp"

#include <algorithm>
#include <chrono>

namespace flightplan::runtime {

using engine::Input;
using nlohmann::json;

namespace {

// Injected latency is real time here; keep one task from holding a worker thread for long.
constexpr std::int64_t injected_latency_ms_max = 10'000;

// The task this thread is running, for heartbeats: activities call the host without naming their
// task, and each worker thread runs one task at a time.
struct RunningTask {
  const engine::ActivityTask* task = nullptr;
  std::int64_t last_heartbeat_ms = 0;
  bool heartbeat_sent = false;
};
thread_local RunningTask running_task;

// Clears the thread's running task however handle() leaves.
class RunningTaskScope {
 public:
  explicit RunningTaskScope(const engine::ActivityTask& task) { running_task = RunningTask{&task, 0, false}; }
  ~RunningTaskScope() { running_task = RunningTask{}; }
  RunningTaskScope(const RunningTaskScope&) = delete;
  RunningTaskScope& operator=(const RunningTaskScope&) = delete;
};

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

}  // namespace

WorkerPool::WorkerPool(engine::WorkflowStore& store, activities::ActivityRegistry& registry,
                       activities::FaultInjector faults, Clock& clock, WorkerSettings settings)
    : store_(store), registry_(registry), faults_(std::move(faults)), clock_(clock), settings_(std::move(settings)) {}

WorkerPool::~WorkerPool() { stop(); }

void WorkerPool::send_signal(const std::string& workflow_id, const std::string& signal, json payload,
                             std::int64_t delay_ms) {
  const std::int64_t due_ms = clock_.now_ms() + std::max<std::int64_t>(delay_ms, 0);
  {
    std::lock_guard lock(signals_mutex_);
    delayed_signals_.emplace(due_ms, std::make_pair(workflow_id, Input::signal(signal, std::move(payload), due_ms)));
  }
  signals_changed_.notify_all();
}

std::size_t WorkerPool::deliver_due_signals() {
  std::vector<std::pair<std::string, Input>> due;
  {
    std::lock_guard lock(signals_mutex_);
    const std::int64_t now_ms = clock_.now_ms();
    while (!delayed_signals_.empty() && delayed_signals_.begin()->first <= now_ms) {
      due.push_back(std::move(delayed_signals_.begin()->second));
      delayed_signals_.erase(delayed_signals_.begin());
    }
  }
  for (std::size_t i = 0; i < due.size(); ++i) {
    try {
      due[i].second.time_ms = clock_.now_ms();
      store_.enqueue_input(due[i].first, due[i].second);
    } catch (...) {
      // The store is unreachable: keep this signal and the rest for the next round. Losing them
      // would leave their workflows waiting until a deadline.
      std::lock_guard lock(signals_mutex_);
      for (std::size_t j = i; j < due.size(); ++j)
        delayed_signals_.emplace(due[j].second.time_ms, std::move(due[j]));
      throw;
    }
  }
  return due.size();
}

void WorkerPool::heartbeat(const json& details) {
  RunningTask& running = running_task;
  if (running.task == nullptr) return;
  const std::int64_t now_ms = clock_.now_ms();
  if (running.heartbeat_sent && now_ms - running.last_heartbeat_ms < settings_.heartbeat_throttle_ms) return;
  Input beat;
  beat.type = Input::Type::activity_heartbeat;
  beat.activity_id = running.task->activity_id;
  beat.attempt = running.task->attempt;
  beat.payload = details;
  beat.time_ms = now_ms;
  try {
    store_.enqueue_input(running.task->workflow_id, beat);
    store_.extend_task(*running.task);
    running.last_heartbeat_ms = now_ms;
    running.heartbeat_sent = true;
  } catch (const std::exception& e) {
    log(LogLevel::warn, "heartbeat not sent",
        {{"workflow_id", running.task->workflow_id}, {"activity", running.task->activity}, {"error", e.what()}});
  }
}

std::string_view WorkerPool::handle(const engine::ActivityTask& task) {
  const RunningTaskScope scope(task);
  Input started;
  started.type = Input::Type::activity_started;
  started.activity_id = task.activity_id;
  started.attempt = task.attempt;
  started.name = settings_.consumer;
  started.time_ms = clock_.now_ms();
  store_.enqueue_input(task.workflow_id, started);
  const activities::FaultDecision fault = faults_.decide(task.activity, task.idempotency_key, task.attempt);
  if (fault.latency_ms > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(fault.latency_ms, injected_latency_ms_max)));
  if (fault.fail) {
    Input failed;
    failed.type = Input::Type::activity_failed;
    failed.activity_id = task.activity_id;
    failed.attempt = task.attempt;
    failed.time_ms = clock_.now_ms();
    failed.error = engine::make_error("https://flightplan.dev/errors/injected-fault", 503, "Injected failure",
                                      "fault injection failed " + task.activity);
    store_.complete_task(task, failed);
    return "failed";
  }
  activities::Activity* activity = registry_.find(task.activity);
  activities::ActivityResult result =
      activity == nullptr
          ? activities::ActivityResult::fail("https://flightplan.dev/errors/not-found", 404, "Unknown activity",
                                             "this worker does not serve " + task.activity, false)
          : activity->execute(activities::ActivityRequest{task.workflow_id, task.activity, task.idempotency_key,
                                                          task.attempt, task.arguments, clock_.now_ms()},
                              *this);
  for (activities::DelayedSignal& signal : result.signals)  // each id once: a repeated key returns them again
    if (delivered_signals_.first_delivery(signal))
      send_signal(signal.workflow_id, signal.name, std::move(signal.payload), signal.due_ms - clock_.now_ms());
  // An injected hang: the work happened, the reply is lost. The engine's deadlines take over.
  if (fault.hang) {
    store_.drop_task(task);
    return "lost";
  }
  store_.complete_task(task, outcome_of(task, result, clock_.now_ms()));
  return result.ok ? "completed" : "failed";
}

std::size_t WorkerPool::run_once(const std::string& queue, const std::string& consumer) {
  const auto tasks = store_.claim_tasks(queue, consumer, settings_.batch_max, settings_.block_ms, settings_.visibility_ms);
  for (const auto& task : tasks) {
    const auto began = std::chrono::steady_clock::now();
    const std::string_view outcome = handle(task);
    if (settings_.observer != nullptr) {
      const std::chrono::duration<double> took = std::chrono::steady_clock::now() - began;
      settings_.observer->activity_observed(task.activity, outcome, took.count());
    }
  }
  return tasks.size();
}

void WorkerPool::start_threads() {
  if (running_.exchange(true)) return;
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
            log(LogLevel::warn, "worker round failed", {{"queue", queue}, {"error", e.what()}});
            std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
            backoff_ms = std::min<std::int64_t>(backoff_ms * 2, 2000);
          }
        }
      });
    }
  }
  threads_.emplace_back([this] {
    while (running_) {
      try {
        deliver_due_signals();
      } catch (const std::exception& e) {
        log(LogLevel::warn, "signal delivery failed", {{"error", e.what()}});
      }
      std::unique_lock lock(signals_mutex_);
      signals_changed_.wait_for(lock, std::chrono::milliseconds(20));
    }
  });
}

void WorkerPool::stop() {
  running_ = false;
  signals_changed_.notify_all();
  for (auto& thread : threads_)
    if (thread.joinable()) thread.join();
  threads_.clear();
}

}  // namespace flightplan::runtime

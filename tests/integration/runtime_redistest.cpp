#define BOOST_TEST_MODULE runtime
// The distributed runtime end to end on a real redis-server: orchestrators, a supervisor and
// workers as threads of this process, time sped up by a scaled clock.
#include "flightplan/engine/duration.hpp"
#include "flightplan/redis/redis_service_store.hpp"
#include "flightplan/redis/redis_store.hpp"
#include "flightplan/yaml/source_loader.hpp"
#include "flightplan/runtime/orchestrator.hpp"
#include "flightplan/runtime/supervisor.hpp"
#include "flightplan/runtime/worker_pool.hpp"

#include "../support/harness.hpp"
#include "../support/redis_server.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

using namespace flightplan;
using engine::WorkflowStatus;
using nlohmann::json;

namespace {

constexpr double time_scale = 20.0;

json near_hangar_delivery(const std::string& id, const std::string& deadline = "2099-01-01T00:00:00Z") {
  // Pickup and drop-off a few hundred metres from the hangar: the flight is mostly the 60 s handling.
  return json{{"deliveryId", id},
              {"ownerId", "fabrikam-books"},
              {"pickupLocation", "47.6215,-122.3480"},
              {"dropOffLocation", "47.6230,-122.3470"},
              {"deadline", deadline},
              {"packageInfo", {{"packageId", "p-" + id}, {"size", "small"}, {"weight", 1.0}, {"tag", "t"}}}};
}

struct Cluster {
  testing::RedisServer server;
  std::unique_ptr<redis::RedisStore> store;
  runtime::ScaledClock clock{testing::start_ms, time_scale};
  runtime::DefinitionRegistry definitions{yaml::source_loader(), clock};
  std::unique_ptr<redis::RedisServiceStore> service_store;  // the services' state, on the same Redis
  activities::ActivityRegistry activities_registry;
  std::vector<std::unique_ptr<runtime::Orchestrator>> orchestrators;
  std::unique_ptr<runtime::Supervisor> supervisor;
  std::unique_ptr<runtime::WorkerPool> workers;

  explicit Cluster(const std::string& inject = "", int orchestrator_count = 1) {
    redis::RedisStoreSettings settings;
    settings.pool.client.url = server.url();
    settings.pool.client_count = 8;
    settings.partitions = 4;
    store = std::make_unique<redis::RedisStore>(settings);
    definitions.add(testing::compile_file("workflows/delivery.yaml"));
    redis::RedisServiceStoreSettings service_settings;
    service_settings.pool.client.url = server.url();
    service_settings.pool.client_count = 6;  // one per worker thread, and one more
    service_store = std::make_unique<redis::RedisServiceStore>(service_settings);
    activities::register_delivery_activities(activities_registry, *service_store);
    for (int i = 0; i < orchestrator_count; ++i) {
      runtime::OrchestratorSettings o;
      o.consumer = "orchestrator-" + std::to_string(i);
      o.visibility_ms = 2000;
      orchestrators.push_back(std::make_unique<runtime::Orchestrator>(*store, definitions, clock, o));
    }
    supervisor = std::make_unique<runtime::Supervisor>(*store, clock, runtime::SupervisorSettings{});
    activities::FaultInjector faults(7);
    if (!inject.empty()) BOOST_REQUIRE(!faults.parse_and_add(inject));
    runtime::WorkerSettings w;
    w.queues = {"account", "package", "transport", "drone", "delivery"};
    workers = std::make_unique<runtime::WorkerPool>(*store, activities_registry, faults, clock, w);
  }
  void start() {
    for (auto& o : orchestrators) o->start_thread();
    supervisor->start_thread();
    workers->start_threads();
  }
  ~Cluster() {
    workers->stop();
    supervisor->stop();
    for (auto& o : orchestrators) o->stop();
  }
  // Waits (bounded) until the workflow is final; returns its state.
  engine::WorkflowState await_final(const std::string& id, int seconds_max = 60) {
    for (int i = 0; i < seconds_max * 20; ++i) {
      if (auto stored = store->load(id); stored && engine::is_final(stored->state.status)) return stored->state;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    BOOST_FAIL("workflow " + id + " did not finish in " + std::to_string(seconds_max) + " s");
    return {};
  }
  void check_history_replays(const std::string& id) {
    const auto stored = store->load(id);
    engine::History history{id, stored->state.name, stored->state.version, stored->state.digest,
                            static_cast<engine::WorkflowStore&>(*store).history(id)};
    const auto result = engine::replay(*definitions.find("delivery"), history);
    BOOST_TEST(result.ok(), (result.divergence ? result.divergence->message : ""));
    BOOST_TEST(result.state.to_json() == stored->state.to_json());
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(delivery_completes_on_redis) {
  Cluster cluster;
  cluster.start();
  const auto started = cluster.orchestrators[0]->start({"delivery", "", "d-100", near_hangar_delivery("d-100"), ""});
  BOOST_TEST(started.created);
  const auto state = cluster.await_final("d-100");
  BOOST_TEST(state.status == WorkflowStatus::completed);
  BOOST_TEST(state.output.at("deliveryId") == "d-100");
  cluster.check_history_replays("d-100");
}

BOOST_AUTO_TEST_CASE(start_is_idempotent_by_id_and_input) {
  Cluster cluster;
  const json input = near_hangar_delivery("d-200");
  BOOST_TEST(cluster.orchestrators[0]->start({"delivery", "", "d-200", input, ""}).created);
  const auto again = cluster.orchestrators[0]->start({"delivery", "", "d-200", input, ""});
  BOOST_TEST(!again.created);
  BOOST_TEST(again.state.id == "d-200");
  json other = input;
  other["ownerId"] = "someone-else";
  BOOST_CHECK_THROW(cluster.orchestrators[0]->start({"delivery", "", "d-200", other, ""}), engine::OperationError);
  BOOST_CHECK_THROW(cluster.orchestrators[0]->start({"nope", "", "x", input, ""}), engine::OperationError);
  BOOST_CHECK_THROW(cluster.orchestrators[0]->start({"delivery", "", "bad id", input, ""}), engine::OperationError);
}

BOOST_AUTO_TEST_CASE(missed_deadline_compensates_through_the_supervisor) {
  Cluster cluster;
  cluster.start();
  // Deadline one virtual minute after start: before the 60 s handling ends.
  const std::string deadline = engine::format_timestamp(testing::start_ms + 30'000).substr(0, 19) + "Z";
  cluster.orchestrators[0]->start({"delivery", "", "d-300", near_hangar_delivery("d-300", deadline), ""});
  const auto state = cluster.await_final("d-300");
  BOOST_TEST(state.status == WorkflowStatus::compensated);
  cluster.check_history_replays("d-300");
}

BOOST_AUTO_TEST_CASE(two_orchestrators_and_faults_finish_many_workflows) {
  Cluster cluster("drone.schedule:fail=0.3;package:fail=0.2", 2);
  cluster.start();
  constexpr int count = 20;
  for (int i = 0; i < count; ++i) {
    const std::string id = "m-" + std::to_string(i);
    cluster.orchestrators[static_cast<std::size_t>(i % 2)]->start({"delivery", "", id, near_hangar_delivery(id), ""});
  }
  for (int i = 0; i < count; ++i) {
    const std::string id = "m-" + std::to_string(i);
    const auto state = cluster.await_final(id);
    BOOST_TEST((state.status == WorkflowStatus::completed || state.status == WorkflowStatus::compensated ||
                state.status == WorkflowStatus::faulted),
               id << " ended " << engine::to_string(state.status));
    cluster.check_history_replays(id);
  }
}

namespace {

// A long activity for heartbeat tests: runs `run_ms` of real time in 100 ms slices and heartbeats
// after each slice when `beat` is true; stops early when a heartbeat says so, and records how long
// it ran.
class SlowActivity final : public activities::Activity {
 public:
  activities::ActivityResult execute(const activities::ActivityRequest& request,
                                     activities::ActivityHost& host) override {
    const std::int64_t run_ms = request.arguments.value("run_ms", std::int64_t{0});
    const bool beat = request.arguments.value("beat", false);
    std::int64_t elapsed_ms = 0;
    while (elapsed_ms < run_ms) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      elapsed_ms += 100;
      if (beat && host.heartbeat(json{{"done_ms", elapsed_ms}}) == activities::Heartbeat::stop) {
        stopped_after_ms = elapsed_ms;
        return activities::ActivityResult::fail("https://example.test/stopped", 499, "Stopped");
      }
    }
    return activities::ActivityResult::success(json{{"ran_ms", run_ms}});
  }
  std::atomic<std::int64_t> stopped_after_ms{-1};
};
constexpr const char* slow_workflow = R"(
document: {dsl: '1.0.0', namespace: test, name: slow, version: '1.0.0'}
do:
  - work:
      call: test.slow
      with:
        run_ms: ${ .run_ms }
        beat: ${ .beat }
      timeouts:
        heartbeat: PT1S
        startToClose: PT1M
)";

struct SlowRun {
  engine::WorkflowState state;
  std::vector<std::string> types;
  std::int64_t stopped_after_ms = -1;  // how long the activity ran before a heartbeat stopped it
};

// Runs the slow workflow on real time (scale 1: heartbeat deadlines are real seconds) and returns
// its final state and event types. With `cancel_after_start`, the workflow is cancelled once its
// activity has started.
SlowRun run_slow(bool beat, std::int64_t run_ms = 2500, bool cancel_after_start = false,
                 const char* workflow_yaml = slow_workflow) {
  testing::RedisServer server;
  redis::RedisStoreSettings settings;
  settings.pool.client.url = server.url();
  settings.pool.client_count = 6;
  redis::RedisStore store(settings);
  runtime::SystemClock clock;
  runtime::DefinitionRegistry definitions{yaml::source_loader(), clock};
  definitions.add(testing::compile_yaml(workflow_yaml, "slow.yaml"));
  activities::ActivityRegistry registry;
  const auto slow = std::make_shared<SlowActivity>();
  registry.add("test.slow", slow);
  runtime::Orchestrator orchestrator(store, definitions, clock, runtime::OrchestratorSettings{});
  runtime::Supervisor supervisor(store, clock, runtime::SupervisorSettings{});
  runtime::WorkerSettings w;
  w.queues = {"test"};
  w.heartbeat_throttle_ms = 300;
  w.lease_ms = 1500;  // shorter than the run: only renewals keep the task from a second delivery
  w.threads_per_queue = 2;  // a second claimer, ready to take a task whose lease lapsed
  runtime::WorkerPool workers(store, registry, activities::FaultInjector(1), clock, w);
  orchestrator.start_thread();
  supervisor.start_thread();
  workers.start_threads();
  orchestrator.start({"slow", "", "slow-1", json{{"run_ms", run_ms}, {"beat", beat}}, ""});
  const auto history_types = [&] {
    std::vector<std::string> types;
    for (const auto& event : static_cast<engine::WorkflowStore&>(store).history("slow-1")) types.push_back(event.type);
    return types;
  };
  if (cancel_after_start) {
    for (int i = 0; i < 200; ++i) {
      const auto types = history_types();
      if (std::find(types.begin(), types.end(), "activity_started") != types.end()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    store.enqueue_input("slow-1", engine::Input::cancel("test", clock.now_ms()));
  }
  SlowRun result;
  for (int i = 0; i < 400; ++i) {
    if (auto stored = store.load("slow-1"); stored && engine::is_final(stored->state.status)) {
      result.state = stored->state;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // A cancelled attempt's worker learns it at its next heartbeat: wait (bounded) for the activity.
  for (int i = 0; cancel_after_start && slow->stopped_after_ms < 0 && i < 100; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  workers.stop();
  supervisor.stop();
  orchestrator.stop();
  result.types = history_types();
  result.stopped_after_ms = slow->stopped_after_ms;
  return result;
}

}  // namespace

// 2.5 s of work against a 1 s heartbeat deadline: it finishes only because the worker forwards the
// activity's heartbeats, and exactly one attempt runs (the task is not redelivered).
BOOST_AUTO_TEST_CASE(heartbeats_keep_a_long_activity_alive) {
  const auto [state, types, stopped_after_ms] = run_slow(true);
  BOOST_TEST(engine::to_string(state.status) == "completed");
  BOOST_TEST(state.output == (json{{"ran_ms", 2500}}));
  BOOST_TEST(std::count(types.begin(), types.end(), "activity_heartbeat") >= 3);
  BOOST_TEST(std::count(types.begin(), types.end(), "activity_started") == 1);
}

// The same activity without heartbeats misses the deadline: the test above can fail.
BOOST_AUTO_TEST_CASE(a_silent_long_activity_times_out) {
  const auto [state, types, stopped_after_ms] = run_slow(false);
  BOOST_TEST(engine::to_string(state.status) == "faulted");
  // Every attempt (the default retry policy makes several) timed out on its heartbeat deadline.
  const auto attempts = std::count(types.begin(), types.end(), "activity_started");
  BOOST_TEST(attempts >= 1);
  BOOST_TEST(std::count(types.begin(), types.end(), "activity_timed_out") == attempts);
  BOOST_TEST(std::count(types.begin(), types.end(), "activity_heartbeat") == 0);
}

// The same long activity without heartbeats and without a heartbeat deadline: the worker's lease
// keeper renews its task while it runs, so the second worker thread never takes it over.
BOOST_AUTO_TEST_CASE(a_long_silent_activity_keeps_its_lease) {
  constexpr const char* silent_workflow = R"(
document: {dsl: '1.0.0', namespace: test, name: slow, version: '1.0.0'}
do:
  - work:
      call: test.slow
      with:
        run_ms: ${ .run_ms }
        beat: false
      timeouts:
        startToClose: PT1M
)";
  const auto [state, types, stopped_after_ms] = run_slow(false, 4'000, false, silent_workflow);
  BOOST_TEST(engine::to_string(state.status) == "completed");
  BOOST_TEST(std::count(types.begin(), types.end(), "activity_started") == 1);
}

// Cancelling the workflow cancels its running attempt: the activity learns it at its next
// heartbeat and stops long before its 20 s of work, and its late answer changes nothing.
BOOST_AUTO_TEST_CASE(a_cancelled_attempt_learns_it_at_its_next_heartbeat) {
  const auto [state, types, stopped_after_ms] = run_slow(true, 20'000, true);
  BOOST_TEST(engine::to_string(state.status) == "cancelled");
  BOOST_TEST(stopped_after_ms >= 0, "the activity was never told to stop");
  BOOST_TEST(stopped_after_ms < 10'000, "the activity ran " << stopped_after_ms << " ms before it stopped");
  BOOST_TEST(std::count(types.begin(), types.end(), "activity_completed") == 0);
}

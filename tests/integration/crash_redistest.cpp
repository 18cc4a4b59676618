#define BOOST_TEST_MODULE crash
// Crash tests of the durable runtime with real processes: `flightplan server` and `flightplan worker`
// children on a private redis-server, killed with SIGKILL (or frozen) at bad moments. Whatever
// dies, every workflow must finish, every history must replay through the engine, and no activity's
// side effect may happen twice. Time runs scaled (--time-scale) so a drone flight takes seconds.
#include "../support/cluster.hpp"
#include "../support/crash_checks.hpp"
#include "../support/redis_server.hpp"

#include <algorithm>
#include <cstdio>

using namespace flightplan;
using engine::WorkflowStatus;
using nlohmann::json;
using testing::Cluster;
using testing::Carrier;
using testing::check_side_effects_once;
using testing::count_by_status;
using testing::eventually;
using testing::find_event;
using testing::numbered;

namespace {

const std::string all_queues = "account,package,transport,drone,delivery";

// Every workflow completed and replays, each with one carrier; no booking served two deliveries.
// (Drones may: a drone released after one delivery flies the next.) Counts the drone deliveries.
void check_all_completed(Cluster& cluster, const std::map<std::string, engine::WorkflowState>& finals,
                         int& drone_deliveries, std::set<std::string>& booking_ids) {
  drone_deliveries = 0;
  std::size_t bookings = 0;
  for (const auto& [id, state] : finals) {
    BOOST_TEST(state.status == WorkflowStatus::completed,
               id << " ended " << engine::to_string(state.status) << " error " << state.error.dump());
    cluster.check_replays(id);
    const Carrier carrier = check_side_effects_once(cluster.history(id));
    drone_deliveries += static_cast<int>(carrier.drone_ids.size());
    booking_ids.insert(carrier.booking_ids.begin(), carrier.booking_ids.end());
    bookings += carrier.booking_ids.size();
  }
  BOOST_TEST(booking_ids.size() == bookings, "a booking served two deliveries");
}

// Bookings are numbered in order by the one transport worker, so the set of booking ids shows how
// often transport.book really ran: once per delivery, never for a retry or redelivery.
std::set<std::string> expected_bookings(int count) {
  std::set<std::string> ids;
  for (int i = 1; i <= count; ++i) {
    char id[32];
    std::snprintf(id, sizeof id, "booking-%04d", i);
    ids.insert(id);
  }
  return ids;
}

}  // namespace

// 1. The orchestrator dies (SIGKILL) with 200 workflows in flight; a new server takes over.
BOOST_AUTO_TEST_CASE(orchestrator_killed_with_200_workflows_in_flight) {
  testing::RedisServer redis;
  // 20x: drone.schedule's scheduleToStart (PT30S) is 1.5 s of real time. At 50x (0.6 s) a drone task
  // whose `started` input the killed server had claimed could time out before the new server took
  // that input over, on a busy CI machine: a compensation the definition asks for, not a loss.
  Cluster cluster(redis.url(), 20.0);
  auto worker = cluster.start_worker("w1", all_queues);
  auto first = cluster.start_server("s1", {"--visibility-ms", "1000"});
  std::vector<std::string> ids;
  constexpr int count = 200;
  constexpr int drone_count = 10;  // one worker process: ten drones
  for (int i = 0; i < count; ++i) {
    ids.push_back(numbered("k", i));
    cluster.submit(first.port, ids.back(),
                   i % (count / drone_count) == 0 ? testing::drone_delivery(ids.back())
                                                  : testing::ground_delivery(ids.back()));
  }
  // Kill while most workflows are still between activities and a few already wait for their van.
  BOOST_TEST(eventually(30, [&] { return count_by_status(cluster, ids)["waiting"] >= count / 20; }));
  first.process->kill9();
  const auto at_kill = count_by_status(cluster, ids);
  const int final_at_kill = at_kill.count("completed") ? at_kill.at("completed") : 0;
  BOOST_TEST_MESSAGE("at the kill: " << json(at_kill).dump());
  BOOST_TEST(count - final_at_kill >= 150, "only " << count - final_at_kill << " workflows were in flight");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the worker goes on alone meanwhile

  auto second = cluster.start_server("s2", {"--visibility-ms", "1000"});
  const auto finals = cluster.await_final(ids, 240);
  int drone_deliveries = 0;
  std::set<std::string> booking_ids;
  check_all_completed(cluster, finals, drone_deliveries, booking_ids);
  BOOST_TEST(drone_deliveries == drone_count);
  BOOST_TEST(booking_ids == expected_bookings(count - drone_count),
             "transport.book ran other than once per delivery");
}

// 2. A worker dies (SIGKILL) while its drone.schedule tasks are in progress: another worker gets
// them after the visibility window and the same attempt finishes (no timeout, no retry needed).
BOOST_AUTO_TEST_CASE(worker_killed_mid_task_is_redelivered) {
  testing::RedisServer redis;
  // drone.schedule's startToClose PT10S: 5 s of real time, enough for the lease to lapse (0.4 s) and
  // the spare to start and run it on a busy CI machine.
  Cluster cluster(redis.url(), 2.0);
  auto server = cluster.start_server("s1");
  auto services = cluster.start_worker("services", "account,package,transport,delivery");
  auto slow = cluster.start_worker(
      "slow", "drone",
      {"--inject", "drone.schedule:latency_ms=2000", "--visibility-ms", "400", "--worker-threads", "1"});
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    ids.push_back(numbered("r", i));
    cluster.submit(server.port, ids.back(), testing::drone_delivery(ids.back()));
  }
  // The slow worker reports a task started, then sleeps 2 s before running it: kill it in between.
  auto started_by_slow = [&](const std::string& id) {
    const auto started = find_event(cluster.history(id), "activity_started", "/scheduleDrone");
    return started.has_value() && started->data.value("worker", "") == "slow";
  };
  BOOST_REQUIRE(eventually(20, [&] { return std::any_of(ids.begin(), ids.end(), started_by_slow); }));
  slow->kill9();
  auto spare = cluster.start_worker("spare", "drone", {"--visibility-ms", "400"});

  const auto finals = cluster.await_final(ids, 180);
  int drone_deliveries = 0;
  std::set<std::string> booking_ids;
  check_all_completed(cluster, finals, drone_deliveries, booking_ids);
  BOOST_TEST(drone_deliveries == static_cast<int>(ids.size()));
  int redelivered = 0;
  for (const std::string& id : ids) {
    const engine::History history = cluster.history(id);
    const auto completed = find_event(history, "activity_completed", "/scheduleDrone");
    BOOST_REQUIRE(completed.has_value());
    if (!started_by_slow(id)) continue;
    ++redelivered;
    // The slow worker never ran it; the spare finished the SAME attempt it had started.
    BOOST_TEST(completed->data.at("attempt") == 1, id << ": " << completed->data.dump());
  }
  BOOST_TEST(redelivered >= 1);
}

// 3. Two servers and two workers share one Redis: 100 workflows all finish.
BOOST_AUTO_TEST_CASE(two_servers_and_two_workers_finish_100_workflows) {
  testing::RedisServer redis;
  Cluster cluster(redis.url(), 50.0);
  std::vector<testing::ServerHandle> servers;
  servers.push_back(cluster.start_server("s1"));
  servers.push_back(cluster.start_server("s2"));
  // Both workers compete for account checks; the other queues are split between them (any split
  // works: the services keep their records in Redis, shared by every worker). Account checks take
  // 20 ms, so one idle thread cannot take them all and both workers get some.
  const std::vector<std::string> slow_checks{"--inject", "account.check:latency_ms=20"};
  auto w1 = cluster.start_worker("w1", "account,package,transport", slow_checks);
  auto w2 = cluster.start_worker("w2", "account,drone,delivery", slow_checks);
  std::vector<std::string> ids;
  constexpr int count = 100;
  constexpr int drone_count = 10;
  for (int i = 0; i < count; ++i) {
    ids.push_back(numbered("m", i));
    cluster.submit(servers[static_cast<std::size_t>(i % 2)].port, ids.back(),
                   i % (count / drone_count) == 0 ? testing::drone_delivery(ids.back())
                                                  : testing::ground_delivery(ids.back()));
  }
  const auto finals = cluster.await_final(ids, 240);
  int drone_deliveries = 0;
  std::set<std::string> booking_ids;
  check_all_completed(cluster, finals, drone_deliveries, booking_ids);
  BOOST_TEST(drone_deliveries == drone_count);
  BOOST_TEST(booking_ids == expected_bookings(count - drone_count));
  std::set<std::string> account_workers;
  for (const std::string& id : ids) {
    const auto started = find_event(cluster.history(id), "activity_started", "/checkAccount");
    if (started.has_value()) account_workers.insert(started->data.value("worker", ""));
  }
  BOOST_TEST(account_workers == (std::set<std::string>{"w1", "w2"}),
             "both workers should have taken account checks, not only " << json(account_workers).dump()
                                                                        << "\n"
                                                                        << cluster.logs_tail());
}

// 4. redis-server with appendfsync always dies (SIGKILL) right after acknowledging N starts: every
// acknowledged workflow survives the restart. Then it goes down again while the drones land, so the
// workers' `delivered` signals fall due during the outage: none may be lost.
BOOST_AUTO_TEST_CASE(redis_killed_loses_no_acknowledged_workflow) {
  testing::RedisServerOptions options;
  options.appendonly = true;
  options.appendfsync = "always";
  testing::RedisServer redis(options);
  Cluster cluster(redis.url(), 10.0);
  // Short visibility: work claimed just before the crash comes back within 2 s.
  auto server = cluster.start_server("s1", {"--visibility-ms", "2000"});
  auto worker = cluster.start_worker("w1", all_queues, {"--visibility-ms", "2000"});
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    ids.push_back(numbered("a", i));
    cluster.submit(server.port, ids.back(), testing::drone_delivery(ids.back()));  // 201: acknowledged
  }
  redis.kill9();
  redis.restart();
  for (const std::string& id : ids)
    BOOST_TEST(cluster.load(id).has_value(), id << " was acknowledged but is gone");

  // Take the drones in the air whose landing is at least 1 s (real) away: they land while Redis is
  // down, so their `delivered` signals fall due in the outage and must still arrive afterwards.
  std::map<std::string, std::int64_t> landing_ms;  // workflow id -> drone's ETA (virtual)
  BOOST_REQUIRE(eventually(60, [&] {
    landing_ms.clear();
    for (const std::string& id : ids) {
      if (cluster.load(id)->state.status != WorkflowStatus::waiting) continue;
      const auto booked = find_event(cluster.history(id), "activity_completed", "/scheduleDrone");
      const auto eta =
          engine::parse_timestamp_ms(booked->data.at("result").at("deliveryEta").get<std::string>());
      if (eta && cluster.real_ms(*eta - cluster.virtual_now_ms()) > 1000) landing_ms.emplace(id, *eta);
    }
    return landing_ms.size() >= 3;
  }));
  std::int64_t first_landing_ms = INT64_MAX, last_landing_ms = 0;
  for (const auto& [id, eta] : landing_ms) {
    first_landing_ms = std::min(first_landing_ms, eta);
    last_landing_ms = std::max(last_landing_ms, eta);
  }
  std::this_thread::sleep_for(
      std::chrono::milliseconds(cluster.real_ms(first_landing_ms - cluster.virtual_now_ms()) - 500));
  const std::int64_t down_ms = cluster.virtual_now_ms();
  redis.stop();
  std::this_thread::sleep_for(
      std::chrono::milliseconds(cluster.real_ms(last_landing_ms - cluster.virtual_now_ms()) + 500));
  const std::int64_t back_ms = cluster.virtual_now_ms();
  redis.restart();

  const auto finals = cluster.await_final(ids, 90);
  int drone_deliveries = 0;
  std::set<std::string> booking_ids;
  check_all_completed(cluster, finals, drone_deliveries, booking_ids);
  BOOST_TEST(drone_deliveries == static_cast<int>(ids.size()));
  // Those drones landed during the outage; their signals were held until Redis was back.
  for (const auto& [id, eta] : landing_ms) {
    BOOST_TEST((eta > down_ms && eta < back_ms), id << " landed at " << eta << ", not in the outage");
    const auto delivered = find_event(cluster.history(id), "signal_received", "/");
    BOOST_REQUIRE(delivered.has_value());
    BOOST_TEST(delivered->time_ms >= eta);
  }
}

// 5. A deadline passes while the server is down and the worker frozen: the new server's supervisor
// fires it at once, before any worker is back, and the delivery is compensated.
BOOST_AUTO_TEST_CASE(deadline_missed_while_down_fires_on_restart) {
  testing::RedisServer redis;
  Cluster cluster(redis.url(), 10.0);
  auto first = cluster.start_server("s1");
  // Frozen rather than killed: no activity runs while the deadline passes, and the same worker
  // resumes afterwards (the services' records are in Redis, so a new worker would do as well).
  auto worker = cluster.start_worker("w1", all_queues);
  // 40 virtual seconds: enough to book the drone, too short for its ~82 s flight.
  const std::int64_t deadline_ms = (cluster.virtual_now_ms() + 40'000) / 1000 * 1000;
  cluster.submit(first.port, "t-1", testing::drone_delivery("t-1", testing::deadline_text(deadline_ms)));
  BOOST_REQUIRE(eventually(10, [&] {
    const auto stored = cluster.load("t-1");
    return stored && stored->state.status == WorkflowStatus::waiting;
  }));
  BOOST_REQUIRE_MESSAGE(cluster.virtual_now_ms() < deadline_ms - 5'000, "reached the wait too late to test");
  BOOST_TEST(first.process->terminate() == 0);
  worker->suspend();

  std::this_thread::sleep_for(
      std::chrono::milliseconds(cluster.real_ms(deadline_ms + 5'000 - cluster.virtual_now_ms())));
  BOOST_TEST(cluster.load("t-1")->state.status == WorkflowStatus::waiting,
             "nothing runs, so nothing may fire");
  const std::int64_t restart_ms = cluster.virtual_now_ms();
  auto second = cluster.start_server("s2");
  std::optional<engine::Event> fired;
  engine::History history;
  BOOST_REQUIRE(eventually(10, [&] {
    history = cluster.history("t-1");
    fired = find_event(history, "timer_fired", "/");
    return fired.has_value();
  }));
  BOOST_TEST(fired->time_ms >= restart_ms);
  BOOST_TEST(find_event(history, "task_faulted", "/awaitDelivered").has_value());
  BOOST_TEST(cluster.load("t-1")->state.status == WorkflowStatus::compensating);

  worker->resume();
  const auto finals = cluster.await_final({"t-1"}, 60);
  BOOST_TEST(finals.at("t-1").status == WorkflowStatus::compensated, finals.at("t-1").error.dump());
  cluster.check_replays("t-1");
  int compensations = 0;
  for (const engine::Event& event : cluster.history("t-1").events)
    compensations += event.type == "compensation_completed";
  BOOST_TEST(compensations == 3);  // delivery cancelled, drone released, package cancelled
}

// 6. Redis goes away under a running server: the API answers 503 problem+json quickly, readiness
// fails, and once Redis is back the API works again without a restart.
BOOST_AUTO_TEST_CASE(redis_unreachable_gives_503_then_recovers) {
  testing::RedisServerOptions options;
  options.tcp = true;
  testing::RedisServer redis(options);
  Cluster cluster(redis.url(), 1.0);
  auto server = cluster.start_server("s1");
  const std::uint16_t port = server.port;
  auto start_body = [](const std::string& id) {
    return json{{"workflow", "delivery"}, {"id", id}, {"input", testing::drone_delivery(id)}}.dump();
  };
  BOOST_TEST(testing::http_post(port, "/api/v1/workflows", start_body("u-1")).status == 201);
  BOOST_TEST(testing::http_get(port, "/readyz").status == 200);

  redis.stop();
  const auto before = std::chrono::steady_clock::now();
  const testing::HttpResponse refused =
      testing::http_post(port, "/api/v1/workflows", start_body("u-2"), 40'000);
  const auto elapsed_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - before)
          .count();
  BOOST_TEST(refused.status == 503, refused.body);
  BOOST_TEST(elapsed_ms < 15'000, "the refusal took " << elapsed_ms << " ms");
  BOOST_TEST(refused.header("content-type") == "application/problem+json");
  const json problem = refused.json();
  BOOST_TEST(problem.value("type", "") == "https://flightplan.dev/problems/unavailable", problem.dump());
  BOOST_TEST(problem.value("status", 0) == 503);
  BOOST_TEST(problem.value("detail", "").find("redis") != std::string::npos, problem.dump());
  const testing::HttpResponse not_ready = testing::http_get(port, "/readyz");
  BOOST_TEST(not_ready.status == 503);
  BOOST_TEST(not_ready.header("content-type") == "application/problem+json");
  BOOST_TEST(testing::http_get(port, "/healthz").status == 200, "the process itself is alive");

  redis.restart();
  int status = 0;
  BOOST_TEST(eventually(30,
                        [&] {
                          status = testing::http_post(port, "/api/v1/workflows", start_body("u-3")).status;
                          return status == 201;
                        }),
             "after the restart the start answered " << status);
  BOOST_TEST(testing::http_get(port, "/api/v1/workflows/u-3").status == 200);
  BOOST_TEST(testing::http_get(port, "/readyz").status == 200);
  BOOST_TEST(server.process->running());
}

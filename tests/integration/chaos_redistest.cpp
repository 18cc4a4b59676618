#define BOOST_TEST_MODULE chaos
// Chaos tests with real processes on a private redis-server: `flightplan dev`, `server` and `worker`
// children are stopped with SIGTERM (an orderly drain) or SIGKILL (a crash) at chosen or random
// moments, then restarted. After each attack: no workflow is lost (every one completes: the inputs
// are all normal ones, so none may compensate), no effect happened twice — checked in the services'
// own records in Redis (one package, one booking or flight, one delivery record per delivery; no
// drone flying two deliveries at once) as well as in the histories — and every drone is back in the
// fleet. Time runs scaled (--time-scale) so flights and vans take seconds.
//
// FLIGHTPLAN_CHAOS_SEED=N re-runs the random rounds with the same choices (workload, victim, signal,
// moments); FLIGHTPLAN_CHAOS_ROUNDS=N sets how many rounds (default 5). The processes' own timing is
// real, so a seed repeats the attacks, not every interleaving. scripts/chaos.sh runs a longer series.
#include "../support/cluster.hpp"
#include "../support/crash_checks.hpp"
#include "../support/redis_server.hpp"

#include "flightplan/activities/fleet.hpp"
#include "flightplan/redis/redis_service_store.hpp"

#include <boost/test/results_collector.hpp>

#include <sys/wait.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <random>
#include <sstream>

using namespace flightplan;
using engine::WorkflowStatus;
using nlohmann::json;
using testing::Carrier;
using testing::Cluster;
using testing::eventually;
using testing::numbered;

namespace {

// Every queue the workload needs; `bench` serves bench-5step.
const std::string all_queues = "account,package,transport,drone,delivery,bench";
// Short windows, so that work a killed process held comes back within a second (real time).
const std::vector<std::string> role_args{"--visibility-ms", "1000", "--drain-ms", "5000"};
constexpr std::int64_t terminate_timeout_ms = 15'000;  // longer than --drain-ms: SIGKILL only if the drain hangs
constexpr int final_seconds_max = 150;

// ---- Settings from the environment ----

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text, &end, 10);
  BOOST_REQUIRE_MESSAGE(end != text && *end == '\0', name << " must be a number, not '" << text << "'");
  return value;
}

std::uint64_t chaos_seed() {
  static const std::uint64_t seed = env_number("FLIGHTPLAN_CHAOS_SEED", std::random_device{}());
  return seed;
}

// ---- The workload ----

enum class Kind { drone, carrier, bench };

std::string_view to_string(Kind kind) {
  switch (kind) {
    case Kind::drone: return "drone";
    case Kind::carrier: return "carrier";
    case Kind::bench: return "bench-5step";
  }
  return "?";
}

struct Job {
  std::string id;
  Kind kind = Kind::drone;
  int seq = 0;  // bench-5step's `seq`
};

json start_body(const Job& job) {
  if (job.kind == Kind::bench) {
    return {{"workflow", "bench-5step"},
            {"id", job.id},
            {"input",
             {{"deliveryId", job.id},
              {"seq", job.seq},
              {"accountId", "acct-" + std::to_string(job.seq % 100)},
              {"pickup", "A"},
              {"dropoff", "B"},
              {"size", "small"},
              {"weightKg", 1.2}}}};
  }
  return {{"workflow", "delivery"},
          {"id", job.id},
          {"input", job.kind == Kind::drone ? testing::drone_delivery(job.id) : testing::ground_delivery(job.id)}};
}

// A start was acknowledged: created (201), or already there with the same input (200).
bool acknowledged(int status) { return status == 201 || status == 200; }
// No answer (0) or a temporary refusal (5xx): a client tries again, by the same id.
bool retryable(int status) { return status == 0 || status >= 500; }

// One POST /api/v1/workflows; the HTTP status, or 0 when no answer came (refused, reset, timed out).
// Runs on client threads, so it asserts nothing.
int try_start(std::uint16_t port, const Job& job) {
  if (port == 0) return 0;
  try {
    return testing::http_post(port, "/api/v1/workflows", start_body(job).dump(), 5'000).status;
  } catch (const std::exception&) {
    return 0;
  }
}

// Starts `job` on `port`, retrying what a client would retry, for at most `seconds_max`.
int start_with_retries(std::uint16_t port, const Job& job, int seconds_max) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds_max);
  int status = try_start(port, job);
  while (retryable(status) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    status = try_start(port, job);
  }
  return status;
}

// `count` jobs of one kind, "<prefix>-000" on; `seq` runs on from `first_seq`.
std::vector<Job> numbered_jobs(const std::string& prefix, Kind kind, int count, int first_seq = 0) {
  std::vector<Job> jobs;
  for (int i = 0; i < count; ++i) jobs.push_back(Job{numbered(prefix, i), kind, first_seq + i});
  return jobs;
}

std::vector<std::string> ids_of(const std::vector<Job>& jobs) {
  std::vector<std::string> ids;
  for (const Job& job : jobs) ids.push_back(job.id);
  return ids;
}

// ---- Checks ----

// The last events of a workflow's history, one a line, for failure messages.
std::string history_tail(Cluster& cluster, const std::string& id, std::size_t events_max = 12) {
  const std::vector<engine::Event> events = cluster.history(id).events;
  std::string text;
  for (std::size_t i = events.size() > events_max ? events.size() - events_max : 0; i < events.size(); ++i)
    text += "\n    " + std::to_string(events[i].seq) + " " + events[i].type + " " + events[i].reference + " " +
            events[i].data.dump().substr(0, 200);
  return text;
}

// What the services' records must show for one delivery: its kind and its carrier (drone or
// booking id) as the history names it.
struct ExpectedDelivery {
  Kind kind = Kind::drone;
  std::string carrier_id;
};
using Expected = std::map<std::string, ExpectedDelivery>;

// Every workflow of `jobs` completed, replays and completed each activity once; each delivery names
// one carrier of its kind, which goes to `expected` for the record checks.
void check_completed(Cluster& cluster, const std::vector<Job>& jobs, Expected& expected) {
  const auto finals = cluster.await_final(ids_of(jobs), final_seconds_max);
  for (const Job& job : jobs) {
    const engine::WorkflowState& state = finals.at(job.id);
    BOOST_TEST(state.status == WorkflowStatus::completed,
               job.id << " (" << to_string(job.kind) << ") ended " << engine::to_string(state.status) << " error "
                      << state.error.dump() << history_tail(cluster, job.id));
    cluster.check_replays(job.id);
    const engine::History history = cluster.history(job.id);
    if (job.kind == Kind::bench) {
      testing::check_activities_completed_once(history);
      continue;
    }
    const Carrier carrier = testing::check_side_effects_once(history);
    const std::set<std::string>& carrier_ids = job.kind == Kind::drone ? carrier.drone_ids : carrier.booking_ids;
    BOOST_TEST(carrier_ids.size() == 1u, job.id << " is a " << to_string(job.kind) << " delivery but names "
                                                << json(carrier.drone_ids).dump() << " "
                                                << json(carrier.booking_ids).dump());
    expected[job.id] = ExpectedDelivery{job.kind, carrier_ids.empty() ? "" : *carrier_ids.begin()};
  }
}

std::size_t count_of(const Expected& expected, Kind kind) {
  return static_cast<std::size_t>(std::count_if(expected.begin(), expected.end(),
                                                [kind](const auto& entry) { return entry.second.kind == kind; }));
}

// The records of `service` whose ids start with `prefix`, parsed, by id.
std::map<std::string, json> records(redis::RedisServiceStore& services, std::string_view service,
                                    std::string_view prefix) {
  std::map<std::string, json> parsed;
  for (const auto& [id, value] : services.scan(service, prefix, activities::service_store_scan_max))
    parsed.emplace(id, json::parse(value));
  BOOST_REQUIRE_MESSAGE(parsed.size() < activities::service_store_scan_max, "too many records to check");
  return parsed;
}

// One package record per delivery (package.upsert), never cancelled: every delivery completed.
void check_packages(redis::RedisServiceStore& services, const Expected& expected) {
  const auto packages = records(services, "package", "package:");
  BOOST_TEST(packages.size() == expected.size(), "package records: " << packages.size());
  for (const auto& [id, delivery] : expected) {
    const auto it = packages.find("package:p-" + id);
    BOOST_TEST_REQUIRE((it != packages.end()), id << " has no package record");
    BOOST_TEST(it->second.at("status") == "created", id << "'s package: " << it->second.dump());
  }
}

// One delivery record per delivery, completed, naming the carrier its history names.
void check_delivery_records(redis::RedisServiceStore& services, const Expected& expected) {
  const auto deliveries = records(services, "delivery", "delivery:");
  BOOST_TEST(deliveries.size() == expected.size(), "delivery records: " << deliveries.size());
  for (const auto& [id, delivery] : expected) {
    const auto it = deliveries.find("delivery:" + id);
    BOOST_TEST_REQUIRE((it != deliveries.end()), id << " has no delivery record");
    const json& record = it->second;
    const char* field = delivery.kind == Kind::drone ? "droneId" : "bookingId";
    BOOST_TEST(record.at("status") == "completed", id << ": " << record.dump());
    BOOST_TEST(record.value(field, "") == delivery.carrier_id, id << ": " << record.dump());
    BOOST_TEST(!record.contains(delivery.kind == Kind::drone ? "bookingId" : "droneId"), id << ": " << record.dump());
  }
}

// transport.book committed once per carrier delivery and never for a drone one: exactly one booking
// per carrier delivery, the one its history names, and the booking counter (written in the same
// commit as each booking) counts exactly those.
void check_bookings(redis::RedisServiceStore& services, const Expected& expected) {
  const auto bookings = records(services, "transport", "booking:");
  std::map<std::string, std::vector<std::string>> by_delivery;
  for (const auto& [record_id, booking] : bookings) {
    by_delivery[booking.at("deliveryId").get<std::string>()].push_back(record_id.substr(8));
    BOOST_TEST(booking.at("status") == "booked", record_id << ": " << booking.dump());
  }
  for (const auto& [id, delivery] : expected) {
    const std::vector<std::string> wanted =
        delivery.kind == Kind::carrier ? std::vector<std::string>{delivery.carrier_id} : std::vector<std::string>{};
    BOOST_TEST((by_delivery[id] == wanted), id << " has bookings " << json(by_delivery[id]).dump());
  }
  const std::size_t carriers = count_of(expected, Kind::carrier);
  BOOST_TEST(bookings.size() == carriers, "booking records: " << bookings.size());
  const auto counter = services.get("transport", {"counter:booking"}).at(0);
  const std::size_t booked = counter ? json::parse(*counter).at("last").get<std::size_t>() : 0;
  BOOST_TEST(booked == carriers, "transport.book committed " << booked << " bookings for " << carriers);
}

// Scaled clocks of different processes agree to a few real milliseconds, times the scale: how far a
// flight's start may seem to precede the release of the drone's previous flight. A drone given to
// two deliveries at once would overlap by a whole flight (over a minute).
constexpr std::int64_t clock_skew_virtual_ms_max = 2'000;

// One flight record per drone delivery, on the drone its history names, released; none for other
// deliveries; no drone flew two deliveries at once; every drone is back in the fleet.
void check_flights(redis::RedisServiceStore& services, const Expected& expected, std::int64_t now_ms) {
  const auto flights = records(services, "drone", "flight:");
  BOOST_TEST(flights.size() == count_of(expected, Kind::drone), "flight records: " << flights.size());
  std::map<std::string, std::vector<std::pair<std::int64_t, std::int64_t>>> busy_by_drone;  // [start, release]
  for (const auto& [id, delivery] : expected) {
    const auto it = flights.find("flight:" + id);
    if (delivery.kind != Kind::drone) {
      BOOST_TEST((it == flights.end()), id << " is a " << to_string(delivery.kind) << " delivery with a flight");
      continue;
    }
    BOOST_TEST_REQUIRE((it != flights.end()), id << " has no flight record");
    const json& flight = it->second;
    BOOST_TEST(flight.at("route").at("droneId") == delivery.carrier_id, id << ": " << flight.dump());
    BOOST_TEST_REQUIRE(flight.at("releasedMs").is_number(), id << "'s drone was never released: " << flight.dump());
    const auto started_ms = engine::parse_timestamp_ms(flight.at("route").at("startedAt").get<std::string>());
    BOOST_TEST_REQUIRE(started_ms.has_value(), flight.dump());
    busy_by_drone[delivery.carrier_id].emplace_back(*started_ms, flight.at("releasedMs").get<std::int64_t>());
  }
  for (auto& [drone_id, intervals] : busy_by_drone) {
    std::sort(intervals.begin(), intervals.end());
    for (std::size_t i = 1; i < intervals.size(); ++i)
      BOOST_TEST(intervals[i].first + clock_skew_virtual_ms_max >= intervals[i - 1].second,
                 drone_id << " started a flight at " << intervals[i].first << " before its previous one was "
                          << "released at " << intervals[i - 1].second);
  }
  BOOST_TEST(records(services, "drone", "drone:").empty(), "drones still assigned");
  for (const json& drone : activities::fleet_status(services, now_ms))
    BOOST_TEST(drone.at("state") == "available", drone.dump());
}

// The effects as the services recorded them in Redis, for every delivery so far.
void check_service_records(Cluster& cluster, const Expected& expected) {
  redis::RedisServiceStoreSettings settings;
  settings.pool.client.url = cluster.redis_url();
  settings.pool.client_count = 1;
  redis::RedisServiceStore services(settings);
  check_packages(services, expected);
  check_delivery_records(services, expected);
  check_bookings(services, expected);
  check_flights(services, expected, cluster.virtual_now_ms());
}

// Nothing was set aside: no input or task was handed out so often that it went to the dead letters.
void check_no_dead_letters(Cluster& cluster) {
  const std::int64_t count = cluster.store().count_dead_letters();
  std::string reasons;
  for (const auto& letter : cluster.store().list_dead_letters(5)) reasons += "\n    " + letter.reason;
  BOOST_TEST(count == 0, count << " dead letters:" << reasons);
}

// The process exited by itself with status 0: its drain finished within --drain-ms.
void check_drained(int wait_status, const testing::ChildProcess& process) {
  BOOST_TEST((WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0),
             "no clean drain after SIGTERM: wait status " << wait_status << "\n" << process.log_tail());
}

}  // namespace

// (a) `flightplan dev` with 8 drone deliveries all waiting for the drop-off is stopped (SIGTERM):
// it drains and exits. A new dev on the same Redis fires the landings, committed in Redis as
// delayed inputs with each drone.schedule, and all 8 complete.
BOOST_AUTO_TEST_CASE(dev_sigterm_with_8_drones_waiting_then_restart) {
  testing::RedisServer redis;
  Cluster cluster(redis.url(), 10.0);  // a flight: ~82 s virtual, ~8 s real
  auto dev = cluster.start_dev("dev-1", role_args);
  const std::vector<Job> jobs = numbered_jobs("a", Kind::drone, 8);
  for (const Job& job : jobs) cluster.submit(dev.port, job.id, testing::drone_delivery(job.id));
  BOOST_REQUIRE(eventually(30, [&] { return testing::count_by_status(cluster, ids_of(jobs))["waiting"] == 8; }));
  std::int64_t first_landing_ms = INT64_MAX;
  for (const Job& job : jobs) {
    const auto booked = testing::find_event(cluster.history(job.id), "activity_completed", "/scheduleDrone");
    BOOST_REQUIRE(booked.has_value());
    first_landing_ms = std::min(first_landing_ms, *engine::parse_timestamp_ms(
                                                      booked->data.at("result").at("deliveryEta").get<std::string>()));
  }
  BOOST_REQUIRE_MESSAGE(cluster.virtual_now_ms() + 20'000 < first_landing_ms, "reached the wait too late to test");

  check_drained(dev.process->terminate(terminate_timeout_ms), *dev.process);
  BOOST_TEST(testing::count_by_status(cluster, ids_of(jobs))["waiting"] == 8, "nothing runs while dev is down");
  auto restarted = cluster.start_dev("dev-2", role_args);

  Expected expected;
  check_completed(cluster, jobs, expected);
  for (const Job& job : jobs) {
    const auto delivered = testing::find_event(cluster.history(job.id), "signal_received", "/");
    BOOST_TEST_REQUIRE(delivered.has_value(), job.id);
    BOOST_TEST(delivered->data.at("payload").value("droneId", "") == expected.at(job.id).carrier_id);
  }
  check_service_records(cluster, expected);
  check_no_dead_letters(cluster);
}

namespace {

// Clients submit `jobs` in order over `clients` threads; when the client that takes job `nth`
// (0-based) is about to send it, `at_nth` runs on the calling thread, and the clients stop taking
// jobs. Returns each job's status: 0 no answer, -1 never sent.
template <typename AtNth>
std::vector<int> submit_until_nth(std::uint16_t port, const std::vector<Job>& jobs, std::size_t nth, int clients,
                                  AtNth at_nth) {
  std::vector<int> statuses(jobs.size(), -1);
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::condition_variable reached_nth;
  bool reached = false;
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      while (!stop) {
        const std::size_t n = next++;
        if (n >= jobs.size()) return;
        if (n == nth) {
          std::lock_guard lock(mutex);
          reached = true;
          reached_nth.notify_one();
        }
        statuses[n] = try_start(port, jobs[n]);  // each index is written by one thread only
      }
    });
  }
  {
    std::unique_lock lock(mutex);
    reached_nth.wait_for(lock, std::chrono::seconds(120), [&] { return reached; });
  }
  if (reached) at_nth();
  stop = true;
  for (std::thread& thread : threads) thread.join();
  BOOST_REQUIRE_MESSAGE(reached, "the clients never reached submission " << nth + 1);
  return statuses;
}

}  // namespace

// (b) 200 carrier deliveries are submitted to `flightplan dev` by four clients; dev is killed (-9)
// as the 100th goes out. Every acknowledged start survived; the clients resubmit the rest (starts
// are idempotent by id) to a new dev, and all 200 complete with one booking each.
BOOST_AUTO_TEST_CASE(dev_killed_at_the_100th_of_200_carrier_submissions) {
  testing::RedisServer redis;
  Cluster cluster(redis.url(), 50.0);  // the van: ~15 min virtual, ~18 s real
  auto dev = cluster.start_dev("dev-1", role_args);
  const std::vector<Job> jobs = numbered_jobs("b", Kind::carrier, 200);
  std::vector<int> statuses = submit_until_nth(dev.port, jobs, 99, 4, [&] { dev.process->kill9(); });

  std::vector<Job> unacknowledged;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    if (acknowledged(statuses[i])) {
      BOOST_TEST(cluster.load(jobs[i].id).has_value(), jobs[i].id << " was acknowledged but is gone");
    } else {
      BOOST_TEST((statuses[i] < 0 || retryable(statuses[i])), jobs[i].id << " was refused: " << statuses[i]);
      unacknowledged.push_back(jobs[i]);
    }
  }
  BOOST_TEST(unacknowledged.size() >= 100u, "dev acknowledged more than the first 99 before the kill");
  auto restarted = cluster.start_dev("dev-2", role_args);
  std::map<int, int> resubmitted;  // status -> count
  for (const Job& job : unacknowledged) {
    const int status = start_with_retries(restarted.port, job, 30);
    BOOST_TEST(acknowledged(status), job.id << " resubmitted: " << status);
    ++resubmitted[status];
  }
  BOOST_TEST_MESSAGE("resubmitted " << unacknowledged.size() << " (by status: " << json(resubmitted).dump()
                                    << "; 200 = started before the kill, reply lost)");

  Expected expected;
  check_completed(cluster, jobs, expected);
  check_service_records(cluster, expected);
  check_no_dead_letters(cluster);
}

namespace {

// ---- Random rounds: a dev, a server and a worker share one Redis; one of them is attacked ----

enum class Role { dev, server, worker };
enum class Attack { sigterm, sigkill };

std::string_view to_string(Role role) {
  switch (role) {
    case Role::dev: return "dev";
    case Role::server: return "server";
    case Role::worker: return "worker";
  }
  return "?";
}

// One process of the cluster across its restarts; `frontend` is its slot among the HTTP ports the
// clients use (dev and server), -1 for the worker.
struct Member {
  Role role = Role::dev;
  int frontend = -1;
  int generation = 0;
  std::unique_ptr<testing::ChildProcess> process;
};

using Frontends = std::array<std::atomic<std::uint16_t>, 2>;  // 0: that process is down

// Starts the member's process: under a new instance name, or under the one it had (as a container
// restarted in place is: its default name is host name + pid, and that pid is often 1).
void start_member(Cluster& cluster, Member& member, Frontends& frontends, bool same_instance = false) {
  if (!same_instance || member.generation == 0) ++member.generation;
  const std::string instance = std::string(to_string(member.role)) + "-" + std::to_string(member.generation);
  if (member.role == Role::worker) {
    member.process = cluster.start_worker(instance, all_queues, role_args);
    return;
  }
  testing::ServerHandle handle =
      member.role == Role::dev ? cluster.start_dev(instance, role_args) : cluster.start_server(instance, role_args);
  member.process = std::move(handle.process);
  frontends[static_cast<std::size_t>(member.frontend)] = handle.port;
}

struct RoundPlan {
  std::vector<Job> jobs;      // in submission order
  std::vector<int> gaps_ms;   // the pause before each submission
  Role victim = Role::dev;
  Attack attack = Attack::sigkill;
  int attack_after_ms = 0;  // from the round's start
  int down_ms = 0;          // from the attack to the restart
  bool same_instance = false;  // the restarted process takes the victim's instance name
};

std::string describe(const RoundPlan& plan) {
  std::map<std::string, int> kinds;
  for (const Job& job : plan.jobs) ++kinds[std::string(to_string(job.kind))];
  std::ostringstream text;
  text << (plan.attack == Attack::sigkill ? "kill -9 " : "SIGTERM ") << to_string(plan.victim) << " at "
       << plan.attack_after_ms << " ms, down " << plan.down_ms << " ms, restarted as "
       << (plan.same_instance ? "the same instance" : "a new instance") << "; workload " << json(kinds).dump();
  return text.str();
}

int uniform(std::mt19937_64& rng, int low, int high) { return std::uniform_int_distribution<int>(low, high)(rng); }

// A round's workload and attack, from the seeded generator only. At most 5 drone deliveries: with
// ten drones, a delivery never waits for one (drone.schedule gives up after 3 tries in 2 minutes).
// Attacks fall in the busy first 3 s (submissions, bookings, landings) twice as often as later,
// while the vans drive (a van takes ~18 s real).
RoundPlan plan_round(std::mt19937_64& rng, int round) {
  RoundPlan plan;
  const std::array<std::pair<Kind, int>, 3> counts{
      {{Kind::drone, uniform(rng, 2, 5)}, {Kind::carrier, uniform(rng, 6, 12)}, {Kind::bench, uniform(rng, 6, 12)}}};
  for (const auto& [kind, count] : counts) {
    const std::string prefix = "r" + std::to_string(round) + "-" + std::string(to_string(kind));
    for (Job& job : numbered_jobs(prefix, kind, count, round * 100)) plan.jobs.push_back(std::move(job));
  }
  std::shuffle(plan.jobs.begin(), plan.jobs.end(), rng);
  for (std::size_t i = 0; i < plan.jobs.size(); ++i) plan.gaps_ms.push_back(uniform(rng, 0, 40));
  plan.victim = static_cast<Role>(uniform(rng, 0, 2));
  plan.attack = uniform(rng, 0, 1) == 0 ? Attack::sigterm : Attack::sigkill;
  plan.attack_after_ms = uniform(rng, 0, 2) < 2 ? uniform(rng, 0, 3'000) : uniform(rng, 3'000, 20'000);
  plan.down_ms = uniform(rng, 0, 1'500);
  plan.same_instance = uniform(rng, 0, 1) == 0;
  return plan;
}

// Submits the round's jobs in order, each to the next frontend that is up, as a client would:
// retrying on no answer or a 5xx, by the same id, for at most 60 s in all. Each job's last status.
std::vector<int> submit_round(const RoundPlan& plan, const Frontends& frontends) {
  std::vector<int> statuses;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (std::size_t i = 0; i < plan.jobs.size(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(plan.gaps_ms[i]));
    int status = 0;
    for (std::size_t attempt = 0; retryable(status) && std::chrono::steady_clock::now() < deadline; ++attempt) {
      if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      status = try_start(frontends[(i + attempt) % frontends.size()].load(), plan.jobs[i]);
    }
    statuses.push_back(status);
  }
  return statuses;
}

// Attacks the victim at the planned moment while a client thread submits, restarts it, and
// requires every submission to have been acknowledged.
void run_attack(Cluster& cluster, const RoundPlan& plan, Member& victim, Frontends& frontends) {
  const auto round_start = std::chrono::steady_clock::now();
  std::vector<int> statuses;
  std::thread client([&] { statuses = submit_round(plan, frontends); });
  std::this_thread::sleep_until(round_start + std::chrono::milliseconds(plan.attack_after_ms));
  BOOST_TEST(victim.process->running(), to_string(victim.role) << " died before the attack\n"
                                                               << victim.process->log_tail());
  if (victim.frontend >= 0) frontends[static_cast<std::size_t>(victim.frontend)] = 0;
  if (plan.attack == Attack::sigkill) {
    victim.process->kill9();
  } else {
    check_drained(victim.process->terminate(terminate_timeout_ms), *victim.process);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(plan.down_ms));
  start_member(cluster, victim, frontends, plan.same_instance);
  client.join();
  for (std::size_t i = 0; i < plan.jobs.size(); ++i)
    BOOST_TEST(acknowledged(statuses[i]), plan.jobs[i].id << " was never acknowledged: " << statuses[i]);
}

}  // namespace

// Rounds of mixed load (drone and carrier deliveries, bench-5step) on a dev, a server and a worker
// sharing one Redis; in each, one of the three is stopped (SIGTERM or kill -9) at a random moment
// and restarted. After each round, everything submitted so far completed exactly once.
BOOST_AUTO_TEST_CASE(random_attacks_under_mixed_load) {
  const std::uint64_t seed = chaos_seed();
  const int rounds = static_cast<int>(env_number("FLIGHTPLAN_CHAOS_ROUNDS", 5));
  BOOST_TEST_MESSAGE("chaos seed " << seed << ", " << rounds
                                   << " rounds (re-run: FLIGHTPLAN_CHAOS_SEED=" << seed << ")");
  std::mt19937_64 rng(seed);
  testing::RedisServer redis;
  Cluster cluster(redis.url(), 50.0);
  cluster.add_definition("workflows/bench-5step.yaml");
  Frontends frontends{};
  std::array<Member, 3> members{Member{Role::dev, 0, 0, nullptr}, Member{Role::server, 1, 0, nullptr},
                                Member{Role::worker, -1, 0, nullptr}};
  for (Member& member : members) start_member(cluster, member, frontends);

  Expected expected;
  for (int round = 0; round < rounds; ++round) {
    const RoundPlan plan = plan_round(rng, round);
    const auto round_start = std::chrono::steady_clock::now();
    BOOST_TEST_CONTEXT("seed " << seed << " round " << round << ": " << describe(plan)) {
      run_attack(cluster, plan, members[static_cast<std::size_t>(plan.victim)], frontends);
      check_completed(cluster, plan.jobs, expected);
      check_service_records(cluster, expected);
      check_no_dead_letters(cluster);
      for (Member& member : members)
        BOOST_TEST(member.process->running(), to_string(member.role) << " died\n" << member.process->log_tail());
    }
    const auto seconds =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - round_start).count();
    BOOST_TEST_MESSAGE("seed " << seed << " round " << round << " (" << describe(plan) << "): " << seconds << " s");
    if (!boost::unit_test::results_collector.results(boost::unit_test::framework::current_test_case().p_id).passed())
      break;  // the first failing round is the one to re-run; later ones would only pile up
  }
}

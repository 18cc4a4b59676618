#define BOOST_TEST_MODULE operator_views
// What operators read about the deployment rather than about one workflow, end to end over real
// loopback sockets with authentication on: GET /api/v1/fleet and GET /api/v1/dead-letters of a
// `flightplan dev` on a private redis-server, its clock 20 times faster. The fleet starts with ten
// drones available, shows the drone a delivery holds (with the delivery id, which is the workflow's
// id) and gives it back when the delivery is done. A dead letter is provoked the way production
// gets one: a task whose holders all go silent is handed out more than five times, and the next
// worker sets it aside. The cases run in order (the first one wants a fresh fleet, the last one
// stops Redis).
#include "../support/cluster.hpp"
#include "../support/redis_server.hpp"
#include "api_client.hpp"

#include <algorithm>
#include <cstdlib>

using namespace flightplan;
using nlohmann::json;
using testing::expect_problem;
using testing::HttpResponse;

namespace {

constexpr double time_scale = 20.0;
const std::string operator_token = "op-views-0123456789abcdef";
const std::string viewer_token = "view-views-0123456789abcdef";
const std::string poisoned_queue = "bench";

// One bench.undo call with neither deadlines nor retries: only a report from a worker of the bench
// queue ends its task, and the dev process below runs no worker for that queue.
const std::string poisoned_yaml = R"(document:
  dsl: '1.0.0'
  namespace: test
  name: poisoned
  version: '1.0.0'
do:
  - attempt:
      call: bench.undo
      with:
        step: attempt
)";

// A redis-server and `flightplan dev` with every queue but the poisoned one; started by the first
// case that needs them.
struct Deployment {
  testing::RedisServer redis;
  testing::TempDir dir;
  std::string tokens = testing::write_token_file(dir.path(), operator_token, viewer_token);
  testing::Cluster cluster{redis.url(), time_scale};
  testing::ServerHandle dev = cluster.start_dev(
      "dev-views", {"--auth-file", tokens, "--activities", "account,package,transport,drone,delivery"});
};

Deployment& deployment() {
  static std::unique_ptr<Deployment> instance;
  if (!instance) instance = std::make_unique<Deployment>();
  return *instance;
}

testing::TokenClient client(std::optional<std::string> token = viewer_token) {
  return testing::TokenClient{deployment().dev.port, std::move(token)};
}

json get_ok(const std::string& target) {
  const HttpResponse response = client().get(target);
  BOOST_REQUIRE_MESSAGE(response.status == 200, "GET " + target + ": " + std::to_string(response.status) +
                                                    " " + response.body + "\n" +
                                                    deployment().cluster.logs_tail());
  return response.json();
}

// Polls `target` every 50 ms (at most `seconds_max`) until `done` holds for its answer.
template <typename Predicate>
json await_answer(const std::string& target, int seconds_max, Predicate done) {
  json last;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds_max);
  while (std::chrono::steady_clock::now() < deadline) {
    last = get_ok(target);
    if (done(last)) return last;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  BOOST_FAIL("GET " + target + " did not get there in " + std::to_string(seconds_max) + " s; last answer " +
             last.dump() + "\n" + deployment().cluster.logs_tail());
  return last;
}

// The drone of `fleet` assigned to `delivery_id`, or null.
json drone_of(const json& fleet, const std::string& delivery_id) {
  for (const json& drone : fleet.at("drones"))
    if (drone.value("deliveryId", "") == delivery_id) return drone;
  return nullptr;
}

void check_all_available(const json& fleet) {
  BOOST_TEST(fleet.at("drones").size() == 10u, fleet.dump());
  BOOST_TEST(fleet.at("available") == 10, fleet.dump());
  BOOST_TEST(fleet.at("assigned") == 0);
  for (const json& drone : fleet.at("drones")) {
    BOOST_TEST(drone.at("state") == "available", drone.dump());
    BOOST_TEST(!drone.contains("deliveryId"), drone.dump());
    BOOST_TEST(drone.at("lastKnownLocation").is_object(), drone.dump());
  }
}

// Claims the poisoned workflow's task as a worker that then goes silent, `times` times in all: each
// claim after the first waits out the previous lease. Returns the deliveries of the last claim.
int claim_and_go_silent(const std::string& workflow_id, int times) {
  constexpr std::int64_t lease_ms = 100;
  redis::RedisStore& store = deployment().cluster.store();
  int deliveries = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (int claims = 0; claims < times && std::chrono::steady_clock::now() < deadline;) {
    for (const engine::ActivityTask& task : store.claim_tasks(poisoned_queue, "silent", 1, 200, lease_ms)) {
      BOOST_REQUIRE_MESSAGE(task.workflow_id == workflow_id, "an unexpected task of " + task.workflow_id);
      deliveries = task.deliveries;
      ++claims;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(lease_ms + 50));
  }
  return deliveries;
}

}  // namespace

BOOST_AUTO_TEST_CASE(both_views_want_a_viewer_token) {
  for (const std::string target : {"/api/v1/fleet", "/api/v1/dead-letters"}) {
    expect_problem(client(std::nullopt).get(target), 401, "Authorization: Bearer");
    expect_problem(client("not-a-token").get(target), 401, "not valid");
    BOOST_TEST(client(viewer_token).get(target).status == 200, target);
    BOOST_TEST(client(operator_token).get(target).status == 200, target);
  }
}

BOOST_AUTO_TEST_CASE(at_start_ten_drones_are_available_and_nothing_is_dead) {
  const json fleet = get_ok("/api/v1/fleet");
  check_all_available(fleet);
  std::vector<std::string> ids;
  for (const json& drone : fleet.at("drones")) ids.push_back(drone.at("droneId"));
  BOOST_TEST(ids.front() == "drone-001");
  BOOST_TEST(ids.back() == "drone-010");
  BOOST_TEST(std::is_sorted(ids.begin(), ids.end()));
  // The server's (scaled) clock, not the test's: only its format and rough place are checked.
  const auto as_of_ms = engine::parse_timestamp_ms(fleet.at("as_of").get<std::string>());
  BOOST_REQUIRE(as_of_ms.has_value());
  BOOST_TEST(std::abs(*as_of_ms - deployment().cluster.virtual_now_ms()) < 60'000);
  BOOST_TEST(get_ok("/api/v1/dead-letters") == (json{{"total", 0}, {"items", json::array()}}));
}

BOOST_AUTO_TEST_CASE(a_drone_delivery_holds_one_drone_until_it_is_done) {
  json request = testing::drone_delivery("unused");
  request.erase("deliveryId");  // the delivery API assigns it
  const HttpResponse accepted = client(operator_token).post("/api/deliveryrequests", request.dump());
  BOOST_REQUIRE_MESSAGE(accepted.status == 202, accepted.body);
  const std::string id = accepted.json().at("deliveryId");

  const json fleet =
      await_answer("/api/v1/fleet", 30, [&](const json& answer) { return !drone_of(answer, id).is_null(); });
  const json drone = drone_of(fleet, id);
  BOOST_TEST(drone.at("state") == "assigned", drone.dump());
  BOOST_TEST(drone.at("droneId").get<std::string>().rfind("drone-", 0) == 0u);
  BOOST_TEST(drone.at("plan") == 1);
  const std::string stage = drone.at("stage");
  BOOST_TEST((stage == "HeadedToPickup" || stage == "HeadedToDropoff" || stage == "Completed"), stage);
  BOOST_TEST(engine::parse_timestamp_ms(drone.at("pickupEta").get<std::string>()).has_value(), drone.dump());
  BOOST_TEST(engine::parse_timestamp_ms(drone.at("deliveryEta").get<std::string>()).has_value(),
             drone.dump());
  BOOST_TEST(drone.at("lastKnownLocation").contains("latitude"), drone.dump());
  BOOST_TEST(fleet.at("assigned") == 1);
  BOOST_TEST(fleet.at("available") == 9);
  // The delivery id is the id of the workflow behind it (the dashboard links one to the other).
  BOOST_TEST(get_ok("/api/v1/workflows/" + id).at("workflow") == "delivery");

  const auto finals = deployment().cluster.await_final({id}, 60);
  BOOST_TEST(finals.at(id).status == engine::WorkflowStatus::completed, finals.at(id).error.dump());
  // drone.release is the step before the last: a completed delivery has given its drone back.
  check_all_available(get_ok("/api/v1/fleet"));
}

BOOST_AUTO_TEST_CASE(a_task_whose_holders_all_go_silent_becomes_a_dead_letter) {
  const HttpResponse registered =
      client(operator_token).send("POST", "/api/v1/definitions", poisoned_yaml, "application/yaml");
  BOOST_REQUIRE_MESSAGE(registered.status == 201, registered.body);
  const HttpResponse started =
      client(operator_token)
          .post("/api/v1/workflows", json{{"workflow", "poisoned"}, {"id", "poison-1"}}.dump());
  BOOST_REQUIRE_MESSAGE(started.status == 201, started.body);
  // Five deliveries is the most a task gets (WorkerSettings::deliveries_max); the sixth worker to
  // take it sets it aside. That worker takes over a task idle for its lease (--visibility-ms).
  BOOST_REQUIRE_EQUAL(claim_and_go_silent("poison-1", 5), 5);
  auto worker = deployment().cluster.start_worker("worker-bench", poisoned_queue, {"--visibility-ms", "200"});

  const json page =
      // The total is counted after the list is read: an answer given as the letter lands may count
      // it without listing it yet.
      await_answer("/api/v1/dead-letters", 30,
                   [](const json& answer) { return answer.at("total") == 1 && answer.at("items").size() == 1; });
  BOOST_REQUIRE(page.at("items").size() == 1u);
  const json& letter = page.at("items").at(0);
  BOOST_TEST(letter.at("kind") == "task");
  BOOST_TEST(letter.at("workflow_id") == "poison-1");
  BOOST_TEST(letter.at("deliveries") == 6);
  BOOST_TEST(letter.at("reason").get<std::string>().find(
                 "bench.undo was handed out 6 times without a report") != std::string::npos,
             letter.dump());
  BOOST_TEST(letter.at("entry").at("activity") == "bench.undo", letter.dump());
  BOOST_TEST(!letter.at("id").get<std::string>().empty());
  const auto time_ms = engine::parse_timestamp_ms(letter.at("time").get<std::string>());
  BOOST_TEST((time_ms == letter.at("time_ms").get<std::int64_t>()), letter.dump());
  // The attempt failed with the reason, and the workflow with it.
  const auto finals = deployment().cluster.await_final({"poison-1"}, 30);
  BOOST_TEST(finals.at("poison-1").status == engine::WorkflowStatus::faulted);
  BOOST_TEST(get_ok("/api/v1/dead-letters?limit=1") == page);
}

BOOST_AUTO_TEST_CASE(a_bad_parameter_is_a_400_naming_it) {
  for (const std::string limit : {"0", "1001", "many", "-5", "1e3"})
    expect_problem(client().get("/api/v1/dead-letters?limit=" + limit), 400,
                   "query parameter 'limit' must be an integer from 1 to 1000, not '" + limit + "'");
  expect_problem(client().get("/api/v1/dead-letters?limit=1&limit=2"), 400, "given more than once");
  expect_problem(client().get("/api/v1/dead-letters?since=yesterday"), 400,
                 "unknown query parameter 'since' (expected limit)");
  expect_problem(client().get("/api/v1/fleet?limit=5"), 400,
                 "unknown query parameter 'limit' (expected none)");
  expect_problem(client(operator_token).post("/api/v1/fleet"), 405, "GET");
}

// Last: it stops Redis. The fleet's answer names the store it could not read.
BOOST_AUTO_TEST_CASE(an_unreachable_store_is_a_503_naming_it) {
  deployment().redis.stop();
  expect_problem(client().get("/api/v1/fleet"), 503, "the drone service store is unavailable");
  expect_problem(client().get("/api/v1/dead-letters"), 503, "redis");
}

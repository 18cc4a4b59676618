#define BOOST_TEST_MODULE api
// The HTTP API end to end over real loopback sockets: `flightplan dev --redis URL` as a child
// process on a private redis-server, driven by a tiny blocking HTTP client. The happy path runs to
// completion; bad input of every kind gets a 4xx application/problem+json whose detail says what
// is wrong, and never a 500.
#include "../support/cluster.hpp"
#include "../support/redis_server.hpp"

using namespace flightplan;
using nlohmann::json;
using testing::HttpResponse;

namespace {

// One redis-server and one `flightplan dev` for the whole module, started by the first test.
struct Api {
  testing::RedisServer redis;
  testing::Cluster cluster{redis.url(), 20.0};  // a drone delivery near the hangar takes ~4 s
  testing::ServerHandle dev = cluster.start_dev("dev-1");
};

Api& api() {
  static std::unique_ptr<Api> instance;
  if (!instance) instance = std::make_unique<Api>();
  return *instance;
}

std::uint16_t port() { return api().dev.port; }

HttpResponse get(const std::string& target) { return testing::http_get(port(), target); }

HttpResponse post(const std::string& target, const std::string& body) {
  return testing::http_post(port(), target, body);
}

HttpResponse send(const std::string& method, const std::string& target, const std::string& body = "",
                  const std::string& content_type = "application/json") {
  return testing::http_request(port(), testing::HttpRequest{method, target, body, content_type, 20'000});
}

HttpResponse start(const std::string& id, const json& input) {
  return post("/api/v1/workflows", json{{"workflow", "delivery"}, {"id", id}, {"input", input}}.dump());
}

// An owner whose account is suspended: the workflow faults at once, using no drone.
json inactive_owner_delivery(const std::string& id) {
  json input = testing::drone_delivery(id);
  input["ownerId"] = "inactive-" + id;
  return input;
}

// Every error: the given status, RFC 7807 members, and a detail containing `detail_part`.
void expect_problem(const HttpResponse& response, int status, const std::string& detail_part) {
  BOOST_TEST(response.status == status,
             "expected " << status << ", got " << response.status << ": " << response.body);
  BOOST_TEST(response.header("content-type") == "application/problem+json", response.header("content-type"));
  const json problem = response.json();
  BOOST_REQUIRE_MESSAGE(problem.is_object(), "not a JSON object: " + response.body);
  BOOST_TEST(problem.value("type", "").rfind("https://flightplan.dev/problems/", 0) == 0u, problem.dump());
  BOOST_TEST(!problem.value("title", "").empty(), problem.dump());
  BOOST_TEST(problem.value("status", 0) == status, problem.dump());
  BOOST_TEST(problem.contains("instance"), problem.dump());
  const std::string detail = problem.value("detail", "");
  BOOST_TEST(detail.find(detail_part) != std::string::npos,
             "detail '" << detail << "' lacks '" << detail_part << "'");
}

// Polls GET /api/v1/workflows/{id} (every 100 ms, at most `seconds_max`) until `done(view)`.
template <typename Predicate>
json await_view(const std::string& id, int seconds_max, Predicate done) {
  json view;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds_max);
  while (std::chrono::steady_clock::now() < deadline) {
    const HttpResponse response = get("/api/v1/workflows/" + id);
    BOOST_REQUIRE_MESSAGE(response.status == 200, "GET " + id + ": " + response.body);
    view = response.json();
    if (done(view)) return view;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  BOOST_FAIL("workflow " + id + " did not get there in " + std::to_string(seconds_max) + " s; last view " +
             view.dump() + "\n" + api().cluster.logs_tail());
  return view;
}

bool is_final(const json& view) {
  const auto status = engine::parse_workflow_status(view.value("status", ""));
  return status && engine::is_final(*status);
}

// GET .../history parses as a history and replays through the engine to the stored state.
void check_history_replays(const std::string& id, const json& view) {
  const HttpResponse response = get("/api/v1/workflows/" + id + "/history");
  BOOST_REQUIRE_MESSAGE(response.status == 200, response.body);
  BOOST_TEST(response.header("content-type").rfind("application/json", 0) == 0u);
  const engine::History history = engine::History::from_json(response.json());
  BOOST_TEST(history.workflow_id == id);
  BOOST_TEST(static_cast<std::int64_t>(history.events.size()) ==
             view.at("history_length").get<std::int64_t>());
  const engine::ReplayResult result = engine::replay(api().cluster.delivery(), history);
  BOOST_TEST(result.ok(), (result.divergence ? result.divergence->message : ""));
  BOOST_TEST(engine::to_string(result.state.status) == view.at("status").get<std::string>());
  BOOST_TEST(result.state.output == view.at("output"));
}

}  // namespace

BOOST_AUTO_TEST_CASE(happy_path_runs_to_completed_over_http) {
  const HttpResponse started = start("h-1", testing::drone_delivery("h-1"));
  BOOST_TEST(started.status == 201, started.body);
  BOOST_TEST(started.json().value("id", "") == "h-1");
  BOOST_TEST(started.json().value("created", false));
  BOOST_TEST(started.header("location") == "/api/v1/workflows/h-1");
  const json view = await_view("h-1", 60, is_final);
  BOOST_TEST(view.at("status") == "completed", view.dump());
  BOOST_TEST(view.at("output").value("deliveryId", "") == "h-1");
  BOOST_TEST(view.at("output").value("droneId", "").rfind("drone-", 0) == 0u, view.dump());
  BOOST_TEST(view.at("workflow") == "delivery");
  check_history_replays("h-1", view);
}

BOOST_AUTO_TEST_CASE(start_without_an_id_gets_one) {
  const HttpResponse started = post(
      "/api/v1/workflows", json{{"workflow", "delivery"}, {"input", inactive_owner_delivery("g-1")}}.dump());
  BOOST_TEST(started.status == 201, started.body);
  const std::string id = started.json().value("id", "");
  BOOST_TEST(id.rfind("wf-", 0) == 0u, id);
  BOOST_TEST(get("/api/v1/workflows/" + id).status == 200);
}

BOOST_AUTO_TEST_CASE(start_is_idempotent_by_id_and_input) {
  const json input = inactive_owner_delivery("i-1");
  const HttpResponse first = start("i-1", input);
  BOOST_TEST(first.status == 201, first.body);
  const HttpResponse again = start("i-1", input);
  BOOST_TEST(again.status == 200, again.body);
  BOOST_TEST(again.json().value("created", true) == false);
  BOOST_TEST(again.json().value("id", "") == "i-1");
  json other = input;
  other["deliveryId"] = "someone-else";
  expect_problem(start("i-1", other), 409, "'i-1' already exists with a different definition or input");
}

BOOST_AUTO_TEST_CASE(unknown_workflow_or_version_is_404_naming_it) {
  expect_problem(post("/api/v1/workflows", R"({"workflow": "no-such-flow", "input": {}})"), 404,
                 "'no-such-flow'");
  expect_problem(post("/api/v1/workflows", R"({"workflow": "delivery", "version": "9.9.9", "input": {}})"),
                 404, "'9.9.9'");
}

BOOST_AUTO_TEST_CASE(malformed_json_is_400_naming_the_byte) {
  expect_problem(post("/api/v1/workflows", R"({"workflow": "delivery",})"), 400, "at byte 25");
  expect_problem(post("/api/v1/workflows", R"({"workflow": "deli)"), 400, "malformed JSON body at byte");
  expect_problem(send("POST", "/api/v1/workflows", R"({"workflow": "delivery"})", "text/plain"), 415,
                 "application/json");
}

BOOST_AUTO_TEST_CASE(wrong_types_and_shapes_are_400) {
  expect_problem(post("/api/v1/workflows", R"({"workflow": 5})"), 400, "field 'workflow' must be a string");
  expect_problem(post("/api/v1/workflows", R"({"workflow": "delivery", "id": 7})"), 400,
                 "field 'id' must be a string");
  expect_problem(post("/api/v1/workflows", R"({"workflow": "delivery", "version": ["1"]})"), 400,
                 "field 'version' must be a string");
  expect_problem(post("/api/v1/workflows", R"({"input": {}})"), 400, "field 'workflow' is required");
  expect_problem(post("/api/v1/workflows", R"([1, 2])"), 400, "must be a JSON object");
  expect_problem(post("/api/v1/workflows", ""), 400, "empty");
  expect_problem(send("POST", "/api/v1/workflows", "", ""), 415, "Content-Type");
}

BOOST_AUTO_TEST_CASE(unknown_field_is_400_naming_it) {
  expect_problem(post("/api/v1/workflows", R"({"workflow": "delivery", "inputs": {}})"), 400,
                 "unknown field 'inputs'");
}

BOOST_AUTO_TEST_CASE(body_over_1_mib_is_413) {
  const std::string body =
      json{{"workflow", "delivery"}, {"input", {{"pad", std::string(1 << 20, 'x')}}}}.dump();
  expect_problem(post("/api/v1/workflows", body), 413, "larger than 1048576 bytes");
  // The server is still fine afterwards.
  BOOST_TEST(get("/healthz").status == 200);
}

BOOST_AUTO_TEST_CASE(unknown_route_is_404_and_wrong_method_405) {
  expect_problem(get("/api/v2/workflows"), 404, "");
  expect_problem(get("/api/v1/workflows/x/nothing-here"), 404, "");
  const HttpResponse put = send("PUT", "/api/v1/workflows", "{}");
  expect_problem(put, 405, "POST");
  BOOST_TEST(put.header("allow") == "GET, POST");
  const HttpResponse remove = send("DELETE", "/api/v1/workflows/h-1");
  expect_problem(remove, 405, "GET");
  BOOST_TEST(remove.header("allow") == "GET");
}

BOOST_AUTO_TEST_CASE(bad_ids_are_400_or_404_never_500) {
  const std::vector<std::string> ids = {"a%2Fb",
                                        "a/b",
                                        "%2F",
                                        "{x}",
                                        "%7Bx%7D",
                                        "a%00b",
                                        "..%2F..%2Fetc",
                                        "%",
                                        "a%zzb",
                                        "%C3%28",
                                        std::string(300, 'i')};
  for (const std::string& id : ids) {
    for (const char* suffix : {"", "/history"}) {
      const HttpResponse response = get("/api/v1/workflows/" + id + suffix);
      BOOST_TEST((response.status == 400 || response.status == 404),
                 "GET " << id << suffix << ": " << response.status);
      expect_problem(response, response.status, "");
    }
    for (const char* suffix : {"/cancel", "/signals/delivered"}) {
      const HttpResponse response = post("/api/v1/workflows/" + id + suffix, "{}");
      BOOST_TEST((response.status == 400 || response.status == 404),
                 "POST " << id << suffix << ": " << response.status);
      expect_problem(response, response.status, "");
    }
  }
  // Ids a start request names are checked before anything is stored.
  for (const std::string& id :
       std::vector<std::string>{"a/b", "%2F", "{x}", "a b", "x}", std::string(201, 'i')}) {
    expect_problem(start(id, inactive_owner_delivery("bad-id")), 400, "workflow id");
    BOOST_TEST(!api().cluster.load(id).has_value(), id << " was stored");
  }
  // A decoded '/' in a path segment is named as such.
  expect_problem(get("/api/v1/workflows/a%2Fb"), 400, "");
}

BOOST_AUTO_TEST_CASE(signals_to_unknown_or_finished_workflows_are_refused) {
  expect_problem(post("/api/v1/workflows/no-such-id/signals/delivered", "{}"), 404, "'no-such-id'");
  expect_problem(post("/api/v1/workflows/no-such-id/cancel", ""), 404, "'no-such-id'");
  expect_problem(get("/api/v1/workflows/no-such-id/history"), 404, "'no-such-id'");
  BOOST_TEST(start("f-1", inactive_owner_delivery("f-1")).status == 201);
  const json view = await_view("f-1", 30, is_final);
  BOOST_TEST(view.at("status") == "faulted", view.dump());
  expect_problem(post("/api/v1/workflows/f-1/signals/delivered", "{}"), 409, "'f-1' is faulted");
  expect_problem(post("/api/v1/workflows/f-1/cancel", ""), 409, "'f-1' is already faulted");
  expect_problem(post("/api/v1/workflows/f-1/signals/" + std::string(129, 's'), "{}"), 400, "signal name");
  check_history_replays("f-1", view);
}

BOOST_AUTO_TEST_CASE(cancel_compensates_a_waiting_delivery) {
  BOOST_TEST(start("c-1", testing::drone_delivery("c-1")).status == 201);
  await_view("c-1", 30, [](const json& view) { return view.value("status", "") == "waiting"; });
  // A signal nobody listens for is accepted (and ignored by the engine).
  const HttpResponse signal = post("/api/v1/workflows/c-1/signals/unrelated", R"({"x": 1})");
  BOOST_TEST(signal.status == 202, signal.body);
  expect_problem(post("/api/v1/workflows/c-1/cancel", R"({"reason": 5})"), 400, "reason");
  const HttpResponse cancel =
      post("/api/v1/workflows/c-1/cancel", R"({"reason": "customer changed their mind"})");
  BOOST_TEST(cancel.status == 202, cancel.body);
  const json view = await_view("c-1", 30, is_final);
  BOOST_TEST((view.at("status") == "compensated" || view.at("status") == "cancelled"), view.dump());
  BOOST_TEST(view.at("status") == "compensated", "a delivery with a drone booked must be undone");
  BOOST_TEST(view.contains("compensation"), view.dump());
  check_history_replays("c-1", view);
  expect_problem(post("/api/v1/workflows/c-1/cancel", ""), 409, "'c-1' is already");
}

BOOST_AUTO_TEST_CASE(health_and_readiness) {
  const HttpResponse health = get("/healthz");
  BOOST_TEST(health.status == 200);
  BOOST_TEST(get("/readyz").status == 200);
  BOOST_TEST(!health.header("x-request-id").empty());
}

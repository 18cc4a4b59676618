#define BOOST_TEST_MODULE api_v1
// API v1 end to end over real loopback sockets, with authentication on: a `flightplan dev` and a
// `flightplan server` (two processes, one private redis-server) started with a token file. Covers the
// auth matrix, definitions registered at run time and picked up by the other process, list/search/
// counts, every operator control, metrics, and bad input of every kind (each a 4xx problem naming
// what is wrong, never a 500). Workflows here use definitions registered through the API.
#include "../support/cluster.hpp"
#include "../support/redis_server.hpp"
#include "flightplan/redis/client.hpp"
#include "api_client.hpp"

#include <sys/wait.h>

#include <future>

using namespace flightplan;
using nlohmann::json;
using testing::HttpResponse;

namespace {

const std::string operator_token = "op-e2e-0123456789abcdef";
const std::string viewer_token = "view-e2e-0123456789abcdef";

// Waits for signal `go`, then completes with {"ok": true}. No activity: only orchestrators needed.
const std::string waiter_yaml = R"(document:
  dsl: '1.0.0'
  namespace: test
  name: waiter
  version: '1.0.0'
do:
  - hold:
      listen:
        to:
          one:
            with:
              type: go
  - done:
      set:
        ok: true
)";

// One activity, one attempt; the dev process fails bench.undo at random (seeded), so some runs
// fault and an operator's retry runs the activity again.
const std::string flaky_yaml = R"(document:
  dsl: '1.0.0'
  namespace: test
  name: flaky
  version: '1.0.0'
use:
  retries:
    once:
      delay: PT0.01S
      limit:
        attempt:
          count: 1
do:
  - attempt:
      call: bench.undo
      with:
        step: attempt
      retry: once
)";

// A redis-server, `flightplan dev` (all roles, flaky bench.undo) and `flightplan server`, all with
// the same tokens; started by the first test that needs them.
struct Deployment {
  testing::RedisServer redis;
  testing::TempDir dir;
  std::string tokens = testing::write_token_file(dir.path(), operator_token, viewer_token);
  testing::Cluster cluster{redis.url(), 20.0};
  testing::ServerHandle dev =
      cluster.start_dev("dev-a", {"--auth-file", tokens, "--inject", "bench.undo:fail=0.6", "--seed", "7",
                                  "--definitions-refresh-ms", "200"});
  testing::ServerHandle server = cluster.start_server("server-b", {"--auth-file", tokens});
};

Deployment& deployment() {
  static std::unique_ptr<Deployment> instance;
  if (!instance) instance = std::make_unique<Deployment>();
  return *instance;
}

using Client = testing::TokenClient;
using testing::expect_problem;

Client dev(std::optional<std::string> token = operator_token) {
  return Client{deployment().dev.port, std::move(token)};
}
Client server_b(std::optional<std::string> token = operator_token) {
  return Client{deployment().server.port, std::move(token)};
}

// Registers `yaml` through the dev process (201 the first time, 200 after).
void register_definition(const std::string& yaml) {
  const HttpResponse response = dev().send("POST", "/api/v1/definitions", yaml, "application/yaml");
  BOOST_REQUIRE_MESSAGE(response.status == 201 || response.status == 200, response.body);
}

void start(const Client& client, const std::string& workflow, const std::string& id) {
  const HttpResponse response =
      client.post("/api/v1/workflows", json{{"workflow", workflow}, {"id", id}}.dump());
  BOOST_REQUIRE_MESSAGE(response.status == 201, "start " + id + ": " + response.body);
}

template <typename Predicate>
json await_view(const std::string& id, int seconds_max, Predicate done) {
  json view;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds_max);
  while (std::chrono::steady_clock::now() < deadline) {
    const HttpResponse response = dev(viewer_token).get("/api/v1/workflows/" + id);
    BOOST_REQUIRE_MESSAGE(response.status == 200, "GET " + id + ": " + response.body);
    view = response.json();
    if (done(view)) return view;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  BOOST_FAIL("workflow " + id + " did not get there in " + std::to_string(seconds_max) + " s; last view " +
             view.dump() + "\n" + deployment().cluster.logs_tail());
  return view;
}

auto has_status(const std::string& status) {
  return [status](const json& view) { return view.value("status", "") == status; };
}

bool is_final(const json& view) {
  const auto status = engine::parse_workflow_status(view.value("status", ""));
  return status && engine::is_final(*status);
}

}  // namespace

BOOST_AUTO_TEST_CASE(each_access_level_wants_its_token) {
  struct Route {
    std::string method, target, access;
  };
  const std::vector<Route> routes = {
      {"GET", "/healthz", "public"},
      {"GET", "/readyz", "public"},
      {"GET", "/api/v1/openapi.json", "public"},
      {"GET", "/dashboard", "public"},
      {"GET", "/metrics", "viewer"},
      {"GET", "/api/v1/workflows", "viewer"},
      {"GET", "/api/v1/workflows/counts", "viewer"},
      {"GET", "/api/v1/workflows/nope", "viewer"},
      {"GET", "/api/v1/definitions", "viewer"},
      {"POST", "/api/v1/workflows/nope/cancel", "operator"},
      {"POST", "/api/v1/workflows/nope/terminate", "operator"},
      {"POST", "/api/v1/workflows/nope/signals/go", "operator"},
      {"POST", "/api/v1/workflows", "operator"},
      {"POST", "/api/v1/definitions", "operator"},
  };
  for (const Route& route : routes) {
    const std::string what = route.method + " " + route.target;
    for (const auto& [token, level] :
         std::vector<std::pair<std::optional<std::string>, std::string>>{{std::nullopt, "none"},
                                                                         {std::string("not-a-token"), "bad"},
                                                                         {viewer_token, "viewer"},
                                                                         {operator_token, "operator"}}) {
      const HttpResponse response = dev(token).send(route.method, route.target, "");
      const bool allowed =
          route.access == "public" || (level == "viewer" && route.access == "viewer") || level == "operator";
      if (allowed) {
        BOOST_TEST((response.status != 401 && response.status != 403),
                   what << " as " << level << ": " << response.body);
      } else if (level == "viewer") {
        expect_problem(response, 403, "needs the operator role");
      } else {
        expect_problem(response, 401, level == "none" ? "Authorization: Bearer" : "not valid");
        BOOST_TEST(response.header("www-authenticate") == "Bearer realm=\"flightplan\"", what);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(a_server_without_tokens_refuses_to_start_unless_told) {
  Deployment& d = deployment();
  std::vector<std::string> args{"server"};
  for (const auto& arg : d.cluster.common_args("server-open")) args.push_back(arg);
  args.insert(args.end(), {"--port", "0"});
  testing::ChildProcess refused(testing::flightplan_binary(), args, d.dir.path() + "/refused.log");
  for (int i = 0; i < 200 && refused.running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  BOOST_REQUIRE(!refused.running());
  BOOST_TEST(WIFEXITED(*refused.exit_status()));
  BOOST_TEST(WEXITSTATUS(*refused.exit_status()) == 2);
  BOOST_TEST(refused.log().find("--no-auth") != std::string::npos, refused.log());

  args.push_back("--no-auth");
  testing::ChildProcess open(testing::flightplan_binary(), args, d.dir.path() + "/open.log");
  const auto line = open.wait_for_log("\"msg\":\"listening\"", 20'000);
  BOOST_REQUIRE_MESSAGE(line, open.log_tail());
  BOOST_TEST(open.log().find("NO AUTHENTICATION") != std::string::npos);
  const std::string url = json::parse(*line).at("url");
  const auto port = static_cast<std::uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
  const Client anonymous{port, std::nullopt};
  BOOST_TEST(anonymous.get("/api/v1/workflows/counts").status == 200);
}

// "Acknowledged" means durable: a server refuses a Redis without the append-only file or one that may
// evict keys, naming the setting, unless told to accept the risk.
BOOST_AUTO_TEST_CASE(a_server_refuses_a_redis_that_may_lose_acknowledged_work) {
  Deployment& d = deployment();
  testing::RedisServerOptions unsafe_options;
  unsafe_options.appendonly = false;
  testing::RedisServer unsafe(unsafe_options);
  testing::Cluster cluster{unsafe.url(), 20.0};
  std::vector<std::string> args{"server"};
  for (const auto& arg : cluster.common_args("server-unsafe")) args.push_back(arg);
  args.insert(args.end(), {"--port", "0", "--no-auth"});
  const auto refused_with = [&](const std::string& name) {
    testing::ChildProcess refused(testing::flightplan_binary(), args, d.dir.path() + "/" + name + ".log");
    for (int i = 0; i < 200 && refused.running(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    BOOST_REQUIRE(!refused.running());
    BOOST_TEST(WEXITSTATUS(*refused.exit_status()) == 2);
    return refused.log();
  };
  const std::string no_aof = refused_with("no-aof");
  BOOST_TEST(no_aof.find("appendonly is off") != std::string::npos, no_aof);
  BOOST_TEST(no_aof.find("--allow-unsafe-redis") != std::string::npos, no_aof);

  redis::ClientSettings settings;
  settings.url = unsafe.url();
  redis::Client admin(settings);
  admin.command({"CONFIG", "SET", "appendonly", "yes"});
  admin.command({"CONFIG", "SET", "maxmemory-policy", "allkeys-lru"});
  const std::string evicting = refused_with("evicting");
  BOOST_TEST(evicting.find("maxmemory-policy") != std::string::npos, evicting);
  BOOST_TEST(evicting.find("appendonly is off") == std::string::npos, evicting);

  args.push_back("--allow-unsafe-redis");
  testing::ChildProcess accepted(testing::flightplan_binary(), args, d.dir.path() + "/accepted.log");
  BOOST_TEST(accepted.wait_for_log("\"msg\":\"listening\"", 20'000).has_value(), accepted.log_tail());
  BOOST_TEST(accepted.log().find("starting on an unsafe Redis") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(definitions_registered_on_one_server_run_on_the_other) {
  const HttpResponse created = dev().send("POST", "/api/v1/definitions", waiter_yaml, "application/yaml");
  BOOST_TEST(created.status == 201, created.body);
  BOOST_TEST(created.json().value("name", "") == "waiter");
  BOOST_TEST(!created.json().value("created", "").empty());
  BOOST_TEST(dev().send("POST", "/api/v1/definitions", waiter_yaml, "text/yaml").status == 200);
  // The other process learns it from the store on a miss, without waiting for its refresh.
  const HttpResponse learnt = server_b(viewer_token).get("/api/v1/definitions/waiter/versions/latest");
  BOOST_TEST(learnt.status == 200, learnt.body);
  BOOST_TEST(learnt.json().value("origin", "") == "api");
  BOOST_TEST(learnt.json().value("source", "") == waiter_yaml);
  BOOST_TEST(learnt.json().at("graph").at("tasks").at(0).value("reference", "") == "/do/0/hold");
  start(server_b(), "waiter", "def-1");
  BOOST_TEST(server_b().post("/api/v1/workflows/def-1/signals/go", "{}").status == 202);
  const json view = await_view("def-1", 30, is_final);
  BOOST_TEST(view.at("status") == "completed", view.dump());
  BOOST_TEST(view.at("output") == (json{{"ok", true}}));

  std::string changed = waiter_yaml;
  changed.replace(changed.find("ok: true"), 8, "ok: 1");
  expect_problem(server_b().send("POST", "/api/v1/definitions", changed, "application/yaml"), 409,
                 "'waiter' version 1.0.0 exists with a different definition");
  const HttpResponse invalid =
      dev().send("POST", "/api/v1/definitions",
                 "document:\n  dsl: '1.0.0'\n  namespace: t\n  name: bad\n  version: '1'\n"
                 "do:\n  - x:\n      call: no.such\n",
                 "application/yaml");
  expect_problem(invalid, 400, "definition.yaml:");
  const json errors = invalid.json().at("errors");
  BOOST_REQUIRE(!errors.empty());
  for (const json& error : errors)
    BOOST_TEST(error.get<std::string>().rfind("definition.yaml:", 0) == 0u, error.dump());
  BOOST_TEST(invalid.json().value("detail", "").rfind(errors[0].get<std::string>(), 0) == 0u);
  expect_problem(dev().send("POST", "/api/v1/definitions", waiter_yaml, "application/json"), 415, "YAML");
  expect_problem(dev(viewer_token).get("/api/v1/definitions/nothing-like-it"), 404, "'nothing-like-it'");
}

// A definition whose expression never ends (or grows without bound) faults its own workflows with a
// clear error; the starts answer, ordinary workflows started after them complete, and the server
// stays ready (issue 8: four such starts used to take every HTTP handler thread).
BOOST_AUTO_TEST_CASE(runaway_expressions_fault_their_own_workflows_and_the_server_stays_ready) {
  const std::vector<std::pair<std::string, std::string>> runaways = {
      {"runaway-recursion", "${ def f: f; f }"},
      {"runaway-range", "${ [range(1e9)] }"},
      {"runaway-until", "${ 0 | until(false; . + 1) }"},
      {"runaway-string", "${ \"x\" * 1e9 }"},
  };
  for (const auto& [name, expression] : runaways) {
    register_definition("document:\n  dsl: '1.0.0'\n  namespace: test\n  name: " + name +
                        "\n  version: '1.0.0'\ndo:\n  - spin:\n      set:\n        value: '" + expression + "'\n");
    for (int i = 0; i < 2; ++i) start(i == 0 ? dev() : server_b(), name, name + "-" + std::to_string(i));
  }
  register_definition(waiter_yaml);
  start(dev(), "waiter", "after-runaways");
  BOOST_TEST(dev(std::nullopt).get("/readyz").status == 200);
  BOOST_TEST(server_b(std::nullopt).get("/readyz").status == 200);
  for (const auto& [name, expression] : runaways) {
    for (int i = 0; i < 2; ++i) {
      const json view = await_view(name + "-" + std::to_string(i), 30, is_final);
      BOOST_TEST(view.at("status") == "faulted", view.dump());
      const std::string detail = view.at("error").value("detail", "");
      BOOST_TEST((detail.find("budget") != std::string::npos && detail.find("jq expression") != std::string::npos),
                 name << ": " << detail);
      BOOST_TEST(view.at("error").value("instance", "") == "/do/0/spin", view.dump());
    }
  }
  BOOST_TEST(dev().post("/api/v1/workflows/after-runaways/signals/go", "{}").status == 202);
  BOOST_TEST(await_view("after-runaways", 30, is_final).at("status") == "completed");
}

BOOST_AUTO_TEST_CASE(list_search_pages_and_counts) {
  register_definition(waiter_yaml);
  for (int i = 1; i <= 5; ++i) {
    start(dev(), "waiter", "ls-" + std::to_string(i));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // distinct start times, newest last
  }
  await_view("ls-5", 20, has_status("waiting"));
  std::vector<std::string> ids;
  std::string target = "/api/v1/workflows?id_prefix=ls-&limit=2";
  for (int page = 0; page < 5; ++page) {
    const HttpResponse response = dev(viewer_token).get(target);
    BOOST_REQUIRE_MESSAGE(response.status == 200, response.body);
    const json page_body = response.json();  // kept: the loop below refers into it
    for (const json& row : page_body.at("workflows")) ids.push_back(row.at("id"));
    const json next = page_body.at("next_cursor");
    if (next.is_null()) break;
    target = "/api/v1/workflows?id_prefix=ls-&limit=2&cursor=" + next.get<std::string>();
  }
  BOOST_TEST(ids == (std::vector<std::string>{"ls-5", "ls-4", "ls-3", "ls-2", "ls-1"}), json(ids).dump());
  const json waiting =
      dev(viewer_token).get("/api/v1/workflows?status=waiting&workflow=waiter&limit=1000").json();
  BOOST_TEST(waiting.at("workflows").size() >= 5u, waiting.dump());
  for (const json& row : waiting.at("workflows")) BOOST_TEST(row.at("status") == "waiting");
  const json counts = dev(viewer_token).get("/api/v1/workflows/counts?workflow=waiter").json();
  BOOST_TEST(counts.at("counts").size() == 11u, counts.dump());
  BOOST_TEST(counts.at("counts").at("waiting").get<int>() >= 5);
  std::int64_t sum = 0;
  for (const auto& [status, n] : counts.at("counts").items()) sum += n.get<std::int64_t>();
  BOOST_TEST(counts.at("total") == sum);
  const json none = dev(viewer_token).get("/api/v1/workflows?started_before=1000&id_prefix=ls-").json();
  BOOST_TEST(none.at("workflows").empty());
  BOOST_TEST(none.at("next_cursor").is_null());
}

// Long polls (issue 9): `?wait=` answers when the workflow closes, whichever process closes it (the
// other process hears of it through Redis Pub/Sub), or when the wait is over; never before.
BOOST_AUTO_TEST_CASE(long_polls_answer_when_the_workflow_closes_on_either_server) {
  register_definition(waiter_yaml);
  // A start that waits answers after its wait with the workflow still open, and its view.
  const auto asked = std::chrono::steady_clock::now();
  const HttpResponse started =
      dev().post("/api/v1/workflows?wait=400", json{{"workflow", "waiter"}, {"id", "lp-1"}}.dump());
  BOOST_TEST(started.status == 201, started.body);
  BOOST_TEST((std::chrono::steady_clock::now() - asked >= std::chrono::milliseconds(350)));
  BOOST_TEST(started.json().value("status", "") == "waiting", started.body);
  BOOST_TEST(started.json().at("workflow").value("id", "") == "lp-1");
  // Both servers park a GET; one signal later, both answer long before their wait is over.
  auto park = [](Client client) {
    return std::async(std::launch::async, [client] {
      const auto sent = std::chrono::steady_clock::now();
      const HttpResponse answer = client.get("/api/v1/workflows/lp-1?wait=15000");
      return std::make_pair(answer, std::chrono::steady_clock::now() - sent);
    });
  };
  auto on_dev = park(dev(viewer_token));
  auto on_b = park(server_b(viewer_token));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  BOOST_TEST((on_dev.wait_for(std::chrono::seconds(0)) == std::future_status::timeout));
  BOOST_TEST((on_b.wait_for(std::chrono::seconds(0)) == std::future_status::timeout));
  BOOST_TEST(server_b().post("/api/v1/workflows/lp-1/signals/go", "{}").status == 202);
  for (auto* parked : {&on_dev, &on_b}) {
    const auto [answer, took] = parked->get();
    BOOST_TEST(answer.status == 200, answer.body);
    BOOST_TEST(answer.json().value("status", "") == "completed", answer.body);
    BOOST_TEST((took < std::chrono::milliseconds(8'000)));
  }
  // Closed already: at once. A start that waits for a workflow that finishes at once: its output.
  const auto again = std::chrono::steady_clock::now();
  BOOST_TEST(dev(viewer_token).get("/api/v1/workflows/lp-1?wait=PT15S").json().value("status", "") == "completed");
  BOOST_TEST((std::chrono::steady_clock::now() - again < std::chrono::milliseconds(5'000)));
  expect_problem(dev(viewer_token).get("/api/v1/workflows/lp-1?wait=soon"), 400, "'wait'");
  expect_problem(dev(viewer_token).get("/api/v1/workflows/lp-1?wait=-5"), 400, "'wait'");
  expect_problem(dev(viewer_token).get("/api/v1/workflows/lp-1?tail=1"), 400, "'tail'");
  expect_problem(dev(viewer_token).get("/api/v1/workflows/lp-none?wait=100"), 404, "'lp-none'");
}

BOOST_AUTO_TEST_CASE(terminate_pause_resume_and_cancel_end_to_end) {
  register_definition(waiter_yaml);
  start(dev(), "waiter", "ctl-t");
  start(dev(), "waiter", "ctl-p");
  start(dev(), "waiter", "ctl-c");
  await_view("ctl-c", 20, has_status("waiting"));

  const HttpResponse terminated = dev().post("/api/v1/workflows/ctl-t/terminate", R"({"reason": "e2e"})");
  BOOST_TEST(terminated.status == 202, terminated.body);
  BOOST_TEST(terminated.json() == (json{{"id", "ctl-t"}, {"action", "terminate"}, {"accepted", true}}));
  await_view("ctl-t", 20, has_status("terminated"));
  expect_problem(dev().post("/api/v1/workflows/ctl-t/terminate"), 409, "'ctl-t' is already terminated");

  BOOST_TEST(dev().post("/api/v1/workflows/ctl-p/pause").status == 202);
  await_view("ctl-p", 20, [](const json& view) { return view.value("paused", false); });
  BOOST_TEST(dev().post("/api/v1/workflows/ctl-p/signals/go", "{}").status == 202);
  const json held =
      await_view("ctl-p", 20, [](const json& view) { return view.value("held_inputs", 0) == 1; });
  BOOST_TEST(held.at("status") == "waiting");
  BOOST_TEST(dev().post("/api/v1/workflows/ctl-p/resume").status == 202);
  const json resumed = await_view("ctl-p", 20, is_final);
  BOOST_TEST(resumed.at("status") == "completed", resumed.dump());
  expect_problem(dev().post("/api/v1/workflows/ctl-p/resume"), 409, "'ctl-p' is not paused");

  const HttpResponse cancelled = dev().post("/api/v1/workflows/ctl-c/cancel");
  BOOST_TEST(cancelled.json().value("cancel_requested", false));
  BOOST_TEST(await_view("ctl-c", 20, is_final).at("status") == "cancelled");
}

BOOST_AUTO_TEST_CASE(retry_reruns_a_faulted_workflow_until_it_completes) {
  register_definition(flaky_yaml);
  // bench.undo fails 60% of the time here: find a run that faulted, then retry it.
  std::string id;
  for (int i = 0; i < 20 && id.empty(); ++i) {
    const std::string candidate = "retry-" + std::to_string(i);
    start(dev(), "flaky", candidate);
    if (await_view(candidate, 30, is_final).at("status") == "faulted") id = candidate;
  }
  BOOST_REQUIRE_MESSAGE(!id.empty(), "no flaky run faulted in 20 tries");
  expect_problem(dev(viewer_token).post("/api/v1/workflows/" + id + "/retry"), 403, "operator");
  int retries = 0;
  json view = dev().get("/api/v1/workflows/" + id).json();
  while (view.at("status") == "faulted" && retries < 30) {
    const HttpResponse retried =
        dev().post("/api/v1/workflows/" + id + "/retry", R"({"reason": "try again"})");
    BOOST_REQUIRE_MESSAGE(retried.status == 202, retried.body);
    ++retries;
    const std::int64_t length = view.at("history_length");
    view = await_view(id, 30,
                      [length](const json& v) { return is_final(v) && v.at("history_length") > length; });
  }
  BOOST_TEST(view.at("status") == "completed", view.dump());
  BOOST_TEST(retries >= 1);
  expect_problem(dev().post("/api/v1/workflows/" + id + "/retry"), 409,
                 "only a faulted or compensation_failed");
  const json history = dev(viewer_token).get("/api/v1/workflows/" + id + "/history").json();
  int retried_events = 0;
  for (const json& event : history.at("events"))
    retried_events += event.value("type", "") == "workflow_retried";
  BOOST_TEST(retried_events == retries);
}

BOOST_AUTO_TEST_CASE(idempotency_key_and_history_download) {
  register_definition(waiter_yaml);
  const auto start_with_key = [](const std::string& key, const json& input) {
    return dev().send("POST", "/api/v1/workflows", json{{"workflow", "waiter"}, {"input", input}}.dump(),
                      "application/json", {{"Idempotency-Key", key}});
  };
  BOOST_TEST(start_with_key("idem-1", {{"n", 1}}).status == 201);
  BOOST_TEST(start_with_key("idem-1", {{"n", 1}}).status == 200);
  expect_problem(start_with_key("idem-1", {{"n", 2}}), 409, "different definition or input");
  expect_problem(start_with_key("idem/2", {{"n", 1}}), 400, "Idempotency-Key");
  const json view = dev(viewer_token).get("/api/v1/workflows/idem-1").json();
  BOOST_TEST(!view.value("correlation_id", "").empty(), view.dump());
  const HttpResponse download = dev(viewer_token).get("/api/v1/workflows/idem-1/history?download=true");
  BOOST_TEST(download.header("content-disposition") == "attachment; filename=\"idem-1.history.json\"");
  BOOST_TEST(download.json().value("format", "") == "flightplan.history/v1");
}

BOOST_AUTO_TEST_CASE(bad_input_is_a_4xx_naming_what_is_wrong) {
  const Client op = dev();
  expect_problem(op.post("/api/v1/workflows", R"({"workflow": "waiter",})"), 400, "at byte 23");
  expect_problem(op.post("/api/v1/workflows", R"({"workflow": 5})"), 400,
                 "field 'workflow' must be a string");
  expect_problem(op.post("/api/v1/workflows", R"({"workflow": "waiter", "input": {}, "extra": 1})"), 400,
                 "unknown field 'extra'");
  expect_problem(op.send("POST", "/api/v1/workflows", R"({"workflow": "waiter"})", "text/plain"), 415,
                 "application/json");
  // Every query parameter is checked, and named.
  expect_problem(op.get("/api/v1/workflows?limit=0"), 400, "'limit'");
  expect_problem(op.get("/api/v1/workflows?status=done"), 400, "'status'");
  expect_problem(op.get("/api/v1/workflows?started_after=noon"), 400, "'started_after'");
  expect_problem(op.get("/api/v1/workflows?cursor=%%%"), 400, "malformed %-escape");
  expect_problem(op.get("/api/v1/workflows?cursor=garbage"), 400, "'cursor'");
  expect_problem(op.get("/api/v1/workflows?sort=id"), 400, "unknown query parameter 'sort'");
  // Path tricks never reach a handler.
  for (const std::string& id :
       std::vector<std::string>{"a%2Fb", "..", "%2E%2E", "a%00b", "%C3%28", std::string(300, 'i')}) {
    const HttpResponse response = op.get("/api/v1/workflows/" + id);
    BOOST_TEST(response.status == 400, id << ": " << response.status);
    expect_problem(response, 400, "");
  }
  expect_problem(op.get("/api/v1/workflows/../definitions"), 400, "'.' or '..'");
  expect_problem(op.get("/api/v1/nothing"), 404, "no resource");
  const HttpResponse wrong_method = op.send("DELETE", "/api/v1/definitions");
  expect_problem(wrong_method, 405, "GET, POST");
  BOOST_TEST(wrong_method.header("allow") == "GET, POST");
  // Over the body limit: 413 before the body is read, with or without credentials.
  const std::string big =
      json{{"workflow", "waiter"}, {"input", {{"pad", std::string(1 << 20, 'x')}}}}.dump();
  expect_problem(testing::http_post(deployment().dev.port, "/api/v1/workflows", big), 413, "larger than");
  const std::string big_yaml = "# " + std::string(1 << 20, 'y') + "\n";
  expect_problem(
      testing::http_request(deployment().dev.port, testing::HttpRequest{"POST", "/api/v1/definitions",
                                                                        big_yaml, "application/yaml"}),
      413, "larger than");
  BOOST_TEST(testing::http_get(deployment().dev.port, "/healthz").status == 200);
}

BOOST_AUTO_TEST_CASE(a_slow_client_is_cut_off) {
  // Half a request, then silence: the server closes the connection after its read timeout (10 s).
  const int fd = testing::detail::connect_loopback(deployment().dev.port);
  const testing::detail::Socket socket{fd};
  const auto began = std::chrono::steady_clock::now();
  testing::detail::send_all(fd, "GET /api/v1/workflows HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                            began + std::chrono::seconds(5));
  std::string buffer;
  while (testing::detail::receive_some(fd, buffer, began + std::chrono::seconds(20))) {
  }
  const auto waited_s =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - began).count();
  BOOST_TEST(waited_s >= 9);
  BOOST_TEST(waited_s < 20, "the connection was not closed");
  BOOST_TEST(testing::http_get(deployment().dev.port, "/healthz").status == 200);
}

BOOST_AUTO_TEST_CASE(metrics_and_logs_show_requests_but_never_tokens) {
  register_definition(waiter_yaml);
  start(dev(), "waiter", "met-1");
  const HttpResponse metrics = dev(viewer_token).get("/metrics");
  BOOST_TEST(metrics.status == 200);
  BOOST_TEST(metrics.header("content-type").rfind("text/plain; version=0.0.4", 0) == 0u);
  for (const char* needle :
       {"flightplan_workflows_started_total{workflow=\"waiter\"}", "flightplan_http_requests_total{",
        "flightplan_http_request_duration_seconds_bucket{", "flightplan_input_backlog ",
        "flightplan_timer_lag_seconds ", "route=\"/api/v1/workflows\""})
    BOOST_TEST(metrics.body.find(needle) != std::string::npos, needle << " missing:\n"
                                                                      << metrics.body.substr(0, 3000));
  expect_problem(dev(std::nullopt).get("/metrics"), 401, "Authorization");

  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the access log lines land
  for (const testing::ServerHandle* handle : {&deployment().dev, &deployment().server}) {
    const std::string log = handle->process->log();
    BOOST_TEST(log.find(operator_token) == std::string::npos,
               "the operator token is in " << handle->process->log_path());
    BOOST_TEST(log.find(viewer_token) == std::string::npos,
               "the viewer token is in " << handle->process->log_path());
    BOOST_TEST(log.find("not-a-token") == std::string::npos);
  }
  const std::string log = deployment().dev.process->log();
  BOOST_TEST(log.find("\"msg\":\"http\"") != std::string::npos);
  BOOST_TEST(log.find("\"route\":\"/api/v1/workflows/{id}\"") != std::string::npos);
  BOOST_TEST(log.find("\"msg\":\"workflow control queued\"") != std::string::npos);
}

// `flightplan worker --metrics-port` serves its own /metrics (the activity latencies it measured)
// behind the same tokens, and probes without.
BOOST_AUTO_TEST_CASE(a_worker_serves_its_activity_metrics) {
  Deployment& d = deployment();
  auto worker = d.cluster.start_worker("worker-m", "bench", {"--metrics-port", "0", "--auth-file", d.tokens});
  const auto listening = worker->wait_for_log("\"listening\"", 20'000);
  BOOST_REQUIRE_MESSAGE(listening, worker->log_tail());
  const std::string url = json::parse(*listening).at("url").get<std::string>();
  const auto port = static_cast<std::uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
  const Client metrics_client{port, viewer_token};
  const Client anonymous{port, std::nullopt};
  BOOST_TEST(anonymous.get("/healthz").status == 200);
  expect_problem(anonymous.get("/metrics"), 401, "Authorization");
  // The worker competes with the dev process's bench workers: 20 workflows give it tasks.
  register_definition(flaky_yaml);
  for (int i = 0; i < 20; ++i) start(dev(), "flaky", "wm-" + std::to_string(i));
  for (int i = 0; i < 20; ++i) await_view("wm-" + std::to_string(i), 30, is_final);
  const HttpResponse metrics = metrics_client.get("/metrics");
  BOOST_TEST(metrics.status == 200);
  for (const char* needle : {"flightplan_activity_duration_seconds_bucket{activity=\"bench.undo\"",
                             "flightplan_activity_outcomes_total{activity=\"bench.undo\"", "flightplan_queue_depth"})
    BOOST_TEST(metrics.body.find(needle) != std::string::npos, needle << " missing:\n"
                                                                      << metrics.body.substr(0, 3000));
  BOOST_TEST(worker->log().find(viewer_token) == std::string::npos);
}

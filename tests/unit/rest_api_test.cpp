#define BOOST_TEST_MODULE rest_api
// API v1 without sockets: the workflow, definition, operations, fleet and dead-letter routes called through
// handle_request() on the in-process store, with an orchestrator run by hand (run_once) on a manual
// clock. Every bad request must be a 4xx problem naming what is wrong; every control must reach the
// engine and change the workflow as docs/api.md says.
#include "flightplan/engine/duration.hpp"
#include "flightplan/http/problem.hpp"
#include "flightplan/memory/memory_service_store.hpp"
#include "flightplan/memory/memory_store.hpp"
#include "flightplan/yaml/source_loader.hpp"
#include "flightplan/rest/dead_letter_api.hpp"
#include "flightplan/rest/definition_api.hpp"
#include "flightplan/rest/fleet_api.hpp"
#include "flightplan/rest/operations_api.hpp"
#include "flightplan/rest/workflow_api.hpp"
#include "flightplan/metrics/metrics.hpp"

#include "../support/harness.hpp"

#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <set>
#include <string>

namespace {

using namespace flightplan;
using nlohmann::json;

// Waits for signal `go`, then completes with {"ok": true}.
const std::string waiter_yaml = R"(document:
  dsl: '1.0.0'
  namespace: test
  name: waiter
  version: '1.0.0'
  title: Waits for go
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

// Faults at once.
const std::string failing_yaml = R"(document:
  dsl: '1.0.0'
  namespace: test
  name: failing
  version: '1.0.0'
do:
  - boom:
      raise:
        error:
          type: https://example.com/errors/boom
          status: 500
          title: Boom
)";

struct Api {
  runtime::ManualClock clock{testing::start_ms};
  memory::MemoryStore store{clock};
  runtime::DefinitionRegistry definitions{yaml::source_loader(), clock};
  metrics::Metrics metrics;
  runtime::Orchestrator orchestrator;
  int next_id = 0;
  rest::WorkflowApi workflows;
  rest::DefinitionApi definition_api{definitions, clock};
  rest::OperationsApi operations{metrics, store, clock};
  memory::MemoryServiceStore services;
  rest::FleetApi fleet{services, clock};
  rest::DeadLetterApi dead_letters{store};
  http::Router router;

  Api()
      : orchestrator(store, definitions, clock, settings(metrics)),
        workflows{orchestrator, store, clock, [this] { return "gen-" + std::to_string(++next_id); }} {
    definitions.attach_store(store, testing::compile_options());
    definitions.add(testing::compile_file("workflows/delivery.yaml"));
    definitions.register_source(waiter_yaml, clock.now_ms());
    definitions.register_source(failing_yaml, clock.now_ms());
    rest::add_workflow_routes(router, workflows);
    rest::add_definition_routes(router, definition_api);
    rest::add_operations_routes(router, operations);
    rest::add_fleet_routes(router, fleet);
    rest::add_dead_letter_routes(router, dead_letters);
  }

  static runtime::OrchestratorSettings settings(metrics::Metrics& metrics) {
    runtime::OrchestratorSettings s;
    s.block_ms = 0;
    s.observer = &metrics;
    return s;
  }

  http::Response call(const std::string& method, const std::string& target, const std::string& body = "",
                      const std::string& content_type = "application/json",
                      std::vector<std::pair<std::string, std::string>> headers = {}) {
    http::Request request;
    request.method = method;
    request.target = target;
    request.body = body;
    request.request_id = "req-" + std::to_string(++request_count);
    if (method != "GET" && !content_type.empty()) request.headers.add("Content-Type", content_type);
    for (auto& [name, value] : headers) request.headers.add(name, value);
    return http::handle_request(router, request, [](std::string_view, std::string_view message) {
      BOOST_ERROR("unexpected 500: " << message);
    });
  }
  http::Response get(const std::string& target) { return call("GET", target); }
  http::Response post(const std::string& target, const std::string& body = "") {
    return call("POST", target, body);
  }

  // Starts `workflow` as `id` (201 required) and applies what was queued.
  void start(const std::string& id, const std::string& workflow = "waiter",
             const json& input = json::object()) {
    const http::Response response =
        post("/api/v1/workflows", json{{"workflow", workflow}, {"id", id}, {"input", input}}.dump());
    BOOST_REQUIRE_MESSAGE(response.status == 201, response.body);
    drain();
  }
  void drain() {
    while (orchestrator.run_once() > 0) {
    }
  }
  json view(const std::string& id) {
    const http::Response response = get("/api/v1/workflows/" + id);
    BOOST_REQUIRE_MESSAGE(response.status == 200, response.body);
    return json::parse(response.body);
  }

  int request_count = 0;
};

json body(const http::Response& response) { return json::parse(response.body); }

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string text;
  for (const std::string& part : parts) text += (text.empty() ? "" : separator) + part;
  return text;
}

void expect_problem(const http::Response& response, int status, const std::string& detail_part) {
  BOOST_TEST(response.status == status,
             "expected " << status << ", got " << response.status << ": " << response.body);
  BOOST_TEST(response.content_type == "application/problem+json");
  const std::string detail = body(response).value("detail", "");
  BOOST_TEST(detail.find(detail_part) != std::string::npos,
             "detail '" << detail << "' lacks '" << detail_part << "'");
}

}  // namespace

BOOST_AUTO_TEST_CASE(list_parameters_are_each_checked_by_name) {
  Api api;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"status=bogus", "query parameter 'status' must be one of pending,"},
      {"limit=0", "query parameter 'limit' must be an integer from 1 to 1000, not '0'"},
      {"limit=1001", "'limit'"},
      {"limit=ten", "'limit'"},
      {"limit=-1", "'limit'"},
      {"started_after=yesterday", "query parameter 'started_after' must be an RFC 3339 timestamp"},
      {"started_before=2026-13-01T00:00:00Z", "'started_before'"},
      {"id_prefix=" + std::string(201, 'x'), "'id_prefix' is longer than 200 bytes"},
      {"workflow=" + std::string(257, 'x'), "'workflow' is longer than 256 bytes"},
      {"cursor=not-a-cursor", "query parameter 'cursor'"},
      {"colour=red", "unknown query parameter 'colour'"},
      {"limit=1&limit=2", "given more than once"},
      {"limit=%zz", "malformed %-escape"},
  };
  for (const auto& [query, detail] : cases)
    expect_problem(api.get("/api/v1/workflows?" + query), 400, detail);
  expect_problem(api.get("/api/v1/workflows/counts?status=running"), 400, "unknown query parameter 'status'");
  expect_problem(api.get("/api/v1/workflows/x/history?download=yes"), 400,
                 "'download' must be true or false");
}

BOOST_AUTO_TEST_CASE(instants_are_rfc3339_or_epoch_milliseconds) {
  BOOST_TEST(rest::parse_instant_ms("t", "1795219200000") == 1795219200000);
  BOOST_TEST(rest::parse_instant_ms("t", "2026-11-21T00:00:00Z") == 1795219200000);
  BOOST_TEST(rest::parse_instant_ms("t", "2026-11-21T01:00:00.5+01:00") == 1795219200500);
  BOOST_CHECK_THROW(rest::parse_instant_ms("t", ""), engine::OperationError);
  BOOST_CHECK_THROW(rest::parse_instant_ms("t", "1e12"), engine::OperationError);
}

BOOST_AUTO_TEST_CASE(list_pages_newest_first_with_filters) {
  Api api;
  for (int i = 1; i <= 5; ++i) {
    api.start("list-" + std::to_string(i));
    api.clock.advance(1000);
  }
  api.start("other-1", "failing");
  std::vector<std::string> seen;
  std::string target = "/api/v1/workflows?workflow=waiter&limit=2";
  for (int page = 0; page < 5; ++page) {
    const json answer = body(api.get(target));
    for (const json& row : answer.at("workflows")) seen.push_back(row.at("id"));
    if (answer.at("next_cursor").is_null()) break;
    target =
        "/api/v1/workflows?workflow=waiter&limit=2&cursor=" + answer.at("next_cursor").get<std::string>();
  }
  BOOST_TEST(seen == (std::vector<std::string>{"list-5", "list-4", "list-3", "list-2", "list-1"}),
             join(seen, ","));

  const json row = body(api.get("/api/v1/workflows?id_prefix=list-3")).at("workflows").at(0);
  BOOST_TEST(row.at("id") == "list-3");
  BOOST_TEST(row.at("workflow") == "waiter");
  BOOST_TEST(row.at("version") == "1.0.0");
  BOOST_TEST(row.at("status") == "waiting");
  BOOST_TEST(row.at("paused") == false);
  BOOST_TEST(row.at("started") == engine::format_timestamp(testing::start_ms + 2000));
  BOOST_TEST(!row.contains("closed"));
  BOOST_TEST(!row.contains("error"));

  const json faulted = body(api.get("/api/v1/workflows?status=faulted")).at("workflows");
  BOOST_REQUIRE_EQUAL(faulted.size(), 1u);
  BOOST_TEST(faulted[0].at("id") == "other-1");
  BOOST_TEST(faulted[0].at("error").at("status") == 500);
  BOOST_TEST(faulted[0].contains("closed"));

  const std::string after = std::to_string(testing::start_ms + 1000);  // strictly after list-2's start
  const json recent = body(api.get("/api/v1/workflows?workflow=waiter&started_after=" + after +
                                   "&started_before=2026-11-21T00:00:04Z"));
  std::vector<std::string> ids;
  for (const json& r : recent.at("workflows")) ids.push_back(r.at("id"));
  BOOST_TEST(ids == (std::vector<std::string>{"list-4", "list-3"}), join(ids, ","));
}

BOOST_AUTO_TEST_CASE(counts_list_every_status) {
  Api api;
  api.start("c-1");
  api.start("c-2");
  api.start("c-3", "failing");
  const json all = body(api.get("/api/v1/workflows/counts"));
  BOOST_TEST(all.at("total") == 3);
  BOOST_TEST(all.at("counts").size() == 11u);
  BOOST_TEST(all.at("counts").at("waiting") == 2);
  BOOST_TEST(all.at("counts").at("faulted") == 1);
  BOOST_TEST(all.at("counts").at("terminated") == 0);
  const json waiters = body(api.get("/api/v1/workflows/counts?workflow=waiter"));
  BOOST_TEST(waiters.at("total") == 2);
  BOOST_TEST(waiters.at("counts").at("faulted") == 0);
}

BOOST_AUTO_TEST_CASE(idempotency_key_names_the_workflow) {
  Api api;
  const std::string start = json{{"workflow", "waiter"}, {"input", {{"n", 1}}}}.dump();
  const auto with_key = [&](const std::string& key, const std::string& body_text) {
    return api.call("POST", "/api/v1/workflows", body_text, "application/json", {{"Idempotency-Key", key}});
  };
  const http::Response first = with_key("order-77", start);
  BOOST_TEST(first.status == 201, first.body);
  BOOST_TEST(body(first).at("id") == "order-77");
  BOOST_TEST(first.headers.find("Location").value_or("") == "/api/v1/workflows/order-77");
  const http::Response again = with_key("order-77", start);
  BOOST_TEST(again.status == 200, again.body);
  BOOST_TEST(body(again).at("created") == false);
  expect_problem(with_key("order-77", json{{"workflow", "waiter"}, {"input", {{"n", 2}}}}.dump()), 409,
                 "already exists with a different definition or input");
  expect_problem(with_key("order-78", json{{"workflow", "waiter"}, {"id", "order-79"}}.dump()), 400,
                 "Idempotency-Key header 'order-78' differ");
  BOOST_TEST(with_key("order-80", json{{"workflow", "waiter"}, {"id", "order-80"}}.dump()).status == 201);
  expect_problem(with_key("a/b", start), 400, "header 'Idempotency-Key' is not a valid workflow id");
  expect_problem(with_key(std::string(201, 'k'), start), 400, "header 'Idempotency-Key'");
  // Without a key or id the server picks one.
  const http::Response generated = api.post("/api/v1/workflows", start);
  BOOST_TEST(body(generated).at("id") == "gen-1");
}

BOOST_AUTO_TEST_CASE(view_has_pause_state_and_correlation_id) {
  Api api;
  const http::Response started =
      api.call("POST", "/api/v1/workflows", R"({"workflow": "waiter", "id": "v-1"})");
  BOOST_REQUIRE_EQUAL(started.status, 201);
  api.drain();
  const json view = api.view("v-1");
  BOOST_TEST(view.at("paused") == false);
  BOOST_TEST(view.at("held_inputs") == 0);
  BOOST_TEST(view.at("correlation_id") == "req-1");  // the id of the request that started it
}

BOOST_AUTO_TEST_CASE(pause_holds_signals_until_resume) {
  Api api;
  api.start("p-1");
  expect_problem(api.post("/api/v1/workflows/p-1/resume"), 409, "'p-1' is not paused");
  const http::Response paused = api.post("/api/v1/workflows/p-1/pause", R"({"reason": "investigating"})");
  BOOST_TEST(paused.status == 202, paused.body);
  BOOST_TEST(body(paused) == (json{{"id", "p-1"}, {"action", "pause"}, {"accepted", true}}));
  api.drain();
  BOOST_TEST(api.view("p-1").at("paused") == true);
  expect_problem(api.post("/api/v1/workflows/p-1/pause"), 409, "'p-1' is already paused");
  BOOST_TEST(api.post("/api/v1/workflows/p-1/signals/go", "{}").status == 202);
  api.drain();
  json view = api.view("p-1");
  BOOST_TEST(view.at("status") == "waiting", view.dump());
  BOOST_TEST(view.at("held_inputs") == 1);
  BOOST_TEST(api.post("/api/v1/workflows/p-1/resume").status == 202);
  api.drain();
  view = api.view("p-1");
  BOOST_TEST(view.at("status") == "completed", view.dump());
  BOOST_TEST(view.at("paused") == false);
  BOOST_TEST(view.at("output") == (json{{"ok", true}}));
}

BOOST_AUTO_TEST_CASE(terminate_ends_at_once_and_only_once) {
  Api api;
  api.start("t-1");
  const http::Response terminated = api.post("/api/v1/workflows/t-1/terminate", R"({"reason": "stuck"})");
  BOOST_TEST(terminated.status == 202, terminated.body);
  BOOST_TEST(body(terminated).at("action") == "terminate");
  api.drain();
  BOOST_TEST(api.view("t-1").at("status") == "terminated");
  for (const char* action : {"terminate", "cancel", "pause"})
    expect_problem(api.post(std::string("/api/v1/workflows/t-1/") + action), 409,
                   "'t-1' is already terminated");
  expect_problem(api.post("/api/v1/workflows/t-1/signals/go", "{}"), 409, "'t-1' is terminated");
  BOOST_TEST(api.metrics.serialize().find(
                 "flightplan_workflows_finished_total{status=\"terminated\",workflow=\"waiter\"} 1") !=
                 std::string::npos,
             api.metrics.serialize());
}

BOOST_AUTO_TEST_CASE(cancel_keeps_its_answer_and_retry_wants_a_fault) {
  Api api;
  api.start("k-1");
  expect_problem(api.post("/api/v1/workflows/k-1/retry"), 409,
                 "workflow 'k-1' is waiting; only a faulted or compensation_failed workflow can be retried");
  const http::Response cancelled = api.post("/api/v1/workflows/k-1/cancel");
  BOOST_TEST(body(cancelled) ==
             (json{{"id", "k-1"}, {"action", "cancel"}, {"accepted", true}, {"cancel_requested", true}}));
  api.drain();
  BOOST_TEST(api.view("k-1").at("status") == "cancelled");

  api.start("k-2", "failing");
  BOOST_TEST(api.view("k-2").at("status") == "faulted");
  const std::int64_t length = api.view("k-2").at("history_length");
  const http::Response retried = api.post("/api/v1/workflows/k-2/retry");
  BOOST_TEST(retried.status == 202, retried.body);
  api.drain();
  // The raise fails again, but the retry went through the engine and was recorded.
  const json view = api.view("k-2");
  BOOST_TEST(view.at("history_length").get<std::int64_t>() > length, view.dump());
  BOOST_TEST(view.at("status") == "faulted");
}

BOOST_AUTO_TEST_CASE(controls_refuse_bad_bodies_and_unknown_ids) {
  Api api;
  api.start("b-1");
  for (const char* action : {"cancel", "terminate", "pause", "resume", "retry"}) {
    const std::string base = std::string("/api/v1/workflows/");
    expect_problem(api.post(base + "nope/" + action), 404, "no workflow with id 'nope'");
    expect_problem(api.post(base + "b-1/" + action, R"({"reason": 5})"), 400,
                   "field 'reason' must be a string");
    expect_problem(api.post(base + "b-1/" + action, R"({"why": "x"})"), 400, "unknown field 'why'");
    expect_problem(api.post(base + "b-1/" + action, "[1]"), 400, "must be a JSON object");
    expect_problem(api.post(base + "b-1/" + action, "{"), 400, "malformed JSON body at byte");
    expect_problem(api.post(base + "b-1/" + action, json{{"reason", std::string(1025, 'r')}}.dump()), 400,
                   "longer than 1024 bytes");
    expect_problem(api.call("POST", base + "b-1/" + action, "reason", "text/plain"), 415, "application/json");
  }
}

BOOST_AUTO_TEST_CASE(history_downloads_as_a_file) {
  Api api;
  api.start("h-1");
  const http::Response plain = api.get("/api/v1/workflows/h-1/history");
  BOOST_TEST(plain.status == 200);
  BOOST_TEST(!plain.headers.contains("Content-Disposition"));
  const http::Response download = api.get("/api/v1/workflows/h-1/history?download=true");
  BOOST_TEST(download.headers.find("Content-Disposition").value_or("") ==
             "attachment; filename=\"h-1.history.json\"");
  BOOST_TEST(body(download).at("format") == "flightplan.history/v1");
  BOOST_TEST(download.body == plain.body);
}

BOOST_AUTO_TEST_CASE(definitions_register_validate_and_conflict) {
  Api api;
  std::string yaml = waiter_yaml;
  yaml.replace(yaml.find("name: waiter"), 12, "name: greeter");
  const auto post_yaml = [&](const std::string& text, const std::string& type = "application/yaml") {
    return api.call("POST", "/api/v1/definitions", text, type);
  };
  api.clock.advance(5000);
  const http::Response created = post_yaml(yaml);
  BOOST_TEST(created.status == 201, created.body);
  BOOST_TEST(body(created).at("name") == "greeter");
  BOOST_TEST(body(created).at("latest") == true);
  BOOST_TEST(body(created).at("created") == engine::format_timestamp(testing::start_ms + 5000));
  BOOST_TEST(created.headers.find("Location").value_or("") == "/api/v1/definitions/greeter/versions/1.0.0");
  const http::Response same = post_yaml(yaml, "text/plain; charset=utf-8");
  BOOST_TEST(same.status == 200, same.body);
  BOOST_TEST(body(same).at("digest") == body(created).at("digest"));
  std::string changed = yaml;
  changed.replace(changed.find("ok: true"), 8, "ok: false");
  expect_problem(post_yaml(changed), 409,
                 "workflow 'greeter' version 1.0.0 exists with a different definition");
  // The same holds for a definition loaded from a file.
  std::string delivery = testing::read_file(testing::source_path("workflows/delivery.yaml"));
  BOOST_TEST(post_yaml(delivery, "application/x-yaml").status == 200);
  delivery += "\n# a comment changes the text, hence the digest\n";
  expect_problem(post_yaml(delivery, "text/yaml"), 409, "'delivery' version 1.0.0");

  expect_problem(post_yaml(yaml, "application/json"), 415, "application/yaml");
  expect_problem(api.call("POST", "/api/v1/definitions", yaml, ""), 415, "Content-Type");
  expect_problem(post_yaml(""), 400, "empty");
}

BOOST_AUTO_TEST_CASE(invalid_definitions_list_every_problem_with_its_position) {
  Api api;
  const std::string bad = R"(document:
  dsl: '1.0.0'
  namespace: test
  name: broken
  version: '1.0.0'
do:
  - first:
      call: nope.nothing
  - second:
      wait: soon
)";
  const http::Response response = api.call("POST", "/api/v1/definitions", bad, "application/yaml");
  BOOST_TEST(response.status == 400, response.body);
  const json problem = body(response);
  BOOST_REQUIRE(problem.at("errors").size() >= 2u);
  BOOST_TEST(problem.at("errors")[0].get<std::string>().rfind("definition.yaml:8:", 0) == 0u, problem.dump());
  BOOST_TEST(problem.at("errors")[1].get<std::string>().rfind("definition.yaml:10:", 0) == 0u,
             problem.dump());
  BOOST_TEST(problem.at("detail").get<std::string>().rfind(problem.at("errors")[0].get<std::string>(), 0) ==
             0u);
  const http::Response syntax =
      api.call("POST", "/api/v1/definitions", "do: [\n  - a: {", "application/yaml");
  BOOST_TEST(syntax.status == 400);
  BOOST_TEST(body(syntax).at("detail").get<std::string>().rfind("definition.yaml:", 0) == 0u, syntax.body);
  expect_problem(api.get("/api/v1/definitions/broken"), 404, "no workflow definition named 'broken'");
}

BOOST_AUTO_TEST_CASE(definitions_are_listed_with_origin_and_versions) {
  Api api;
  std::string v2 = waiter_yaml;
  v2.replace(v2.find("version: '1.0.0'"), 16, "version: '2.0.0'");
  BOOST_TEST(api.call("POST", "/api/v1/definitions", v2, "application/yaml").status == 201);
  const json all = body(api.get("/api/v1/definitions")).at("definitions");
  std::set<std::string> rows;
  for (const json& d : all)
    rows.insert(d.at("name").get<std::string>() + "@" + d.at("version").get<std::string>() + ":" +
                d.at("origin").get<std::string>() + (d.at("latest").get<bool>() ? ":latest" : ""));
  BOOST_TEST((rows == std::set<std::string>{"delivery@1.0.0:file:latest", "failing@1.0.0:api:latest",
                                            "waiter@1.0.0:api", "waiter@2.0.0:api:latest"}),
             all.dump());
  const json waiter = body(api.get("/api/v1/definitions/waiter"));
  BOOST_TEST(waiter.at("latest") == "2.0.0");
  BOOST_TEST(waiter.at("versions").size() == 2u);
  BOOST_TEST(waiter.at("versions")[0].at("title") == "Waits for go");
  const json latest = body(api.get("/api/v1/definitions/waiter/versions/latest"));
  BOOST_TEST(latest.at("version") == "2.0.0");
  BOOST_TEST(latest.at("source") == v2);
  BOOST_TEST(latest.at("graph").at("tasks").size() == 2u);
  BOOST_TEST(latest.at("graph").at("tasks")[0].at("type") == "listen");
  BOOST_TEST(latest.at("graph").at("tasks")[1].at("reference") == "/do/1/done");
  expect_problem(api.get("/api/v1/definitions/waiter/versions/9.9.9"), 404, "has no version '9.9.9'");
  // A workflow started without a version runs the latest; one started earlier keeps its own.
  api.start("w-latest");
  BOOST_TEST(api.view("w-latest").at("version") == "2.0.0");
}

BOOST_AUTO_TEST_CASE(graph_references_match_history_refs) {
  Api api;
  const json graph = body(api.get("/api/v1/definitions/delivery/versions/1.0.0")).at("graph");
  std::set<std::string> references;
  std::map<std::string, std::string> types;
  const std::function<void(const json&)> walk = [&](const json& tasks) {
    for (const json& task : tasks) {
      references.insert(task.at("reference"));
      types[task.at("reference")] = task.at("type");
      for (const json& child : task.at("children")) walk(child.at("tasks"));
    }
  };
  walk(graph.at("tasks"));
  BOOST_TEST(types["/do/6/scheduleDrone"] == "call");
  BOOST_TEST(types["/do/6/scheduleDrone/compensate"] == "call");
  BOOST_TEST(types["/do/1/requireActiveAccount"] == "switch");
  for (const char* file : {"tests/replay/delivery--happy.json", "tests/replay/delivery--compensated.json"}) {
    const json history = json::parse(testing::read_file(testing::source_path(file)));
    for (const json& event : history.at("events")) {
      const std::string ref = event.value("ref", "/");
      if (ref == "/") continue;
      BOOST_TEST(references.count(ref) == 1u, file << ": event ref " << ref << " is no task of the graph");
    }
  }
}

BOOST_AUTO_TEST_CASE(another_registry_learns_stored_definitions) {
  Api api;
  runtime::DefinitionRegistry other(yaml::source_loader(), api.clock);  // a second server process
  other.attach_store(api.store, testing::compile_options());
  BOOST_TEST(other.find("waiter")->document.name == "waiter");  // a miss asks the store
  BOOST_TEST(other.entries().size() == 2u);
  std::string v3 = waiter_yaml;
  v3.replace(v3.find("version: '1.0.0'"), 16, "version: '3.0.0'");
  api.definitions.register_source(v3, api.clock.now_ms());
  BOOST_TEST(other.latest_version("waiter") == "1.0.0");
  BOOST_TEST(other.refresh() == 1u);
  BOOST_TEST(other.latest_version("waiter") == "3.0.0");
  BOOST_TEST(other.refresh() == 0u);
  BOOST_TEST(runtime::to_string(other.find_entry("waiter", "3.0.0").origin) == "api");
}

BOOST_AUTO_TEST_CASE(metrics_are_prometheus_text) {
  Api api;
  api.start("m-1");
  api.metrics.activity_observed("drone.schedule", "completed", 0.02);
  api.metrics.http_request("/api/v1/workflows/{id}", "BREW", 418, 0.001);
  const http::Response response = api.get("/metrics");
  BOOST_TEST(response.status == 200);
  BOOST_TEST(response.content_type == "text/plain; version=0.0.4; charset=utf-8");
  for (const char* line :
       {"flightplan_workflows_started_total{workflow=\"waiter\"} 1",
        "flightplan_activity_duration_seconds_count{activity=\"drone.schedule\"} 1",
        "flightplan_activity_outcomes_total{activity=\"drone.schedule\",outcome=\"completed\"} 1",
        "flightplan_http_requests_total{method=\"other\",route=\"/api/v1/workflows/{id}\",status=\"418\"} 1",
        "flightplan_input_backlog 0", "flightplan_timer_lag_seconds 0",
        "# TYPE flightplan_http_request_duration_seconds histogram"}) {
    BOOST_TEST(response.body.find(line) != std::string::npos, "no '" << line << "' in\n" << response.body);
  }
}

BOOST_AUTO_TEST_CASE(the_fleet_lists_every_drone_at_the_api_clock) {
  Api api;
  api.clock.advance(90'000);
  const http::Response response = api.get("/api/v1/fleet");
  BOOST_REQUIRE_MESSAGE(response.status == 200, response.body);
  const json fleet = body(response);
  BOOST_TEST(fleet.at("drones").size() == 10u);
  BOOST_TEST(fleet.at("drones").at(0).at("droneId") == "drone-001");
  BOOST_TEST(fleet.at("available") == 10);
  BOOST_TEST(fleet.at("assigned") == 0);
  BOOST_TEST(fleet.at("as_of") == engine::format_timestamp(testing::start_ms + 90'000));
  expect_problem(api.get("/api/v1/fleet?state=assigned"), 400,
                 "unknown query parameter 'state' (expected none)");
}

BOOST_AUTO_TEST_CASE(the_fleet_view_counts_each_state) {
  const json drones = json::array({{{"droneId", "drone-001"}, {"state", "available"}},
                                   {{"droneId", "drone-002"}, {"state", "assigned"}, {"deliveryId", "d-1"}},
                                   {{"droneId", "drone-003"}, {"state", "assigned"}, {"deliveryId", "d-2"}}});
  const json view = rest::fleet_view(drones, testing::start_ms);
  BOOST_TEST(view.at("drones") == drones);
  BOOST_TEST(view.at("available") == 1);
  BOOST_TEST(view.at("assigned") == 2);
  BOOST_TEST(view.at("as_of") == "2026-11-21T00:00:00.000Z");
}

BOOST_AUTO_TEST_CASE(dead_letters_come_newest_first_within_a_bounded_limit) {
  Api api;
  BOOST_TEST(body(api.get("/api/v1/dead-letters")) == (json{{"total", 0}, {"items", json::array()}}));
  api.start("dl-1");
  for (const std::string signal : {"first", "second"}) {
    api.clock.advance(1000);
    api.store.enqueue_input("dl-1", engine::Input::signal(signal, json::object(), api.clock.now_ms()));
    const std::vector<engine::QueuedInput> claimed = api.store.claim_inputs("test", 1, 0, 60'000);
    BOOST_REQUIRE(claimed.size() == 1u);
    api.store.dead_letter_input(claimed[0], "poison " + signal, std::nullopt);
  }
  const json page = body(api.get("/api/v1/dead-letters?limit=1"));
  BOOST_TEST(page.at("total") == 2);
  BOOST_REQUIRE(page.at("items").size() == 1u);
  const json& newest = page.at("items").at(0);
  BOOST_TEST(newest.at("kind") == "input");
  BOOST_TEST(newest.at("workflow_id") == "dl-1");
  BOOST_TEST(newest.at("reason") == "poison second");
  BOOST_TEST(newest.at("deliveries") == 1);
  BOOST_TEST(newest.at("entry").at("name") == "second", newest.dump());
  BOOST_TEST(newest.at("time") == engine::format_timestamp(testing::start_ms + 2000));
  BOOST_TEST(newest.at("time_ms") == testing::start_ms + 2000);
  BOOST_TEST(body(api.get("/api/v1/dead-letters")).at("items").size() == 2u);
  for (const std::string limit : {"0", "1001", "ten", "-1", "99999999999999999999"})
    expect_problem(api.get("/api/v1/dead-letters?limit=" + limit), 400,
                   "query parameter 'limit' must be an integer from 1 to 1000, not '" + limit + "'");
  expect_problem(api.get("/api/v1/dead-letters?cursor=x"), 400,
                 "unknown query parameter 'cursor' (expected limit)");
}

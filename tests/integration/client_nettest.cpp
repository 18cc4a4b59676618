#define BOOST_TEST_MODULE client
// The CLI's API commands (submit, get, list, history, signal, controls, definitions) as child
// processes against a real `flightplan dev --store memory --port 0` on 127.0.0.1: what a user types,
// what they read, and the exit status scripts rely on (0 done, 1 the API refused, 2 local problem).
#include <boost/test/unit_test.hpp>

#include "../support/process.hpp"

#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

using flightplan::testing::ChildProcess;
using flightplan::testing::TempDir;
using nlohmann::json;

namespace {

struct Result {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// One dev server for the whole module: starting it compiles the definitions (about a second).
struct DevServer {
  TempDir dir;
  ChildProcess process;
  std::string url;

  DevServer()
      : process(flightplan::testing::flightplan_binary(),
                {"dev", "--store", "memory", "--port", "0", "--address", "127.0.0.1", "--workflows",
                 std::string(FLIGHTPLAN_SOURCE_DIR) + "/workflows"},
                dir.path() + "/dev.log") {
    const auto line = process.wait_for_log("\"listening\"", 60'000);
    if (!line) throw std::runtime_error("flightplan dev did not start:\n" + process.log_tail());
    url = json::parse(*line).at("url").get<std::string>();
  }
};

DevServer& server() {
  static DevServer instance;
  return instance;
}

// Runs `flightplan ARGS...` to completion (bounded) and returns its exit code and output.
Result run(std::vector<std::string> args, bool with_url = true) {
  if (with_url) {
    args.push_back("--url");
    args.push_back(server().url);
  }
  static int counter = 0;
  const std::string log = server().dir.path() + "/cli-" + std::to_string(++counter) + ".log";
  ChildProcess child(flightplan::testing::flightplan_binary(), args, log);
  for (int i = 0; i < 600 && child.running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  BOOST_REQUIRE_MESSAGE(!child.running(), "the CLI did not exit within 30 s");
  const int status = *child.exit_status();
  return Result{WIFEXITED(status) ? WEXITSTATUS(status) : -1, child.log()};
}

const std::string bench_input =
    R"({"deliveryId":"c1","seq":1,"accountId":"acct-1","pickup":"A","dropoff":"B","size":"small","weightKg":1.2})";

// Polls `get --json` until the workflow reaches `status` (bounded).
json await_status(const std::string& id, const std::string& status) {
  json view;
  for (int i = 0; i < 200; ++i) {
    const Result got = run({"get", id, "--json"});
    view = json::parse(got.output, nullptr, false);
    if (view.is_object() && view.value("status", "") == status) return view;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  BOOST_FAIL("workflow " + id + " did not reach " + status + "; last: " + view.dump());
  return view;
}

}  // namespace

BOOST_AUTO_TEST_CASE(submit_get_list_and_history_round_trip_into_replay) {
  const Result submitted = run({"submit", "bench-5step", "--id", "cli-a", "--input", bench_input});
  BOOST_TEST(submitted.exit_code == 0, submitted.output);
  BOOST_TEST(submitted.output.find("started cli-a") != std::string::npos, submitted.output);
  await_status("cli-a", "completed");

  const Result again = run({"submit", "bench-5step", "--id", "cli-a", "--input", bench_input});
  BOOST_TEST(again.exit_code == 0);
  BOOST_TEST(again.output.find("exists  cli-a") != std::string::npos, again.output);

  const Result shown = run({"get", "cli-a"});
  BOOST_TEST(shown.exit_code == 0);
  BOOST_TEST(shown.output.find("cli-a  bench-5step 1.0.0  completed") != std::string::npos, shown.output);

  const Result listed = run({"list", "--workflow", "bench-5step"});
  BOOST_TEST(listed.exit_code == 0, listed.output);
  BOOST_TEST(listed.output.find("cli-a") != std::string::npos, listed.output);

  const std::string export_path = server().dir.path() + "/cli-a.history.json";
  const Result exported = run({"history", "cli-a", "-o", export_path});
  BOOST_TEST(exported.exit_code == 0, exported.output);
  // The export is exactly what `flightplan replay` reads: replaying it reproduces every event.
  const Result replayed =
      run({"replay", std::string(FLIGHTPLAN_SOURCE_DIR) + "/workflows/bench-5step.yaml", export_path}, false);
  BOOST_TEST(replayed.exit_code == 0, replayed.output);

  const Result table = run({"history", "cli-a"});
  BOOST_TEST(table.output.find("workflow_started") != std::string::npos, table.output);
  BOOST_TEST(table.output.find("/do/0/checkAccount") != std::string::npos, table.output);
}

BOOST_AUTO_TEST_CASE(api_refusals_exit_1_with_the_problem_detail) {
  const Result unknown = run({"get", "no-such-workflow"});
  BOOST_TEST(unknown.exit_code == 1);
  BOOST_TEST(unknown.output.find("404") != std::string::npos, unknown.output);
  BOOST_TEST(unknown.output.find("no-such-workflow") != std::string::npos, unknown.output);

  const Result no_definition = run({"submit", "no-such-definition"});
  BOOST_TEST(no_definition.exit_code == 1);
  BOOST_TEST(no_definition.output.find("no workflow definition named 'no-such-definition'") != std::string::npos,
             no_definition.output);

  BOOST_TEST(run({"submit", "bench-5step", "--id", "cli-done", "--input", bench_input}).exit_code == 0);
  await_status("cli-done", "completed");
  const Result late_signal = run({"signal", "cli-done", "hello", "--payload", R"({"a":1})"});
  BOOST_TEST(late_signal.exit_code == 1);
  BOOST_TEST(late_signal.output.find("409") != std::string::npos, late_signal.output);
}

BOOST_AUTO_TEST_CASE(local_problems_exit_2_and_name_the_flag) {
  const Result bad_json = run({"submit", "bench-5step", "--input", "{not json"});
  BOOST_TEST(bad_json.exit_code == 2);
  BOOST_TEST(bad_json.output.find("--input is not valid JSON") != std::string::npos, bad_json.output);

  const Result bad_url = run({"get", "x", "--url", "ftp://example"}, false);
  BOOST_TEST(bad_url.exit_code == 2);
  BOOST_TEST(bad_url.output.find("must start with http://") != std::string::npos, bad_url.output);

  // Port 1 on loopback: nothing listens there.
  const Result unreachable = run({"get", "x", "--url", "http://127.0.0.1:1"}, false);
  BOOST_TEST(unreachable.exit_code == 2);
  BOOST_TEST(unreachable.output.find("cannot reach http://127.0.0.1:1") != std::string::npos, unreachable.output);

  const Result missing_file = run({"definitions", "add", server().dir.path() + "/absent.yaml"});
  BOOST_TEST(missing_file.exit_code == 2);
  BOOST_TEST(missing_file.output.find("cannot read definition file") != std::string::npos, missing_file.output);
}

BOOST_AUTO_TEST_CASE(controls_reach_the_workflow) {
  // A delivery waits for its drone to land (minutes of real time): long enough to act on.
  const std::string input = R"({"deliveryId":"cli-d","ownerId":"fabrikam-books","pickupLocation":"47.6097,-122.3331",
    "dropOffLocation":"47.6740,-122.1215","deadline":"2099-01-01T00:00:00Z",
    "packageInfo":{"packageId":"p-cli-d","size":"small","weight":2.5,"tag":"t"}})";
  BOOST_TEST(run({"submit", "delivery", "--id", "cli-d", "--input", input}).exit_code == 0);
  await_status("cli-d", "waiting");
  const Result terminated = run({"terminate", "cli-d", "--reason", "operator test"});
  BOOST_TEST(terminated.exit_code == 0, terminated.output);
  BOOST_TEST(terminated.output.find("terminate requested for cli-d") != std::string::npos, terminated.output);
  const json view = await_status("cli-d", "terminated");
  BOOST_TEST(view["pending_activities"].empty());
}

BOOST_AUTO_TEST_CASE(definitions_list_show_and_add) {
  const Result listed = run({"definitions"});
  BOOST_TEST(listed.exit_code == 0, listed.output);
  BOOST_TEST(listed.output.find("delivery") != std::string::npos, listed.output);

  const Result shown = run({"definitions", "show", "bench-5step"});
  BOOST_TEST(shown.exit_code == 0, shown.output);
  BOOST_TEST(shown.output.find("name: bench-5step") != std::string::npos, shown.output);

  const std::string path = server().dir.path() + "/hello.yaml";
  std::ofstream(path) << "document: {dsl: '1.0.0', namespace: test, name: cli-hello, version: '1.0.0'}\n"
                         "do:\n  - greet:\n      set:\n        hello: world\n";
  const Result added = run({"definitions", "add", path});
  BOOST_TEST(added.exit_code == 0, added.output);
  BOOST_TEST(added.output.find("registered cli-hello 1.0.0") != std::string::npos, added.output);
  BOOST_TEST(run({"submit", "cli-hello", "--id", "cli-h"}).exit_code == 0);
  const json done = await_status("cli-h", "completed");
  BOOST_TEST(done["output"] == (json{{"hello", "world"}}));

  std::ofstream(path) << "document: {dsl: '1.0.0', namespace: test, name: cli-bad, version: '1.0.0'}\n"
                         "do:\n  - nothing:\n      then: nowhere\n";
  const Result invalid = run({"definitions", "add", path});
  BOOST_TEST(invalid.exit_code == 1);
  BOOST_TEST(invalid.output.find("definition.yaml:") != std::string::npos, invalid.output);
}

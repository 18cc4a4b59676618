#define BOOST_TEST_MODULE cli
// The subcommands as functions: output formats and exit codes.
#include "../../api/cli/commands.hpp"
#include "../support/harness.hpp"

#include <cstdio>
#include <filesystem>
#include <sstream>

using flightplan::testing::read_file;
using flightplan::testing::source_path;
using nlohmann::json;

namespace {

struct Output {
  int code = 0;
  std::string out;
  std::string err;
};

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("flightplan-cli-test-" + name)).string();
}

Output run(flightplan::cli::RunOptions options) {
  std::ostringstream out, err;
  Output o;
  options.start_time = options.start_time.empty() ? "2026-11-21T00:00:00Z" : options.start_time;
  o.code = flightplan::cli::run_command(options, out, err);
  o.out = out.str();
  o.err = err.str();
  return o;
}

}  // namespace

BOOST_AUTO_TEST_CASE(validate_accepts_the_shipped_workflows) {
  std::ostringstream out, err;
  const int code = flightplan::cli::validate_command({source_path("workflows/delivery.yaml")}, out, err);
  BOOST_TEST(code == 0);
  BOOST_TEST(err.str().empty());
  BOOST_TEST(out.str().find("ok (delivery 1.0.0") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(validate_reports_file_line_column_and_exits_2) {
  const std::string path = temp_path("bad.yaml");
  {
    std::ofstream file(path);
    file << "document:\n  dsl: '1.0.0'\n  namespace: t\n  name: bad\n  version: '1.0.0'\ndo:\n"
            "  - x:\n      wiat: PT1S\n";
  }
  std::ostringstream out, err;
  const int code = flightplan::cli::validate_command({path, source_path("workflows/delivery.yaml")}, out, err);
  BOOST_TEST(code == 2);
  BOOST_TEST(err.str().rfind(path + ":7:5: task 'x' has no type", 0) == 0, err.str());
  BOOST_TEST(err.str().find("did you mean 'wait'") != std::string::npos);
  std::remove(path.c_str());
}

BOOST_AUTO_TEST_CASE(validate_missing_file_exits_2) {
  std::ostringstream out, err;
  BOOST_TEST(flightplan::cli::validate_command({"/nonexistent/x.yaml"}, out, err) == 2);
  BOOST_TEST(err.str().find("/nonexistent/x.yaml") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(run_prints_status_output_error_and_writes_history) {
  flightplan::cli::RunOptions options;
  options.file = source_path("workflows/delivery.yaml");
  options.input = "@" + source_path("workflows/examples/delivery-input.json");
  options.history_out = temp_path("history.json");
  const Output o = run(options);
  BOOST_TEST(o.code == 0, o.err);
  const json result = json::parse(o.out);
  BOOST_TEST(result.at("status") == "completed");
  BOOST_TEST(result.at("output").at("deliveryId") == "d-1001");
  BOOST_TEST(result.at("error").is_null());
  // The written history replays.
  std::ostringstream out, err;
  BOOST_TEST(flightplan::cli::replay_command(options.file, options.history_out, out, err) == 0);
  BOOST_TEST(out.str().find("replay ok") == 0u);
  std::remove(options.history_out.c_str());
}

BOOST_AUTO_TEST_CASE(run_with_injected_drone_failures_exits_1_compensated) {
  flightplan::cli::RunOptions options;
  options.file = source_path("workflows/delivery.yaml");
  options.input = "@" + source_path("workflows/examples/delivery-input.json");
  options.inject = "drone.schedule:fail=1";
  const Output o = run(options);
  BOOST_TEST(o.code == 1);
  BOOST_TEST(json::parse(o.out).at("status") == "compensated");
}

BOOST_AUTO_TEST_CASE(run_rejects_bad_input_with_exit_2) {
  flightplan::cli::RunOptions options;
  options.file = source_path("workflows/delivery.yaml");
  options.input = "{not json";
  Output o = run(options);
  BOOST_TEST(o.code == 2);
  BOOST_TEST(o.err.find("invalid JSON in --input") != std::string::npos);
  options.input = "{}";
  options.inject = "drone.schedule:fial=1";
  o = run(options);
  BOOST_TEST(o.code == 2);
  BOOST_TEST(o.err.find("fial") != std::string::npos);
  options.inject.clear();
  options.start_time = "yesterday";
  o = run(options);
  BOOST_TEST(o.code == 2);
  BOOST_TEST(o.err.find("--start-time") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(replay_names_the_first_divergence_and_exits_1) {
  const std::string history = temp_path("diverge.json");
  {
    json h = json::parse(read_file(source_path("tests/replay/delivery--happy.json")));
    h["events"][2]["data"]["output"] = json{{"forged", true}};
    std::ofstream(history) << h.dump();
  }
  std::ostringstream out, err;
  BOOST_TEST(flightplan::cli::replay_command(source_path("workflows/delivery.yaml"), history, out, err) == 1);
  BOOST_TEST(out.str().find("replay diverged at event index") == 0u, out.str());
  BOOST_TEST(out.str().find("expected:") != std::string::npos);
  std::ostringstream out2, err2;
  BOOST_TEST(flightplan::cli::replay_command(source_path("workflows/delivery.yaml"), "/nonexistent.json", out2,
                                             err2) == 2);
  std::remove(history.c_str());
}

BOOST_AUTO_TEST_CASE(readme_workflow_excerpt_is_real) {
  // The YAML shown in the README must be a verbatim excerpt of a shipped, tested workflow.
  const std::string readme = read_file(source_path("README.md"));
  const auto begin = readme.find("```yaml\n");
  BOOST_REQUIRE(begin != std::string::npos);
  const auto end = readme.find("```", begin + 8);
  BOOST_REQUIRE(end != std::string::npos);
  const std::string excerpt = readme.substr(begin + 8, end - begin - 8);
  BOOST_TEST(excerpt.size() > 100u);
  BOOST_TEST(read_file(source_path("workflows/delivery.yaml")).find(excerpt) != std::string::npos);
}

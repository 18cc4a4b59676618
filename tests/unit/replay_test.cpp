#define BOOST_TEST_MODULE replay
// Golden histories: every file tests/replay/<workflow>--<case>.json must replay identically through
// workflows/<workflow>.yaml. Regenerate them with scripts/regen-golden.sh after a deliberate change.
#include "../support/harness.hpp"

#include <filesystem>

using namespace flightplan::engine;
using flightplan::testing::compile_file;
using flightplan::testing::compile_yaml;
using flightplan::testing::read_file;
using flightplan::testing::source_path;
using nlohmann::json;

namespace {

History load_history(const std::string& path) { return History::from_json(json::parse(read_file(path))); }

std::vector<std::filesystem::path> golden_files() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(source_path("tests/replay")))
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_golden_history_replays) {
  const auto files = golden_files();
  BOOST_TEST(files.size() >= 4u);
  for (const auto& file : files) {
    BOOST_TEST_CONTEXT(file.filename().string()) {
      const std::string stem = file.stem().string();
      const std::string workflow = stem.substr(0, stem.find("--"));
      auto definition = compile_file("workflows/" + workflow + ".yaml");
      const History history = load_history(file.string());
      const ReplayResult result = replay(*definition, history);
      BOOST_TEST(result.ok(), (result.divergence ? result.divergence->message : ""));
      BOOST_TEST(is_final(result.state.status));
      BOOST_TEST(result.state.history_length == static_cast<std::int64_t>(history.events.size()));
    }
  }
}

BOOST_AUTO_TEST_CASE(every_workflow_has_golden_histories_for_the_four_cases) {
  for (const auto& entry : std::filesystem::directory_iterator(source_path("workflows"))) {
    if (entry.path().extension() != ".yaml") continue;
    const std::string workflow = entry.path().stem().string();
    for (const char* scenario : {"happy", "retried", "timeout", "compensated"}) {
      const auto path = source_path("tests/replay/" + workflow + "--" + scenario + ".json");
      BOOST_TEST(std::filesystem::exists(path), path);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_changed_definition_is_detected) {
  const History history = load_history(source_path("tests/replay/delivery--happy.json"));
  // The same workflow whose first task now outputs an extra field: an incompatible change.
  std::string yaml = read_file(source_path("workflows/delivery.yaml"));
  const std::string original = "as: '${ $input + {account: .} }'";
  const auto expression = yaml.find(original);
  BOOST_REQUIRE(expression != std::string::npos);
  yaml.replace(expression, original.size(), "as: '${ $input + {account: ., changed: true} }'");
  const ReplayResult result = replay(*compile_yaml(yaml, "delivery-changed.yaml"), history);
  BOOST_REQUIRE(!result.ok());
  BOOST_TEST(result.divergence->expected.at("type") == "task_completed");
  BOOST_TEST(result.divergence->expected.at("ref") == "/do/0/checkAccount");
  BOOST_TEST(result.divergence->actual.at("data").at("output").at("changed") == true);
}

BOOST_AUTO_TEST_CASE(truncated_and_extended_histories_diverge) {
  const History history = load_history(source_path("tests/replay/delivery--happy.json"));
  auto definition = compile_file("workflows/delivery.yaml");
  History truncated = history;
  truncated.events.pop_back();
  ReplayResult shorter = replay(*definition, truncated);
  BOOST_REQUIRE(!shorter.ok());
  BOOST_TEST(shorter.divergence->index == truncated.events.size());
  BOOST_TEST(shorter.divergence->expected.is_null());

  History tampered = history;
  tampered.events[3].data = json{{"tampered", true}};
  ReplayResult changed = replay(*definition, tampered);
  BOOST_REQUIRE(!changed.ok());
  BOOST_TEST(changed.divergence->index <= 3u);
}

BOOST_AUTO_TEST_CASE(malformed_history_files_are_rejected_with_reasons) {
  auto message_of = [](const json& value) {
    try {
      History::from_json(value);
    } catch (const OperationError& e) {
      BOOST_TEST((e.category() == ErrorCategory::invalid_argument));
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  BOOST_TEST(message_of(json::array()).find("expected a JSON object") != std::string::npos);
  BOOST_TEST(message_of(json{{"format", "other"}}).find("'format'") != std::string::npos);
  const json no_events{{"format", "flightplan.history/v1"}, {"workflow", {{"id", "x"}}}};
  BOOST_TEST(message_of(no_events).find("'events'") != std::string::npos);
  json gap = no_events;
  gap["events"] = json::array({{{"seq", 2}, {"time_ms", 0}, {"type", "x"}, {"ref", "/"}}});
  BOOST_TEST(message_of(gap).find("expected 1") != std::string::npos);
}

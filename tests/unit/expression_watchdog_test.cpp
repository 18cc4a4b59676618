#define BOOST_TEST_MODULE expression_watchdog
#include <boost/test/unit_test.hpp>

// The time side of bounded expressions: the runtime's watchdog interrupts a step's control, the
// workflow faults with a clear error, and its history replays identically under the same budget.
#include "flightplan/engine/compiler.hpp"
#include "flightplan/engine/machine.hpp"
#include "flightplan/engine/replay.hpp"
#include "flightplan/memory/memory_store.hpp"
#include "flightplan/runtime/definitions.hpp"
#include "flightplan/runtime/expression_watchdog.hpp"
#include "flightplan/runtime/orchestrator.hpp"
#include "flightplan/yaml/source_loader.hpp"
#include "flightplan/yaml/yaml_loader.hpp"

#include <chrono>
#include <string>
#include <thread>

namespace {

using namespace flightplan;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr std::int64_t start_ms = 1795219200000;

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

engine::DefinitionPtr compile(const std::string& name, const std::string& value) {
  const std::string yaml = "document:\n  dsl: '1.0.0'\n  namespace: test\n  name: " + name +
                           "\n  version: '1.0.0'\ndo:\n  - spin:\n      set:\n        value: '" + value + "'\n";
  engine::CompileOptions options;
  options.is_known_activity = [](std::string_view) { return true; };
  return engine::compile_definition(yaml::load_yaml(yaml, name + ".yaml"), options);
}

// Starts `definition` through engine::apply with a control the watchdog interrupts after
// `budget_ms`, as the orchestrator does. Returns the history.
engine::History start(const engine::Definition& definition, engine::WorkflowState& state,
                      runtime::ExpressionWatchdog& watchdog, std::int64_t budget_ms) {
  engine::EvaluationControl control(budget_ms);
  const auto armed = watchdog.arm(control, budget_ms);
  const engine::Step step = engine::apply(definition, state, engine::Input::start("wf-1", json::object(), start_ms),
                                          {}, &control);
  return engine::History{"wf-1", state.name, state.version, state.digest, step.events};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(watchdog)

BOOST_AUTO_TEST_CASE(interrupts_a_control_whose_budget_passed) {
  runtime::ExpressionWatchdog watchdog;
  engine::EvaluationControl control(20);
  const auto armed = watchdog.arm(control, 20);
  const auto deadline = steady_clock::now() + std::chrono::seconds(10);
  while (!control.interrupted() && steady_clock::now() < deadline) std::this_thread::sleep_for(milliseconds(1));
  BOOST_TEST(control.interrupted());
  BOOST_TEST(watchdog.interrupt_count() == 1u);
  BOOST_TEST(watchdog.armed_count() == 0u);
}

BOOST_AUTO_TEST_CASE(a_disarmed_control_is_never_touched) {
  runtime::ExpressionWatchdog watchdog;
  engine::EvaluationControl control(30);
  {
    const auto armed = watchdog.arm(control, 30);
    BOOST_TEST(watchdog.armed_count() == 1u);
  }
  BOOST_TEST(watchdog.armed_count() == 0u);
  std::this_thread::sleep_for(milliseconds(80));
  BOOST_TEST(!control.interrupted());
  engine::EvaluationControl unbudgeted;
  const auto nothing = watchdog.arm(unbudgeted, 0);
  BOOST_TEST(watchdog.armed_count() == 0u);
}

BOOST_AUTO_TEST_CASE(an_earlier_deadline_armed_later_fires_first) {
  runtime::ExpressionWatchdog watchdog;
  engine::EvaluationControl late;
  engine::EvaluationControl early;
  const auto late_armed = watchdog.arm(late, 60'000);
  const auto early_armed = watchdog.arm(early, 10);
  const auto deadline = steady_clock::now() + std::chrono::seconds(10);
  while (!early.interrupted() && steady_clock::now() < deadline) std::this_thread::sleep_for(milliseconds(1));
  BOOST_TEST(early.interrupted());
  BOOST_TEST(!late.interrupted());
}

BOOST_AUTO_TEST_CASE(many_threads_arm_and_disarm_concurrently) {
  runtime::ExpressionWatchdog watchdog;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        engine::EvaluationControl control(1 + i % 3);
        const auto armed = watchdog.arm(control, 1 + i % 3);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  BOOST_TEST(watchdog.armed_count() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(workflows)

BOOST_AUTO_TEST_CASE(a_runaway_set_faults_its_workflow_and_replays_identically) {
  runtime::ExpressionWatchdog watchdog;
  const auto definition = compile("spin", "${ def f: f; f }");
  engine::WorkflowState state;
  const auto began = steady_clock::now();
  const engine::History history = start(*definition, state, watchdog, 100);
  BOOST_TEST(std::chrono::duration_cast<milliseconds>(steady_clock::now() - began).count() < 10'000);
  BOOST_TEST(engine::to_string(state.status) == "faulted");
  BOOST_TEST(contains(state.error.dump(), "jq expression `def f: f; f` exceeded the step's time budget of 100 ms"),
             state.error.dump());
  BOOST_TEST(state.error.value("type", "") == std::string(engine::error_types::expression));

  // The replay runs the same expression again: the same budget stops it the same way.
  engine::EvaluationControl control(100);
  const auto armed = watchdog.arm(control, 100);
  const engine::ReplayResult replayed = engine::replay(*definition, history, {}, &control);
  BOOST_TEST(replayed.ok(), (replayed.divergence ? replayed.divergence->message : ""));
  BOOST_TEST(replayed.state.to_json() == state.to_json());
}

BOOST_AUTO_TEST_CASE(a_memory_runaway_faults_the_same_way_on_every_replay) {
  runtime::ExpressionWatchdog watchdog;
  const auto definition = compile("grow", "${ [range(1e9)] }");
  engine::WorkflowState state;
  const engine::History history = start(*definition, state, watchdog, 60'000);
  BOOST_TEST(engine::to_string(state.status) == "faulted");
  BOOST_TEST(contains(state.error.dump(), "exceeded its memory budget of 64 MiB"), state.error.dump());
  // The memory budget is deterministic: no control needed to replay it.
  const engine::ReplayResult replayed = engine::replay(*definition, history);
  BOOST_TEST(replayed.ok(), (replayed.divergence ? replayed.divergence->message : ""));
  BOOST_TEST(replayed.state.to_json() == state.to_json());
}

BOOST_AUTO_TEST_CASE(the_orchestrator_starts_a_runaway_without_hanging) {
  runtime::ManualClock clock(start_ms);
  memory::MemoryStore store(clock);
  runtime::DefinitionRegistry definitions(yaml::source_loader(), clock);
  definitions.add(compile("spin", "${ def f: f; f }"));
  runtime::ExpressionWatchdog watchdog;
  runtime::OrchestratorSettings settings;
  settings.expression_time_budget_ms = 100;
  settings.watchdog = &watchdog;
  runtime::Orchestrator orchestrator(store, definitions, clock, settings);
  const auto began = steady_clock::now();
  const runtime::StartResult result = orchestrator.start({"spin", "", "wf-1", json::object(), "request-1"});
  BOOST_TEST(std::chrono::duration_cast<milliseconds>(steady_clock::now() - began).count() < 10'000);
  BOOST_TEST(result.created);
  BOOST_TEST(engine::to_string(result.state.status) == "faulted");
  BOOST_TEST(contains(result.state.error.dump(), "exceeded the step's time budget of 100 ms"));
  BOOST_TEST(watchdog.armed_count() == 0u);
  BOOST_TEST(engine::to_string(store.load("wf-1")->state.status) == "faulted");
}

BOOST_AUTO_TEST_SUITE_END()

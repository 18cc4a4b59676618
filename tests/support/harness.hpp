#pragma once
// Test support: compile a workflow from YAML text, run it in the in-process runtime on a manual
// clock, and check the invariant every workflow test must hold — the stored state is the fold of
// the history, and replaying the history reproduces every event.
#include "flightplan/activities/activity.hpp"
#include "flightplan/activities/fault_injection.hpp"
#include "flightplan/engine/compiler.hpp"
#include "flightplan/engine/replay.hpp"
#include "flightplan/memory/local_runtime.hpp"
#include "flightplan/memory/memory_service_store.hpp"
#include "flightplan/yaml/yaml_loader.hpp"

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>

namespace flightplan::engine {
// Lets BOOST_TEST print statuses in failure messages.
inline std::ostream& operator<<(std::ostream& out, WorkflowStatus status) { return out << to_string(status); }
inline std::ostream& operator<<(std::ostream& out, ErrorCategory category) { return out << to_string(category); }
}  // namespace flightplan::engine

namespace flightplan::testing {

// 2026-11-21T00:00:00Z: a fixed virtual start time so histories are byte-for-byte reproducible.
inline constexpr std::int64_t start_ms = 1795219200000;

inline std::string source_path(const std::string& relative) {
  return std::string(FLIGHTPLAN_SOURCE_DIR) + "/" + relative;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  BOOST_REQUIRE_MESSAGE(in, "cannot read " + path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

inline engine::CompileOptions compile_options() {
  static memory::MemoryServiceStore names_only;  // never called: the registry only answers names
  static activities::ActivityRegistry registry = [] {
    activities::ActivityRegistry r;
    activities::register_delivery_activities(r, names_only);
    activities::register_bench_activities(r);
    return r;
  }();
  engine::CompileOptions options;
  options.is_known_activity = [](std::string_view name) {
    return registry.contains(name) || name.rfind("test.", 0) == 0;
  };
  return options;
}

inline engine::DefinitionPtr compile_yaml(const std::string& yaml_text, const std::string& file = "test.yaml") {
  return engine::compile_definition(yaml::load_yaml(yaml_text, file), compile_options());
}

inline engine::DefinitionPtr compile_file(const std::string& relative) {
  return engine::compile_definition(yaml::load_yaml_file(source_path(relative)), compile_options());
}

// Asserts the two invariants of an event-sourced workflow.
inline void check_replay(const memory::WorkflowRecord& record) {
  const engine::ReplayResult result = engine::replay(*record.definition, record.history());
  BOOST_REQUIRE_MESSAGE(result.ok(), "replay diverged: " + (result.divergence ? result.divergence->message +
                                                                                     " expected " +
                                                                                     result.divergence->expected.dump() +
                                                                                     " actual " +
                                                                                     result.divergence->actual.dump()
                                                                               : std::string()));
  BOOST_TEST(result.state.to_json().dump() == record.state.to_json().dump());
  // And the state survives serialisation unchanged.
  BOOST_TEST(engine::WorkflowState::from_json(record.state.to_json()).to_json() == record.state.to_json());
}

// The types of the events of a history, in order, that match `prefix` ("" for all).
inline std::vector<std::string> event_types(const memory::WorkflowRecord& record, const std::string& prefix = "") {
  std::vector<std::string> types;
  for (const auto& event : record.events)
    if (event.type.rfind(prefix, 0) == 0) types.push_back(event.type);
  return types;
}

// References of the events of one type, in order.
inline std::vector<std::string> event_refs(const memory::WorkflowRecord& record, const std::string& type) {
  std::vector<std::string> refs;
  for (const auto& event : record.events)
    if (event.type == type) refs.push_back(event.reference);
  return refs;
}

// Test activities: test.echo returns its arguments; test.fail always fails (retryable);
// test.flaky fails the first `failures` attempts then echoes; test.count returns how often it ran.
class EchoActivity : public activities::Activity {
 public:
  activities::ActivityResult execute(const activities::ActivityRequest& request, activities::ActivityHost&) override {
    return activities::ActivityResult::success(request.arguments);
  }
};
class FailActivity : public activities::Activity {
 public:
  activities::ActivityResult execute(const activities::ActivityRequest& request, activities::ActivityHost&) override {
    return activities::ActivityResult::fail("https://example.test/errors/boom", 503, "Boom",
                                            "attempt " + std::to_string(request.attempt));
  }
};
class FlakyActivity : public activities::Activity {
 public:
  activities::ActivityResult execute(const activities::ActivityRequest& request, activities::ActivityHost&) override {
    const int failures = request.arguments.value("failures", 1);
    if (request.attempt <= failures)
      return activities::ActivityResult::fail("https://example.test/errors/flaky", 503, "Flaky");
    return activities::ActivityResult::success(nlohmann::json{{"attempt", request.attempt}});
  }
};

// A runtime with fresh activity services (a store of their own) and a manual clock at start_ms.
struct Harness {
  memory::MemoryServiceStore service_store;  // before the registry, which refers to it
  activities::ActivityRegistry registry;
  runtime::ManualClock clock{start_ms};
  std::unique_ptr<memory::LocalRuntime> runtime;

  explicit Harness(const std::string& inject = "", std::uint64_t seed = 1) {
    activities::register_delivery_activities(registry, service_store);
    activities::register_bench_activities(registry);
    registry.add("test.echo", std::make_shared<EchoActivity>());
    registry.add("test.fail", std::make_shared<FailActivity>());
    registry.add("test.flaky", std::make_shared<FlakyActivity>());
    activities::FaultInjector faults(seed);
    if (!inject.empty()) {
      auto problem = faults.parse_and_add(inject);
      BOOST_REQUIRE_MESSAGE(!problem, problem.value_or(""));
    }
    // No wall-clock budget: a replay test's history must not depend on how busy the machine is.
    memory::RuntimeLimits limits;
    limits.expression_time_budget_ms = 0;
    runtime = std::make_unique<memory::LocalRuntime>(registry, faults, clock, limits);
  }

  // Starts and runs to the end (or a limit); returns the record after checking replay.
  const memory::WorkflowRecord& run(const engine::DefinitionPtr& definition, nlohmann::json input,
                                    const std::string& id = "wf-1") {
    runtime->start(definition, id, std::move(input));
    runtime->run();
    const auto& record = runtime->workflow(id);
    check_replay(record);
    return record;
  }
};

}  // namespace flightplan::testing

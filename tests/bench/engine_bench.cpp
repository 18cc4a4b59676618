// Cost of the engine's transitions (Google Benchmark). Figures and the exact command live in
// docs/benchmarks.md. Compare variants within one run, as ratios: absolute numbers move with the
// machine.
#include "flightplan/activities/activity.hpp"
#include "flightplan/engine/compiler.hpp"
#include "flightplan/engine/machine.hpp"
#include "flightplan/memory/local_runtime.hpp"
#include "flightplan/memory/memory_service_store.hpp"
#include "flightplan/yaml/yaml_loader.hpp"

#include <benchmark/benchmark.h>

extern "C" {
#include <jq.h>
#include <jv.h>
}

namespace {

using namespace flightplan;
using nlohmann::json;

constexpr std::int64_t start_ms = 1795219200000;

// Five activities in sequence, each passing a small JSON along: the shape of the peer benchmarks.
const char* five_step_yaml = R"(document:
  dsl: '1.0.0'
  namespace: bench
  name: five-step
  version: '1.0.0'
do:
  - checkAccount:
      call: bench.checkAccount
      with:
        ownerId: ${ .ownerId }
      output:
        as: '${ $input + {account: .} }'
  - createPackage:
      call: bench.createPackage
      with:
        packageId: ${ .packageId }
      output:
        as: '${ $input + {package: .} }'
  - checkTransport:
      call: bench.checkTransport
      output:
        as: '${ $input + {transport: .} }'
  - scheduleDrone:
      call: bench.scheduleDrone
      output:
        as: '${ $input + {drone: .} }'
  - createDelivery:
      call: bench.createDelivery
      output:
        as: '${ {deliveryId: .deliveryId, droneId: .drone.droneId} }'
)";

engine::DefinitionPtr five_step() {
  static engine::DefinitionPtr definition = [] {
    engine::CompileOptions options;
    options.is_known_activity = [](std::string_view) { return true; };
    return engine::compile_definition(yaml::load_yaml(five_step_yaml, "five-step.yaml"), options);
  }();
  return definition;
}

// Drives one five-step workflow through the engine: 11 inputs (start, then started + completed per
// activity). With `persist`, the state goes through JSON after every input, as a store would.
std::int64_t run_five_step(const engine::Definition& definition, int n, bool persist) {
  engine::WorkflowState state;
  std::int64_t inputs = 0;
  std::int64_t now = start_ms;
  auto feed = [&](const engine::Input& input) -> engine::Step {
    if (persist) state = engine::WorkflowState::from_json(json::parse(state.to_json().dump()));
    engine::Step step = engine::apply(definition, state, input);
    ++inputs;
    if (persist) benchmark::DoNotOptimize(state.to_json().dump());
    return step;
  };
  engine::Step step = feed(engine::Input::start("wf-" + std::to_string(n),
                                                json{{"ownerId", "o-1"}, {"packageId", "p-1"}, {"deliveryId", "d-1"}},
                                                now));
  while (!engine::is_final(state.status)) {
    const engine::Command* schedule = nullptr;
    for (const auto& command : step.commands)
      if (command.type == engine::Command::Type::schedule_activity) schedule = &command;
    if (schedule == nullptr) break;
    engine::Input started;
    started.type = engine::Input::Type::activity_started;
    started.activity_id = schedule->activity_id;
    started.attempt = schedule->attempt;
    started.time_ms = ++now;
    const engine::Command copy = *schedule;
    feed(started);
    engine::Input completed;
    completed.type = engine::Input::Type::activity_completed;
    completed.activity_id = copy.activity_id;
    completed.attempt = copy.attempt;
    completed.payload = json{{"ok", true}, {"droneId", "drone-001"}};
    completed.time_ms = ++now;
    step = feed(completed);
  }
  if (state.status != engine::WorkflowStatus::completed) throw std::runtime_error("bench workflow did not complete");
  return inputs;
}

void BM_FiveStepTransitions(benchmark::State& bench) {
  const auto definition = five_step();
  std::int64_t inputs = 0;
  int n = 0;
  for (auto _ : bench) inputs += run_five_step(*definition, n++, false);
  bench.SetItemsProcessed(inputs);
  bench.counters["transitions_per_s"] = benchmark::Counter(static_cast<double>(inputs), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_FiveStepTransitions);

void BM_FiveStepTransitionsWithStateJson(benchmark::State& bench) {
  const auto definition = five_step();
  std::int64_t inputs = 0;
  int n = 0;
  for (auto _ : bench) inputs += run_five_step(*definition, n++, true);
  bench.SetItemsProcessed(inputs);
  bench.counters["transitions_per_s"] = benchmark::Counter(static_cast<double>(inputs), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_FiveStepTransitionsWithStateJson);

engine::DefinitionPtr compile_delivery(const engine::SourceDocument& document) {
  engine::CompileOptions options;
  memory::MemoryServiceStore names_only;  // never called: this registry only answers names
  activities::ActivityRegistry names;
  activities::register_delivery_activities(names, names_only);
  options.is_known_activity = [&](std::string_view name) { return names.contains(name); };
  return engine::compile_definition(document, options);
}

const std::string delivery_path = std::string(FLIGHTPLAN_SOURCE_DIR) + "/workflows/delivery.yaml";

// Loading the delivery definition: YAML parsing, validation, and the compilation of its jq expressions
// (which dominates: jq 1.6 parses its builtin library on every jq_compile).
void BM_LoadDeliveryDefinition(benchmark::State& bench) {
  for (auto _ : bench) benchmark::DoNotOptimize(compile_delivery(yaml::load_yaml_file(delivery_path)));
}
BENCHMARK(BM_LoadDeliveryDefinition)->Unit(benchmark::kMillisecond);

// The whole delivery saga in process: engine, jq, activities, virtual time.
void BM_DeliverySagaInProcess(benchmark::State& bench) {
  const auto definition = compile_delivery(yaml::load_yaml_file(delivery_path));
  const json input = json::parse(R"({"deliveryId": "d-1", "ownerId": "o-1", "pickupLocation": "47.6097,-122.3331",
    "deadline": "2026-11-22T00:00:00Z", "dropOffLocation": "47.6740,-122.1215",
    "packageInfo": {"packageId": "p-1", "size": "small", "weight": 2.5, "tag": "t"}})");
  std::int64_t events = 0;
  std::int64_t workflows = 0;
  for (auto _ : bench) {
    memory::MemoryServiceStore service_store;  // a fresh fleet: the drones are not released on success
    activities::ActivityRegistry registry;
    activities::register_delivery_activities(registry, service_store);
    runtime::ManualClock clock(start_ms);
    memory::LocalRuntime runtime(registry, activities::FaultInjector{}, clock);
    runtime.start(definition, "wf", input);
    runtime.run();
    events += static_cast<std::int64_t>(runtime.workflow("wf").events.size());
    ++workflows;
  }
  bench.SetItemsProcessed(workflows);
  bench.counters["events_per_workflow"] = static_cast<double>(events) / static_cast<double>(workflows);
}
BENCHMARK(BM_DeliverySagaInProcess);

// One evaluation through Expression::evaluate: conversion of the input and variables, the sandbox and
// budget preludes, the memory accounting, the result's conversion. Compare with BM_LibjqDirect (the
// same program in bare libjq) and with the same benchmark built from an earlier commit
// (docs/benchmarks.md, "Bounded expressions").
const json bench_input = json{{"ownerId", "o-1"}, {"packageId", "p-1"}, {"deliveryId", "d-1"}};
const json bench_result = json{{"ok", true}, {"droneId", "drone-001"}, {"n", 7}};

void evaluate_bench(benchmark::State& bench, const std::string& source) {
  const auto expression = engine::Expression::compile(source, {"input"});
  const engine::Binding bindings[] = {{"input", &bench_input}};
  for (auto _ : bench) benchmark::DoNotOptimize(expression->evaluate(bench_result, bindings));
  bench.SetItemsProcessed(bench.iterations());
}
void BM_ExpressionMerge(benchmark::State& bench) { evaluate_bench(bench, "$input + {account: .}"); }
BENCHMARK(BM_ExpressionMerge);
void BM_ExpressionInterpolation(benchmark::State& bench) {
  evaluate_bench(bench, "\"drone \\(.droneId) for \\($input.deliveryId) (\\(.n))\"");
}
BENCHMARK(BM_ExpressionInterpolation);
void BM_ExpressionMultiply(benchmark::State& bench) { evaluate_bench(bench, ".n * 3 + 1"); }
BENCHMARK(BM_ExpressionMultiply);
void BM_ExpressionSelect(benchmark::State& bench) {
  evaluate_bench(bench, "[$input | to_entries[] | select(.value | test(\"^[a-z]-1$\")) | .key] | sort");
}
BENCHMARK(BM_ExpressionSelect);

// BM_ExpressionMerge's program in bare libjq: arguments built once, no prelude, no conversions.
void BM_LibjqDirect(benchmark::State& bench) {
  jq_state* jq = jq_init();
  if (jq == nullptr || !jq_compile(jq, ". as [$in, $input] | $in | $input + {account: .}"))
    throw std::runtime_error("cannot compile");
  jv arguments = jv_parse(json::array({bench_result, bench_input}).dump().c_str());
  for (auto _ : bench) {
    jq_start(jq, jv_copy(arguments), 0);
    jv result = jq_next(jq);
    benchmark::DoNotOptimize(result);
    jv_free(result);
  }
  jq_start(jq, jv_null(), 0);
  jv_free(arguments);
  jq_teardown(&jq);
  bench.SetItemsProcessed(bench.iterations());
}
BENCHMARK(BM_LibjqDirect);

}  // namespace

BENCHMARK_MAIN();

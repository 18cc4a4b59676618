// What the dashboard and `GET /api/v1/workflows` cost with many workflows stored: list pages and
// counts from the Redis store's visibility indexes (docs/redis-keys.md), on a private redis-server
// loaded with FLIGHTPLAN_VISIBILITY_WORKFLOWS workflows (default 100,000). Not a test: run by hand,
// see docs/benchmarks.md.
#include "flightplan/redis/redis_store.hpp"
#include "flightplan/redis/server_process.hpp"

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace {

using flightplan::engine::WorkflowQuery;
using flightplan::engine::WorkflowStatus;

constexpr WorkflowStatus statuses[] = {WorkflowStatus::running, WorkflowStatus::waiting, WorkflowStatus::completed,
                                       WorkflowStatus::faulted, WorkflowStatus::compensated};
constexpr int names = 4;
constexpr int batch = 1000;

int workflow_count() {
  const char* text = std::getenv("FLIGHTPLAN_VISIBILITY_WORKFLOWS");
  return text != nullptr ? std::max(1, std::atoi(text)) : 100'000;
}

// One first commit per workflow: a summary like a real one (status, definition, start time) and a
// one-event history. Status and name cycle so that every (status, name) pair holds 1/20 of them.
void load(flightplan::redis::RedisStore& store, int count) {
  for (int first = 0; first < count; first += batch) {
    std::vector<flightplan::engine::WorkflowState> states;
    std::vector<std::vector<flightplan::engine::Event>> events;
    const int last = std::min(count, first + batch);
    states.reserve(static_cast<std::size_t>(last - first));
    events.reserve(states.capacity());
    for (int k = first; k < last; ++k) {
      char id[24];
      std::snprintf(id, sizeof id, "wf-%07d", k);
      flightplan::engine::WorkflowState state;
      state.id = id;
      state.name = "definition-" + std::to_string(k % names);
      state.version = "1.0.0";
      state.status = statuses[(k / names) % 5];
      state.started_ms = 1'795'219'200'000 + k * 10;
      state.updated_ms = state.started_ms + 5;
      if (flightplan::engine::is_final(state.status)) state.closed_ms = state.updated_ms;
      state.history_length = 1;
      states.push_back(std::move(state));
      flightplan::engine::Event started;
      started.seq = 1;
      started.time_ms = states.back().started_ms;
      started.type = "workflow_started";
      started.reference = "/";
      events.push_back({started});
    }
    const std::vector<flightplan::engine::Command> no_commands;
    std::vector<flightplan::engine::Commit> commits;
    for (std::size_t i = 0; i < states.size(); ++i)
      commits.push_back({states[i].id, 0, &states[i], &events[i], &no_commands, ""});
    store.commit(commits);
  }
}

struct Dataset {
  flightplan::redis::ServerProcess server;
  std::unique_ptr<flightplan::redis::RedisStore> store;
  int count = workflow_count();

  Dataset() {
    flightplan::redis::RedisStoreSettings settings;
    settings.pool.client.url = server.url();
    store = std::make_unique<flightplan::redis::RedisStore>(settings);
    load(*store, count);
  }
};

Dataset& dataset() {
  static Dataset instance;
  return instance;
}

void run_query(benchmark::State& state, const WorkflowQuery& query) {
  auto& store = *dataset().store;
  std::size_t rows = 0;
  for (auto _ : state) {
    const auto page = store.list_workflows(query);
    rows = page.workflows.size();
    benchmark::DoNotOptimize(rows);
  }
  state.counters["rows"] = static_cast<double>(rows);
  state.counters["stored"] = dataset().count;
}

void BM_FirstPageAll(benchmark::State& state) {
  WorkflowQuery query;
  query.limit = 50;
  run_query(state, query);
}

void BM_FirstPageByStatus(benchmark::State& state) {
  WorkflowQuery query;
  query.status = WorkflowStatus::completed;
  query.limit = 50;
  run_query(state, query);
}

void BM_FirstPageByStatusAndName(benchmark::State& state) {
  WorkflowQuery query;
  query.status = WorkflowStatus::faulted;
  query.name = "definition-2";
  query.limit = 50;
  run_query(state, query);
}

void BM_PageByIdPrefix(benchmark::State& state) {
  WorkflowQuery query;
  query.id_prefix = "wf-00123";
  query.limit = 50;
  run_query(state, query);
}

// A page deep into the list: the cursor of page 100 of "all" (the dashboard's "next" 100 times).
void BM_DeepPageAll(benchmark::State& state) {
  WorkflowQuery query;
  query.limit = 50;
  for (int page = 0; page < 100; ++page) query.cursor = dataset().store->list_workflows(query).next_cursor;
  run_query(state, query);
}

void BM_CountsPerStatus(benchmark::State& state) {
  auto& store = *dataset().store;
  for (auto _ : state) benchmark::DoNotOptimize(store.count_workflows());
  state.counters["stored"] = dataset().count;
}

void BM_CountsPerStatusOfOneName(benchmark::State& state) {
  auto& store = *dataset().store;
  for (auto _ : state) benchmark::DoNotOptimize(store.count_workflows("definition-1"));
  state.counters["stored"] = dataset().count;
}

BENCHMARK(BM_FirstPageAll)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_FirstPageByStatus)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_FirstPageByStatusAndName)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_PageByIdPrefix)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DeepPageAll)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_CountsPerStatus)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_CountsPerStatusOfOneName)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();

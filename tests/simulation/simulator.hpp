#pragma once
// The deterministic simulator of the flightplan runtime (../shared/SIMULATION.md, docs/testing.md).
//
// One seed drives a world of several simulated processes — each a real Orchestrator, WorkerPool
// (with the real activity services) and Supervisor, never started as threads — over the memory
// store and the memory services' store (the "disk"), with one simulated clock. A seeded scheduler
// decides who runs next and injects the faults the seed chose: process crashes at any store call
// (memory lost, disk kept) and between steps, failed store calls and lost replies, spurious commit
// conflicts, tasks running past their lease, slow heartbeats, clock jumps and per-process skew,
// activity failures, hangs and latencies, and operator actions (cancel, terminate, pause, resume,
// retry, signals) at random moments. Probabilities are drawn from the seed too: some runs are calm,
// some are storms. After a storm phase the world calms down (faults off, crashed processes back,
// paused workflows resumed) and runs until every workflow has ended; then invariants are checked.
// The same seed gives the same run, byte for byte: its trace hash says so.
#include <cstdint>
#include <string>
#include <vector>

namespace flightplan::simulation {

struct SimulationOptions {
  std::uint64_t seed = 1;
  int workflows = 0;    // 0: chosen by the seed (4..16)
  bool trace = false;   // keep the whole trace text in the result
  bool calm = false;    // no infrastructure faults at all (activity faults and operators still act)
};

struct SimulationResult {
  std::uint64_t seed = 0;
  bool ok = true;
  std::vector<std::string> failures;  // every broken invariant, with the workflow it concerns
  std::uint64_t trace_hash = 0;       // FNV-1a of the trace: equal for equal runs
  std::string trace;                  // when options.trace
  std::int64_t steps = 0;
  std::int64_t crashes = 0;
  std::int64_t virtual_ms = 0;
  int workflows = 0;
  std::string summary;  // one line: the seed's swarm settings and the workflows' final statuses
};

SimulationResult simulate(const SimulationOptions& options);

}  // namespace flightplan::simulation

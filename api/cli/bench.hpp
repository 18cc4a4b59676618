#pragma once
// `flightplan bench`: a closed-loop load generator for a running flightplan API (docs/benchmarks.md).
// C concurrent clients each submit a workflow, wait for it to be final (long polls: the server
// answers when it closes; or, with wait_ms 0, by polling), and start the next, until N have run;
// latency is submit -> final status observed. Every request has a deadline and so does
// the whole run, so the command always ends.
#include <cstdint>
#include <ostream>
#include <string>

namespace flightplan::cli {

struct BenchOptions {
  std::string url = "http://127.0.0.1:8080";  // http only; the API's base (no path)
  std::string workflow = "bench-5step";       // bench-5step | delivery
  int workflows = 2000;                       // measured workflows (N)
  int concurrency = 50;                       // clients (C), one keep-alive connection each
  int warmup = 100;                           // workflows run before measuring, not counted
  double timeout_s = 300;                     // the whole run, warm-up included
  std::string input;                          // input template: JSON text or @file; default built in
  int wait_ms = 5000;  // long-poll wait (?wait=, at most 2/3 of request_timeout_ms); 0: poll every poll_ms
  int poll_ms = 2;                            // pause between two status polls (wait_ms 0 only)
  int request_timeout_ms = 10'000;            // one HTTP request, connect included
  std::string id_prefix;                      // workflow ids are PREFIX-w<i> / PREFIX-<i>; default unique
};

// Runs the benchmark and prints one JSON object on `out`:
// {workflows, ok, failed, seconds, throughput_per_s, latency_ms: {p50, p95, p99, max}, ...}.
// Returns 0 when every measured workflow completed, 1 otherwise, 2 for bad options.
int bench_command(const BenchOptions& options, std::ostream& out, std::ostream& err);

}  // namespace flightplan::cli

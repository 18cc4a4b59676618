// `simulate`: runs the deterministic simulator (simulator.hpp) for one seed or a range of seeds.
//   simulate --seed 42 [--trace]       one run; --trace prints every step
//   simulate --seeds 1-500 [--jobs 2]  many runs; prints each failing seed and a summary
//   simulate --seeds 1-20 --twice      runs each seed twice and requires identical traces
// Exit code: 0 all passed, 1 a seed failed (or diverged between two runs), 2 bad arguments.
#include "simulator.hpp"

#include "flightplan/runtime/log.hpp"

#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>

using namespace flightplan;

namespace {

bool parse_range(const std::string& text, std::uint64_t& first, std::uint64_t& last) {
  const auto dash = text.find('-');
  try {
    first = std::stoull(text.substr(0, dash));
    last = dash == std::string::npos ? first : std::stoull(text.substr(dash + 1));
  } catch (const std::exception&) {
    return false;
  }
  return first <= last;
}

void report_failure(const simulation::SimulationResult& result) {
  std::cout << "FAILED seed " << result.seed << " (re-run: simulate --seed " << result.seed << " --trace)\n  "
            << result.summary << "\n";
  for (const std::string& failure : result.failures) std::cout << "  - " << failure << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Deterministic simulation of the flightplan runtime"};
  std::uint64_t seed = 0;
  std::string seeds;
  bool trace = false;
  bool twice = false;
  bool calm = false;
  int workflows = 0;
  int jobs = 1;
  app.add_option("--seed", seed, "run one seed");
  app.add_option("--seeds", seeds, "run a range of seeds, FIRST-LAST");
  app.add_option("--workflows", workflows, "workflows per run (default: chosen by the seed)");
  app.add_option("--jobs", jobs, "seeds run in parallel")->check(CLI::Range(1, 64));
  app.add_flag("--trace", trace, "print the trace of a single seed");
  app.add_flag("--twice", twice, "run every seed twice and compare the traces");
  app.add_flag("--calm", calm, "no infrastructure faults");
  CLI11_PARSE(app, argc, argv);
  runtime::set_log_level(runtime::LogLevel::error);
  std::uint64_t first = seed;
  std::uint64_t last = seed;
  if (!seeds.empty() && !parse_range(seeds, first, last)) {
    std::cerr << "simulate: --seeds takes FIRST-LAST, got '" << seeds << "'\n";
    return 2;
  }
  if (seeds.empty() && seed == 0) {
    std::cerr << "simulate: give --seed N or --seeds FIRST-LAST\n";
    return 2;
  }
  if (seeds.empty()) {
    simulation::SimulationOptions options{seed, workflows, trace, calm};
    const simulation::SimulationResult result = simulation::simulate(options);
    if (trace) std::cout << result.trace;
    std::cout << "seed " << seed << ": " << (result.ok ? "ok" : "FAILED") << ", " << result.workflows
              << " workflows, " << result.steps << " steps, " << result.crashes << " crashes, "
              << result.virtual_ms / 1000 << " s virtual, trace " << std::hex << result.trace_hash << std::dec
              << "\n  " << result.summary << "\n";
    if (!result.ok) report_failure(result);
    return result.ok ? 0 : 1;
  }
  const auto began = std::chrono::steady_clock::now();
  std::atomic<std::uint64_t> next{first};
  std::atomic<int> failed{0};
  std::mutex output;
  auto worker = [&] {
    for (std::uint64_t s = next++; s <= last; s = next++) {
      simulation::SimulationOptions options{s, workflows, false, calm};
      const simulation::SimulationResult result = simulation::simulate(options);
      bool ok = result.ok;
      std::string divergence;
      if (twice) {
        const simulation::SimulationResult again = simulation::simulate(options);
        if (again.trace_hash != result.trace_hash) {
          ok = false;
          divergence = "the same seed ran differently the second time (not deterministic)";
        }
      }
      if (!ok) {
        ++failed;
        std::lock_guard lock(output);
        report_failure(result);
        if (!divergence.empty()) std::cout << "  - " << divergence << "\n";
      }
    }
  };
  std::vector<std::thread> threads;
  for (int j = 0; j < jobs; ++j) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  const std::uint64_t count = last - first + 1;
  std::printf("%llu seeds (%llu-%llu), %d failed, %.1f s, %.1f seeds/s\n", static_cast<unsigned long long>(count),
              static_cast<unsigned long long>(first), static_cast<unsigned long long>(last), failed.load(), seconds,
              static_cast<double>(count) / seconds);
  return failed == 0 ? 0 : 1;
}

#include "simulator.hpp"

#include "faulty_stores.hpp"
#include "invariants.hpp"

#include "flightplan/activities/activity.hpp"
#include "flightplan/activities/fault_injection.hpp"
#include "flightplan/engine/compiler.hpp"
#include "flightplan/engine/hash.hpp"
#include "flightplan/memory/memory_service_store.hpp"
#include "flightplan/memory/memory_store.hpp"
#include "flightplan/runtime/clock.hpp"
#include "flightplan/runtime/definitions.hpp"
#include "flightplan/runtime/orchestrator.hpp"
#include "flightplan/runtime/supervisor.hpp"
#include "flightplan/runtime/worker_pool.hpp"
#include "flightplan/yaml/yaml_loader.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>

namespace flightplan::simulation {

using engine::Input;
using nlohmann::json;

namespace {

// 2026-11-21T00:00:00Z, as the workflow tests use.
constexpr std::int64_t start_ms = 1795219200000;
constexpr std::int64_t minute_ms = 60'000;
constexpr std::int64_t storm_ms = 30 * minute_ms;                // faults are injected this long
constexpr std::int64_t run_span_ms = 20LL * 24 * 3600 * 1000;     // every workflow must end within it
constexpr std::int64_t steps_max = 400'000;

// splitmix64: the simulator's only source of randomness, owned by the world and seeded once.
class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double unit() { return static_cast<double>(next() >> 11) / 9007199254740992.0; }
  bool chance(double p) { return p > 0 && unit() < p; }
  std::int64_t below(std::int64_t n) { return n <= 1 ? 0 : static_cast<std::int64_t>(next() % static_cast<std::uint64_t>(n)); }
  std::int64_t between(std::int64_t low, std::int64_t high) { return low + below(high - low + 1); }
  double uniform(double low, double high) { return low + (high - low) * unit(); }

 private:
  std::uint64_t state_;
};

// A process's view of time: the world's clock plus its own skew. Steps never wait.
class SkewedClock final : public runtime::Clock {
 public:
  SkewedClock(const runtime::ManualClock& world, std::int64_t skew_ms) : world_(world), skew_ms_(skew_ms) {}
  std::int64_t now_ms() const override { return world_.now_ms() + skew_ms_; }
  void wait_until(std::int64_t) override {}

 private:
  const runtime::ManualClock& world_;
  std::int64_t skew_ms_;
};

// The seed's swarm: how stormy this run is.
struct Swarm {
  int processes = 2;
  double store_fail = 0;       // a store call fails before doing anything
  double lose_reply = 0;       // a store call succeeds, its reply is lost
  double crash_at_call = 0;    // a process dies at a store call (before or after it)
  double conflict = 0;         // a commit reports a spurious conflict
  double crash_per_step = 0;   // a process dies between steps
  double restart = 0.02;       // a dead process comes back, per step
  std::int64_t skew_ms_max = 0;
  double clock_jump = 0;       // time leaps minutes ahead
  double renew = 0.5;          // a task in progress renews its lease when its worker gets a turn
  double operators = 0;        // an operator acts, per step
  std::int64_t lease_ms = 30'000;
  std::int64_t visibility_ms = 10'000;
  activities::FaultRule activity_faults;

  std::string describe() const {
    char text[400];
    std::snprintf(text, sizeof text,
                  "processes=%d store_fail=%.3f lose_reply=%.3f crash_at_call=%.4f conflict=%.3f "
                  "crash_per_step=%.4f skew_ms<=%lld clock_jump=%.4f renew=%.2f operators=%.3f lease_ms=%lld "
                  "visibility_ms=%lld activity fail=%.2f hang=%.3f latency_ms=%lld",
                  processes, store_fail, lose_reply, crash_at_call, conflict, crash_per_step,
                  static_cast<long long>(skew_ms_max), clock_jump, renew, operators,
                  static_cast<long long>(lease_ms), static_cast<long long>(visibility_ms),
                  activity_faults.fail_rate, activity_faults.hang_rate,
                  static_cast<long long>(activity_faults.latency_ms));
    return text;
  }
};

Swarm draw_swarm(Random& random, bool calm) {
  Swarm s;
  s.processes = static_cast<int>(random.between(1, 3));
  if (!calm) {
    if (random.chance(0.5)) s.store_fail = random.uniform(0, 0.05);
    if (random.chance(0.5)) s.lose_reply = random.uniform(0, 0.05);
    if (random.chance(0.4)) s.crash_at_call = random.uniform(0, 0.005);
    if (random.chance(0.4)) s.conflict = random.uniform(0, 0.1);
    if (random.chance(0.5)) s.crash_per_step = random.uniform(0, 0.003);
    if (random.chance(0.3)) s.skew_ms_max = random.between(1, 3000);
    if (random.chance(0.3)) s.clock_jump = random.uniform(0, 0.002);
  }
  // Workers heartbeat their tasks in progress at each turn; some runs have slow heartbeats.
  s.renew = random.chance(0.3) ? random.uniform(0.05, 0.5) : random.uniform(0.8, 1.0);
  if (random.chance(0.5)) s.operators = random.uniform(0.0005, 0.01);
  const std::int64_t leases[] = {2'000, 5'000, 30'000};
  s.lease_ms = leases[random.below(3)];
  s.visibility_ms = random.chance(0.5) ? 2'000 : 10'000;
  if (random.chance(0.6)) s.activity_faults.fail_rate = random.uniform(0, 0.3);
  if (random.chance(0.3)) s.activity_faults.hang_rate = random.uniform(0, 0.05);
  if (random.chance(0.5)) s.activity_faults.latency_ms = random.between(1, 4'000);
  return s;
}

// The shipped definitions, compiled once for every run (a compiled definition is immutable).
struct Definitions {
  engine::DefinitionPtr delivery;
  engine::DefinitionPtr bench;
  json drone_input;
  json carrier_input;
  json bench_input;
};

json read_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

const Definitions& definitions() {
  static const Definitions loaded = [] {
    activities::ActivityRegistry known;
    memory::MemoryServiceStore services;
    activities::register_delivery_activities(known, services);
    activities::register_bench_activities(known);
    engine::CompileOptions options;
    options.is_known_activity = [&known](std::string_view name) { return known.contains(name); };
    const std::string root = FLIGHTPLAN_SOURCE_DIR;
    Definitions d;
    d.delivery = engine::compile_definition(yaml::load_yaml_file(root + "/workflows/delivery.yaml"), options);
    d.bench = engine::compile_definition(yaml::load_yaml_file(root + "/workflows/bench-5step.yaml"), options);
    d.drone_input = read_json(root + "/workflows/examples/delivery-input.json");
    d.carrier_input = read_json(root + "/tests/bench/delivery-carrier-input.json");
    d.bench_input = read_json(root + "/workflows/examples/bench-5step-input.json");
    return d;
  }();
  return loaded;
}

struct PlannedWorkflow {
  std::string id;
  std::string kind;  // drone, carrier, bench
  engine::DefinitionPtr definition;
  json input;
  std::int64_t start_at_ms = 0;
  bool started = false;
};

class World;

// One simulated process: the runtime's real roles on its own view of the disk and of time.
struct Process {
  int slot = 0;
  int generation = 0;
  SkewedClock clock;
  FaultyStore store;
  FaultyServiceStore services;
  activities::ActivityRegistry registry;
  runtime::DefinitionRegistry definitions;
  std::unique_ptr<runtime::Orchestrator> orchestrator;
  std::unique_ptr<runtime::WorkerPool> workers;
  std::unique_ptr<runtime::Supervisor> supervisor;
  std::vector<runtime::TaskRun> in_progress;

  Process(World& world, int slot, int generation, std::int64_t skew_ms);
  std::string name() const { return "p" + std::to_string(slot) + "." + std::to_string(generation); }
};

class World {
 public:
  World(const SimulationOptions& options)
      : options_(options), random_(options.seed), clock_(start_ms), disk_(clock_) {
    swarm_ = draw_swarm(random_, options.calm);
    faults_ = activities::FaultInjector(options.seed);
    faults_.set_rule("*", swarm_.activity_faults);
    plan_workload();
    for (int slot = 0; slot < swarm_.processes; ++slot) processes_.push_back(spawn(slot));
  }

  SimulationResult run();

  // --- used by Process ---
  Fault pick(const char* operation) {
    if (calm_) return Fault::none;
    if (std::string_view(operation) == "commit.conflict") return random_.chance(swarm_.conflict) ? Fault::conflict : Fault::none;
    if (random_.chance(swarm_.crash_at_call)) return random_.chance(0.5) ? Fault::crash_before : Fault::crash_after;
    if (random_.chance(swarm_.store_fail)) return Fault::fail_before;
    if (random_.chance(swarm_.lose_reply)) return Fault::lose_reply;
    return Fault::none;
  }
  memory::MemoryStore& disk() { return disk_; }
  memory::MemoryServiceStore& service_disk() { return service_disk_; }
  const runtime::ManualClock& clock() const { return clock_; }
  const activities::FaultInjector& faults() const { return faults_; }
  const Swarm& swarm() const { return swarm_; }

 private:
  void plan_workload();
  std::unique_ptr<Process> spawn(int slot);
  void note(const std::string& line);
  // One scheduling step; returns whether anything changed (time moving does not count).
  bool step();
  bool step_process(Process& process);
  void start_due_workflows();
  void operator_action();
  void crash(std::size_t slot, const std::string& where);
  std::optional<std::int64_t> next_due_ms();
  void calm_down();
  bool all_final();
  bool check_each_step();

  SimulationOptions options_;
  Random random_;
  Swarm swarm_;
  runtime::ManualClock clock_;
  memory::MemoryStore disk_;
  memory::MemoryServiceStore service_disk_;
  activities::FaultInjector faults_;
  std::vector<std::unique_ptr<Process>> processes_;  // null: crashed, waiting for a restart
  std::vector<int> generations_;
  std::vector<PlannedWorkflow> plan_;
  bool calm_ = false;
  std::string trace_;
  std::uint64_t trace_hash_ = engine::fnv1a_64("");
  std::int64_t steps_ = 0;
  std::int64_t crashes_ = 0;
  std::vector<std::string> failures_;
};

Process::Process(World& world, int slot_, int generation_, std::int64_t skew_ms)
    : slot(slot_),
      generation(generation_),
      clock(world.clock(), skew_ms),
      store(world.disk(), [&world](const char* operation) { return world.pick(operation); }),
      services(world.service_disk(), [&world](const char* operation) { return world.pick(operation); }),
      definitions(runtime::SourceLoader{}, clock) {
  activities::register_delivery_activities(registry, services);
  activities::register_bench_activities(registry);
  definitions.add(simulation::definitions().delivery);
  definitions.add(simulation::definitions().bench);
  runtime::OrchestratorSettings o;
  o.consumer = name() + "/orchestrator";
  o.block_ms = 0;
  o.visibility_ms = world.swarm().visibility_ms;
  // The time budget is watched on the wall clock, which a seed must not depend on; the definitions
  // simulated here hold no runaway expression, and the memory budget (deterministic) still applies.
  o.expression_time_budget_ms = 0;
  orchestrator = std::make_unique<runtime::Orchestrator>(store, definitions, clock, o);
  runtime::WorkerSettings w;
  w.consumer = name();
  w.block_ms = 0;
  w.batch_max = 4;
  w.lease_ms = world.swarm().lease_ms;
  workers = std::make_unique<runtime::WorkerPool>(store, registry, world.faults(), clock, w);
  supervisor = std::make_unique<runtime::Supervisor>(store, clock, runtime::SupervisorSettings{});
}

void World::plan_workload() {
  const Definitions& d = definitions();
  const int count = options_.workflows > 0 ? options_.workflows : static_cast<int>(random_.between(4, 16));
  for (int i = 0; i < count; ++i) {
    PlannedWorkflow w;
    const std::int64_t pick = random_.below(10);
    w.kind = pick < 4 ? "drone" : pick < 7 ? "carrier" : "bench";
    char id[32];
    std::snprintf(id, sizeof id, "%s-%02d", w.kind.c_str(), i);
    w.id = id;
    if (w.kind == "bench") {
      w.definition = d.bench;
      w.input = d.bench_input;
      w.input["deliveryId"] = w.id;
      w.input["seq"] = i;
    } else {
      w.definition = d.delivery;
      w.input = w.kind == "drone" ? d.drone_input : d.carrier_input;
      w.input["deliveryId"] = w.id;
      w.input["packageInfo"]["packageId"] = "pkg-" + w.id;
      w.input.erase("pickupTime");
    }
    w.start_at_ms = start_ms + random_.below(10 * minute_ms);
    plan_.push_back(std::move(w));
  }
  std::stable_sort(plan_.begin(), plan_.end(),
                   [](const PlannedWorkflow& a, const PlannedWorkflow& b) { return a.start_at_ms < b.start_at_ms; });
}

std::unique_ptr<Process> World::spawn(int slot) {
  if (generations_.size() <= static_cast<std::size_t>(slot)) generations_.resize(static_cast<std::size_t>(slot) + 1, 0);
  const int generation = ++generations_[static_cast<std::size_t>(slot)];
  const std::int64_t skew_ms = swarm_.skew_ms_max > 0 && !calm_ ? random_.between(-swarm_.skew_ms_max, swarm_.skew_ms_max) : 0;
  auto process = std::make_unique<Process>(*this, slot, generation, skew_ms);
  note("spawn " + process->name() + " skew " + std::to_string(skew_ms));
  return process;
}

void World::note(const std::string& line) {
  const std::string entry = std::to_string(clock_.now_ms() - start_ms) + " " + line + "\n";
  trace_hash_ = engine::fnv1a_64(std::to_string(trace_hash_) + entry);
  if (options_.trace) trace_ += entry;
}

void World::crash(std::size_t slot, const std::string& where) {
  note("crash " + processes_[slot]->name() + " " + where);
  processes_[slot].reset();  // its memory is gone; the disk keeps what it committed
  ++crashes_;
}

void World::start_due_workflows() {
  for (PlannedWorkflow& w : plan_) {
    if (w.started || w.start_at_ms > clock_.now_ms()) continue;
    // A client calls one of the live servers; a failed call is retried later with the same id.
    std::vector<std::size_t> live;
    for (std::size_t s = 0; s < processes_.size(); ++s)
      if (processes_[s]) live.push_back(s);
    if (live.empty()) return;
    const std::size_t slot = live[static_cast<std::size_t>(random_.below(static_cast<std::int64_t>(live.size())))];
    runtime::StartRequest request;
    request.workflow = w.definition->document.name;
    request.id = w.id;
    request.input = w.input;
    try {
      processes_[slot]->orchestrator->start(request);
      w.started = true;
      note("start " + w.id + " via " + processes_[slot]->name());
    } catch (const SimulatedCrash& crashed) {
      crash(slot, crashed.where);
    } catch (const std::exception& e) {
      note("start " + w.id + " failed: " + e.what());
    }
  }
}

void World::operator_action() {
  std::vector<const PlannedWorkflow*> started;
  for (const PlannedWorkflow& w : plan_)
    if (w.started) started.push_back(&w);
  std::vector<std::size_t> live;
  for (std::size_t s = 0; s < processes_.size(); ++s)
    if (processes_[s]) live.push_back(s);
  if (started.empty() || live.empty()) return;
  const PlannedWorkflow& w = *started[static_cast<std::size_t>(random_.below(static_cast<std::int64_t>(started.size())))];
  const std::size_t slot = live[static_cast<std::size_t>(random_.below(static_cast<std::int64_t>(live.size())))];
  Process& process = *processes_[slot];
  const std::int64_t now_ms = process.clock.now_ms();
  Input input;
  switch (random_.below(8)) {
    case 0: input = Input::cancel("simulated operator", now_ms); break;
    case 1: input = Input::terminate("simulated operator", now_ms); break;
    case 2: input = Input::pause("simulated operator", now_ms); break;
    case 3: input = Input::resume("simulated operator", now_ms); break;
    case 4: input = Input::retry("simulated operator", now_ms); break;
    case 5:
      input = Input::signal("reschedule", json{{"dropOffLocation", "47.6650,-122.1500"}}, now_ms);
      break;
    case 6:
      input = Input::signal("confirmation", json{{"dateTime", "2026-11-21T01:00:00Z"}}, now_ms);
      break;
    default: input = Input::signal("delivered", json{{"plan", 99}}, now_ms); break;  // stale: ignored
  }
  try {
    process.store.enqueue_input(w.id, input);
    note("operator " + std::string(engine::to_string(input.type)) + " " + input.name + " " + w.id);
  } catch (const SimulatedCrash& crashed) {
    crash(slot, crashed.where);
  } catch (const std::exception& e) {
    note("operator failed: " + std::string(e.what()));
  }
}

// One turn of one process: its orchestrator, its workers or its supervisor, as the dice say.
bool World::step_process(Process& process) {
  // Heartbeats of the tasks in progress (or, with slow heartbeats, not).
  for (const runtime::TaskRun& run : process.in_progress) {
    if (random_.chance(swarm_.renew)) process.workers->renew(run);
    // A run that takes long reports its start on its own (on threads, the lease keeper's job); the
    // outcome carries it too, and whichever comes second changes nothing.
    if (random_.chance(0.05)) process.workers->report_started(run);
  }
  const std::int64_t roll = random_.below(10);
  if (roll < 3) {
    const std::size_t handled = process.orchestrator->run_once(0);
    if (handled > 0) note(process.name() + " orchestrator " + std::to_string(handled));
    return handled > 0;
  }
  if (roll < 5) {
    bool any = false;
    for (const char* queue : {"account", "package", "transport", "drone", "delivery", "bench"}) {
      for (runtime::TaskRun& run : process.workers->claim(queue, process.name() + "/" + std::string(queue), 0)) {
        any = true;
        const bool begun = process.workers->begin(run);
        note(process.name() + " claim " + run.task.workflow_id + " " + run.task.activity + " #" +
             std::to_string(run.task.attempt) + " d" + std::to_string(run.task.deliveries) +
             (begun ? "" : " (lease gone)") + (run.task.cancelled ? " (cancelled)" : ""));
        if (begun) process.in_progress.push_back(std::move(run));
      }
    }
    return any;
  }
  if (roll < 8) {
    // Finish a task whose latency is over; its worker may come late (past its lease).
    for (std::size_t i = 0; i < process.in_progress.size(); ++i) {
      if (process.in_progress[i].act_at_ms > process.clock.now_ms()) continue;
      runtime::TaskRun run = std::move(process.in_progress[i]);
      process.in_progress.erase(process.in_progress.begin() + static_cast<std::ptrdiff_t>(i));
      const runtime::TaskOutcome outcome = process.workers->finish(run);
      note(process.name() + " finish " + run.task.workflow_id + " " + run.task.activity + " #" +
           std::to_string(run.task.attempt) + " " + std::string(runtime::to_string(outcome)));
      return true;
    }
    return false;
  }
  const std::size_t fired = process.supervisor->run_once();
  if (fired > 0) note(process.name() + " supervisor " + std::to_string(fired));
  return fired > 0;
}

bool World::step() {
  ++steps_;
  start_due_workflows();
  if (!calm_ && random_.chance(swarm_.operators)) operator_action();
  // Crashes between steps, and restarts.
  for (std::size_t slot = 0; slot < processes_.size(); ++slot) {
    if (processes_[slot] && !calm_ && random_.chance(swarm_.crash_per_step)) {
      // Keep one process alive during the storm, so the run makes progress.
      int live = 0;
      for (const auto& p : processes_) live += p ? 1 : 0;
      if (live > 1 || random_.chance(0.3)) crash(slot, "between steps");
    } else if (!processes_[slot] && (calm_ || random_.chance(swarm_.restart))) {
      processes_[slot] = spawn(static_cast<int>(slot));
    }
  }
  if (!calm_ && random_.chance(swarm_.clock_jump)) {
    const std::int64_t jump_ms = random_.between(1, 10) * minute_ms;
    clock_.advance(jump_ms);
    note("clock jumps " + std::to_string(jump_ms));
  }
  bool progress = false;
  // Every live process gets a turn, in an order the seed picks.
  std::vector<std::size_t> order;
  for (std::size_t s = 0; s < processes_.size(); ++s)
    if (processes_[s]) order.push_back(s);
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[static_cast<std::size_t>(random_.below(static_cast<std::int64_t>(i)))]);
  for (std::size_t slot : order) {
    if (!processes_[slot]) continue;
    try {
      progress = step_process(*processes_[slot]) || progress;
    } catch (const SimulatedCrash& crashed) {
      crash(slot, crashed.where);
      progress = true;
    } catch (const std::exception& e) {
      // What a role's thread loop does: log, back off, go again. Claimed work comes back later.
      note(processes_[slot]->name() + " round failed: " + e.what());
    }
  }
  return progress;
}

std::optional<std::int64_t> World::next_due_ms() {
  std::optional<std::int64_t> next = disk_.earliest_timer_due_ms();
  auto consider = [&next](std::int64_t due) {
    if (!next || due < *next) next = due;
  };
  for (const PlannedWorkflow& w : plan_)
    if (!w.started) consider(w.start_at_ms);
  for (const auto& process : processes_)
    if (process)
      for (const runtime::TaskRun& run : process->in_progress)
        consider(run.act_at_ms - (process->clock.now_ms() - clock_.now_ms()));
  return next;
}

void World::calm_down() {
  calm_ = true;
  note("calm");
  for (std::size_t slot = 0; slot < processes_.size(); ++slot)
    if (!processes_[slot]) processes_[slot] = spawn(static_cast<int>(slot));
  // Every paused workflow is resumed, as an operator finally would.
  for (const PlannedWorkflow& w : plan_)
    if (w.started) disk_.enqueue_input(w.id, Input::resume("simulation ends", clock_.now_ms()));
}

bool World::all_final() {
  for (const PlannedWorkflow& w : plan_) {
    if (!w.started) return false;
    const auto stored = disk_.load(w.id);
    if (!stored || !engine::is_final(stored->state.status)) return false;
  }
  return true;
}

bool World::check_each_step() {
  const std::string problem = fleet_problem_now(service_disk_);
  if (problem.empty()) return true;
  failures_.push_back("step " + std::to_string(steps_) + ": " + problem);
  return false;
}

SimulationResult World::run() {
  note("seed " + std::to_string(options_.seed) + " " + swarm_.describe());
  int idle = 0;
  while (steps_ < steps_max) {
    if (!calm_ && clock_.now_ms() - start_ms >= storm_ms) calm_down();
    if (calm_ && all_final()) break;
    if (clock_.now_ms() - start_ms > run_span_ms) break;
    const bool progress = step();
    if (!check_each_step()) break;
    if (progress) {
      idle = 0;
      if (random_.chance(0.3)) clock_.advance(random_.between(1, 200));
      continue;
    }
    // Nobody could do anything three times in a row: time moves to the next thing due, or by a
    // lease (so that work held by the dead comes back).
    if (++idle < 3) {
      clock_.advance(random_.between(1, 500));
      continue;
    }
    idle = 0;
    const std::optional<std::int64_t> next = next_due_ms();
    // While tasks are in progress, time moves by up to a third of a lease, so their workers get to
    // renew and tasks mostly take seconds, as real ones do (a fixed third made most attempts overrun
    // their start-to-close deadline and left little but timeouts to test).
    bool busy = false;
    for (const auto& process : processes_) busy = busy || (process && !process->in_progress.empty());
    std::int64_t target =
        clock_.now_ms() + (busy ? random_.between(1, std::max<std::int64_t>(1, swarm_.lease_ms / 3)) : swarm_.lease_ms);
    if (next && *next > clock_.now_ms()) target = std::min(target, *next);
    if (!calm_ && target > start_ms + storm_ms) target = start_ms + storm_ms;
    clock_.wait_until(std::max(target, clock_.now_ms() + 1));
  }
  // Every workflow has ended: let the world run on until nothing is left in flight (stale timers,
  // landing signals of cancelled flights, tasks of compensations), so that "no input or task is
  // lost" can be checked on a quiet disk.
  for (int round = 0; round < 20'000 && steps_ < steps_max; ++round) {
    bool busy = disk_.input_backlog() != 0 || disk_.earliest_timer_due_ms().has_value();
    for (const auto& [queue, depth] : disk_.queue_depths()) busy = busy || depth != 0;
    for (const auto& process : processes_) busy = busy || (process && !process->in_progress.empty());
    if (!busy) break;
    if (!step()) {
      const std::optional<std::int64_t> next = next_due_ms();
      std::int64_t target = clock_.now_ms() + swarm_.lease_ms;
      if (next && *next > clock_.now_ms()) target = std::min(target, *next);
      clock_.wait_until(std::max(target, clock_.now_ms() + 1));
    }
  }
  SimulationResult result;
  result.seed = options_.seed;
  result.steps = steps_;
  result.crashes = crashes_;
  result.virtual_ms = clock_.now_ms() - start_ms;
  result.workflows = static_cast<int>(plan_.size());
  std::vector<WorkflowExpectation> expected;
  for (const PlannedWorkflow& w : plan_) expected.push_back(WorkflowExpectation{w.id, w.kind, w.definition});
  std::vector<std::string> problems = check_invariants(disk_, service_disk_, expected);
  failures_.insert(failures_.end(), problems.begin(), problems.end());
  if (steps_ >= steps_max) failures_.push_back("the run did not end within " + std::to_string(steps_max) + " steps");
  result.failures = failures_;
  result.ok = failures_.empty();
  std::map<std::string, int> statuses;
  for (const PlannedWorkflow& w : plan_) {
    const auto stored = disk_.load(w.id);
    ++statuses[stored ? std::string(engine::to_string(stored->state.status)) : "missing"];
    if (stored && options_.trace) {
      trace_ += "end " + w.id + " " + std::string(engine::to_string(stored->state.status)) + " " +
                stored->state.error.dump() + "\n";
      if (stored->state.status != engine::WorkflowStatus::completed)
        for (const engine::Event& e : disk_.history(w.id, 0, 100'000))
          trace_ += "  " + std::to_string(e.seq) + " " + std::to_string(e.time_ms - start_ms) + " " + e.type + " " +
                    e.reference + " " + e.data.dump().substr(0, 300) + "\n";
    }
  }
  std::ostringstream summary;
  summary << swarm_.describe() << " |";
  for (const auto& [status, count] : statuses) summary << " " << status << "=" << count;
  result.summary = summary.str();
  result.trace_hash = trace_hash_;
  result.trace = trace_;
  return result;
}

}  // namespace

SimulationResult simulate(const SimulationOptions& options) {
  World world(options);
  return world.run();
}

}  // namespace flightplan::simulation

#pragma once
// The orchestrator: takes queued inputs, loads each workflow, runs the engine, and commits state,
// events and commands in one atomic step per workflow. Stateless: any number of orchestrators may
// work on one store; optimistic concurrency sorts out races, and inputs a dead orchestrator claimed
// are redelivered to another after the visibility window.
#include "flightplan/engine/store.hpp"
#include "flightplan/runtime/clock.hpp"
#include "flightplan/runtime/definitions.hpp"
#include "flightplan/runtime/expression_watchdog.hpp"
#include "flightplan/runtime/observer.hpp"

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

namespace flightplan::runtime {

struct OrchestratorSettings {
  std::string consumer = "orchestrator-1";  // unique per process
  std::size_t batch_max = 256;              // inputs claimed at once
  std::int64_t block_ms = 50;               // wait for inputs when idle
  std::int64_t visibility_ms = 10'000;      // after this, a claimed but unacknowledged input moves on
  int conflict_retries_max = 5;             // reload-and-reapply rounds before giving the input back
  engine::EngineLimits limits;  // expression_memory_bytes_max is the memory budget of each evaluation
  // Time all the expressions of one step (one engine::apply) may take together; past it the step's
  // workflow faults (docs/engine.md, "Bounded expressions"). 0: no time budget.
  std::int64_t expression_time_budget_ms = 250;
  ExpressionWatchdog* watchdog = nullptr;  // null: ExpressionWatchdog::shared(); must outlive the orchestrator
  RuntimeObserver* observer = nullptr;  // optional: workflows started and finished; must outlive the orchestrator
};

struct StartRequest {
  std::string workflow;  // definition name
  std::string version;   // empty: latest
  std::string id;        // workflow id; must be non-empty
  nlohmann::json input = nlohmann::json::object();
  std::string correlation_id;  // the HTTP request's X-Request-Id: recorded with the start, logged
};

struct StartResult {
  engine::WorkflowState state;
  bool created = false;  // false: a workflow with this id and the same definition and input existed
};

class Orchestrator {
 public:
  Orchestrator(engine::WorkflowStore& store, const DefinitionRegistry& definitions, Clock& clock,
               OrchestratorSettings settings);
  ~Orchestrator();

  // Starts a workflow at once (the caller gets its first state back). Idempotent: the same id with
  // the same definition and input returns the existing workflow; with different ones it throws
  // OperationError(conflict). Unknown definition: not_found. Store unreachable: unavailable.
  StartResult start(const StartRequest& request);

  // Claims one batch of inputs, applies and commits them, acknowledges them. Returns the number
  // of inputs handled (0 when none were waiting).
  std::size_t run_once();

  // Runs run_once() on a thread until stop(). stop() lets the current batch finish: no decision is
  // left half-done (an interrupted batch is simply redelivered).
  void start_thread();
  void stop();

 private:
  struct Batch;
  void process_workflow(const std::string& workflow_id, std::vector<engine::QueuedInput>& inputs);
  // engine::apply under the settings' limits and the step's time budget.
  engine::Step apply(const engine::Definition& definition, engine::WorkflowState& state, const engine::Input& input);

  engine::WorkflowStore& store_;
  const DefinitionRegistry& definitions_;
  Clock& clock_;
  OrchestratorSettings settings_;
  std::atomic<bool> running_{false};
  std::thread thread_;
};

// Throws OperationError(invalid_argument) unless `id` is a valid workflow id: 1 to 200 printable ASCII
// characters without spaces, '/', '%', '{' or '}' (ids become parts of store keys and URLs).
void check_workflow_id(const std::string& id);

// Fingerprint of what a start asked for: definition name, version and input.
std::string start_digest(const std::string& name, const std::string& version, const nlohmann::json& input);

}  // namespace flightplan::runtime

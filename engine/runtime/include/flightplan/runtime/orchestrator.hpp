#pragma once
// The orchestrator: takes queued inputs, loads each workflow, runs the engine, and commits state,
// events and commands in one atomic step per workflow. Stateless: any number of orchestrators may
// work on one store; optimistic concurrency sorts out races, and inputs a dead orchestrator claimed
// are redelivered to another after the visibility window.
//
// Containment: whatever goes wrong with one workflow (its definition is gone, the engine throws on
// its state, an expression runs away) stays with that workflow. Its inputs are not acknowledged and
// come back; an input handed out more than deliveries_max times goes to the dead letters and is
// replaced by one that fails the workflow's step with the reason (docs/engine.md, "Poison inputs").
// The rest of the batch commits as usual.
#include "flightplan/engine/store.hpp"
#include "flightplan/runtime/clock.hpp"
#include "flightplan/runtime/close_waiters.hpp"
#include "flightplan/runtime/definitions.hpp"
#include "flightplan/runtime/expression_watchdog.hpp"
#include "flightplan/runtime/observer.hpp"

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
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
  // An input handed out more often than deliveries_max goes to the dead letters when applying it
  // failed here (an error was seen), or when it was handed out more often than
  // unexplained_deliveries_max whatever was seen: a store that keeps failing rounds also drives the
  // count up, and that is not the input's fault (simulator seed 8043); an input that kills the
  // process applying it leaves no error behind.
  int deliveries_max = 5;
  int unexplained_deliveries_max = 20;
  engine::EngineLimits limits;  // expression_memory_bytes_max is the memory budget of each evaluation
  // Time all the expressions of one step (one engine::apply) may take together; past it the step's
  // workflow faults (docs/engine.md, "Bounded expressions"). 0: no time budget.
  std::int64_t expression_time_budget_ms = 250;
  ExpressionWatchdog* watchdog = nullptr;  // null: ExpressionWatchdog::shared(); must outlive the orchestrator
  RuntimeObserver* observer = nullptr;  // optional: workflows started and finished; must outlive the orchestrator
  CloseWaiters* close_waiters = nullptr;  // optional: told of every workflow a commit closes; must outlive it
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
  // of inputs handled (0 when none were waiting). `block_ms` < 0: the settings' block_ms.
  std::size_t run_once(std::int64_t block_ms = -1);

  // Runs run_once() on a thread until stop(). stop() lets the current batch finish: no decision is
  // left half-done (an interrupted batch is simply redelivered).
  void start_thread();
  void stop();

 private:
  // Applies `inputs` (all of one workflow) one at a time, each committed on its own, reloading on a
  // conflict. Returns the inputs it settled (applied, stale or set aside); the others failed here
  // and are left for redelivery.
  std::vector<engine::QueuedInput> process_one_by_one(const std::string& workflow_id,
                                                      const std::vector<engine::QueuedInput>& inputs);
  // Moves an input delivered too often to the dead letters with its replacement.
  void set_aside(const engine::QueuedInput& queued);
  // Whether `queued` has been handed out so often that it goes to the dead letters (see deliveries_max).
  bool is_poison(const engine::QueuedInput& queued);
  void forget_failure(const std::string& workflow_id);  // its input applied after all
  void remember_failure(const std::string& workflow_id, const std::string& error);
  // engine::apply under the settings' limits and the step's time budget.
  engine::Step apply(const engine::Definition& definition, engine::WorkflowState& state, const engine::Input& input);

  engine::WorkflowStore& store_;
  const DefinitionRegistry& definitions_;
  Clock& clock_;
  OrchestratorSettings settings_;
  std::atomic<bool> running_{false};
  std::thread thread_;
  // The last error seen per workflow (bounded), so that a dead letter can say why.
  std::mutex failures_mutex_;
  std::map<std::string, std::string> last_failure_;
};

// What replaces an input set aside as poison: an activity outcome becomes a failure of that attempt
// (its retry policy decides), a timer, cancellation or control becomes a fault of the workflow; a
// signal is dropped (kept only among the dead letters), and so is a replacement that failed again.
std::optional<engine::Input> dead_letter_replacement(const engine::QueuedInput& queued, const std::string& reason,
                                                     std::int64_t now_ms);

// Throws OperationError(invalid_argument) unless `id` is a valid workflow id: 1 to 200 printable ASCII
// characters without spaces, '/', '%', '{' or '}' (ids become parts of store keys and URLs).
void check_workflow_id(const std::string& id);

// Fingerprint of what a start asked for: definition name, version and input.
std::string start_digest(const std::string& name, const std::string& version, const nlohmann::json& input);

}  // namespace flightplan::runtime

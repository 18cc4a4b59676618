#pragma once
// What an activity worker is: a named operation that takes JSON arguments and returns a JSON result
// or a failure. Activities are deterministic given their request (time arrives in the request), keep
// their state in a ServiceStore shared by every worker process (service_store.hpp), and honour the
// idempotency key: the same key returns the first result again — in any process — and never
// repeats a side effect.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flightplan::activities {

struct ActivityRequest {
  std::string workflow_id;
  std::string activity;         // e.g. "drone.schedule"
  std::string idempotency_key;  // "<workflow id>/<task reference>/<activity id>"; stable across attempts
  int attempt = 1;
  nlohmann::json arguments;
  std::int64_t now_ms = 0;      // the (possibly virtual) time at which the activity runs
};

// An RFC 7807-shaped failure. `retryable == false` tells the engine not to retry (e.g. bad input).
struct ActivityFailure {
  std::string type;
  int status = 500;
  std::string title;
  std::string detail;
  bool retryable = true;
  // The activity cannot tell whether its effect happened (its store did not answer a commit). Such
  // a failure is not a result: the host must not report it, so that the task runs again with the
  // same idempotency key and finds out (or, if its attempt is given up, is fenced and undone).
  bool outcome_unknown = false;

  friend bool operator==(const ActivityFailure&, const ActivityFailure&) = default;
};

// A signal the effect of an activity sends to a workflow later: the simulated drone reports
// `delivered` when it lands. It leaves through the result and is recorded with it, so a repeat of
// the idempotency key returns the same signals with the same ids; the host delivers each id once.
struct DelayedSignal {
  std::string workflow_id;
  std::string name;
  nlohmann::json payload;
  std::int64_t due_ms = 0;  // absolute, on the clock of ActivityRequest::now_ms (virtual time in a simulation)
  // "<idempotency key>#<index in the result>": stable across repeats, so hosts drop duplicates by it.
  // Empty when the request had no idempotency key (nothing is remembered, nothing can repeat).
  std::string id;

  friend bool operator==(const DelayedSignal&, const DelayedSignal&) = default;
};

struct ActivityResult {
  bool ok = true;
  nlohmann::json output;
  ActivityFailure failure;
  std::vector<DelayedSignal> signals;  // only in successes

  static ActivityResult success(nlohmann::json output);
  static ActivityResult fail(std::string type, int status, std::string title, std::string detail = {},
                             bool retryable = true);

  friend bool operator==(const ActivityResult&, const ActivityResult&) = default;
};

// What a heartbeat tells the activity that sent it.
enum class Heartbeat {
  carry_on,
  // The attempt was cancelled (its workflow was cancelled, or the attempt timed out) or this worker
  // lost its task to another: stop as soon as possible. What the activity then returns changes
  // nothing in its workflow (a stale outcome, or one the lease fence refuses), except that an
  // effect it already made is undone (docs/engine.md, "Abandoned attempts and late results").
  stop,
};

// What the host offers an activity while it runs: heartbeats from a long-running activity. (Signals
// leave through ActivityResult::signals.)
class ActivityHost {
 public:
  virtual ~ActivityHost() = default;
  // Called by an activity while it runs, from the thread that runs it: "still alive", with optional
  // progress details. The host extends the attempt's heartbeat deadline (and keeps its task from
  // being redelivered to another worker), and answers whether the attempt is still wanted. Hosts
  // may throttle (a throttled call repeats the last answer); calling it often is cheap. A host that
  // runs activities instantly (the simulation) always answers carry_on.
  virtual Heartbeat heartbeat(const nlohmann::json& details) {
    (void)details;
    return Heartbeat::carry_on;
  }
};

class Activity {
 public:
  virtual ~Activity() = default;
  virtual ActivityResult execute(const ActivityRequest& request, ActivityHost& host) = 0;

  // The cancellation fence of one idempotency key (request.idempotency_key; the arguments are not
  // needed). Returns the recorded result when the effect already happened (the caller compensates
  // it or takes it), or nullopt when it did not and now never will: a later execute() with this key
  // returns a recorded failure of type https://flightplan.dev/errors/cancelled (status 499, not
  // retryable) without acting. Atomic against a concurrent execute() in any process. A service
  // activity throws ServiceStoreUnavailable when its store cannot be reached (try again). The
  // default, for stateless activities, has nothing to undo: nullopt.
  virtual std::optional<ActivityResult> cancel(const ActivityRequest& request) {
    (void)request;
    return std::nullopt;
  }
};

// Name -> activity. A name is "<queue>.<operation>"; the queue is the part before the first dot.
class ActivityRegistry {
 public:
  void add(std::string name, std::shared_ptr<Activity> activity);
  Activity* find(std::string_view name) const;
  bool contains(std::string_view name) const { return find(name) != nullptr; }
  std::vector<std::string> names() const;

 private:
  std::map<std::string, std::shared_ptr<Activity>, std::less<>> activities_;
};

class ServiceStore;

// Registers the drone-delivery activities (account.*, package.*, transport.*, drone.*, delivery.*)
// over `store`, which must outlive the registry. Registries over one store (in one process or in
// many, over Redis) share the services' state and idempotency records; a fresh MemoryServiceStore
// gives fresh services.
void register_delivery_activities(ActivityRegistry& registry, ServiceStore& store);

// Registers the benchmark workload's activities: bench.checkAccount, bench.createPackage,
// bench.checkThirdPartyTransport, bench.scheduleDrone, bench.createDelivery (trivial, stateless,
// each returns a small JSON object) and bench.undo (the compensation of any of them).
void register_bench_activities(ActivityRegistry& registry);

}  // namespace flightplan::activities

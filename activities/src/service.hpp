#pragma once
// The shared machinery of the simulated backend services. A service keeps no state in the process:
// its records and the outcome of each idempotency key live in a ServiceStore shared by every worker
// process. A handler reads and writes records through a transaction (`Records`); Service::run
// commits the writes together with the outcome of the key in one atomic, read-checked step, and runs
// the handler again when another process changed what it read in the meantime.
#include "json_args.hpp"

#include "flightplan/activities/activity.hpp"
#include "flightplan/activities/service_store.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace flightplan::activities::detail {

// How many records (packages, bookings, deliveries, flights) a service keeps before refusing more.
// A soft limit: it is checked against ServiceStore::count, outside the commit's check.
inline constexpr std::size_t records_max = 100'000;
// Commit attempts of one execution when other processes keep changing what it read; then it fails
// with a retryable 503 and the engine's retry policy takes over.
inline constexpr int commit_rounds_max = 16;

// One transaction over a service's records, as a handler sees it. Reads go to the store once per id
// and are remembered with the value seen (they become the commit's checks); writes are buffered and
// read back by later reads of the same transaction. Records are JSON objects.
class Records {
 public:
  Records(ServiceStore& store, std::string_view service) : store_(store), service_(service) {}

  std::optional<nlohmann::json> get(const std::string& id);
  // Many records in one round trip, in the order asked.
  std::vector<std::optional<nlohmann::json>> get(const std::vector<std::string>& ids);
  void put(const std::string& id, const nlohmann::json& value);
  void erase(const std::string& id);
  // Records the service holds in the store (not counting this transaction's writes).
  std::size_t count() { return store_.count(service_); }

  bool wrote() const { return !writes_.empty(); }
  std::vector<ServiceRead> reads() const;
  std::vector<ServiceWrite> writes() const;

 private:
  ServiceStore& store_;
  std::string_view service_;
  std::map<std::string, std::optional<std::string>, std::less<>> reads_;   // id -> value seen
  std::map<std::string, std::optional<std::string>, std::less<>> writes_;  // id -> value to write
};

// A signal the handler wants sent; Service::run gives it its id and puts it in the result.
struct Signal {
  std::string workflow_id;
  std::string name;
  nlohmann::json payload;
  std::int64_t due_ms = 0;
};

// One execution of an activity, as a handler sees it.
struct Call {
  const ActivityRequest& request;
  Args args;
  Records& records;
  std::vector<Signal> signals;  // recorded with a successful result; dropped with a failed one
};

class Service {
 public:
  using Handler = std::function<ActivityResult(Call&)>;

  // `store` must outlive the service. `name` is the service's keyspace ("drone").
  Service(ServiceStore& store, std::string name);

  // Returns the recorded result when the request's idempotency key has one (a call with an empty key
  // is never remembered). Otherwise runs `handler` in a fresh transaction and, when the result is to
  // be remembered (a success or a validation failure, with a key) or the handler wrote records,
  // commits the writes and the result together; when the commit is refused (a read changed or the
  // key got an outcome meanwhile) it starts again from the top, at most commit_rounds_max times.
  // Other failures (404, 409, 503) write and remember nothing, so a retry with the same key can
  // succeed once the cause is gone. An unreachable store is a retryable 503.
  ActivityResult run(const ActivityRequest& request, const Handler& handler);

  // The cancellation fence of the request's key (see Activity::cancel).
  std::optional<ActivityResult> cancel(const ActivityRequest& request);

  const std::string& name() const { return name_; }

 private:
  std::optional<ActivityResult> attempt(const ActivityRequest& request, const Handler& handler);

  ServiceStore& store_;
  std::string name_;
};

// An Activity that forwards to one handler of a service.
class ServiceActivity final : public Activity {
 public:
  ServiceActivity(std::shared_ptr<Service> service, Service::Handler handler)
      : service_(std::move(service)), handler_(std::move(handler)) {}
  ActivityResult execute(const ActivityRequest& request, ActivityHost&) override {
    return service_->run(request, handler_);
  }
  std::optional<ActivityResult> cancel(const ActivityRequest& request) override {
    return service_->cancel(request);
  }

 private:
  std::shared_ptr<Service> service_;
  Service::Handler handler_;
};

// Registers `name` as `handler` of `service`; the activity co-owns the service.
inline void add_service_activity(ActivityRegistry& registry, std::string name,
                                 const std::shared_ptr<Service>& service, Service::Handler handler) {
  registry.add(std::move(name), std::make_shared<ServiceActivity>(service, std::move(handler)));
}

// The per-service registration functions; register_delivery_activities calls them all.
void register_account_activities(ActivityRegistry& registry, ServiceStore& store);
void register_package_activities(ActivityRegistry& registry, ServiceStore& store);
void register_transport_activities(ActivityRegistry& registry, ServiceStore& store);
void register_drone_activities(ActivityRegistry& registry, ServiceStore& store);
void register_delivery_service_activities(ActivityRegistry& registry, ServiceStore& store);

}  // namespace flightplan::activities::detail

#pragma once
// The shared machinery of the simulated backend services: one lock and one idempotency cache per
// service, argument errors turned into validation failures, and the signals of a fresh call put in
// its result (and remembered with it).
#include "json_args.hpp"

#include "flightplan/activities/activity.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace flightplan::activities::detail {

// How many results a service remembers per idempotency key; past this the oldest key is forgotten.
// Keys are reused within a retry window, which is far shorter than 100,000 later calls.
inline constexpr std::size_t remembered_results_max = 100'000;
// How many records (packages, bookings, deliveries, flights) a service keeps before refusing more.
inline constexpr std::size_t records_max = 100'000;

// A signal the handler wants sent; Service::run gives it its id and puts it in the result.
struct Signal {
  std::string workflow_id;
  std::string name;
  nlohmann::json payload;
  std::int64_t due_ms = 0;
};

// One fresh execution of an activity, as a handler sees it.
struct Call {
  const ActivityRequest& request;
  Args args;
  std::vector<Signal> signals;  // go into a successful result; dropped with a failed one
};

class Service {
 public:
  using Handler = std::function<ActivityResult(Call&)>;

  // Returns the remembered result when the request's idempotency key was seen before (a call with
  // an empty key is never remembered), signals included. Otherwise runs `handler` under the
  // service's lock, puts the signals it queued in a successful result (ids "<key>#<index>"), and
  // remembers successes and validation failures. Other failures are not remembered: the engine
  // retries with the same key, and the retry must be able to succeed.
  ActivityResult run(const ActivityRequest& request, const Handler& handler);

 protected:
  Service() = default;
  ~Service() = default;

 private:
  static ActivityResult invoke(const ActivityRequest& request, const Handler& handler);
  void remember(const std::string& key, const ActivityResult& result);

  std::mutex mutex_;
  std::map<std::string, ActivityResult, std::less<>> results_by_key_;
  std::deque<std::string> keys_oldest_first_;
};

// An Activity that forwards to one handler of a shared service.
class ServiceActivity final : public Activity {
 public:
  ServiceActivity(std::shared_ptr<Service> service, Service::Handler handler)
      : service_(std::move(service)), handler_(std::move(handler)) {}
  ActivityResult execute(const ActivityRequest& request, ActivityHost&) override {
    return service_->run(request, handler_);
  }

 private:
  std::shared_ptr<Service> service_;
  Service::Handler handler_;
};

// Registers `name` as `service->*method`. The activity co-owns the service, so the service lives as
// long as any of its activities.
template <typename ServiceType>
void add_service_activity(ActivityRegistry& registry, std::string name,
                          const std::shared_ptr<ServiceType>& service,
                          ActivityResult (ServiceType::*method)(Call&)) {
  ServiceType* raw = service.get();
  registry.add(std::move(name), std::make_shared<ServiceActivity>(
                                    service, [raw, method](Call& call) { return (raw->*method)(call); }));
}

// The per-service registration functions; register_delivery_activities calls them all.
void register_account_activities(ActivityRegistry& registry);
void register_package_activities(ActivityRegistry& registry);
void register_transport_activities(ActivityRegistry& registry);
void register_drone_activities(ActivityRegistry& registry);
void register_delivery_service_activities(ActivityRegistry& registry);

}  // namespace flightplan::activities::detail

#include "flightplan/activities/activity.hpp"

#include "service.hpp"

#include <stdexcept>

namespace flightplan::activities {

ActivityResult ActivityResult::success(nlohmann::json output) {
  ActivityResult result;
  result.ok = true;
  result.output = std::move(output);
  return result;
}

ActivityResult ActivityResult::fail(std::string type, int status, std::string title, std::string detail,
                                    bool retryable) {
  ActivityResult result;
  result.ok = false;
  result.failure = ActivityFailure{std::move(type), status, std::move(title), std::move(detail), retryable};
  return result;
}

void ActivityRegistry::add(std::string name, std::shared_ptr<Activity> activity) {
  if (name.empty()) throw std::invalid_argument("activity name must not be empty");
  if (!activity) throw std::invalid_argument("activity '" + name + "' has no implementation");
  // Replacing a worker silently would hide a wiring mistake, so a second registration is an error.
  if (activities_.contains(name))
    throw std::invalid_argument("activity '" + name + "' is already registered");
  activities_.emplace(std::move(name), std::move(activity));
}

Activity* ActivityRegistry::find(std::string_view name) const {
  const auto it = activities_.find(name);
  return it == activities_.end() ? nullptr : it->second.get();
}

std::vector<std::string> ActivityRegistry::names() const {
  std::vector<std::string> result;
  result.reserve(activities_.size());
  for (const auto& entry : activities_) result.push_back(entry.first);
  return result;
}

void register_delivery_activities(ActivityRegistry& registry, ServiceStore& store) {
  detail::register_account_activities(registry, store);
  detail::register_package_activities(registry, store);
  detail::register_transport_activities(registry, store);
  detail::register_drone_activities(registry, store);
  detail::register_delivery_service_activities(registry, store);
}

}  // namespace flightplan::activities

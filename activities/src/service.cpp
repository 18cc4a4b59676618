#include "service.hpp"

#include "failures.hpp"

#include <exception>

namespace flightplan::activities::detail {

ActivityResult Service::run(const ActivityRequest& request, const Handler& handler) {
  const std::string& key = request.idempotency_key;
  const std::lock_guard lock(mutex_);
  if (!key.empty()) {
    const auto it = results_by_key_.find(key);
    if (it != results_by_key_.end()) return it->second;
  }
  ActivityResult result = invoke(request, handler);
  const bool is_validation_failure = !result.ok && result.failure.type == validation_type;
  if (!key.empty() && (result.ok || is_validation_failure)) remember(key, result);
  return result;
}

ActivityResult Service::invoke(const ActivityRequest& request, const Handler& handler) {
  try {
    Call call{request, Args(request.arguments), {}};
    ActivityResult result = handler(call);
    // A failed call must leave no trace, so its queued signals are dropped.
    if (!result.ok) return result;
    const std::string& key = request.idempotency_key;
    for (std::size_t i = 0; i < call.signals.size(); ++i) {
      Signal& signal = call.signals[i];
      result.signals.push_back(DelayedSignal{std::move(signal.workflow_id), std::move(signal.name),
                                             std::move(signal.payload), signal.due_ms,
                                             key.empty() ? std::string() : key + "#" + std::to_string(i)});
    }
    return result;
  } catch (const ArgumentError& error) {
    return validation_failure(error.what());
  } catch (const std::exception& error) {
    // Handlers validate their input, so this is a bug in the simulation; report it instead of crashing.
    return internal_failure(std::string(request.activity) + ": " + error.what());
  }
}

void Service::remember(const std::string& key, const ActivityResult& result) {
  if (keys_oldest_first_.size() >= remembered_results_max) {
    results_by_key_.erase(keys_oldest_first_.front());
    keys_oldest_first_.pop_front();
  }
  results_by_key_.emplace(key, result);
  keys_oldest_first_.push_back(key);
}

}  // namespace flightplan::activities::detail

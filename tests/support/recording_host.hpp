#pragma once
// Test support: an ActivityHost for tests that call activities directly. execute() runs an activity
// and records the signals its result carries as a runtime delivers them: each signal id once (a
// repeated idempotency key returns the same signals again), with its delay from the request's time.
#include "flightplan/activities/activity.hpp"
#include "flightplan/activities/delivered_signals.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace flightplan::testing {

struct SentSignal {
  std::string workflow_id;
  std::string name;
  nlohmann::json payload;
  std::int64_t delay_ms;  // due time minus the request's now_ms
  std::string id;
};

class RecordingHost : public activities::ActivityHost {
 public:
  activities::ActivityResult execute(activities::Activity& activity, const activities::ActivityRequest& request) {
    activities::ActivityResult result = activity.execute(request, *this);
    for (const activities::DelayedSignal& signal : result.signals) {
      if (delivered_.first_delivery(signal))
        signals.push_back({signal.workflow_id, signal.name, signal.payload, signal.due_ms - request.now_ms, signal.id});
    }
    return result;
  }
  activities::Heartbeat heartbeat(const nlohmann::json& details) override {
    heartbeats.push_back(details);
    return activities::Heartbeat::carry_on;
  }

  std::vector<SentSignal> signals;
  std::vector<nlohmann::json> heartbeats;

 private:
  activities::DeliveredSignals delivered_;
};

}  // namespace flightplan::testing

#pragma once
// Test support: an ActivityHost that records the signals activities ask it to send, for tests that
// call activities directly.
#include "flightplan/activities/activity.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace flightplan::testing {

struct SentSignal {
  std::string workflow_id;
  std::string name;
  nlohmann::json payload;
  std::int64_t delay_ms;
};

class RecordingHost : public activities::ActivityHost {
 public:
  void send_signal(const std::string& workflow_id, const std::string& signal, nlohmann::json payload,
                   std::int64_t delay_ms) override {
    signals.push_back({workflow_id, signal, std::move(payload), delay_ms});
  }
  std::vector<SentSignal> signals;
};

}  // namespace flightplan::testing

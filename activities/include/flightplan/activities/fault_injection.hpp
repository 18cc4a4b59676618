#pragma once
// Switchable fault injection for activities, deterministic from a seed: the same seed, activity,
// idempotency key and attempt always give the same decision, so a failing run can be replayed.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace flightplan::activities {

struct FaultRule {
  double fail_rate = 0.0;        // probability an attempt fails (retryable communication error)
  double hang_rate = 0.0;        // probability an attempt never answers (only a timeout ends it)
  std::int64_t latency_ms = 0;   // added latency of every attempt
};

struct FaultDecision {
  bool fail = false;
  bool hang = false;
  std::int64_t latency_ms = 0;
};

class FaultInjector {
 public:
  FaultInjector() = default;
  explicit FaultInjector(std::uint64_t seed) : seed_(seed) {}

  // Parses "drone.schedule:fail=0.2,hang=0.05,latency_ms=5;package.create:fail=1". A rule for a
  // queue ("drone") or "*" applies to every activity of it. Returns an error message on bad input.
  std::optional<std::string> parse_and_add(std::string_view spec);
  void set_rule(std::string activity_or_queue, FaultRule rule);
  FaultDecision decide(std::string_view activity, std::string_view idempotency_key, int attempt) const;
  std::uint64_t seed() const { return seed_; }
  bool empty() const { return rules_.empty(); }

 private:
  const FaultRule* rule_for(std::string_view activity) const;
  std::uint64_t seed_ = 0;
  std::map<std::string, FaultRule, std::less<>> rules_;
};

}  // namespace flightplan::activities

#pragma once
// Retry maths: pure functions of the policy, the attempt number and time given as data. Jitter comes
// from a caller-supplied number in [0, 1) (derived from a hash of the workflow id, task and attempt),
// never from a random source, so a replay decides exactly as the original run did.
#include "flightplan/engine/definition.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace flightplan::engine {

// The policy used for an activity call that names none: 3 attempts, 1 s doubling delay capped at 30 s.
const RetryPolicy& default_activity_retry_policy();

// Delay before the attempt after `failed_attempt` (1-based): constant = delay, linear = delay *
// attempt, exponential = delay * 2^(attempt-1); capped by delay_ms_max when set, then jitter added:
// from + (to - from) * jitter_unit.
std::int64_t retry_delay_ms(const RetryPolicy& policy, int failed_attempt, double jitter_unit);

struct RetryDecision {
  bool retry = false;
  std::int64_t delay_ms = 0;
  std::string reason;  // why not, when retry == false: "attempts exhausted (3 of 3)" ...
};

// Decides whether attempt `failed_attempt + 1` may run. The `when`/`exceptWhen` expressions are
// evaluated by the caller, which passes their verdict in `error_retryable`.
RetryDecision decide_retry(const RetryPolicy& policy, int failed_attempt, std::int64_t first_attempt_ms,
                           std::int64_t now_ms, double jitter_unit, bool error_retryable);

// A stable number in [0, 1) from a key (FNV-1a, then a splitmix64 finaliser).
double unit_interval_hash(std::string_view key);

}  // namespace flightplan::engine

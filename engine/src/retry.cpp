#include "flightplan/engine/retry.hpp"

#include "flightplan/engine/hash.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

#include "flightplan/engine/duration.hpp"

namespace flightplan::engine {

const RetryPolicy& default_activity_retry_policy() {
  static const RetryPolicy policy = [] {
    RetryPolicy p;
    p.name = "default";
    p.delay_ms = 1000;
    p.backoff = Backoff::exponential;
    p.delay_ms_max = 30'000;
    p.attempt_count_max = 3;
    return p;
  }();
  return policy;
}

std::int64_t retry_delay_ms(const RetryPolicy& policy, int failed_attempt, double jitter_unit) {
  assert(failed_attempt >= 1);
  assert(jitter_unit >= 0.0 && jitter_unit < 1.0);
  // Work in double so a large exponent saturates instead of overflowing, then clamp.
  double delay = static_cast<double>(policy.delay_ms);
  switch (policy.backoff) {
    case Backoff::constant:
      break;
    case Backoff::linear:
      delay *= failed_attempt;
      break;
    case Backoff::exponential:
      delay *= std::pow(2.0, std::min(failed_attempt - 1, 62));
      break;
  }
  const double cap = policy.delay_ms_max > 0 ? static_cast<double>(policy.delay_ms_max)
                                             : static_cast<double>(duration_ms_max);
  delay = std::min(delay, cap);
  const double jitter = static_cast<double>(policy.jitter_from_ms) +
                        static_cast<double>(policy.jitter_to_ms - policy.jitter_from_ms) * jitter_unit;
  return static_cast<std::int64_t>(delay + jitter);
}

RetryDecision decide_retry(const RetryPolicy& policy, int failed_attempt, std::int64_t first_attempt_ms,
                           std::int64_t now_ms, double jitter_unit, bool error_retryable) {
  RetryDecision decision;
  if (!error_retryable) {
    decision.reason = "the error is not retryable";
    return decision;
  }
  if (policy.attempt_count_max && failed_attempt >= *policy.attempt_count_max) {
    decision.reason = "attempts exhausted (" + std::to_string(failed_attempt) + " of " +
                      std::to_string(*policy.attempt_count_max) + ")";
    return decision;
  }
  const std::int64_t delay_ms = retry_delay_ms(policy, failed_attempt, jitter_unit);
  if (policy.duration_ms && now_ms + delay_ms - first_attempt_ms > *policy.duration_ms) {
    decision.reason = "retry duration limit of " + std::to_string(*policy.duration_ms) + " ms reached";
    return decision;
  }
  decision.retry = true;
  decision.delay_ms = delay_ms;
  return decision;
}

double unit_interval_hash(std::string_view key) {
  std::uint64_t hash = fnv1a_64(key) + 0x9e3779b97f4a7c15ULL;
  hash = (hash ^ (hash >> 30)) * 0xbf58476d1ce4e5b9ULL;
  hash = (hash ^ (hash >> 27)) * 0x94d049bb133111ebULL;
  hash ^= hash >> 31;
  // 53 high bits -> [0, 1).
  return static_cast<double>(hash >> 11) * (1.0 / 9007199254740992.0);
}

}  // namespace flightplan::engine

#define BOOST_TEST_MODULE retry
#include <boost/test/unit_test.hpp>

#include "flightplan/engine/duration.hpp"
#include "flightplan/engine/retry.hpp"

using namespace flightplan::engine;

namespace {
RetryPolicy policy(Backoff backoff, std::int64_t delay_ms) {
  RetryPolicy p;
  p.backoff = backoff;
  p.delay_ms = delay_ms;
  return p;
}
}  // namespace

BOOST_AUTO_TEST_CASE(constant_linear_exponential_delays) {
  BOOST_TEST(retry_delay_ms(policy(Backoff::constant, 500), 1, 0.0) == 500);
  BOOST_TEST(retry_delay_ms(policy(Backoff::constant, 500), 7, 0.0) == 500);
  BOOST_TEST(retry_delay_ms(policy(Backoff::linear, 500), 1, 0.0) == 500);
  BOOST_TEST(retry_delay_ms(policy(Backoff::linear, 500), 4, 0.0) == 2000);
  BOOST_TEST(retry_delay_ms(policy(Backoff::exponential, 500), 1, 0.0) == 500);
  BOOST_TEST(retry_delay_ms(policy(Backoff::exponential, 500), 4, 0.0) == 4000);
}

BOOST_AUTO_TEST_CASE(max_delay_caps_and_huge_attempts_do_not_overflow) {
  RetryPolicy p = policy(Backoff::exponential, 1000);
  p.delay_ms_max = 30'000;
  BOOST_TEST(retry_delay_ms(p, 6, 0.0) == 30'000);
  BOOST_TEST(retry_delay_ms(p, 1'000'000, 0.0) == 30'000);
  p.delay_ms_max = 0;
  BOOST_TEST(retry_delay_ms(p, 1'000'000, 0.0) == duration_ms_max);
}

BOOST_AUTO_TEST_CASE(jitter_is_added_within_its_range) {
  RetryPolicy p = policy(Backoff::constant, 1000);
  p.jitter_from_ms = 100;
  p.jitter_to_ms = 300;
  BOOST_TEST(retry_delay_ms(p, 1, 0.0) == 1100);
  BOOST_TEST(retry_delay_ms(p, 1, 0.5) == 1200);
  BOOST_TEST(retry_delay_ms(p, 1, 0.999) == 1299);
}

BOOST_AUTO_TEST_CASE(attempt_count_limit_counts_the_first_attempt) {
  RetryPolicy p = policy(Backoff::constant, 10);
  p.attempt_count_max = 3;
  BOOST_TEST(decide_retry(p, 1, 0, 0, 0.0, true).retry);
  BOOST_TEST(decide_retry(p, 2, 0, 0, 0.0, true).retry);
  const RetryDecision last = decide_retry(p, 3, 0, 0, 0.0, true);
  BOOST_TEST(!last.retry);
  BOOST_TEST(last.reason == "attempts exhausted (3 of 3)");
}

BOOST_AUTO_TEST_CASE(total_duration_limit_uses_time_as_data) {
  RetryPolicy p = policy(Backoff::constant, 1000);
  p.duration_ms = 5000;
  BOOST_TEST(decide_retry(p, 1, 0, 3000, 0.0, true).retry);   // next attempt at 4 s: within 5 s
  BOOST_TEST(!decide_retry(p, 1, 0, 4500, 0.0, true).retry);  // would start at 5.5 s
}

BOOST_AUTO_TEST_CASE(non_retryable_errors_are_never_retried) {
  RetryDecision d = decide_retry(policy(Backoff::constant, 1), 1, 0, 0, 0.0, false);
  BOOST_TEST(!d.retry);
  BOOST_TEST(d.reason == "the error is not retryable");
}

BOOST_AUTO_TEST_CASE(unit_interval_hash_is_stable_and_spread) {
  BOOST_TEST(unit_interval_hash("a") == unit_interval_hash("a"));
  BOOST_TEST(unit_interval_hash("a") != unit_interval_hash("b"));
  double sum = 0;
  for (int i = 0; i < 10'000; ++i) {
    const double u = unit_interval_hash("key-" + std::to_string(i));
    BOOST_REQUIRE(u >= 0.0);
    BOOST_REQUIRE(u < 1.0);
    sum += u;
  }
  BOOST_TEST(sum / 10'000 > 0.48);
  BOOST_TEST(sum / 10'000 < 0.52);
}

BOOST_AUTO_TEST_CASE(default_activity_policy) {
  const RetryPolicy& p = default_activity_retry_policy();
  BOOST_TEST(*p.attempt_count_max == 3);
  BOOST_TEST(retry_delay_ms(p, 2, 0.0) == 2000);
}

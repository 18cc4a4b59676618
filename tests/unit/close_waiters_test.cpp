#define BOOST_TEST_MODULE close_waiters
// Who waits for which workflow to close: wakes once, never misses a close that came first, forgets
// what it was told to, and stays bounded.
#include "flightplan/runtime/close_waiters.hpp"

#include <boost/test/unit_test.hpp>

using flightplan::runtime::CloseWaiters;

BOOST_AUTO_TEST_CASE(a_waiter_is_woken_once_when_its_workflow_closes) {
  CloseWaiters waiters;
  int woken = 0;
  waiters.subscribe("wf-1", 3, [&] { ++woken; });
  BOOST_TEST(waiters.waiting() == 1u);
  waiters.closed("wf-2", 9);
  BOOST_TEST(woken == 0);
  waiters.closed("wf-1", 9);
  BOOST_TEST(woken == 1);
  BOOST_TEST(waiters.waiting() == 0u);
  waiters.closed("wf-1", 12);  // a second notice finds nobody
  BOOST_TEST(woken == 1);
}

BOOST_AUTO_TEST_CASE(a_close_that_came_first_wakes_at_once_unless_already_seen) {
  CloseWaiters waiters;
  waiters.closed("wf-1", 9);
  int woken = 0;
  // Read at version 5, before the close: the close is news.
  waiters.subscribe("wf-1", 5, [&] { ++woken; });
  BOOST_TEST(woken == 1);
  BOOST_TEST(waiters.waiting() == 0u);
  // Read at version 9 or later (e.g. re-opened by an operator retry since): not news, wait.
  waiters.subscribe("wf-1", 9, [&] { ++woken; });
  BOOST_TEST(woken == 1);
  BOOST_TEST(waiters.waiting() == 1u);
  waiters.closed("wf-1", 14);
  BOOST_TEST(woken == 2);
}

BOOST_AUTO_TEST_CASE(an_unsubscribed_waiter_is_not_woken) {
  CloseWaiters waiters;
  int woken = 0;
  const auto token = waiters.subscribe("wf-1", 1, [&] { ++woken; });
  waiters.subscribe("wf-1", 1, [&] { woken += 10; });
  waiters.unsubscribe("wf-1", token);
  waiters.unsubscribe("wf-1", token);  // twice is harmless
  waiters.unsubscribe("wf-9", 77);     // unknown too
  waiters.closed("wf-1", 2);
  BOOST_TEST(woken == 10);
}

BOOST_AUTO_TEST_CASE(wake_all_wakes_every_waiter_once) {
  CloseWaiters waiters;
  int woken = 0;
  for (int i = 0; i < 5; ++i) waiters.subscribe("wf-" + std::to_string(i % 2), 1, [&] { ++woken; });
  waiters.wake_all();
  BOOST_TEST(woken == 5);
  BOOST_TEST(waiters.waiting() == 0u);
  waiters.wake_all();
  BOOST_TEST(woken == 5);
}

BOOST_AUTO_TEST_CASE(only_the_latest_closes_are_remembered) {
  CloseWaiters waiters(2);
  waiters.closed("wf-1", 5);
  waiters.closed("wf-2", 5);
  waiters.closed("wf-3", 5);  // wf-1 is forgotten
  int woken = 0;
  waiters.subscribe("wf-1", 1, [&] { ++woken; });
  BOOST_TEST(woken == 0);
  waiters.subscribe("wf-3", 1, [&] { ++woken; });
  BOOST_TEST(woken == 1);
}

BOOST_AUTO_TEST_CASE(a_wake_may_subscribe_again_without_deadlock) {
  CloseWaiters waiters;
  int woken = 0;
  waiters.subscribe("wf-1", 1, [&] {
    ++woken;
    waiters.subscribe("wf-1", 7, [&] { ++woken; });  // wakes run outside the lock
  });
  waiters.closed("wf-1", 7);
  BOOST_TEST(woken == 1);
  BOOST_TEST(waiters.waiting() == 1u);
}

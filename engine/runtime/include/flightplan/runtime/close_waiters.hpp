#pragma once
// Who waits for which workflow to close, and the news that one did: what lets a client wait for a
// result (GET /api/v1/workflows/{id}?wait=...) without polling. The orchestrators of this process
// tell it when their commit closes a workflow; the store's close feed (adapters/redis: a Pub/Sub
// channel the commit script publishes on) tells it what other processes closed.
//
// A notice that arrives before its waiter subscribes is not lost: the ids closed most recently are
// remembered with the version (history length) they closed at (a bounded number), and subscribing
// after reading an older version of one of them wakes at once. A wake says only "look again":
// waiters re-read the workflow, so a stale or duplicate notice costs one read.
// Thread-safe; owns no thread; wakes are called on the notifying thread, outside the lock, and must
// not block.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

namespace flightplan::runtime {

class CloseWaiters {
 public:
  using Wake = std::function<void()>;

  explicit CloseWaiters(std::size_t remembered_max = 4096) : remembered_max_(remembered_max) {}

  // Calls `wake` once when `workflow_id` closes, or at once (on this thread) if one of the last
  // remembered_max closes closed it at a version after `seen_version` (the version the caller read).
  // Returns a token for unsubscribe().
  std::uint64_t subscribe(const std::string& workflow_id, std::int64_t seen_version, Wake wake);
  // Forgets a waiter that did not need waking (its wait ended); harmless after it was woken.
  void unsubscribe(const std::string& workflow_id, std::uint64_t token);

  // News: `workflow_id` closed at `version`. Wakes its waiters.
  void closed(const std::string& workflow_id, std::int64_t version);
  // The feed may have missed news (it reconnected): every waiter looks again.
  void wake_all();

  std::size_t waiting() const;

 private:
  const std::size_t remembered_max_;
  mutable std::mutex mutex_;
  std::uint64_t next_token_ = 1;
  std::unordered_map<std::string, std::unordered_map<std::uint64_t, Wake>> waiters_;
  std::deque<std::string> recent_;  // oldest first
  std::unordered_map<std::string, std::int64_t> recent_versions_;
};

}  // namespace flightplan::runtime

#pragma once
// The news of workflows closed by any process. The commit script publishes "<id> <version>" for
// every workflow a commit closes on RedisStore::closed_channel(); a CloseFeed listens on that
// channel, on a connection and a thread of its own, and passes each on (to runtime::CloseWaiters, which wakes
// the requests waiting for that workflow). Pub/Sub delivers at most once: when the connection is
// lost, the feed reconnects with backoff and calls `on_gap`, since news published meanwhile is gone;
// waiters then look again instead of waiting for a notice that will not come.
#include "flightplan/redis/settings.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

namespace flightplan::redis {

class CloseFeed {
 public:
  using OnClosed = std::function<void(const std::string& workflow_id, std::int64_t version)>;

  // Both callbacks run on the feed's thread and must not block for long.
  CloseFeed(ClientSettings client, std::string channel, OnClosed on_closed, std::function<void()> on_gap);
  ~CloseFeed();  // stop()s
  CloseFeed(const CloseFeed&) = delete;
  CloseFeed& operator=(const CloseFeed&) = delete;

  // Subscribes on the feed's thread; returns at once (news before the subscription is not seen).
  void start();
  // Ends the thread within about poll_ms. Idempotent.
  void stop();

 private:
  void run();

  static constexpr std::int64_t poll_ms = 200;  // how often the thread looks whether to stop
  ClientSettings client_;
  std::string channel_;
  OnClosed on_closed_;
  std::function<void()> on_gap_;
  std::atomic<bool> running_{false};
  std::thread thread_;
};

}  // namespace flightplan::redis

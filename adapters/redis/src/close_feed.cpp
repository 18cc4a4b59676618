#include "flightplan/redis/close_feed.hpp"

#include "flightplan/engine/error.hpp"
#include "flightplan/redis/client.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>

namespace flightplan::redis {

CloseFeed::CloseFeed(ClientSettings client, std::string channel, OnClosed on_closed, std::function<void()> on_gap)
    : client_(std::move(client)),
      channel_(std::move(channel)),
      on_closed_(std::move(on_closed)),
      on_gap_(std::move(on_gap)) {
  validate(client_);
}

CloseFeed::~CloseFeed() { stop(); }

void CloseFeed::start() {
  if (running_.exchange(true)) return;
  thread_ = std::thread([this] { run(); });
}

void CloseFeed::stop() {
  running_ = false;
  if (thread_.joinable()) thread_.join();
}

void CloseFeed::run() {
  Client client(client_);
  bool subscribed = false;
  bool had_subscription = false;
  std::int64_t backoff_ms = client_.reconnect_backoff_initial_ms;
  while (running_) {
    try {
      if (!subscribed) {
        client.subscribe({channel_});
        subscribed = true;
        backoff_ms = client_.reconnect_backoff_initial_ms;
        // Whatever closed while we were away was not heard: everyone waiting looks again.
        if (had_subscription && on_gap_) on_gap_();
        had_subscription = true;
      }
      if (auto message = client.next_message(poll_ms); message && on_closed_) {
        const std::string& text = message->second;
        const auto space = text.rfind(' ');
        if (space != std::string::npos && space > 0) {
          try {
            on_closed_(text.substr(0, space), std::stoll(text.substr(space + 1)));
          } catch (const std::logic_error&) {
            // Not our format (someone else published on the channel): not news.
          }
        }
      }
    } catch (const engine::OperationError&) {
      // on_gap_ is called once subscribed again: waiters that look before then could still miss
      // news published in between.
      subscribed = false;
      // Sleep in short slices so that stop() is not held up by the backoff.
      const auto resume_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(backoff_ms);
      while (running_ && std::chrono::steady_clock::now() < resume_at)
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min<std::int64_t>(poll_ms, backoff_ms)));
      backoff_ms = std::min(backoff_ms * 2, client_.reconnect_backoff_max_ms);
    }
  }
}

}  // namespace flightplan::redis

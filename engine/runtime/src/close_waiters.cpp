#include "flightplan/runtime/close_waiters.hpp"

#include <algorithm>
#include <vector>

namespace flightplan::runtime {

std::uint64_t CloseWaiters::subscribe(const std::string& workflow_id, std::int64_t seen_version, Wake wake) {
  std::unique_lock lock(mutex_);
  const std::uint64_t token = next_token_++;
  if (auto it = recent_versions_.find(workflow_id); it != recent_versions_.end() && it->second > seen_version) {
    lock.unlock();
    wake();
    return token;
  }
  waiters_[workflow_id].emplace(token, std::move(wake));
  return token;
}

void CloseWaiters::unsubscribe(const std::string& workflow_id, std::uint64_t token) {
  const std::lock_guard lock(mutex_);
  auto it = waiters_.find(workflow_id);
  if (it == waiters_.end()) return;
  it->second.erase(token);
  if (it->second.empty()) waiters_.erase(it);
}

void CloseWaiters::closed(const std::string& workflow_id, std::int64_t version) {
  std::vector<Wake> wakes;
  {
    const std::lock_guard lock(mutex_);
    if (remembered_max_ > 0) {
      auto [it, inserted] = recent_versions_.emplace(workflow_id, version);
      if (inserted) {
        recent_.push_back(workflow_id);
        if (recent_.size() > remembered_max_) {
          recent_versions_.erase(recent_.front());
          recent_.pop_front();
        }
      } else {
        it->second = std::max(it->second, version);
      }
    }
    auto it = waiters_.find(workflow_id);
    if (it == waiters_.end()) return;
    for (auto& [token, wake] : it->second) wakes.push_back(std::move(wake));
    waiters_.erase(it);
  }
  for (const Wake& wake : wakes) wake();
}

void CloseWaiters::wake_all() {
  std::vector<Wake> wakes;
  {
    const std::lock_guard lock(mutex_);
    for (auto& [id, waiting] : waiters_)
      for (auto& [token, wake] : waiting) wakes.push_back(std::move(wake));
    waiters_.clear();
  }
  for (const Wake& wake : wakes) wake();
}

std::size_t CloseWaiters::waiting() const {
  const std::lock_guard lock(mutex_);
  std::size_t count = 0;
  for (const auto& [id, waiting] : waiters_) count += waiting.size();
  return count;
}

}  // namespace flightplan::runtime

#include "flightplan/redis/client_pool.hpp"

#include "flightplan/engine/error.hpp"

#include <cassert>
#include <chrono>

namespace flightplan::redis {

using engine::ErrorCategory;
using engine::OperationError;

ClientPool::Lease::Lease(Lease&& other) noexcept : pool_(other.pool_), client_(other.client_) {
  other.pool_ = nullptr;
  other.client_ = nullptr;
}

ClientPool::Lease& ClientPool::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    give_back();
    pool_ = other.pool_;
    client_ = other.client_;
    other.pool_ = nullptr;
    other.client_ = nullptr;
  }
  return *this;
}

ClientPool::Lease::~Lease() { give_back(); }

void ClientPool::Lease::give_back() {
  if (pool_ != nullptr) pool_->give_back(client_);
  pool_ = nullptr;
  client_ = nullptr;
}

ClientPool::ClientPool(ClientPoolSettings settings) : settings_(std::move(settings)) {
  if (settings_.client_count == 0) {
    throw OperationError(ErrorCategory::invalid_argument,
                         "redis pool settings: client_count must be at least 1");
  }
  if (settings_.borrow_timeout_ms < 0) {
    throw OperationError(ErrorCategory::invalid_argument,
                         "redis pool settings: borrow_timeout_ms must not be negative");
  }
  clients_.reserve(settings_.client_count);
  for (std::size_t i = 0; i < settings_.client_count; ++i) {
    clients_.push_back(std::make_unique<Client>(settings_.client));
    idle_.push_back(clients_.back().get());
  }
}

ClientPool::~ClientPool() {
  std::lock_guard lock(mutex_);
  assert(idle_.size() == clients_.size() && "a ClientPool::Lease outlived its pool");
}

ClientPool::Lease ClientPool::borrow() {
  std::unique_lock lock(mutex_);
  bool available = client_returned_.wait_for(lock, std::chrono::milliseconds(settings_.borrow_timeout_ms),
                                             [this] { return !idle_.empty(); });
  if (!available) {
    throw OperationError(ErrorCategory::unavailable,
                         "redis pool: all " + std::to_string(clients_.size()) + " clients stayed busy for " +
                             std::to_string(settings_.borrow_timeout_ms) + " ms (borrow_timeout_ms)");
  }
  Client* client = idle_.back();
  idle_.pop_back();
  return Lease(this, client);
}

std::size_t ClientPool::idle_count() const {
  std::lock_guard lock(mutex_);
  return idle_.size();
}

void ClientPool::give_back(Client* client) {
  {
    std::lock_guard lock(mutex_);
    assert(idle_.size() < clients_.size());
    idle_.push_back(client);
  }
  client_returned_.notify_one();
}

}  // namespace flightplan::redis

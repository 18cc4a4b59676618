#pragma once
// A fixed set of Clients shared by threads: a thread borrows one, uses it alone, and the Lease
// gives it back. Borrowing waits a bounded time, so a saturated pool is an error, not a hang.
#include "flightplan/redis/client.hpp"

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace flightplan::redis {

struct ClientPoolSettings {
  ClientSettings client;
  std::size_t client_count = 4;
  std::int64_t borrow_timeout_ms = 1000;
};

class ClientPool {
 public:
  // A borrowed client; returns it to the pool when destroyed. Must not outlive the pool.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();

    Client& operator*() const { return *client_; }
    Client* operator->() const { return client_; }

   private:
    friend class ClientPool;
    Lease(ClientPool* pool, Client* client) : pool_(pool), client_(client) {}
    void give_back();

    ClientPool* pool_;
    Client* client_;
  };

  // Creates the clients without connecting them. Throws OperationError(invalid_argument) for bad
  // settings (including client_count 0 or a negative borrow timeout).
  explicit ClientPool(ClientPoolSettings settings);
  // Precondition: every lease was returned.
  ~ClientPool();
  ClientPool(const ClientPool&) = delete;
  ClientPool& operator=(const ClientPool&) = delete;

  // Throws OperationError(unavailable) when no client became free within borrow_timeout_ms.
  Lease borrow();

  std::size_t client_count() const { return clients_.size(); }
  std::size_t idle_count() const;

 private:
  void give_back(Client* client);

  ClientPoolSettings settings_;
  std::vector<std::unique_ptr<Client>> clients_;
  mutable std::mutex mutex_;
  std::condition_variable client_returned_;
  std::vector<Client*> idle_;  // guarded by mutex_
};

}  // namespace flightplan::redis

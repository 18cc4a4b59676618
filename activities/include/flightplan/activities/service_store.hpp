#pragma once
// The state port of the simulated backend services (account, package, transport, drone, delivery):
// where a service keeps its records (fleet, bookings, packages, deliveries) and the recorded outcome
// of each idempotency key. One keyspace per service, shared by every worker process, so a task
// redelivered to another process, or run again after a restart, finds the effect and the result of
// the first run. adapters/memory (MemoryServiceStore) and adapters/redis (RedisServiceStore)
// implement it; tests/contract/service_store_contract.hpp is the contract both pass.
//
// Activities are made effectively-once by the commit below: the effect (record writes) and the
// outcome of the idempotency key are written in ONE atomic step, guarded by the values the handler
// read (optimistic concurrency). A repeat finds the outcome and does not act again.
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace flightplan::activities {

// The store could not be reached or did not answer in time. Whether a commit in flight took effect
// is unknown; a retry with the same idempotency key finds out, because the outcome is recorded with
// the effect. Service activities turn it into a retryable 503 failure.
class ServiceStoreUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A record as a transaction read it: nullopt = it was absent.
struct ServiceRead {
  std::string id;
  std::optional<std::string> value;
};

// A record a transaction writes: nullopt = erase it.
struct ServiceWrite {
  std::string id;
  std::optional<std::string> value;
};

// Limits of one call; more is a caller bug, reported as std::invalid_argument.
inline constexpr std::size_t service_store_batch_max = 1000;  // ids of one get, reads or writes of one commit
inline constexpr std::size_t service_store_scan_max = 10'000;  // records one scan returns
inline constexpr std::size_t service_name_length_max = 64;

// The argument checks every implementation makes first; each throws std::invalid_argument naming
// the problem. A service name is 1..64 characters of [a-z0-9_-]: it becomes part of store keys (a
// Redis hash tag), so it may not hold braces, colons or spaces.
void require_service_name(std::string_view service);
void require_idempotency_key(const std::string& key);                  // non-empty
void require_batch_size(std::size_t size, std::string_view what);      // at most service_store_batch_max
void require_scan_limit(std::size_t limit);                            // 1..service_store_scan_max

// Every method may throw ServiceStoreUnavailable; a bad argument (invalid service name, empty key
// where one is required, a batch over the limits) throws std::invalid_argument. Implementations are
// thread-safe. Record ids, values, keys and outcomes are opaque byte strings.
class ServiceStore {
 public:
  virtual ~ServiceStore() = default;

  // The records `ids` of `service` in one round trip, in the order asked; nullopt = absent.
  virtual std::vector<std::optional<std::string>> get(std::string_view service,
                                                      const std::vector<std::string>& ids) = 0;

  // How many records `service` holds. Not part of any commit's check: limits built on it are soft
  // (concurrent creators may overshoot by their number).
  virtual std::size_t count(std::string_view service) = 0;

  // The outcome recorded under idempotency key `key` (non-empty), if any. Outcomes are kept for a
  // retention period (Redis) or up to a number of keys per service (memory), far longer than a
  // retry window.
  virtual std::optional<std::string> recorded(std::string_view service, const std::string& key) = 0;

  // Atomically: if every read still holds the value read (nullopt: still absent) and `key` is empty
  // or has no recorded outcome, applies `writes` in order (nullopt value: erase) and, when `key` is
  // non-empty, records `outcome` under it; returns true. Otherwise writes nothing and returns false:
  // the caller reads again and retries (or finds the outcome another process recorded).
  virtual bool commit(std::string_view service, const std::vector<ServiceRead>& reads,
                      const std::vector<ServiceWrite>& writes, const std::string& key,
                      const std::string& outcome) = 0;

  // The cancellation fence, atomic: when `key` (non-empty) has an outcome, returns it; otherwise
  // records `tombstone` as its outcome, so a later commit with this key is refused and an execution
  // finds the tombstone instead of acting, and returns nullopt.
  virtual std::optional<std::string> fence(std::string_view service, const std::string& key,
                                           const std::string& tombstone) = 0;

  // Records of `service` whose id starts with `prefix` ("" for all), in byte order of their ids, at
  // most `limit` (1..service_store_scan_max): the first `limit` in that order. One consistent view.
  virtual std::vector<std::pair<std::string, std::string>> scan(std::string_view service,
                                                                std::string_view prefix, std::size_t limit) = 0;
};

}  // namespace flightplan::activities

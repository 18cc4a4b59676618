#pragma once
// ServiceStore in process: the services' records and idempotency outcomes in maps under one mutex.
// A real implementation (the contract suite in tests/contract/service_store_contract.hpp holds for
// it as for Redis), not a mock: tests, `flightplan run` and `flightplan dev --store memory` use it.
// Registries over one MemoryServiceStore share the services like worker processes over one Redis.
// Not durable.
#include "flightplan/activities/service_store.hpp"

#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace flightplan::memory {

struct MemoryServiceStoreSettings {
  // Outcomes (and tombstones) kept per service; past this the oldest is forgotten. Keys are reused
  // within a retry window, which is far shorter than this many later calls. (Redis bounds them by
  // time instead: RedisServiceStoreSettings::outcome_retention_ms.)
  std::size_t outcomes_max = 100'000;
};

class MemoryServiceStore final : public activities::ServiceStore {
 public:
  explicit MemoryServiceStore(MemoryServiceStoreSettings settings = {});

  std::vector<std::optional<std::string>> get(std::string_view service, const std::vector<std::string>& ids) override;
  std::size_t count(std::string_view service) override;
  std::optional<std::string> recorded(std::string_view service, const std::string& key) override;
  bool commit(std::string_view service, const std::vector<activities::ServiceRead>& reads,
              const std::vector<activities::ServiceWrite>& writes, const std::string& key,
              const std::string& outcome) override;
  std::optional<std::string> fence(std::string_view service, const std::string& key,
                                   const std::string& tombstone) override;
  std::vector<std::pair<std::string, std::string>> scan(std::string_view service, std::string_view prefix,
                                                        std::size_t limit) override;

 private:
  struct Keyspace {
    std::map<std::string, std::string, std::less<>> records;
    std::unordered_map<std::string, std::string> outcomes;
    std::deque<std::string> outcome_keys_oldest_first;
  };
  // Precondition: mutex_ held. Creates the keyspace on first use.
  Keyspace& keyspace(std::string_view service);
  void record_outcome(Keyspace& keyspace, const std::string& key, const std::string& outcome);

  MemoryServiceStoreSettings settings_;
  std::mutex mutex_;
  std::map<std::string, Keyspace, std::less<>> keyspaces_;  // guarded by mutex_
};

}  // namespace flightplan::memory

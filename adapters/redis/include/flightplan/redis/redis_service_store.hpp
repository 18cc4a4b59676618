#pragma once
// ServiceStore on Redis: the simulated services' records and idempotency outcomes, shared by every
// worker process. Key layout: docs/redis-keys.md. Every key of one service carries the hash tag
// `{<service>}`, so each commit — the read checks, the record writes and the outcome — is ONE Lua
// script on one slot, valid on Redis Cluster too. Outcomes expire after outcome_retention_ms.
//
// Errors: a connection that fails or times out throws activities::ServiceStoreUnavailable (the
// activities turn it into a retryable failure); a bad argument std::invalid_argument; anything else
// (an unexpected reply: a bug) engine::OperationError(internal).
#include "flightplan/activities/service_store.hpp"
#include "flightplan/redis/client_pool.hpp"

#include <cstdint>
#include <string>

namespace flightplan::redis {

struct RedisServiceStoreSettings {
  ClientPoolSettings pool;
  std::string key_prefix = "fp";
  // How long the outcome (or cancellation tombstone) of an idempotency key is kept: far longer than
  // any retry or redelivery window of a task, so a repeat always finds it.
  std::int64_t outcome_retention_ms = 7LL * 24 * 3600 * 1000;
};

class RedisServiceStore final : public activities::ServiceStore {
 public:
  // Throws OperationError(invalid_argument) on bad settings. Connects lazily.
  explicit RedisServiceStore(RedisServiceStoreSettings settings);
  ~RedisServiceStore() override;

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

  // The keys of a service (docs/redis-keys.md), for tests and operators.
  std::string records_key(std::string_view service) const;
  std::string ids_key(std::string_view service) const;
  std::string outcome_key(std::string_view service, const std::string& key) const;

 private:
  std::string tag(std::string_view service) const;

  RedisServiceStoreSettings settings_;
  ClientPool pool_;
};

}  // namespace flightplan::redis

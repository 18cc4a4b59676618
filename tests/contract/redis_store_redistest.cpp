#define BOOST_TEST_MODULE redis_store
// The store contract against a real, private redis-server (unix socket in a temp dir).
#include "flightplan/redis/redis_store.hpp"

#include "../support/redis_server.hpp"
#include "store_contract.hpp"

#include <chrono>
#include <thread>

namespace {

struct RedisStoreFixture {
  flightplan::testing::RedisServer server;
  std::unique_ptr<flightplan::redis::RedisStore> redis_store;

  RedisStoreFixture() {
    flightplan::redis::RedisStoreSettings settings;
    settings.pool.client.url = server.url();
    settings.pool.client_count = 4;
    settings.partitions = 4;
    redis_store = std::make_unique<flightplan::redis::RedisStore>(settings);
    redis_store->ensure_groups({"drone", "package"});
  }
  flightplan::engine::WorkflowStore& store() { return *redis_store; }
  // Redis measures idle time of claimed entries with its own clock: let real time pass.
  std::int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
  void pass_time(std::int64_t delta_ms) { std::this_thread::sleep_for(std::chrono::milliseconds(delta_ms)); }
};

}  // namespace

FLIGHTPLAN_STORE_CONTRACT(RedisStoreFixture)

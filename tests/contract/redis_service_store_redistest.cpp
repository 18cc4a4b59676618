#define BOOST_TEST_MODULE redis_service_store
// The service-store contract against a real, private redis-server (unix socket in a temp dir), then
// what only Redis has: the key layout, outcome expiry, a restart, an unreachable server.
#include "flightplan/redis/redis_service_store.hpp"

#include "flightplan/engine/error.hpp"

#include "../support/redis_server.hpp"
#include "service_store_contract.hpp"

#include <memory>

namespace {

using flightplan::redis::RedisServiceStore;
using flightplan::redis::RedisServiceStoreSettings;

RedisServiceStoreSettings settings_for(const std::string& url) {
  RedisServiceStoreSettings settings;
  settings.pool.client.url = url;
  settings.pool.client_count = 4;
  settings.outcome_retention_ms = 3'600'000;
  return settings;
}

struct RedisServiceStoreFixture {
  flightplan::testing::RedisServer server;
  RedisServiceStore redis_store{settings_for(server.url())};
  flightplan::activities::ServiceStore& store() { return redis_store; }
};

}  // namespace

FLIGHTPLAN_SERVICE_STORE_CONTRACT(RedisServiceStoreFixture)

// --- Redis only ---

BOOST_FIXTURE_TEST_CASE(keys_carry_one_hash_tag_per_service_and_outcomes_expire, RedisServiceStoreFixture) {
  BOOST_REQUIRE(redis_store.commit("drone", {}, {{"drone:drone-001", "{}"}}, "wf-1/schedule/1", "outcome"));
  BOOST_REQUIRE(!redis_store.fence("drone", "wf-2/schedule/1", "tombstone"));
  BOOST_TEST(redis_store.records_key("drone") == "fp:svc:{drone}:rec");
  BOOST_TEST(redis_store.ids_key("drone") == "fp:svc:{drone}:ids");
  BOOST_TEST(redis_store.outcome_key("drone", "wf-1/schedule/1") == "fp:svc:{drone}:out:wf-1/schedule/1");
  flightplan::redis::Client client(flightplan::redis::ClientSettings{server.url()});
  BOOST_TEST(client.command({"HGET", "fp:svc:{drone}:rec", "drone:drone-001"}).as_string() == "{}");
  BOOST_TEST(client.command({"ZSCORE", "fp:svc:{drone}:ids", "drone:drone-001"}).as_string() == "0");
  // Records stay; outcomes and tombstones carry the retention.
  BOOST_TEST(client.command({"PTTL", "fp:svc:{drone}:rec"}).as_integer() == -1);
  for (const char* key : {"fp:svc:{drone}:out:wf-1/schedule/1", "fp:svc:{drone}:out:wf-2/schedule/1"}) {
    const std::int64_t ttl_ms = client.command({"PTTL", key}).as_integer();
    BOOST_TEST(ttl_ms > 3'500'000);
    BOOST_TEST(ttl_ms <= 3'600'000);
  }
}

BOOST_AUTO_TEST_CASE(state_survives_a_worker_and_a_server_restart) {
  flightplan::testing::RedisServerOptions options;
  options.appendonly = true;
  options.appendfsync = "always";
  flightplan::testing::RedisServer server(options);
  RedisServiceStore redis_store(settings_for(server.url()));
  const auto schedule = [](flightplan::activities::ServiceStore& store, const std::string& delivery,
                           const std::string& key) {
    flightplan::activities::ActivityRegistry registry;
    flightplan::activities::register_delivery_activities(registry, store);
    return flightplan::contract::run_activity(registry, "drone.schedule", key, flightplan::contract::schedule_args(delivery));
  };
  const auto first = schedule(redis_store, "d1", "wf-1/schedule/1");
  BOOST_REQUIRE(first.ok);
  server.restart();  // AOF: the records and outcomes come back
  // Another worker process, with its own connections.
  RedisServiceStore other(settings_for(server.url()));
  BOOST_TEST((schedule(other, "d1", "wf-1/schedule/1") == first));
  BOOST_TEST(schedule(other, "d2", "wf-2/schedule/1").output.at("droneId") == "drone-002");
}

BOOST_FIXTURE_TEST_CASE(an_unreachable_server_is_unavailable_not_a_crash, RedisServiceStoreFixture) {
  RedisServiceStoreSettings settings = settings_for(server.url());
  settings.pool.client.connect_timeout_ms = 200;
  settings.pool.client.reconnect_attempts_max = 1;
  RedisServiceStore store(settings);
  server.stop();
  BOOST_CHECK_THROW(store.get("drone", {"a"}), flightplan::activities::ServiceStoreUnavailable);
  BOOST_CHECK_THROW(store.commit("drone", {}, {}, "k", "o"), flightplan::activities::ServiceStoreUnavailable);
  BOOST_CHECK_THROW(store.fence("drone", "k", "t"), flightplan::activities::ServiceStoreUnavailable);
  flightplan::activities::ActivityRegistry registry;
  flightplan::activities::register_delivery_activities(registry, store);
  const auto result = flightplan::contract::run_activity(registry, "drone.schedule", "wf-1/schedule/1",
                                                         flightplan::contract::schedule_args("d1"));
  BOOST_REQUIRE(!result.ok);
  BOOST_TEST(result.failure.status == 503);
  BOOST_TEST(result.failure.retryable);
}

BOOST_AUTO_TEST_CASE(bad_settings_are_refused) {
  RedisServiceStoreSettings settings;
  settings.key_prefix = "f{p}";
  BOOST_CHECK_THROW(RedisServiceStore{settings}, flightplan::engine::OperationError);
  settings.key_prefix = "fp";
  settings.outcome_retention_ms = 0;
  BOOST_CHECK_THROW(RedisServiceStore{settings}, flightplan::engine::OperationError);
}

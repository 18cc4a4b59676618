#define BOOST_TEST_MODULE memory_service_store
// The service-store contract against the in-process store, and its own bound on outcomes.
#include "flightplan/memory/memory_service_store.hpp"

#include "service_store_contract.hpp"

namespace {

struct MemoryServiceStoreFixture {
  flightplan::memory::MemoryServiceStore memory;
  flightplan::activities::ServiceStore& store() { return memory; }
};

}  // namespace

FLIGHTPLAN_SERVICE_STORE_CONTRACT(MemoryServiceStoreFixture)

BOOST_AUTO_TEST_CASE(the_oldest_outcomes_are_forgotten_past_the_bound) {
  flightplan::memory::MemoryServiceStore store(flightplan::memory::MemoryServiceStoreSettings{2});
  BOOST_REQUIRE(store.commit("drone", {}, {}, "k1", "o1"));
  BOOST_REQUIRE(!store.fence("drone", "k2", "t2"));
  BOOST_REQUIRE(store.commit("drone", {}, {}, "k3", "o3"));
  BOOST_TEST(!store.recorded("drone", "k1").has_value());
  BOOST_TEST((store.recorded("drone", "k2") == std::optional<std::string>("t2")));
  BOOST_TEST((store.recorded("drone", "k3") == std::optional<std::string>("o3")));
  BOOST_CHECK_THROW(flightplan::memory::MemoryServiceStore(flightplan::memory::MemoryServiceStoreSettings{0}),
                    std::invalid_argument);
}

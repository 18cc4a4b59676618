#define BOOST_TEST_MODULE memory_store
// The store contract against the in-process store, on a manual clock.
#include "flightplan/memory/memory_store.hpp"

#include "store_contract.hpp"

namespace {

struct MemoryStoreFixture {
  flightplan::runtime::ManualClock clock{1'000'000};
  flightplan::memory::MemoryStore memory{clock, flightplan::memory::MemoryStoreSettings{3'600'000}};
  flightplan::engine::WorkflowStore& store() { return memory; }
  std::int64_t retention_ms() { return 3'600'000; }
  std::int64_t now_ms() { return clock.now_ms(); }
  void pass_time(std::int64_t delta_ms) { clock.advance(delta_ms); }
};

}  // namespace

FLIGHTPLAN_STORE_CONTRACT(MemoryStoreFixture)

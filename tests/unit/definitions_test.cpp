#define BOOST_TEST_MODULE definitions
// The definition registry in front of the store: lookups of unknown names must not each become a
// store read (a client sending random workflow names would otherwise drive the store).
#include "flightplan/memory/memory_store.hpp"
#include "flightplan/runtime/definitions.hpp"
#include "flightplan/yaml/source_loader.hpp"

#include "../support/harness.hpp"

#include <atomic>
#include <thread>

using namespace flightplan;

namespace {

// Counts how often the registry reads the stored definitions.
class CountingStore final : public memory::MemoryStore {
 public:
  using memory::MemoryStore::MemoryStore;
  std::vector<engine::StoredDefinition> list_definitions() override {
    ++reads;
    return memory::MemoryStore::list_definitions();
  }
  std::atomic<int> reads{0};
};

}  // namespace

BOOST_AUTO_TEST_CASE(misses_read_the_store_at_most_once_per_interval) {
  runtime::ManualClock clock(testing::start_ms);
  CountingStore store(clock);
  runtime::DefinitionRegistry registry(yaml::source_loader(), clock);
  registry.attach_store(store, testing::compile_options());
  // 200 misses within one interval: one read. The clock is the registry's only notion of time.
  for (int i = 0; i < 200; ++i)
    BOOST_CHECK_THROW(registry.find("no-such-" + std::to_string(i)), engine::OperationError);
  BOOST_TEST(store.reads.load() == 1);
  clock.advance(runtime::DefinitionRegistry::miss_refresh_interval_ms - 1);
  BOOST_CHECK_THROW(registry.find("no-such-again"), engine::OperationError);
  BOOST_TEST(store.reads.load() == 1);
  clock.advance(1);
  BOOST_CHECK_THROW(registry.find("no-such-again"), engine::OperationError);
  BOOST_TEST(store.reads.load() == 2);
}

BOOST_AUTO_TEST_CASE(a_miss_after_the_interval_learns_a_definition_stored_elsewhere) {
  runtime::ManualClock clock(testing::start_ms);
  CountingStore store(clock);
  runtime::DefinitionRegistry registry(yaml::source_loader(), clock);
  runtime::DefinitionRegistry elsewhere(yaml::source_loader(), clock);  // another server process
  registry.attach_store(store, testing::compile_options());
  elsewhere.attach_store(store, testing::compile_options());
  BOOST_CHECK_THROW(registry.find("hello"), engine::OperationError);
  elsewhere.register_source("document: {dsl: '1.0.0', namespace: test, name: hello, version: '1.0.0'}\n"
                            "do:\n  - greet:\n      set:\n        hello: world\n",
                            testing::start_ms);
  clock.advance(runtime::DefinitionRegistry::miss_refresh_interval_ms);
  BOOST_TEST(registry.find("hello")->document.version == "1.0.0");
}

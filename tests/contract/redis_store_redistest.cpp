#define BOOST_TEST_MODULE redis_store
// The store contract against a real, private redis-server (unix socket in a temp dir).
#include "flightplan/redis/close_feed.hpp"
#include "flightplan/redis/redis_store.hpp"

#include "../support/redis_server.hpp"
#include "store_contract.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
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
    settings.retention_ms = 3'600'000;
    redis_store = std::make_unique<flightplan::redis::RedisStore>(settings);
    redis_store->ensure_groups({"drone", "package"});
  }
  flightplan::engine::WorkflowStore& store() { return *redis_store; }
  std::int64_t retention_ms() { return 3'600'000; }
  // Redis measures idle time of claimed entries with its own clock: let real time pass.
  std::int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
  void pass_time(std::int64_t delta_ms) { std::this_thread::sleep_for(std::chrono::milliseconds(delta_ms)); }
};

}  // namespace

FLIGHTPLAN_STORE_CONTRACT(RedisStoreFixture)

// --- Redis only: key expiry, scan budget and a large dataset ---

namespace {

using flightplan::contract::FakeStep;
using flightplan::engine::WorkflowQuery;
using flightplan::engine::WorkflowStatus;

std::int64_t elapsed_ms(std::chrono::steady_clock::time_point since) {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now() - since).count();
}

std::int64_t pttl(flightplan::redis::Client& client, const std::string& key) {
  return client.command({"PTTL", key}).as_integer();
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(reopening_stops_the_retention_clock, RedisStoreFixture) {
  FakeStep start("keys-1", 0, 1);
  start.as("alpha", WorkflowStatus::running, 1'000);
  flightplan::contract::commit_one(store(), start.commit(0));
  FakeStep fault("keys-1", 1, 1);
  fault.as("alpha", WorkflowStatus::faulted, 1'000, 2'000).closes();
  flightplan::contract::commit_one(store(), fault.commit(1));
  flightplan::redis::Client client(flightplan::redis::ClientSettings{server.url()});
  const std::string tag = "fp:{p" + std::to_string(redis_store->partition_of("keys-1")) + "}";
  BOOST_TEST(pttl(client, tag + ":wf:keys-1") > 3'000'000);
  BOOST_TEST(pttl(client, tag + ":ev:keys-1") > 3'000'000);
  BOOST_TEST(client.command({"ZSCORE", tag + ":idx:closed", "keys-1"}).as_string() == "2000");
  BOOST_TEST(client.command({"ZCARD", tag + ":idx:sn:faulted:alpha"}).as_integer() == 1);
  FakeStep retry("keys-1", 2, 1);
  retry.as("alpha", WorkflowStatus::running, 1'000);
  flightplan::contract::commit_one(store(), retry.commit(2));
  BOOST_TEST(pttl(client, tag + ":wf:keys-1") == -1);  // exists, no expiry
  BOOST_TEST(pttl(client, tag + ":ev:keys-1") == -1);
  BOOST_TEST(client.command({"ZSCORE", tag + ":idx:closed", "keys-1"}).is_nil());
  BOOST_TEST(client.command({"ZCARD", tag + ":idx:sn:faulted:alpha"}).as_integer() == 0);
  BOOST_TEST(client.command({"ZCARD", tag + ":idx:sn:running:alpha"}).as_integer() == 1);
}

// Entries no code can read (written by a bug, or by hand) are set aside at their first claim, with
// the reason, instead of failing every claim that picks them up; the readable ones still come.
BOOST_FIXTURE_TEST_CASE(unreadable_inputs_and_tasks_go_to_the_dead_letters, RedisStoreFixture) {
  flightplan::redis::Client client(flightplan::redis::ClientSettings{server.url()});
  client.command({"XADD", "fp:{p0}:in", "*", "w", "garbled-1", "i", "{not json"});
  client.command({"XADD", "fp:{p1}:q:drone", "*", "t", "[1, 2"});
  client.command({"XADD", "fp:{p1}:q:drone", "*", "t", R"({"workflow_id": "garbled-2"})"});
  FakeStep start("readable-1", 0, 1);
  start.as("alpha", WorkflowStatus::running, 1'000).schedule(1, "drone.schedule");
  flightplan::contract::commit_one(store(), start.commit(0));

  BOOST_TEST(store().claim_inputs("o1", 10, 0, 60'000).empty());
  const auto tasks = store().claim_tasks("drone", "w1", 10, 0, 60'000);
  BOOST_REQUIRE_EQUAL(tasks.size(), 1u);
  BOOST_TEST(tasks[0].workflow_id == "readable-1");
  BOOST_TEST(store().count_dead_letters() == 3);
  std::vector<std::string> reasons;
  for (const auto& letter : store().list_dead_letters(10)) reasons.push_back(letter.kind + ": " + letter.reason);
  std::sort(reasons.begin(), reasons.end());
  BOOST_REQUIRE_EQUAL(reasons.size(), 3u);
  BOOST_TEST(reasons[0].rfind("input: unreadable input", 0) == 0u, reasons[0]);
  BOOST_TEST(reasons[1].rfind("task: unreadable drone task", 0) == 0u, reasons[1]);
  BOOST_TEST(reasons[2].rfind("task: unreadable drone task", 0) == 0u, reasons[2]);
  // Gone from the streams: only the readable task is left.
  const auto in_stream = [&](const std::string& key) { return client.command({"XLEN", key}).as_integer(); };
  BOOST_TEST(in_stream("fp:{p0}:in") == 0);
  std::int64_t tasks_left = 0;
  for (int p = 0; p < 4; ++p) tasks_left += in_stream("fp:{p" + std::to_string(p) + "}:q:drone");
  BOOST_TEST(tasks_left == 1);
}

// With a scan budget of 5 entries a call, filtered lists come back in short pages whose cursors
// still visit every match once, in order.
BOOST_FIXTURE_TEST_CASE(scan_budget_gives_short_pages_that_cover_everything, RedisStoreFixture) {
  flightplan::redis::RedisStoreSettings settings;
  settings.pool.client.url = server.url();
  settings.partitions = 4;
  settings.list_scan_max = 5;
  flightplan::redis::RedisStore small(settings);
  const auto all = flightplan::contract::create_sample(small);
  std::vector<WorkflowQuery> queries(3);
  queries[0].id_prefix = "batch-";   // 22 matches: more than the budget, read through the time index
  queries[1].id_prefix = "order-2";  // 2 matches: read through the id index
  queries[2].limit = 10;
  queries[2].name = "beta";
  queries[2].started_from_ms = 10'200;
  for (std::size_t i = 0; i < queries.size(); ++i) {
    BOOST_TEST_CONTEXT("query " << i) {
      std::size_t pages = 0;
      const auto expected = flightplan::contract::expected_ids(all, queries[i]);
      BOOST_TEST(flightplan::contract::walk(small, queries[i], &pages) == expected,
                 boost::test_tools::per_element());
      if (i == 0) BOOST_TEST(pages >= 6u);  // 30 entries, 5 a call
    }
  }
  BOOST_TEST(small.list_workflows(queries[0]).workflows.size() <= 5u);
}

// 20,000 workflows; a filtered first page, a later page, an id prefix and counts are exact.
BOOST_FIXTURE_TEST_CASE(large_dataset_lists_and_counts, RedisStoreFixture) {
  constexpr int workflow_count = 20'000;
  constexpr WorkflowStatus statuses[] = {WorkflowStatus::running, WorkflowStatus::waiting,
                                         WorkflowStatus::completed, WorkflowStatus::faulted,
                                         WorkflowStatus::cancelled};
  std::vector<flightplan::engine::WorkflowSummary> all;
  const auto load_start = std::chrono::steady_clock::now();
  for (int first = 0; first < workflow_count; first += 500) {
    std::vector<FakeStep> steps;
    steps.reserve(500);
    std::vector<flightplan::engine::Commit> commits;
    for (int k = first; k < first + 500; ++k) {
      char id[16];
      std::snprintf(id, sizeof id, "bulk-%05d", k);
      steps.emplace_back(id, 0, 1);
      const WorkflowStatus status = statuses[(k / 4) % 5];
      const bool closed = flightplan::engine::is_final(status);
      steps.back().as("def-" + std::to_string(k % 4), status, 1'000'000 + k / 3, closed ? 2'000'000 + k : 0);
      all.push_back(flightplan::engine::WorkflowSummary::of(steps.back().state));
    }
    for (const FakeStep& step : steps) commits.push_back(step.commit(0));
    for (const auto outcome : store().commit(commits))
      BOOST_REQUIRE((outcome == flightplan::engine::CommitOutcome::committed));
  }
  BOOST_TEST_MESSAGE("committed " << workflow_count << " workflows in " << elapsed_ms(load_start) << " ms");
  WorkflowQuery completed;
  completed.status = WorkflowStatus::completed;
  completed.name = "def-2";
  completed.limit = 50;
  auto started = std::chrono::steady_clock::now();
  const auto page = store().list_workflows(completed);
  BOOST_TEST_MESSAGE("filtered page in " << elapsed_ms(started) << " ms");
  auto expected = flightplan::contract::expected_ids(all, completed);
  BOOST_REQUIRE_EQUAL(expected.size(), 1000u);  // 20,000 / 4 names / 5 statuses
  BOOST_TEST(flightplan::contract::ids_of(page.workflows) ==
                 std::vector<std::string>(expected.begin(), expected.begin() + 50),
             boost::test_tools::per_element());
  BOOST_TEST(page.workflows.at(0).id == "bulk-19990");  // 19990 % 4 == 2, (19990 / 4) % 5 == 2
  completed.cursor = page.next_cursor;
  BOOST_TEST(flightplan::contract::ids_of(store().list_workflows(completed).workflows) ==
                 std::vector<std::string>(expected.begin() + 50, expected.begin() + 100),
             boost::test_tools::per_element());
  WorkflowQuery prefix;
  prefix.id_prefix = "bulk-1234";
  prefix.started_from_ms = 1'000'000 + 1234 / 3 + 1;
  started = std::chrono::steady_clock::now();
  BOOST_TEST(flightplan::contract::walk(store(), prefix) == flightplan::contract::expected_ids(all, prefix),
             boost::test_tools::per_element());
  BOOST_TEST_MESSAGE("id prefix walk in " << elapsed_ms(started) << " ms");
  WorkflowQuery window;
  window.started_from_ms = 1'003'000;
  window.started_to_ms = 1'003'100;
  window.status = WorkflowStatus::waiting;
  BOOST_TEST(flightplan::contract::walk(store(), window) == flightplan::contract::expected_ids(all, window),
             boost::test_tools::per_element());
  started = std::chrono::steady_clock::now();
  const auto counts = store().count_workflows();
  const auto named = store().count_workflows("def-2");
  BOOST_TEST_MESSAGE("two counts in " << elapsed_ms(started) << " ms");
  for (const WorkflowStatus status : statuses) {
    BOOST_TEST(flightplan::contract::count_of(counts, status) == workflow_count / 5);
    BOOST_TEST(flightplan::contract::count_of(named, status) == workflow_count / 20);
  }
}

// The news of closed workflows for long polls: a commit that closes a workflow publishes
// "<id> <version>" once; steps that leave it open, or keep it closed, publish nothing.
BOOST_FIXTURE_TEST_CASE(closing_commits_reach_the_close_feed_once, RedisStoreFixture) {
  std::mutex mutex;
  std::vector<std::pair<std::string, std::int64_t>> heard;
  flightplan::redis::CloseFeed feed(
      flightplan::redis::ClientSettings{server.url()}, redis_store->closed_channel(),
      [&](const std::string& id, std::int64_t version) {
        const std::lock_guard lock(mutex);
        heard.emplace_back(id, version);
      },
      [] {});
  feed.start();
  auto heard_now = [&] {
    const std::lock_guard lock(mutex);
    return heard;
  };
  // The subscription is made on the feed's thread: publish probes until one is heard.
  flightplan::redis::Client client(flightplan::redis::ClientSettings{server.url()});
  const auto subscribed_by = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (heard_now().empty() && std::chrono::steady_clock::now() < subscribed_by) {
    client.command({"PUBLISH", redis_store->closed_channel(), "probe 0"});
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  BOOST_REQUIRE(!heard_now().empty());
  {
    const std::lock_guard lock(mutex);
    heard.clear();
  }
  FakeStep start("feed-1", 0, 2);
  start.as("alpha", WorkflowStatus::running, 1'000);
  flightplan::contract::commit_one(store(), start.commit(0));
  FakeStep done("feed-1", 2, 3);
  done.as("alpha", WorkflowStatus::completed, 1'000, 2'000).closes();
  flightplan::contract::commit_one(store(), done.commit(2));
  FakeStep late("feed-1", 5, 1);  // a late event on a closed workflow: still closed, no news
  late.as("alpha", WorkflowStatus::completed, 1'000, 2'000);
  flightplan::contract::commit_one(store(), late.commit(5));
  FakeStep other("feed-2", 0, 1);  // finished in its first step
  other.as("alpha", WorkflowStatus::faulted, 1'000, 1'000).closes();
  flightplan::contract::commit_one(store(), other.commit(0));
  const auto by = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (heard_now().size() < 2 && std::chrono::steady_clock::now() < by)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // room for a wrong extra notice
  const auto notices = heard_now();
  BOOST_REQUIRE_EQUAL(notices.size(), 2u);
  BOOST_TEST(notices[0].first == "feed-1");
  BOOST_TEST(notices[0].second == 5);
  BOOST_TEST(notices[1].first == "feed-2");
  BOOST_TEST(notices[1].second == 1);
}

// A feed that loses its connection says so (news may have been missed) and listens again.
BOOST_FIXTURE_TEST_CASE(a_close_feed_reports_a_gap_and_resubscribes, RedisStoreFixture) {
  std::atomic<int> gaps{0};
  std::atomic<int> heard{0};
  flightplan::redis::CloseFeed feed(
      flightplan::redis::ClientSettings{server.url()}, redis_store->closed_channel(),
      [&](const std::string&, std::int64_t) { ++heard; }, [&] { ++gaps; });
  feed.start();
  flightplan::redis::Client client(flightplan::redis::ClientSettings{server.url()});
  auto publish_until_heard = [&](int count) {
    const auto by = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (heard.load() < count && std::chrono::steady_clock::now() < by) {
      client.command({"PUBLISH", redis_store->closed_channel(), "probe 1"});
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return heard.load() >= count;
  };
  BOOST_REQUIRE(publish_until_heard(1));
  BOOST_TEST(gaps.load() == 0);
  client.command({"CLIENT", "KILL", "TYPE", "pubsub"});
  const auto by = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (gaps.load() == 0 && std::chrono::steady_clock::now() < by)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  BOOST_TEST(gaps.load() >= 1);
  BOOST_TEST(publish_until_heard(heard.load() + 1));
  feed.stop();
}

#pragma once
// The WorkflowStore contract: one suite, run against every implementation (memory_store_test.cpp,
// redis_store_redistest.cpp). A fixture type provides:
//   engine::WorkflowStore& store();
//   std::int64_t now_ms();                 // the time the store measures visibility with
//   void pass_time(std::int64_t delta_ms); // lets that much time pass (manual clock or real sleep)
// and FLIGHTPLAN_STORE_CONTRACT(Fixture) instantiates every case for it.
#include "flightplan/engine/store.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace flightplan::contract {

using engine::Command;
using engine::CommitOutcome;
using engine::Event;
using engine::WorkflowState;
using nlohmann::json;

// A step as the engine would produce it: `events` new events after `version`, and commands.
struct FakeStep {
  WorkflowState state;
  std::vector<Event> events;
  std::vector<Command> commands;

  FakeStep(const std::string& id, std::int64_t version, int new_events) {
    state.id = id;
    state.name = "contract";
    state.version = "1.0.0";
    state.status = engine::WorkflowStatus::running;
    state.history_length = version + new_events;
    state.context = json{{"version", state.history_length}};
    for (int i = 1; i <= new_events; ++i) {
      Event event;
      event.seq = version + i;
      event.time_ms = 1000 + event.seq;
      event.type = "task_started";
      event.reference = "/do/" + std::to_string(event.seq);
      event.data = json{{"seq", event.seq}, {"text", std::string("bin\0ary", 7)}};
      events.push_back(event);
    }
  }
  engine::Commit commit(std::int64_t expected_version, std::string digest = "") const {
    return engine::Commit{state.id, expected_version, &state, &events, &commands, std::move(digest)};
  }
  FakeStep& schedule(std::int64_t activity_id, const std::string& activity, int attempt = 1) {
    Command c;
    c.type = Command::Type::schedule_activity;
    c.activity_id = activity_id;
    c.attempt = attempt;
    c.activity = activity;
    c.idempotency_key = state.id + "/ref/" + std::to_string(activity_id);
    c.arguments = json{{"n", activity_id}};
    commands.push_back(c);
    return *this;
  }
  // What the summary shows: definition name, status and times (closed_ms 0: open).
  FakeStep& as(const std::string& name, engine::WorkflowStatus status, std::int64_t started_ms,
               std::int64_t closed_ms = 0) {
    state.name = name;
    state.status = status;
    state.started_ms = started_ms;
    state.updated_ms = closed_ms != 0 ? closed_ms : started_ms;
    state.closed_ms = closed_ms;
    return *this;
  }
  // The step that closes the workflow carries workflow_closed (the store starts its retention).
  FakeStep& closes() {
    Command c;
    c.type = Command::Type::workflow_closed;
    commands.push_back(c);
    return *this;
  }
  FakeStep& timer(std::int64_t timer_id, std::int64_t due_ms, bool cancel = false) {
    Command c;
    c.type = cancel ? Command::Type::cancel_timer : Command::Type::start_timer;
    c.timer_id = timer_id;
    c.due_ms = due_ms;
    commands.push_back(c);
    return *this;
  }
};

inline CommitOutcome commit_one(engine::WorkflowStore& store, const engine::Commit& commit) {
  const auto outcomes = store.commit({commit});
  BOOST_REQUIRE_EQUAL(outcomes.size(), 1u);
  return outcomes[0];
}

template <typename F>
void create_load_and_history(F& f) {
  FakeStep first("wf-a", 0, 3);
  BOOST_TEST((commit_one(f.store(), first.commit(0, "digest-1")) == CommitOutcome::committed));
  auto stored = f.store().load("wf-a");
  BOOST_REQUIRE(stored);
  BOOST_TEST(stored->version == 3);
  BOOST_TEST(stored->start_digest == "digest-1");
  BOOST_TEST(stored->state.to_json() == first.state.to_json());
  FakeStep second("wf-a", 3, 2);
  BOOST_TEST((commit_one(f.store(), second.commit(3)) == CommitOutcome::committed));
  const auto events = f.store().history("wf-a");
  BOOST_REQUIRE_EQUAL(events.size(), 5u);
  for (std::size_t i = 0; i < events.size(); ++i) BOOST_TEST(events[i].seq == static_cast<std::int64_t>(i + 1));
  BOOST_TEST(events[4].data.at("text") == std::string("bin\0ary", 7));
  BOOST_TEST(f.store().history("wf-a", 3).size() == 2u);
  BOOST_TEST(f.store().history("wf-a", 0, 2).size() == 2u);
  BOOST_TEST(!f.store().load("wf-missing"));
  const auto many = f.store().load_many({"wf-missing", "wf-a"});
  BOOST_REQUIRE_EQUAL(many.size(), 2u);
  BOOST_TEST(!many[0]);
  BOOST_TEST(many[1]->version == 5);
  BOOST_TEST(f.store().history("wf-missing").empty());
}

template <typename F>
void version_conflicts_write_nothing(F& f) {
  FakeStep first("wf-b", 0, 2);
  BOOST_TEST((commit_one(f.store(), first.commit(0)) == CommitOutcome::committed));
  // Creating again, or committing from a stale version, changes nothing.
  FakeStep again("wf-b", 0, 1);
  again.schedule(1, "drone.schedule");
  BOOST_TEST((commit_one(f.store(), again.commit(0)) == CommitOutcome::conflict));
  FakeStep stale("wf-b", 1, 4);
  stale.timer(7, 0);
  BOOST_TEST((commit_one(f.store(), stale.commit(1)) == CommitOutcome::conflict));
  BOOST_TEST(f.store().load("wf-b")->version == 2);
  BOOST_TEST(f.store().history("wf-b").size() == 2u);
  BOOST_TEST(f.store().claim_tasks("drone", "w", 10, 0, 60'000).empty());
  BOOST_TEST(f.store().fire_due_timers(f.now_ms() + 1'000'000, 10) == 0u);
  // Committing to a workflow that does not exist is a conflict too.
  FakeStep ghost("wf-ghost", 5, 1);
  BOOST_TEST((commit_one(f.store(), ghost.commit(5)) == CommitOutcome::conflict));
}

template <typename F>
void batched_commits_are_independent(F& f) {
  FakeStep a("wf-c1", 0, 1), b("wf-c2", 0, 1), dup("wf-c1", 0, 1);
  const auto outcomes = f.store().commit({a.commit(0), b.commit(0), dup.commit(0)});
  BOOST_REQUIRE_EQUAL(outcomes.size(), 3u);
  BOOST_TEST((outcomes[0] == CommitOutcome::committed));
  BOOST_TEST((outcomes[1] == CommitOutcome::committed));
  BOOST_TEST((outcomes[2] == CommitOutcome::conflict));
}

template <typename F>
void tasks_leave_through_the_commit(F& f) {
  FakeStep step("wf-d", 0, 1);
  step.schedule(11, "drone.schedule").schedule(12, "package.upsert", 2);
  step.commands.front().report_start = true;  // a call with a schedule-to-start deadline
  BOOST_TEST((commit_one(f.store(), step.commit(0)) == CommitOutcome::committed));
  auto drone = f.store().claim_tasks("drone", "worker-1", 10, 0, 60'000);
  BOOST_REQUIRE_EQUAL(drone.size(), 1u);
  BOOST_TEST(drone[0].workflow_id == "wf-d");
  BOOST_TEST(drone[0].activity_id == 11);
  BOOST_TEST(drone[0].attempt == 1);
  BOOST_TEST(drone[0].activity == "drone.schedule");
  BOOST_TEST(drone[0].idempotency_key == "wf-d/ref/11");
  BOOST_TEST(drone[0].arguments == (json{{"n", 11}}));
  BOOST_TEST(drone[0].deliveries == 1);
  BOOST_TEST(drone[0].report_start);
  auto package = f.store().claim_tasks("package", "worker-1", 10, 0, 60'000);
  BOOST_REQUIRE_EQUAL(package.size(), 1u);
  BOOST_TEST(package[0].attempt == 2);
  BOOST_TEST(!package[0].report_start);
  // Completing acknowledges the task and queues its outcome for the orchestrator.
  engine::Input outcome;
  outcome.type = engine::Input::Type::activity_completed;
  outcome.activity_id = 11;
  outcome.attempt = 1;
  outcome.payload = json{{"droneId", "drone-007"}};
  outcome.time_ms = 5;
  outcome.started_ms = 3;  // the start travels with the outcome
  outcome.name = "worker-1";
  f.store().complete_task(drone[0], outcome);
  auto inputs = f.store().claim_inputs("orchestrator-1", 10, 0, 60'000);
  BOOST_REQUIRE_EQUAL(inputs.size(), 1u);
  BOOST_TEST(inputs[0].workflow_id == "wf-d");
  BOOST_TEST(inputs[0].input.to_json() == outcome.to_json());
  f.store().ack_inputs(inputs);
  f.pass_time(200);
  BOOST_TEST(f.store().claim_inputs("orchestrator-1", 10, 0, 100).empty());
  BOOST_TEST(f.store().claim_tasks("drone", "worker-1", 10, 0, 100).empty());
  // A dropped task is acknowledged without an outcome: no input, no redelivery.
  f.store().drop_task(package[0]);
  f.pass_time(200);
  BOOST_TEST(f.store().claim_tasks("package", "worker-1", 10, 0, 100).empty());
  BOOST_TEST(f.store().claim_inputs("orchestrator-1", 10, 0, 100).empty());
}

template <typename F>
void unacknowledged_work_is_redelivered(F& f) {
  FakeStep step("wf-e", 0, 1);
  step.schedule(21, "drone.schedule");
  commit_one(f.store(), step.commit(0));
  auto first = f.store().claim_tasks("drone", "worker-dies", 10, 0, 100);
  BOOST_REQUIRE_EQUAL(first.size(), 1u);
  BOOST_TEST(f.store().claim_tasks("drone", "worker-2", 10, 0, 100).empty());  // still invisible
  f.pass_time(250);
  auto again = f.store().claim_tasks("drone", "worker-2", 10, 0, 100);
  BOOST_REQUIRE_EQUAL(again.size(), 1u);
  BOOST_TEST(again[0].activity_id == 21);
  BOOST_TEST(again[0].deliveries == 2);
  f.store().enqueue_input("wf-e", engine::Input::signal("go", json{{"x", 1}}, 9));
  auto inputs = f.store().claim_inputs("orchestrator-dies", 10, 0, 100);
  BOOST_REQUIRE_EQUAL(inputs.size(), 1u);
  f.pass_time(250);
  auto redelivered = f.store().claim_inputs("orchestrator-2", 10, 0, 100);
  BOOST_REQUIRE_EQUAL(redelivered.size(), 1u);
  BOOST_TEST(redelivered[0].input.name == "go");
  f.store().ack_inputs(redelivered);
}

template <typename F>
void timers_fire_once_when_due(F& f) {
  const std::int64_t now = f.now_ms();
  FakeStep step("wf-f", 0, 1);
  step.timer(31, now + 10'000).timer(32, now + 20'000).timer(33, now + 5'000);
  commit_one(f.store(), step.commit(0));
  FakeStep cancel("wf-f", 1, 1);
  cancel.timer(33, 0, true);
  commit_one(f.store(), cancel.commit(1));
  BOOST_TEST(f.store().fire_due_timers(now + 9'999, 10) == 0u);
  BOOST_TEST(f.store().fire_due_timers(now + 10'000, 10) == 1u);
  BOOST_TEST(f.store().fire_due_timers(now + 10'000, 10) == 0u);
  auto inputs = f.store().claim_inputs("o", 10, 0, 60'000);
  BOOST_REQUIRE_EQUAL(inputs.size(), 1u);
  BOOST_TEST((inputs[0].input.type == engine::Input::Type::timer_fired));
  BOOST_TEST(inputs[0].input.timer_id == 31);
  f.store().ack_inputs(inputs);
  // A deadline that passed while nobody looked fires at the next look.
  BOOST_TEST(f.store().fire_due_timers(now + 1'000'000, 10) == 1u);
  inputs = f.store().claim_inputs("o", 10, 0, 60'000);
  BOOST_REQUIRE_EQUAL(inputs.size(), 1u);
  BOOST_TEST(inputs[0].input.timer_id == 32);
  f.store().ack_inputs(inputs);
}

template <typename F>
void racing_supervisors_fire_each_timer_once(F& f) {
  const std::int64_t now = f.now_ms();
  constexpr int timer_count = 200;
  FakeStep step("wf-g", 0, 1);
  for (int i = 1; i <= timer_count; ++i) step.timer(i, now + i);
  commit_one(f.store(), step.commit(0));
  std::atomic<std::size_t> fired{0};
  auto supervisor = [&] {
    for (int round = 0; round < 50; ++round) fired += f.store().fire_due_timers(now + timer_count, 7);
  };
  std::thread a(supervisor), b(supervisor);
  a.join();
  b.join();
  BOOST_TEST(fired.load() == static_cast<std::size_t>(timer_count));
  std::set<std::int64_t> seen;
  for (int round = 0; round < 10 && seen.size() < timer_count; ++round) {
    auto inputs = f.store().claim_inputs("o", 100, 0, 60'000);
    for (const auto& in : inputs) BOOST_TEST(seen.insert(in.input.timer_id).second);
    f.store().ack_inputs(inputs);
  }
  BOOST_TEST(seen.size() == static_cast<std::size_t>(timer_count));
}

// --- Visibility ---

using engine::WorkflowQuery;
using engine::WorkflowStatus;
using engine::WorkflowSummary;

inline std::vector<std::string> ids_of(const std::vector<WorkflowSummary>& summaries) {
  std::vector<std::string> ids;
  for (const WorkflowSummary& s : summaries) ids.push_back(s.id);
  return ids;
}

// Every page of a query, following cursors; fails on a duplicate or a runaway walk.
inline std::vector<std::string> walk(engine::WorkflowStore& store, WorkflowQuery query,
                                     std::size_t* pages = nullptr) {
  std::vector<std::string> ids;
  std::set<std::string> seen;
  for (std::size_t page_count = 1;; ++page_count) {
    BOOST_REQUIRE_LE(page_count, 200u);
    const engine::WorkflowPage page = store.list_workflows(query);
    BOOST_REQUIRE_LE(page.workflows.size(), query.limit);
    for (const WorkflowSummary& s : page.workflows) {
      BOOST_TEST(seen.insert(s.id).second, "listed twice: " << s.id);
      ids.push_back(s.id);
    }
    if (page.next_cursor.empty()) {
      if (pages) *pages = page_count;
      return ids;
    }
    query.cursor = page.next_cursor;
  }
}

inline std::int64_t count_of(const std::map<WorkflowStatus, std::int64_t>& counts, WorkflowStatus status) {
  const auto it = counts.find(status);
  return it == counts.end() ? 0 : it->second;
}

inline std::int64_t depth_of(const std::map<std::string, std::int64_t>& depths, const std::string& queue) {
  const auto it = depths.find(queue);
  return it == depths.end() ? 0 : it->second;
}

// The expected result of a query over `all`, by brute force: the reference the stores must match.
inline std::vector<std::string> expected_ids(std::vector<WorkflowSummary> all, const WorkflowQuery& q) {
  std::sort(all.begin(), all.end(), [](const WorkflowSummary& a, const WorkflowSummary& b) {
    return std::tie(a.started_ms, a.id) > std::tie(b.started_ms, b.id);
  });
  std::vector<std::string> ids;
  for (const WorkflowSummary& s : all) {
    if (q.status && s.status != *q.status) continue;
    if (!q.name.empty() && s.name != q.name) continue;
    if (s.started_ms < q.started_from_ms || (q.started_to_ms != 0 && s.started_ms >= q.started_to_ms))
      continue;
    if (s.id.rfind(q.id_prefix, 0) != 0) continue;
    ids.push_back(s.id);
  }
  return ids;
}

// 30 workflows: ids "order-NN" (NN % 4 == 0) or "batch-NN"; name alpha (odd) or beta (even);
// status running / completed / faulted by NN % 3; started 10'000 + (NN % 10) * 100, so every start
// time is shared by three workflows (ties are ordered by id, descending).
inline std::vector<WorkflowSummary> create_sample(engine::WorkflowStore& store) {
  constexpr WorkflowStatus statuses[] = {WorkflowStatus::running, WorkflowStatus::completed,
                                         WorkflowStatus::faulted};
  std::vector<WorkflowSummary> created;
  std::vector<FakeStep> steps;
  steps.reserve(30);
  for (int k = 0; k < 30; ++k) {
    const std::string id =
        std::string(k % 4 == 0 ? "order-" : "batch-") + (k < 10 ? "0" : "") + std::to_string(k);
    steps.emplace_back(id, 0, 1);
    steps.back().as(k % 2 ? "alpha" : "beta", statuses[k % 3], 10'000 + (k % 10) * 100);
    created.push_back(WorkflowSummary::of(steps.back().state));
  }
  std::vector<engine::Commit> commits;
  for (const FakeStep& step : steps) commits.push_back(step.commit(0));
  for (const CommitOutcome outcome : store.commit(commits))
    BOOST_REQUIRE((outcome == CommitOutcome::committed));
  return created;
}

template <typename F>
void summaries_follow_commits(F& f) {
  FakeStep start("sum-1", 0, 2);
  start.as("alpha", WorkflowStatus::running, 5'000);
  commit_one(f.store(), start.commit(0));
  WorkflowQuery query;
  query.id_prefix = "sum-";
  auto page = f.store().list_workflows(query);
  BOOST_REQUIRE_EQUAL(page.workflows.size(), 1u);
  BOOST_TEST(page.next_cursor.empty());
  WorkflowSummary s = page.workflows[0];
  BOOST_TEST(s.id == "sum-1");
  BOOST_TEST(s.name == "alpha");
  BOOST_TEST(s.version == "1.0.0");
  BOOST_TEST((s.status == WorkflowStatus::running));
  BOOST_TEST(!s.paused);
  BOOST_TEST(s.started_ms == 5'000);
  BOOST_TEST(s.updated_ms == 5'000);
  BOOST_TEST(s.closed_ms == 0);
  BOOST_TEST(s.history_length == 2);
  BOOST_TEST(s.error.is_null());
  FakeStep fail("sum-1", 2, 3);
  fail.as("alpha", WorkflowStatus::faulted, 5'000, 9'000).closes();
  fail.state.paused = true;
  fail.state.error = json{{"type", "https://example.com/boom"},
                          {"title", "Boom"},
                          {"status", 503},
                          {"detail", "long detail"},
                          {"instance", "/do/1"}};
  commit_one(f.store(), fail.commit(2));
  s = f.store().list_workflows(query).workflows.at(0);
  BOOST_TEST((s.status == WorkflowStatus::faulted));
  BOOST_TEST(s.paused);
  BOOST_TEST(s.updated_ms == 9'000);
  BOOST_TEST(s.closed_ms == 9'000);
  BOOST_TEST(s.history_length == 5);
  BOOST_TEST(s.error == (json{{"type", "https://example.com/boom"}, {"title", "Boom"}, {"status", 503}}));
  BOOST_TEST(s.to_json() == WorkflowSummary::of(fail.state).to_json());
}

template <typename F>
void lists_newest_first_and_filter(F& f) {
  const std::vector<WorkflowSummary> all = create_sample(f.store());
  WorkflowQuery first;
  first.limit = 5;
  const auto page = f.store().list_workflows(first);
  BOOST_TEST(ids_of(page.workflows) ==
                 (std::vector<std::string>{"batch-29", "batch-19", "batch-09", "order-28", "order-08"}),
             boost::test_tools::per_element());
  BOOST_TEST(!page.next_cursor.empty());
  WorkflowQuery running_alpha;
  running_alpha.status = WorkflowStatus::running;
  running_alpha.name = "alpha";
  BOOST_TEST(walk(f.store(), running_alpha) ==
                 (std::vector<std::string>{"batch-09", "batch-27", "batch-15", "batch-03", "batch-21"}),
             boost::test_tools::per_element());
  // Every filter alone and in combination, against the brute-force reference.
  std::vector<WorkflowQuery> queries(14);
  queries[1].status = WorkflowStatus::completed;
  queries[2].name = "beta";
  queries[3].started_from_ms = 10'300;
  queries[4].started_to_ms = 10'500;
  queries[5].started_from_ms = 10'200, queries[5].started_to_ms = 10'700;
  queries[6].id_prefix = "order-";
  queries[7].id_prefix = "order-1";
  queries[8].id_prefix = "batch-", queries[8].status = WorkflowStatus::faulted;
  queries[9].name = "alpha", queries[9].started_from_ms = 10'400, queries[9].id_prefix = "batch-2";
  queries[10].status = WorkflowStatus::running, queries[10].name = "beta", queries[10].started_to_ms = 10'800;
  queries[11].id_prefix = "zzz";
  queries[12].started_from_ms = 10'500, queries[12].started_to_ms = 10'500;
  queries[13].status = WorkflowStatus::cancelled;
  for (std::size_t i = 0; i < queries.size(); ++i) {
    queries[i].limit = 1000;
    BOOST_TEST_CONTEXT("query " << i) {
      BOOST_TEST(walk(f.store(), queries[i]) == expected_ids(all, queries[i]),
                 boost::test_tools::per_element());
    }
  }
  BOOST_TEST(expected_ids(all, queries[6]).size() == 8u);  // the reference itself is not vacuous
  BOOST_TEST(expected_ids(all, queries[11]).empty());
}

template <typename F>
void pages_cover_every_workflow_once(F& f) {
  const std::vector<WorkflowSummary> all = create_sample(f.store());
  std::vector<WorkflowQuery> queries(4);
  queries[1].name = "alpha";
  queries[2].status = WorkflowStatus::faulted, queries[2].started_from_ms = 10'100;
  queries[3].id_prefix = "batch-";
  for (std::size_t i = 0; i < queries.size(); ++i) {
    BOOST_TEST_CONTEXT("query " << i) {
      for (const std::size_t limit : {1u, 4u, 7u}) {
        queries[i].limit = limit;
        std::size_t pages = 0;
        const std::vector<std::string> expected = expected_ids(all, queries[i]);
        BOOST_TEST(walk(f.store(), queries[i], &pages) == expected, boost::test_tools::per_element());
        BOOST_TEST(pages <= expected.size() / limit + 1);
      }
    }
  }
  BOOST_TEST(expected_ids(all, queries[0]).size() == 30u);
}

inline void expect_invalid(engine::WorkflowStore& store, const WorkflowQuery& query,
                           const std::string& named) {
  try {
    store.list_workflows(query);
    BOOST_ERROR("no error for a bad " << named);
  } catch (const engine::OperationError& e) {
    BOOST_TEST((e.category() == engine::ErrorCategory::invalid_argument));
    BOOST_TEST(std::string(e.what()).find(named) != std::string::npos, e.what());
  }
}

template <typename F>
void bad_cursors_and_limits_are_rejected(F& f) {
  create_sample(f.store());
  for (const char* cursor :
       {"not-a-cursor", "12-abc", "-61", "x1-61", "12-", "12-6G", "1234567890123456789-61"}) {
    WorkflowQuery query;
    query.cursor = cursor;
    BOOST_TEST_CONTEXT("cursor " << cursor) { expect_invalid(f.store(), query, "cursor"); }
  }
  for (const std::size_t limit : {0u, 1001u}) {
    WorkflowQuery query;
    query.limit = limit;
    expect_invalid(f.store(), query, "limit");
  }
  WorkflowQuery most;
  most.limit = 1000;
  BOOST_TEST(f.store().list_workflows(most).workflows.size() == 30u);
}

template <typename F>
void counts_follow_statuses(F& f) {
  std::vector<FakeStep> steps;
  for (int i = 0; i < 6; ++i) steps.emplace_back("count-" + std::to_string(i), 0, 1);
  for (int i = 0; i < 3; ++i) steps[i].as("alpha", WorkflowStatus::running, 1'000 + i);
  steps[3].as("beta", WorkflowStatus::running, 2'000);
  steps[4].as("beta", WorkflowStatus::running, 2'001);
  steps[5].as("alpha", WorkflowStatus::completed, 3'000, 4'000).closes();
  for (const FakeStep& step : steps) commit_one(f.store(), step.commit(0));
  auto all = f.store().count_workflows();
  BOOST_TEST(count_of(all, WorkflowStatus::running) == 5);
  BOOST_TEST(count_of(all, WorkflowStatus::completed) == 1);
  BOOST_TEST(count_of(all, WorkflowStatus::faulted) == 0);
  auto alpha = f.store().count_workflows("alpha");
  BOOST_TEST(count_of(alpha, WorkflowStatus::running) == 3);
  BOOST_TEST(count_of(alpha, WorkflowStatus::completed) == 1);
  BOOST_TEST(count_of(f.store().count_workflows("beta"), WorkflowStatus::running) == 2);
  for (const auto& [status, n] : f.store().count_workflows("gamma")) BOOST_TEST(n == 0);
  // count-1 faults: it moves from running to faulted in every count and list.
  FakeStep fault("count-1", 1, 1);
  fault.as("alpha", WorkflowStatus::faulted, 1'001, 5'000).closes();
  commit_one(f.store(), fault.commit(1));
  all = f.store().count_workflows();
  BOOST_TEST(count_of(all, WorkflowStatus::running) == 4);
  BOOST_TEST(count_of(all, WorkflowStatus::faulted) == 1);
  alpha = f.store().count_workflows("alpha");
  BOOST_TEST(count_of(alpha, WorkflowStatus::running) == 2);
  BOOST_TEST(count_of(alpha, WorkflowStatus::faulted) == 1);
  BOOST_TEST(count_of(f.store().count_workflows("beta"), WorkflowStatus::faulted) == 0);
  WorkflowQuery running;
  running.status = WorkflowStatus::running;
  BOOST_TEST(
      walk(f.store(), running) == (std::vector<std::string>{"count-4", "count-3", "count-2", "count-0"}),
      boost::test_tools::per_element());
  WorkflowQuery faulted_alpha;
  faulted_alpha.status = WorkflowStatus::faulted;
  faulted_alpha.name = "alpha";
  BOOST_TEST(walk(f.store(), faulted_alpha) == (std::vector<std::string>{"count-1"}),
             boost::test_tools::per_element());
}

template <typename F>
void reopened_workflows_leave_the_closed_set(F& f) {
  FakeStep start("re-1", 0, 1);
  start.as("alpha", WorkflowStatus::running, 1'000);
  commit_one(f.store(), start.commit(0));
  FakeStep fault("re-1", 1, 1);
  fault.as("alpha", WorkflowStatus::faulted, 1'000, 20'000).closes();
  commit_one(f.store(), fault.commit(1));
  BOOST_TEST(count_of(f.store().count_workflows(), WorkflowStatus::faulted) == 1);
  // An operator retry: the status leaves the final state and the workflow is open again.
  FakeStep retry("re-1", 2, 1);
  retry.as("alpha", WorkflowStatus::running, 1'000);
  commit_one(f.store(), retry.commit(2));
  const auto counts = f.store().count_workflows();
  BOOST_TEST(count_of(counts, WorkflowStatus::faulted) == 0);
  BOOST_TEST(count_of(counts, WorkflowStatus::running) == 1);
  WorkflowQuery faulted;
  faulted.status = WorkflowStatus::faulted;
  BOOST_TEST(f.store().list_workflows(faulted).workflows.empty());
  BOOST_TEST(f.store().list_workflows(WorkflowQuery{}).workflows.at(0).closed_ms == 0);
  BOOST_TEST(f.store().sweep_expired(20'000 + f.retention_ms() + 1'000, 100) == 0u);
  BOOST_REQUIRE(f.store().load("re-1"));
  BOOST_TEST(f.store().load("re-1")->version == 3);
}

template <typename F>
void sweep_drops_expired_workflows(F& f) {
  const std::int64_t retention = f.retention_ms();
  std::vector<FakeStep> steps;
  for (int i = 1; i <= 4; ++i) steps.emplace_back("sw-" + std::to_string(i), 0, 2);
  steps[0].as("alpha", WorkflowStatus::completed, 90'000, 100'000).closes();
  steps[1].as("alpha", WorkflowStatus::faulted, 90'001, 100'500).closes();
  steps[2].as("beta", WorkflowStatus::cancelled, 90'002, 101'000).closes();
  steps[3].as("beta", WorkflowStatus::running, 90'003);
  for (const FakeStep& step : steps) commit_one(f.store(), step.commit(0));
  // Kept while now <= closed + retention.
  BOOST_TEST(f.store().sweep_expired(100'000 + retention, 10) == 0u);
  BOOST_TEST(f.store().sweep_expired(100'500 + retention, 10) == 1u);
  BOOST_TEST(!f.store().load("sw-1"));
  BOOST_TEST(f.store().history("sw-1").empty());
  BOOST_TEST(walk(f.store(), WorkflowQuery{}) == (std::vector<std::string>{"sw-4", "sw-3", "sw-2"}),
             boost::test_tools::per_element());
  BOOST_TEST(count_of(f.store().count_workflows(), WorkflowStatus::completed) == 0);
  BOOST_TEST(count_of(f.store().count_workflows("alpha"), WorkflowStatus::faulted) == 1);
  // The limit bounds one call; later calls take the rest.
  BOOST_TEST(f.store().sweep_expired(200'000 + retention, 1) == 1u);
  BOOST_TEST(f.store().sweep_expired(200'000 + retention, 10) == 1u);
  BOOST_TEST(f.store().sweep_expired(200'000 + retention, 10) == 0u);
  BOOST_TEST(walk(f.store(), WorkflowQuery{}) == (std::vector<std::string>{"sw-4"}),
             boost::test_tools::per_element());
  const auto counts = f.store().count_workflows();
  BOOST_TEST(count_of(counts, WorkflowStatus::faulted) == 0);
  BOOST_TEST(count_of(counts, WorkflowStatus::cancelled) == 0);
  BOOST_TEST(count_of(counts, WorkflowStatus::running) == 1);
  BOOST_TEST(f.store().load("sw-4")->version == 2);
}

template <typename F>
void operations_figures(F& f) {
  BOOST_TEST(f.store().input_backlog() == 0);
  BOOST_TEST(!f.store().earliest_timer_due_ms());
  BOOST_TEST(depth_of(f.store().queue_depths(), "drone") == 0);
  FakeStep a("ops-a", 0, 1);
  a.schedule(1, "drone.schedule").schedule(2, "drone.cancel").schedule(3, "package.upsert");
  a.timer(10, 70'000).timer(11, 50'000);
  FakeStep b("ops-b", 0, 1);
  b.timer(12, 60'000);
  f.store().commit({a.commit(0), b.commit(0)});
  auto depths = f.store().queue_depths();
  BOOST_TEST(depth_of(depths, "drone") == 2);
  BOOST_TEST(depth_of(depths, "package") == 1);
  BOOST_TEST(f.store().earliest_timer_due_ms().value_or(-1) == 50'000);
  // In flight still counts; an acknowledged task no longer does, and its outcome waits as input.
  auto claimed = f.store().claim_tasks("drone", "w", 1, 0, 60'000);
  BOOST_REQUIRE_EQUAL(claimed.size(), 1u);
  BOOST_TEST(depth_of(f.store().queue_depths(), "drone") == 2);
  engine::Input done;
  done.type = engine::Input::Type::activity_completed;
  done.activity_id = claimed[0].activity_id;
  done.attempt = 1;
  f.store().complete_task(claimed[0], done);
  BOOST_TEST(depth_of(f.store().queue_depths(), "drone") == 1);
  BOOST_TEST(f.store().input_backlog() == 1);
  f.store().enqueue_input("ops-b", engine::Input::signal("go", json{}, 1));
  BOOST_TEST(f.store().input_backlog() == 2);
  // Claimed but unacknowledged inputs still count. (Redis may hand out one per partition here.)
  auto inputs = f.store().claim_inputs("o", 1, 0, 60'000);
  BOOST_REQUIRE(!inputs.empty());
  BOOST_TEST(f.store().input_backlog() == 2);
  f.store().ack_inputs({inputs[0]});
  BOOST_TEST(f.store().input_backlog() == 1);
  BOOST_TEST(f.store().fire_due_timers(55'000, 10) == 1u);
  BOOST_TEST(f.store().earliest_timer_due_ms().value_or(-1) == 60'000);
  BOOST_TEST(f.store().input_backlog() == 2);
  BOOST_TEST(f.store().fire_due_timers(80'000, 10) == 2u);
  BOOST_TEST(!f.store().earliest_timer_due_ms());
}

template <typename F>
void definitions_are_stored_once(F& f) {
  using engine::PutDefinitionOutcome;
  BOOST_TEST(f.store().list_definitions().empty());
  const std::string source = "document:\n  name: alpha\n  title: \"Ünïcode \\u2708\"\ndo: []\n";
  const engine::StoredDefinition alpha1{"alpha", "1.0.0", source, "d-a1", 1'000};
  BOOST_TEST((f.store().put_definition(alpha1) == PutDefinitionOutcome::created));
  BOOST_TEST((f.store().put_definition(alpha1) == PutDefinitionOutcome::unchanged));
  BOOST_TEST((f.store().put_definition({"alpha", "1.0.0", "other", "d-other", 2'000}) ==
              PutDefinitionOutcome::conflict));
  BOOST_TEST(
      (f.store().put_definition({"beta", "1.0.0", "b", "d-b1", 3'000}) == PutDefinitionOutcome::created));
  BOOST_TEST(
      (f.store().put_definition({"alpha", "2.0.0", "a2", "d-a2", 4'000}) == PutDefinitionOutcome::created));
  const auto listed = f.store().list_definitions();
  BOOST_REQUIRE_EQUAL(listed.size(), 3u);
  BOOST_TEST(listed[0].name == "alpha");
  BOOST_TEST(listed[0].version == "1.0.0");
  BOOST_TEST(listed[0].source == source);
  BOOST_TEST(listed[0].digest == "d-a1");  // the conflicting put wrote nothing
  BOOST_TEST(listed[0].created_ms == 1'000);
  BOOST_TEST(listed[1].name == "beta");
  BOOST_TEST(listed[1].created_ms == 3'000);
  BOOST_TEST(listed[2].version == "2.0.0");
  BOOST_TEST(listed[2].source == "a2");
  BOOST_TEST(listed[2].digest == "d-a2");
  try {
    f.store().put_definition({"", "1.0.0", "x", "d", 1});
    BOOST_ERROR("an empty name was accepted");
  } catch (const engine::OperationError& e) {
    BOOST_TEST((e.category() == engine::ErrorCategory::invalid_argument));
  }
}

inline engine::Input completed(std::int64_t activity_id, int attempt, json result) {
  engine::Input outcome;
  outcome.type = engine::Input::Type::activity_completed;
  outcome.activity_id = activity_id;
  outcome.attempt = attempt;
  outcome.payload = std::move(result);
  outcome.time_ms = 5;
  return outcome;
}

// Claims everything waiting for the orchestrators and acknowledges it.
inline std::vector<engine::QueuedInput> drain_inputs(engine::WorkflowStore& store) {
  auto inputs = store.claim_inputs("orchestrator", 100, 0, 60'000);
  store.ack_inputs(inputs);
  return inputs;
}

template <typename F>
void renewed_leases_are_not_redelivered(F& f) {
  FakeStep step("ext-1", 0, 1);
  step.schedule(1, "drone.schedule");
  commit_one(f.store(), step.commit(0));
  constexpr std::int64_t lease_ms = 600;
  auto first = f.store().claim_tasks("drone", "worker-1", 1, 0, lease_ms);
  BOOST_REQUIRE_EQUAL(first.size(), 1u);
  BOOST_TEST(first[0].consumer == "worker-1");
  f.pass_time(400);
  BOOST_TEST((f.store().renew_task(first[0], lease_ms) == engine::LeaseState::held));  // a heartbeat
  f.pass_time(400);  // 800 ms since the claim, 400 since the renewal
  BOOST_TEST(f.store().claim_tasks("drone", "worker-2", 1, 0, lease_ms).empty());
  f.pass_time(400);  // the worker went silent: its lease ran out
  BOOST_TEST((f.store().renew_task(first[0], lease_ms) == engine::LeaseState::lost));
  auto second = f.store().claim_tasks("drone", "worker-2", 1, 0, lease_ms);
  BOOST_REQUIRE_EQUAL(second.size(), 1u);
  BOOST_TEST(second[0].deliveries == 2);
  // The silent worker can neither take it back, nor report, nor drop it.
  BOOST_TEST((f.store().renew_task(first[0], lease_ms) == engine::LeaseState::lost));
  BOOST_TEST(!f.store().complete_task(first[0], completed(1, 1, json{{"by", "worker-1"}})));
  BOOST_TEST(!f.store().drop_task(first[0]));
  BOOST_TEST(drain_inputs(f.store()).empty());
  // The current holder reports once; a second report of the same delivery counts for nothing.
  BOOST_TEST(f.store().complete_task(second[0], completed(1, 1, json{{"by", "worker-2"}})));
  BOOST_TEST(!f.store().complete_task(second[0], completed(1, 1, json{{"by", "worker-2"}})));
  const auto inputs = drain_inputs(f.store());
  BOOST_REQUIRE_EQUAL(inputs.size(), 1u);
  BOOST_TEST(inputs[0].input.payload == (json{{"by", "worker-2"}}));
  f.pass_time(700);
  BOOST_TEST(f.store().claim_tasks("drone", "worker-3", 1, 0, lease_ms).empty());
}

template <typename F>
void cancelled_attempts_are_flagged_until_reported(F& f) {
  FakeStep step("can-1", 0, 1);
  step.schedule(1, "drone.schedule").schedule(2, "drone.schedule");
  commit_one(f.store(), step.commit(0));
  auto held = f.store().claim_tasks("drone", "worker-1", 1, 0, 60'000);
  BOOST_REQUIRE_EQUAL(held.size(), 1u);
  BOOST_TEST(!held[0].cancelled);
  // The engine cancels both attempts: the one in a worker's hands and the one still queued.
  FakeStep cancel("can-1", 1, 1);
  for (std::int64_t id : {1, 2}) {
    Command c;
    c.type = Command::Type::cancel_activity;
    c.activity_id = id;
    c.attempt = 1;
    cancel.commands.push_back(c);
  }
  commit_one(f.store(), cancel.commit(1));
  BOOST_TEST((f.store().renew_task(held[0], 60'000) == engine::LeaseState::cancelled));
  auto queued = f.store().claim_tasks("drone", "worker-2", 1, 0, 60'000);
  BOOST_REQUIRE_EQUAL(queued.size(), 1u);
  BOOST_TEST(queued[0].cancelled);
  // Reporting ends the mark with the task: a later attempt of the same activity is not cancelled.
  engine::Input gone;
  gone.type = engine::Input::Type::activity_cancelled;
  gone.activity_id = held[0].activity_id;
  gone.attempt = 1;
  BOOST_TEST(f.store().complete_task(held[0], gone));
  BOOST_TEST(f.store().complete_task(queued[0], gone));
  FakeStep retry("can-1", 2, 1);
  retry.schedule(1, "drone.schedule", 2);
  commit_one(f.store(), retry.commit(2));
  auto second_attempt = f.store().claim_tasks("drone", "worker-1", 1, 0, 60'000);
  BOOST_REQUIRE_EQUAL(second_attempt.size(), 1u);
  BOOST_TEST(!second_attempt[0].cancelled);
}

template <typename F>
void delayed_inputs_fire_once_when_due(F& f) {
  const std::int64_t now = f.now_ms();
  FakeStep step("del-1", 0, 1);
  step.schedule(1, "drone.schedule");
  commit_one(f.store(), step.commit(0));
  auto tasks = f.store().claim_tasks("drone", "worker-1", 1, 0, 60'000);
  BOOST_REQUIRE_EQUAL(tasks.size(), 1u);
  engine::DelayedInput landing{"del-1/ref/1#0", "del-1", engine::Input::signal("delivered", json{{"plan", 1}}, 0),
                               now + 5'000};
  // The same delayed input twice (a repeated report after a redelivery) is scheduled once.
  BOOST_TEST(f.store().complete_task(tasks[0], completed(1, 1, json::object()), {landing, landing}));
  BOOST_TEST(drain_inputs(f.store()).size() == 1u);  // the outcome only
  BOOST_REQUIRE(f.store().earliest_timer_due_ms());
  BOOST_TEST(*f.store().earliest_timer_due_ms() == now + 5'000);
  BOOST_TEST(f.store().fire_due_timers(now + 4'999, 10) == 0u);
  BOOST_TEST(f.store().fire_due_timers(now + 5'000, 10) == 1u);
  BOOST_TEST(f.store().fire_due_timers(now + 9'000, 10) == 0u);
  const auto fired = drain_inputs(f.store());
  BOOST_REQUIRE_EQUAL(fired.size(), 1u);
  BOOST_TEST(fired[0].workflow_id == "del-1");
  BOOST_TEST((fired[0].input.type == engine::Input::Type::signal));
  BOOST_TEST(fired[0].input.name == "delivered");
  BOOST_TEST(fired[0].input.payload == (json{{"plan", 1}}));
  BOOST_TEST(fired[0].input.time_ms == now + 5'000);
  BOOST_TEST(!f.store().earliest_timer_due_ms());
}

template <typename F>
void poison_work_goes_to_the_dead_letters(F& f) {
  FakeStep step("dl-1", 0, 1);
  step.schedule(1, "drone.schedule");
  commit_one(f.store(), step.commit(0));
  auto tasks = f.store().claim_tasks("drone", "worker-1", 1, 0, 60'000);
  BOOST_REQUIRE_EQUAL(tasks.size(), 1u);
  engine::Input failure;
  failure.type = engine::Input::Type::activity_failed;
  failure.activity_id = 1;
  failure.attempt = 1;
  failure.error = engine::make_error("https://flightplan.dev/errors/dead-letter", 500, "Dead letter", "too many");
  BOOST_TEST(f.store().dead_letter_task(tasks[0], "delivered 6 times", failure));
  BOOST_TEST(!f.store().dead_letter_task(tasks[0], "again", failure));  // fenced like a report
  auto inputs = drain_inputs(f.store());
  BOOST_REQUIRE_EQUAL(inputs.size(), 1u);
  BOOST_TEST((inputs[0].input.type == engine::Input::Type::activity_failed));
  f.store().enqueue_input("dl-1", engine::Input::signal("bad", json{{"x", 1}}, 7));
  auto bad = f.store().claim_inputs("orchestrator", 10, 0, 60'000);
  BOOST_REQUIRE_EQUAL(bad.size(), 1u);
  BOOST_TEST(bad[0].deliveries == 1);
  f.store().dead_letter_input(bad[0], "applying it failed 6 times", engine::Input::cancel("poison", 8));
  inputs = drain_inputs(f.store());
  BOOST_REQUIRE_EQUAL(inputs.size(), 1u);
  BOOST_TEST((inputs[0].input.type == engine::Input::Type::cancel));
  BOOST_TEST(f.store().count_dead_letters() == 2);
  const auto letters = f.store().list_dead_letters(10);
  BOOST_REQUIRE_EQUAL(letters.size(), 2u);
  BOOST_TEST(letters[0].kind == "input");  // newest first
  BOOST_TEST(letters[0].workflow_id == "dl-1");
  BOOST_TEST(letters[0].reason == "applying it failed 6 times");
  BOOST_TEST(letters[0].entry.at("name") == "bad");
  BOOST_TEST(letters[1].kind == "task");
  BOOST_TEST(letters[1].reason == "delivered 6 times");
  BOOST_TEST(letters[1].deliveries == 1);
  BOOST_TEST(letters[1].entry.at("activity") == "drone.schedule");
  BOOST_TEST(f.store().list_dead_letters(1).size() == 1u);
}

template <typename F>
void released_work_is_handed_out_at_once(F& f) {
  FakeStep step("rel-1", 0, 1);
  step.schedule(1, "drone.schedule");
  commit_one(f.store(), step.commit(0));
  auto tasks = f.store().claim_tasks("drone", "draining", 1, 0, 60'000);
  BOOST_REQUIRE_EQUAL(tasks.size(), 1u);
  f.store().release_task(tasks[0]);
  auto again = f.store().claim_tasks("drone", "worker-2", 1, 0, 60'000);
  BOOST_REQUIRE_EQUAL(again.size(), 1u);
  BOOST_TEST(again[0].deliveries == 2);
  f.store().enqueue_input("rel-1", engine::Input::signal("go", json(), 1));
  auto inputs = f.store().claim_inputs("draining", 10, 0, 60'000);
  BOOST_REQUIRE_EQUAL(inputs.size(), 1u);
  f.store().release_inputs(inputs);
  auto redelivered = f.store().claim_inputs("orchestrator-2", 10, 0, 60'000);
  BOOST_REQUIRE_EQUAL(redelivered.size(), 1u);
  BOOST_TEST(redelivered[0].deliveries == 2);
  f.store().ack_inputs(redelivered);
}

}  // namespace flightplan::contract

#define FLIGHTPLAN_STORE_CONTRACT(Fixture)                                                                  \
  BOOST_FIXTURE_TEST_CASE(create_load_and_history, Fixture) {                                               \
    flightplan::contract::create_load_and_history(*this);                                                   \
  }                                                                                                         \
  BOOST_FIXTURE_TEST_CASE(version_conflicts_write_nothing, Fixture) {                                       \
    flightplan::contract::version_conflicts_write_nothing(*this);                                           \
  }                                                                                                         \
  BOOST_FIXTURE_TEST_CASE(batched_commits_are_independent, Fixture) {                                       \
    flightplan::contract::batched_commits_are_independent(*this);                                           \
  }                                                                                                         \
  BOOST_FIXTURE_TEST_CASE(tasks_leave_through_the_commit, Fixture) {                                        \
    flightplan::contract::tasks_leave_through_the_commit(*this);                                            \
  }                                                                                                         \
  BOOST_FIXTURE_TEST_CASE(unacknowledged_work_is_redelivered, Fixture) {                                    \
    flightplan::contract::unacknowledged_work_is_redelivered(*this);                                        \
  }                                                                                                         \
  BOOST_FIXTURE_TEST_CASE(timers_fire_once_when_due, Fixture) {                                             \
    flightplan::contract::timers_fire_once_when_due(*this);                                                 \
  }                                                                                                         \
  BOOST_FIXTURE_TEST_CASE(racing_supervisors_fire_each_timer_once, Fixture) {                               \
    flightplan::contract::racing_supervisors_fire_each_timer_once(*this);                                   \
  }                                                                                                         \
  BOOST_FIXTURE_TEST_CASE(summaries_follow_commits, Fixture) {                                              \
    flightplan::contract::summaries_follow_commits(*this);                                                  \
  }                                                                                                         \
  BOOST_FIXTURE_TEST_CASE(lists_newest_first_and_filter, Fixture) {                                         \
    flightplan::contract::lists_newest_first_and_filter(*this);                                             \
  }                                                                                                         \
  BOOST_FIXTURE_TEST_CASE(pages_cover_every_workflow_once, Fixture) {                                       \
    flightplan::contract::pages_cover_every_workflow_once(*this);                                           \
  }                                                                                                         \
  BOOST_FIXTURE_TEST_CASE(bad_cursors_and_limits_are_rejected, Fixture) {                                   \
    flightplan::contract::bad_cursors_and_limits_are_rejected(*this);                                       \
  }                                                                                                         \
  BOOST_FIXTURE_TEST_CASE(counts_follow_statuses, Fixture) {                                                \
    flightplan::contract::counts_follow_statuses(*this);                                                    \
  }                                                                                                         \
  BOOST_FIXTURE_TEST_CASE(reopened_workflows_leave_the_closed_set, Fixture) {                               \
    flightplan::contract::reopened_workflows_leave_the_closed_set(*this);                                   \
  }                                                                                                         \
  BOOST_FIXTURE_TEST_CASE(sweep_drops_expired_workflows, Fixture) {                                         \
    flightplan::contract::sweep_drops_expired_workflows(*this);                                             \
  }                                                                                                         \
  BOOST_FIXTURE_TEST_CASE(operations_figures, Fixture) { flightplan::contract::operations_figures(*this); } \
  BOOST_FIXTURE_TEST_CASE(definitions_are_stored_once, Fixture) {                                           \
    flightplan::contract::definitions_are_stored_once(*this);                                               \
  }                                                                                                         \
  BOOST_FIXTURE_TEST_CASE(renewed_leases_are_not_redelivered, Fixture) {                                    \
    flightplan::contract::renewed_leases_are_not_redelivered(*this);                                        \
  }                                                                                                         \
  BOOST_FIXTURE_TEST_CASE(cancelled_attempts_are_flagged_until_reported, Fixture) {                         \
    flightplan::contract::cancelled_attempts_are_flagged_until_reported(*this);                             \
  }                                                                                                         \
  BOOST_FIXTURE_TEST_CASE(delayed_inputs_fire_once_when_due, Fixture) {                                     \
    flightplan::contract::delayed_inputs_fire_once_when_due(*this);                                         \
  }                                                                                                         \
  BOOST_FIXTURE_TEST_CASE(poison_work_goes_to_the_dead_letters, Fixture) {                                  \
    flightplan::contract::poison_work_goes_to_the_dead_letters(*this);                                      \
  }                                                                                                         \
  BOOST_FIXTURE_TEST_CASE(released_work_is_handed_out_at_once, Fixture) {                                   \
    flightplan::contract::released_work_is_handed_out_at_once(*this);                                       \
  }

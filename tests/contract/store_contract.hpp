#pragma once
// The WorkflowStore contract: one suite, run against every implementation (memory_store_test.cpp,
// redis_store_redistest.cpp). A fixture type provides:
//   engine::WorkflowStore& store();
//   std::int64_t now_ms();                 // the time the store measures visibility with
//   void pass_time(std::int64_t delta_ms); // lets that much time pass (manual clock or real sleep)
// and FLIGHTPLAN_STORE_CONTRACT(Fixture) instantiates every case for it.
#include "flightplan/engine/store.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <set>
#include <thread>

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
  auto package = f.store().claim_tasks("package", "worker-1", 10, 0, 60'000);
  BOOST_REQUIRE_EQUAL(package.size(), 1u);
  BOOST_TEST(package[0].attempt == 2);
  // Completing acknowledges the task and queues its outcome for the orchestrator.
  engine::Input outcome;
  outcome.type = engine::Input::Type::activity_completed;
  outcome.activity_id = 11;
  outcome.attempt = 1;
  outcome.payload = json{{"droneId", "drone-007"}};
  outcome.time_ms = 5;
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
  BOOST_TEST(again[0].deliveries >= 2);
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

}  // namespace flightplan::contract

#define FLIGHTPLAN_STORE_CONTRACT(Fixture)                                                                       \
  BOOST_FIXTURE_TEST_CASE(create_load_and_history, Fixture) { flightplan::contract::create_load_and_history(*this); } \
  BOOST_FIXTURE_TEST_CASE(version_conflicts_write_nothing, Fixture) {                                            \
    flightplan::contract::version_conflicts_write_nothing(*this);                                                \
  }                                                                                                              \
  BOOST_FIXTURE_TEST_CASE(batched_commits_are_independent, Fixture) {                                            \
    flightplan::contract::batched_commits_are_independent(*this);                                                \
  }                                                                                                              \
  BOOST_FIXTURE_TEST_CASE(tasks_leave_through_the_commit, Fixture) {                                             \
    flightplan::contract::tasks_leave_through_the_commit(*this);                                                 \
  }                                                                                                              \
  BOOST_FIXTURE_TEST_CASE(unacknowledged_work_is_redelivered, Fixture) {                                         \
    flightplan::contract::unacknowledged_work_is_redelivered(*this);                                             \
  }                                                                                                              \
  BOOST_FIXTURE_TEST_CASE(timers_fire_once_when_due, Fixture) { flightplan::contract::timers_fire_once_when_due(*this); } \
  BOOST_FIXTURE_TEST_CASE(racing_supervisors_fire_each_timer_once, Fixture) {                                    \
    flightplan::contract::racing_supervisors_fire_each_timer_once(*this);                                        \
  }

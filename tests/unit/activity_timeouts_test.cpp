#define BOOST_TEST_MODULE activity_timeouts
// Every activity deadline, driven input by input against the engine with time as data.
#include "../support/harness.hpp"

#include "flightplan/engine/machine.hpp"

using namespace flightplan::engine;
using flightplan::testing::compile_yaml;
using flightplan::testing::start_ms;
using nlohmann::json;

namespace {

DefinitionPtr definition_with(const std::string& timeouts, int attempts) {
  return compile_yaml(R"(document:
  dsl: '1.0.0'
  namespace: test
  name: deadlines
  version: '0.1.0'
do:
  - work:
      call: test.echo
      with:
        x: 1
      retry:
        delay: PT1S
        limit:
          attempt:
            count: )" + std::to_string(attempts) +
                      R"(
      timeouts:
)" + timeouts);
}

// The engine side of a workflow, fed by hand.
struct Driver {
  DefinitionPtr definition;
  WorkflowState state;
  std::vector<Event> events;

  Step feed(const Input& input) {
    Step step = apply(*definition, state, input);
    for (const Event& e : step.events) events.push_back(e);
    return step;
  }
  const Timer& timer(TimerKind kind) const {
    for (const auto& [id, t] : state.timers)
      if (t.kind == kind) return t;
    BOOST_FAIL("no timer of kind " + std::string(to_string(kind)));
    return state.timers.begin()->second;
  }
  bool has_timer(TimerKind kind) const {
    for (const auto& [id, t] : state.timers)
      if (t.kind == kind) return true;
    return false;
  }
  Input activity_input(Input::Type type, int attempt, std::int64_t time_ms) const {
    Input in;
    in.type = type;
    in.activity_id = state.activities.begin()->first;
    in.attempt = attempt;
    in.time_ms = time_ms;
    return in;
  }
  void check_replay() {
    History history{state.id, state.name, state.version, state.digest, events};
    ReplayResult result = replay(*definition, history);
    BOOST_REQUIRE(result.ok());
    BOOST_TEST(result.state.to_json() == state.to_json());
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(schedule_to_start_timeout_retries_the_attempt) {
  Driver d{definition_with("        scheduleToStart: PT10S\n", 2), {}, {}};
  d.feed(Input::start("wf", json::object(), start_ms));
  const Timer t = d.timer(TimerKind::schedule_to_start);
  BOOST_TEST(t.due_ms == start_ms + 10'000);
  d.feed(Input::timer_fired(t.id, t.due_ms));
  BOOST_TEST(d.events[d.events.size() - 2].type == "activity_timed_out");
  BOOST_TEST(d.events[d.events.size() - 2].data.at("timeout") == "schedule_to_start");
  // Backoff of 1 s, then attempt 2 is scheduled.
  const Timer backoff = d.timer(TimerKind::activity_retry);
  BOOST_TEST(backoff.due_ms == t.due_ms + 1000);
  d.feed(Input::timer_fired(backoff.id, backoff.due_ms));
  BOOST_TEST(d.state.activities.begin()->second.attempt == 2);
  // A late reply of attempt 1 is stale: not accepted, no events.
  Input late = d.activity_input(Input::Type::activity_completed, 1, backoff.due_ms + 5);
  BOOST_TEST(!d.feed(late).accepted);
  d.feed(d.activity_input(Input::Type::activity_started, 2, backoff.due_ms + 10));
  Input done = d.activity_input(Input::Type::activity_completed, 2, backoff.due_ms + 20);
  done.payload = json{{"ok", true}};
  d.feed(done);
  BOOST_TEST(d.state.status == WorkflowStatus::completed);
  BOOST_TEST(d.state.output == (json{{"ok", true}}));
  d.check_replay();
}

BOOST_AUTO_TEST_CASE(start_to_close_timeout_after_retries_faults) {
  Driver d{definition_with("        startToClose: PT5S\n", 2), {}, {}};
  d.feed(Input::start("wf", json::object(), start_ms));
  BOOST_TEST(!d.has_timer(TimerKind::start_to_close));  // starts only when the worker does
  d.feed(d.activity_input(Input::Type::activity_started, 1, start_ms + 100));
  Timer t = d.timer(TimerKind::start_to_close);
  BOOST_TEST(t.due_ms == start_ms + 5100);
  d.feed(Input::timer_fired(t.id, t.due_ms));
  const Timer backoff = d.timer(TimerKind::activity_retry);
  d.feed(Input::timer_fired(backoff.id, backoff.due_ms));
  d.feed(d.activity_input(Input::Type::activity_started, 2, backoff.due_ms));
  t = d.timer(TimerKind::start_to_close);
  d.feed(Input::timer_fired(t.id, t.due_ms));
  BOOST_TEST(d.state.status == WorkflowStatus::faulted);
  BOOST_TEST(d.state.error.at("type") == "https://serverlessworkflow.io/spec/1.0.0/errors/timeout");
  BOOST_TEST(d.state.timers.empty());
  d.check_replay();
}

BOOST_AUTO_TEST_CASE(heartbeats_extend_the_heartbeat_deadline) {
  Driver d{definition_with("        heartbeat: PT3S\n        startToClose: PT1M\n", 1), {}, {}};
  d.feed(Input::start("wf", json::object(), start_ms));
  d.feed(d.activity_input(Input::Type::activity_started, 1, start_ms));
  BOOST_TEST(d.timer(TimerKind::heartbeat).due_ms == start_ms + 3000);
  Input beat = d.activity_input(Input::Type::activity_heartbeat, 1, start_ms + 2000);
  beat.payload = json{{"progress", 0.5}};
  BOOST_TEST(d.feed(beat).accepted);
  const Timer t = d.timer(TimerKind::heartbeat);
  BOOST_TEST(t.due_ms == start_ms + 5000);
  d.feed(Input::timer_fired(t.id, t.due_ms));
  BOOST_TEST(d.state.status == WorkflowStatus::faulted);
  bool saw = false;
  for (const Event& e : d.events)
    if (e.type == "activity_timed_out") saw = e.data.at("timeout") == "heartbeat";
  BOOST_TEST(saw);
  d.check_replay();
}

BOOST_AUTO_TEST_CASE(schedule_to_close_spans_attempts_and_is_final) {
  Driver d{definition_with("        scheduleToClose: PT20S\n        startToClose: PT1M\n", 5), {}, {}};
  d.feed(Input::start("wf", json::object(), start_ms));
  d.feed(d.activity_input(Input::Type::activity_started, 1, start_ms));
  Input fail = d.activity_input(Input::Type::activity_failed, 1, start_ms + 1000);
  fail.error = make_error("https://example.test/x", 503, "x");
  d.feed(fail);
  const Timer backoff = d.timer(TimerKind::activity_retry);
  d.feed(Input::timer_fired(backoff.id, backoff.due_ms));
  const Timer t = d.timer(TimerKind::schedule_to_close);
  BOOST_TEST(t.due_ms == start_ms + 20'000);
  d.feed(Input::timer_fired(t.id, t.due_ms));
  // Four attempts were left, but schedule-to-close ends them all.
  BOOST_TEST(d.state.status == WorkflowStatus::faulted);
  BOOST_TEST(d.state.activities.empty());
  d.check_replay();
}

BOOST_AUTO_TEST_CASE(inputs_for_unknown_activities_and_timers_are_ignored) {
  Driver d{definition_with("        startToClose: PT5S\n", 1), {}, {}};
  d.feed(Input::start("wf", json::object(), start_ms));
  const std::int64_t before = d.state.history_length;
  BOOST_TEST(!d.feed(Input::timer_fired(9999, start_ms + 1)).accepted);
  Input bogus;
  bogus.type = Input::Type::activity_completed;
  bogus.activity_id = 12345;
  bogus.attempt = 1;
  BOOST_TEST(!d.feed(bogus).accepted);
  BOOST_TEST(!d.feed(Input::start("wf", json::object(), start_ms)).accepted);  // already started
  BOOST_TEST(d.state.history_length == before);
}

// A worker reports an attempt's start with its outcome (Input::started_ms) instead of on its own:
// the engine applies the start first, at its own time. The history, the state and a replay are
// exactly those of the two inputs sent one after the other.
BOOST_AUTO_TEST_CASE(a_start_carried_by_the_outcome_is_the_same_as_a_start_on_its_own) {
  const std::string timeouts = "        startToClose: PT30S\n        heartbeat: PT5S\n";
  Driver separate{definition_with(timeouts, 2), {}, {}};
  Driver carried{definition_with(timeouts, 2), {}, {}};
  for (Driver* d : {&separate, &carried}) d->feed(Input::start("wf", json::object(), start_ms));

  Input started = separate.activity_input(Input::Type::activity_started, 1, start_ms + 100);
  started.name = "worker-7";
  separate.feed(started);
  Input completed = separate.activity_input(Input::Type::activity_completed, 1, start_ms + 900);
  completed.payload = json{{"ok", true}};
  completed.name = "worker-7";
  separate.feed(completed);

  completed.started_ms = start_ms + 100;
  const Step step = carried.feed(completed);
  BOOST_REQUIRE(!step.events.empty());
  BOOST_TEST(step.events.front().type == "activity_started");
  BOOST_TEST(step.events.front().time_ms == start_ms + 100);
  BOOST_TEST(step.events.front().data.value("start_to_close_deadline_ms", std::int64_t{0}) == start_ms + 100 + 30'000);

  BOOST_REQUIRE_EQUAL(carried.events.size(), separate.events.size());
  for (std::size_t i = 0; i < carried.events.size(); ++i)
    BOOST_TEST(carried.events[i].to_json() == separate.events[i].to_json(), "event " << i + 1);
  BOOST_TEST(carried.state.to_json() == separate.state.to_json());
  BOOST_TEST(to_string(carried.state.status) == "completed");
  carried.check_replay();
  // The input travels as JSON between processes: started_ms survives the trip.
  BOOST_TEST(Input::from_json(completed.to_json()).started_ms == start_ms + 100);
}

// A heartbeat that carries the start starts the attempt (its heartbeat deadline counts from the
// start) and then extends it; a start that comes later on its own changes nothing.
BOOST_AUTO_TEST_CASE(a_heartbeat_carrying_the_start_starts_the_attempt_once) {
  Driver d{definition_with("        heartbeat: PT5S\n", 2), {}, {}};
  d.feed(Input::start("wf", json::object(), start_ms));
  Input beat = d.activity_input(Input::Type::activity_heartbeat, 1, start_ms + 4'000);
  beat.started_ms = start_ms + 1'000;
  d.feed(beat);
  BOOST_TEST(d.timer(TimerKind::heartbeat).due_ms == start_ms + 4'000 + 5'000);
  BOOST_TEST(d.state.activities.begin()->second.started_ms == start_ms + 1'000);
  const std::size_t events_before = d.events.size();
  d.feed(d.activity_input(Input::Type::activity_started, 1, start_ms + 1'000));
  BOOST_TEST(d.events.size() == events_before);
  d.check_replay();
}

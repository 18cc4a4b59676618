#define BOOST_TEST_MODULE control
// Operator controls in the pure engine: terminate, pause (inputs held), resume (held inputs applied),
// retry (re-open a faulted workflow where it failed, or re-run failed compensations), and dedupe of
// redelivered controls. Each test drives engine::apply directly with hand-made inputs, so the moment
// every input arrives is exact, and ends by replaying the history it produced.
#include "../support/harness.hpp"

using flightplan::engine::Command;
using flightplan::engine::Event;
using flightplan::engine::Input;
using flightplan::engine::Step;
using flightplan::engine::WorkflowStatus;
using flightplan::testing::compile_yaml;
using flightplan::testing::start_ms;
using nlohmann::json;

namespace {

using Strings = std::vector<std::string>;

std::string workflow(const std::string& body) {
  return "document:\n  dsl: '1.0.0'\n  namespace: test\n  name: controls\n  version: '0.1.0'\n" + body;
}

// One workflow driven input by input; keeps the history as a store would.
struct Driver {
  flightplan::engine::DefinitionPtr definition;
  flightplan::engine::WorkflowState state;
  std::vector<Event> events;
  flightplan::engine::EngineLimits limits;

  explicit Driver(const std::string& body) : definition(compile_yaml(workflow(body))) {}

  Step apply(const Input& input) {
    const json before = state.to_json();
    Step step = flightplan::engine::apply(*definition, state, input, limits);
    // An input that is not accepted changes nothing at all.
    if (!step.accepted) BOOST_TEST(state.to_json() == before);
    events.insert(events.end(), step.events.begin(), step.events.end());
    return step;
  }
  Step start(json input = json::object()) { return apply(Input::start("wf-1", std::move(input), start_ms)); }

  // The newest activity_scheduled event of a task, as (activity id, attempt).
  std::pair<std::int64_t, int> scheduled(const std::string& reference) const {
    for (auto it = events.rbegin(); it != events.rend(); ++it)
      if (it->type == "activity_scheduled" && it->reference == reference)
        return {it->data.at("activity_id").get<std::int64_t>(), it->data.at("attempt").get<int>()};
    BOOST_FAIL("no activity scheduled for " + reference);
    return {0, 0};
  }
  Step complete(const std::string& reference, json result, std::int64_t at_ms) {
    const auto [id, attempt] = scheduled(reference);
    Input input;
    input.type = Input::Type::activity_completed;
    input.activity_id = id;
    input.attempt = attempt;
    input.payload = std::move(result);
    input.time_ms = at_ms;
    return apply(input);
  }
  Step fail(const std::string& reference, std::int64_t at_ms) {
    const auto [id, attempt] = scheduled(reference);
    Input input;
    input.type = Input::Type::activity_failed;
    input.activity_id = id;
    input.attempt = attempt;
    input.error = flightplan::engine::make_error("https://example.test/errors/broken", 400, "Broken");
    input.retryable = false;  // one failure faults the task: no retry policy to wait out
    input.time_ms = at_ms;
    return apply(input);
  }

  // Types (or references) of the events from position `from` on.
  Strings types(std::size_t from = 0) const {
    Strings out;
    for (std::size_t i = from; i < events.size(); ++i) out.push_back(events[i].type);
    return out;
  }
  Strings refs(const std::string& type) const {
    Strings out;
    for (const auto& event : events)
      if (event.type == type) out.push_back(event.reference);
    return out;
  }

  // Replaying the history must rebuild exactly this state.
  void check_replay() const {
    flightplan::memory::WorkflowRecord record{definition, state, events};
    flightplan::testing::check_replay(record);
  }
};

bool has_command(const Step& step, Command::Type type) {
  for (const auto& command : step.commands)
    if (command.type == type) return true;
  return false;
}

const Command* closed_command(const Step& step) {
  for (const auto& command : step.commands)
    if (command.type == Command::Type::workflow_closed) return &command;
  return nullptr;
}

// The state as JSON without what any accepted input changes (its history position and time).
json without_bookkeeping(const flightplan::engine::WorkflowState& state) {
  json out = state.to_json();
  out.erase("history_length");
  out.erase("updated_ms");
  out.erase("held_inputs");
  return out;
}

// Two calls, the first compensable, under a one-hour workflow timeout.
const char* two_calls = R"(
timeout:
  after: PT1H
do:
  - book:
      call: test.echo
      with:
        booking: b-1
      compensate:
        call: test.echo
        with:
          undo: ${ .booking }
  - ship:
      call: test.echo
      with:
        parcel: p-1
)";

// An activity and a one-minute wait side by side.
const char* fork_with_wait = R"(
do:
  - both:
      fork:
        branches:
          - work:
              call: test.echo
              with:
                n: 1
          - nap:
              wait: PT1M
)";

}  // namespace

BOOST_AUTO_TEST_SUITE(terminate)

BOOST_AUTO_TEST_CASE(terminate_mid_activity_cancels_everything_and_compensates_nothing) {
  Driver d(two_calls);
  d.start();
  d.complete("/do/0/book", json{{"booking", "b-1"}}, start_ms + 1000);
  const std::int64_t ship_id = d.scheduled("/do/1/ship").first;
  const std::size_t before = d.events.size();
  Input terminate = Input::terminate("stuck drone", start_ms + 5000);
  const Step step = d.apply(terminate);
  BOOST_TEST(step.accepted);
  BOOST_TEST(d.types(before) ==
                 (Strings{"workflow_terminated", "activity_cancelled", "task_cancelled", "timer_cancelled"}),
             boost::test_tools::per_element());
  const Event& terminated = d.events[before];
  BOOST_TEST(terminated.data.at("reason") == "stuck drone");
  BOOST_TEST(d.events[before + 1].data.at("activity_id") == ship_id);
  BOOST_TEST(d.state.status == WorkflowStatus::terminated);
  BOOST_TEST(d.state.closed_ms == start_ms + 5000);
  BOOST_TEST(d.state.error.at("type") == "https://flightplan.dev/errors/terminated");
  BOOST_TEST(d.state.error.at("status") == 499);
  BOOST_TEST(d.state.error.at("detail") == "stuck drone");
  BOOST_TEST(terminated.data.at("error") == d.state.error);
  BOOST_TEST(d.state.activities.empty());
  BOOST_TEST(d.state.timers.empty());
  BOOST_TEST(d.state.nodes.empty());
  // No compensation ran although `book` declared one.
  BOOST_TEST(d.refs("compensation_started").empty());
  BOOST_TEST(!d.state.compensation.has_value());
  // The runtime is told to cancel the attempt and the timer, and that the workflow closed.
  BOOST_TEST(has_command(step, Command::Type::cancel_activity));
  BOOST_TEST(has_command(step, Command::Type::cancel_timer));
  BOOST_REQUIRE(closed_command(step) != nullptr);
  BOOST_TEST(closed_command(step)->status == WorkflowStatus::terminated);

  // The worker's late reply, a second terminate and a cancel all find a final workflow.
  BOOST_TEST(!d.complete("/do/1/ship", json{{"late", true}}, start_ms + 6000).accepted);
  BOOST_TEST(!d.apply(Input::terminate("again", start_ms + 7000)).accepted);
  BOOST_TEST(!d.apply(Input::cancel("too late", start_ms + 7000)).accepted);
  BOOST_TEST(d.state.status == WorkflowStatus::terminated);
  d.check_replay();
}

BOOST_AUTO_TEST_CASE(terminate_while_compensating_stops_the_saga) {
  Driver d(R"(
do:
  - first:
      call: test.echo
      compensate:
        call: test.echo
  - second:
      call: test.echo
      compensate:
        call: test.echo
  - boom:
      raise:
        error:
          type: https://example.test/errors/boom
          status: 500
          title: Boom
)");
  d.start();
  d.complete("/do/0/first", json{{"n", 1}}, start_ms + 1000);
  d.complete("/do/1/second", json{{"n", 2}}, start_ms + 2000);
  BOOST_TEST(d.state.status == WorkflowStatus::compensating);
  BOOST_TEST(d.refs("compensation_started") == (Strings{"/do/1/second"}), boost::test_tools::per_element());
  const std::size_t before = d.events.size();
  const Step step = d.apply(Input::terminate("give up", start_ms + 3000));
  BOOST_TEST(step.accepted);
  BOOST_TEST(d.types(before) == (Strings{"workflow_terminated", "activity_cancelled", "task_cancelled"}),
             boost::test_tools::per_element());
  BOOST_TEST(d.state.status == WorkflowStatus::terminated);
  BOOST_TEST(d.state.error.at("detail") == "give up");
  // The compensation in flight was cancelled; the one not yet started never runs.
  BOOST_TEST(d.refs("compensation_started").size() == 1u);
  BOOST_TEST(d.refs("compensation_completed").empty());
  BOOST_TEST(d.refs("workflow_compensated").empty());
  BOOST_TEST(d.state.activities.empty());
  BOOST_TEST(!d.complete("/do/1/second/compensate", json::object(), start_ms + 4000).accepted);
  d.check_replay();
}

BOOST_AUTO_TEST_CASE(terminate_before_start_and_after_the_end_is_not_accepted) {
  Driver d(R"(
do:
  - only:
      set:
        done: true
)");
  BOOST_TEST(!d.apply(Input::terminate("no workflow yet", start_ms)).accepted);
  d.start();
  BOOST_TEST(d.state.status == WorkflowStatus::completed);
  BOOST_TEST(!d.apply(Input::terminate("already done", start_ms + 1)).accepted);
  BOOST_TEST(d.state.status == WorkflowStatus::completed);
  d.check_replay();
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(pause_and_resume)

BOOST_AUTO_TEST_CASE(inputs_are_held_while_paused_and_applied_in_order_on_resume) {
  Driver d(fork_with_wait);
  d.start();
  const std::int64_t nap_timer = d.state.timers.begin()->first;
  const json status_before = d.state.to_json().at("status");
  BOOST_TEST(d.apply(Input::pause("investigating", start_ms + 1000)).accepted);
  BOOST_TEST(d.events.back().type == "workflow_paused");
  BOOST_TEST(d.events.back().data.at("reason") == "investigating");
  BOOST_TEST(d.state.paused);
  const json frozen = without_bookkeeping(d.state);

  // The activity completes and the timer fires during the pause: both are held, nothing moves.
  const std::size_t before_held = d.events.size();
  BOOST_TEST(
      d.complete("/do/0/both/fork/branches/0/work", json{{"done", "work"}}, start_ms + 10'000).accepted);
  BOOST_TEST(d.apply(Input::timer_fired(nap_timer, start_ms + 60'000)).accepted);
  BOOST_TEST(d.types(before_held) == (Strings{"input_held", "input_held"}), boost::test_tools::per_element());
  BOOST_TEST(d.events[before_held].data.at("input").at("type") == "activity_completed");
  BOOST_TEST(d.events[before_held + 1].data.at("input") ==
             Input::timer_fired(nap_timer, start_ms + 60'000).to_json());
  BOOST_TEST(without_bookkeeping(d.state) == frozen);
  BOOST_TEST(d.state.to_json().at("status") == status_before);
  BOOST_TEST(d.state.held_inputs.size() == 2u);
  BOOST_TEST(d.state.held_inputs[1].at("timer_id") == nap_timer);
  // A stale input is not held: there is no timer 999.
  BOOST_TEST(!d.apply(Input::timer_fired(999, start_ms + 61'000)).accepted);
  // A second pause is not accepted.
  BOOST_TEST(!d.apply(Input::pause("again", start_ms + 62'000)).accepted);

  const std::size_t before_resume = d.events.size();
  const Step step = d.apply(Input::resume("fixed", start_ms + 120'000));
  BOOST_TEST(step.accepted);
  BOOST_TEST(d.types(before_resume) ==
                 (Strings{"workflow_resumed", "activity_completed", "task_completed", "timer_fired",
                          "task_completed", "task_completed", "workflow_completed"}),
             boost::test_tools::per_element());
  BOOST_TEST(d.events[before_resume].data.at("held_inputs") == 2);
  // Each held input is applied at the time it arrived.
  BOOST_TEST(d.events[before_resume + 1].time_ms == start_ms + 10'000);
  BOOST_TEST(d.events[before_resume + 3].time_ms == start_ms + 60'000);
  BOOST_TEST(d.state.status == WorkflowStatus::completed);
  BOOST_TEST(!d.state.paused);
  BOOST_TEST(d.state.held_inputs.empty());
  // The fork's outputs in branch order: the activity's result, then the wait's input.
  BOOST_TEST(d.state.output == (json::array({json{{"done", "work"}}, json::object()})));
  BOOST_TEST(d.state.updated_ms == start_ms + 120'000);
  BOOST_REQUIRE(closed_command(step) != nullptr);
  BOOST_TEST(closed_command(step)->status == WorkflowStatus::completed);
  // Resuming a workflow that is not paused is not accepted.
  BOOST_TEST(!d.apply(Input::resume("again", start_ms + 130'000)).accepted);
  d.check_replay();
}

BOOST_AUTO_TEST_CASE(cancel_while_paused_is_held_until_resume) {
  Driver d(fork_with_wait);
  d.start();
  d.apply(Input::pause("hold on", start_ms + 1000));
  BOOST_TEST(d.apply(Input::cancel("customer", start_ms + 2000)).accepted);
  BOOST_TEST(d.events.back().type == "input_held");
  BOOST_TEST(d.state.status == WorkflowStatus::running);
  BOOST_TEST(d.state.activities.size() == 1u);
  d.apply(Input::resume("go", start_ms + 3000));
  BOOST_TEST(d.state.status == WorkflowStatus::cancelled);
  BOOST_TEST(d.state.error.at("detail") == "customer");
  BOOST_TEST(d.state.closed_ms == start_ms + 2000);  // when the cancel arrived
  d.check_replay();
}

BOOST_AUTO_TEST_CASE(a_deadline_that_passed_during_the_pause_times_the_activity_out) {
  Driver d(R"(
do:
  - slow:
      call: test.echo
      timeouts:
        scheduleToClose: PT30S
)");
  d.start();
  const std::int64_t deadline_timer = d.state.timers.begin()->first;
  d.apply(Input::pause("look", start_ms + 1000));
  BOOST_TEST(d.apply(Input::timer_fired(deadline_timer, start_ms + 30'000)).accepted);
  BOOST_TEST(d.state.activities.size() == 1u);
  // The worker's result comes after the deadline; it is held too, and is stale once the deadline is applied.
  BOOST_TEST(d.complete("/do/0/slow", json{{"late", true}}, start_ms + 40'000).accepted);
  d.apply(Input::resume("go", start_ms + 50'000));
  BOOST_TEST(d.refs("activity_timed_out") == (Strings{"/do/0/slow"}), boost::test_tools::per_element());
  BOOST_TEST(d.refs("activity_completed").empty());
  BOOST_TEST(d.state.status == WorkflowStatus::faulted);
  d.check_replay();
}

BOOST_AUTO_TEST_CASE(pause_of_a_final_workflow_is_not_accepted) {
  Driver d(R"(
do:
  - only:
      set:
        done: true
)");
  BOOST_TEST(!d.apply(Input::pause("not started", start_ms)).accepted);
  d.start();
  BOOST_TEST(d.state.status == WorkflowStatus::completed);
  BOOST_TEST(!d.apply(Input::pause("too late", start_ms + 1)).accepted);
  BOOST_TEST(!d.apply(Input::resume("nothing to resume", start_ms + 2)).accepted);
  BOOST_TEST(!d.state.paused);
  d.check_replay();
}

BOOST_AUTO_TEST_CASE(past_the_held_inputs_limit_signals_are_refused_but_timers_still_held) {
  Driver d(fork_with_wait);
  d.limits.held_inputs_max = 1;
  d.start();
  const std::int64_t nap_timer = d.state.timers.begin()->first;
  d.apply(Input::pause("look", start_ms + 1000));
  BOOST_TEST(d.apply(Input::signal("one", json{}, start_ms + 2000)).accepted);
  BOOST_TEST(!d.apply(Input::signal("two", json{}, start_ms + 3000)).accepted);
  BOOST_TEST(d.apply(Input::timer_fired(nap_timer, start_ms + 60'000)).accepted);
  BOOST_TEST(d.state.held_inputs.size() == 2u);
  d.apply(Input::resume("go", start_ms + 70'000));
  BOOST_TEST(d.state.signals.size() == 1u);  // nobody listens: "one" is buffered
  BOOST_TEST(d.refs("task_completed") == (Strings{"/do/0/both/fork/branches/1/nap"}),
             boost::test_tools::per_element());
  d.check_replay();
}

BOOST_AUTO_TEST_CASE(terminate_while_paused_drops_the_held_inputs) {
  Driver d(fork_with_wait);
  d.start();
  d.apply(Input::pause("look", start_ms + 1000));
  d.complete("/do/0/both/fork/branches/0/work", json::object(), start_ms + 2000);
  const Step step = d.apply(Input::terminate("enough", start_ms + 3000));
  BOOST_TEST(step.accepted);
  BOOST_TEST(d.state.status == WorkflowStatus::terminated);
  BOOST_TEST(!d.state.paused);
  BOOST_TEST(d.state.held_inputs.empty());
  BOOST_TEST(d.refs("workflow_terminated").size() == 1u);
  BOOST_TEST(d.events[d.events.size() - step.events.size()].data.at("held_inputs_dropped") == 1);
  BOOST_TEST(d.refs("activity_completed").empty());
  d.check_replay();
}

BOOST_AUTO_TEST_CASE(paused_compensation_holds_too) {
  Driver d(R"(
do:
  - first:
      call: test.echo
      compensate:
        call: test.echo
  - boom:
      raise:
        error:
          type: https://example.test/errors/boom
          status: 500
)");
  d.start();
  d.complete("/do/0/first", json{{"n", 1}}, start_ms + 1000);
  BOOST_TEST(d.state.status == WorkflowStatus::compensating);
  BOOST_TEST(d.apply(Input::pause("check the undo", start_ms + 2000)).accepted);
  BOOST_TEST(d.complete("/do/0/first/compensate", json::object(), start_ms + 3000).accepted);
  BOOST_TEST(d.state.status == WorkflowStatus::compensating);
  d.apply(Input::resume("ok", start_ms + 4000));
  BOOST_TEST(d.state.status == WorkflowStatus::compensated);
  d.check_replay();
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(retry)

BOOST_AUTO_TEST_CASE(retry_of_a_faulted_workflow_reruns_only_the_failed_task) {
  Driver d(R"(
timeout:
  after: PT1H
do:
  - first:
      call: test.echo
      with:
        a: 1
  - group:
      do:
        - prepare:
            set:
              b: ${ .a + 1 }
        - second:
            call: test.echo
            with:
              b: ${ .b }
  - last:
      set:
        total: ${ .b * 10 }
)");
  d.start();
  d.complete("/do/0/first", json{{"a", 1}}, start_ms + 1000);
  d.fail("/do/1/group/do/1/second", start_ms + 2000);
  BOOST_TEST(d.state.status == WorkflowStatus::faulted);
  BOOST_TEST(d.state.closed_ms == start_ms + 2000);
  BOOST_TEST(d.state.fault_path.size() == 4u);  // second, group's list, group, the root list
  BOOST_TEST(d.events.back().type == "workflow_faulted");
  BOOST_TEST(d.state.error.at("instance") == "/do/1/group/do/1/second");

  const std::size_t before = d.events.size();
  const Step step = d.apply(Input::retry("worker fixed", start_ms + 100'000));
  BOOST_TEST(step.accepted);
  BOOST_TEST(
      d.types(before) == (Strings{"workflow_retried", "timer_started", "task_started", "activity_scheduled"}),
      boost::test_tools::per_element());
  BOOST_TEST(d.events[before].data.at("task") == "/do/1/group/do/1/second");
  BOOST_TEST(d.events[before].data.at("from") == "faulted");
  // A fresh workflow timeout window from the retry.
  BOOST_TEST(d.events[before + 1].data.at("due_ms") == start_ms + 100'000 + 3'600'000);
  BOOST_TEST(d.events[before + 2].data.at("input") == (json{{"b", 2}}));
  BOOST_TEST(d.state.status == WorkflowStatus::running);
  BOOST_TEST(d.state.closed_ms == 0);
  BOOST_TEST(d.state.error.is_null());
  BOOST_TEST(d.state.fault_path.empty());
  BOOST_TEST(!has_command(step, Command::Type::workflow_closed));
  // Exactly one new activity: the failed one; `first` and `prepare` are not run again.
  BOOST_TEST(d.refs("activity_scheduled") ==
                 (Strings{"/do/0/first", "/do/1/group/do/1/second", "/do/1/group/do/1/second"}),
             boost::test_tools::per_element());
  BOOST_TEST(d.refs("task_completed") == (Strings{"/do/0/first", "/do/1/group/do/0/prepare"}),
             boost::test_tools::per_element());
  BOOST_TEST(d.events[before + 3].data.at("arguments") == (json{{"b", 2}}));

  d.complete("/do/1/group/do/1/second", json{{"b", 2}}, start_ms + 101'000);
  BOOST_TEST(d.state.status == WorkflowStatus::completed);
  BOOST_TEST(d.state.output == (json{{"total", 20}}));
  BOOST_TEST(d.state.closed_ms == start_ms + 101'000);
  BOOST_TEST(d.state.timers.empty());
  // A completed workflow cannot be retried.
  BOOST_TEST(!d.apply(Input::retry("again", start_ms + 102'000)).accepted);
  d.check_replay();
}

BOOST_AUTO_TEST_CASE(retry_inside_a_loop_keeps_finished_iterations_and_rearms_the_task_timeout) {
  Driver d(R"(
do:
  - each:
      for:
        each: item
        in: ${ .items }
        at: i
      timeout:
        after: PT10M
      do:
        - ship:
            call: test.echo
            with:
              item: ${ $item }
              index: ${ $i }
)");
  d.start(json{{"items", json::array({"a", "b", "c"})}});
  const std::string ship = "/do/0/each/do/0/ship";
  d.complete(ship, json{{"shipped", "a"}}, start_ms + 1000);
  d.fail(ship, start_ms + 2000);  // item "b"
  BOOST_TEST(d.state.status == WorkflowStatus::faulted);
  BOOST_TEST(d.state.timers.empty());
  const std::size_t before = d.events.size();
  d.apply(Input::retry("again", start_ms + 5000));
  BOOST_TEST(
      d.types(before) == (Strings{"workflow_retried", "timer_started", "task_started", "activity_scheduled"}),
      boost::test_tools::per_element());
  // The loop's timeout gets a fresh ten minutes; the iteration variables are those of item "b".
  BOOST_TEST(d.events[before + 1].reference == "/do/0/each");
  BOOST_TEST(d.events[before + 1].data.at("due_ms") == start_ms + 5000 + 600'000);
  BOOST_TEST(d.events[before + 3].data.at("arguments") == (json{{"item", "b"}, {"index", 1}}));
  d.complete(ship, json{{"shipped", "b"}}, start_ms + 6000);
  BOOST_TEST(d.scheduled(ship).first != 0);
  BOOST_TEST(d.events.back().data.at("arguments") == (json{{"item", "c"}, {"index", 2}}));
  d.complete(ship, json{{"shipped", "c"}}, start_ms + 7000);
  BOOST_TEST(d.state.status == WorkflowStatus::completed);
  BOOST_TEST(d.state.output == (json{{"shipped", "c"}}));
  BOOST_TEST(d.refs("activity_scheduled").size() == 4u);  // a, b, b again, c
  d.check_replay();
}

BOOST_AUTO_TEST_CASE(retry_restarts_fork_branches_the_fault_interrupted) {
  Driver d(R"(
do:
  - both:
      fork:
        branches:
          - done:
              set:
                x: 1
          - running:
              call: test.echo
          - failing:
              call: test.echo
  - after:
      set:
        ok: true
)");
  d.start();
  d.fail("/do/0/both/fork/branches/2/failing", start_ms + 1000);
  BOOST_TEST(d.state.status == WorkflowStatus::faulted);
  BOOST_TEST(d.refs("task_cancelled") == (Strings{"/do/0/both/fork/branches/1/running"}),
             boost::test_tools::per_element());
  const std::size_t before = d.events.size();
  d.apply(Input::retry("again", start_ms + 2000));
  // The interrupted branch starts over, the failed one runs again, the finished one does not.
  BOOST_TEST(d.types(before) == (Strings{"workflow_retried", "task_started", "activity_scheduled",
                                         "task_started", "activity_scheduled"}),
             boost::test_tools::per_element());
  BOOST_TEST(d.refs("task_started").size() == 6u);  // both, done, running, failing, running, failing
  d.complete("/do/0/both/fork/branches/1/running", json{{"y", 2}}, start_ms + 3000);
  d.complete("/do/0/both/fork/branches/2/failing", json{{"z", 3}}, start_ms + 4000);
  BOOST_TEST(d.state.status == WorkflowStatus::completed);
  BOOST_TEST(d.refs("task_completed").back() == "/do/1/after");
  d.check_replay();
}

BOOST_AUTO_TEST_CASE(retry_of_a_task_whose_input_failed_evaluates_it_again) {
  Driver d(R"(
do:
  - pick:
      input:
        from: ${ .order.quantity + 1 }
      set:
        n: ${ . }
)");
  d.start(json{{"order", "not an object"}});
  BOOST_TEST(d.state.status == WorkflowStatus::faulted);
  const std::size_t before = d.events.size();
  d.apply(Input::retry("retry", start_ms + 1000));
  // Same raw input, same failure: it faults again, and can be retried again.
  BOOST_TEST(
      d.types(before) == (Strings{"workflow_retried", "task_started", "task_faulted", "workflow_faulted"}),
      boost::test_tools::per_element());
  BOOST_TEST(d.events[before + 1].data.at("input") == (json{{"order", "not an object"}}));
  BOOST_TEST(d.state.status == WorkflowStatus::faulted);
  BOOST_TEST(d.state.fault_path.size() == 2u);
  d.check_replay();
}

BOOST_AUTO_TEST_CASE(retry_of_compensation_failed_reruns_only_the_failed_compensation) {
  Driver d(R"(
do:
  - first:
      call: test.echo
      compensate:
        call: test.echo
  - second:
      call: test.echo
      compensate:
        call: test.echo
  - boom:
      raise:
        error:
          type: https://example.test/errors/boom
          status: 500
)");
  d.start();
  d.complete("/do/0/first", json{{"n", 1}}, start_ms + 1000);
  d.complete("/do/1/second", json{{"n", 2}}, start_ms + 2000);
  d.complete("/do/1/second/compensate", json::object(), start_ms + 3000);
  d.fail("/do/0/first/compensate", start_ms + 4000);
  BOOST_TEST(d.state.status == WorkflowStatus::compensation_failed);
  BOOST_TEST(d.state.closed_ms == start_ms + 4000);
  const json error = d.state.error;

  const std::size_t before = d.events.size();
  const Step step = d.apply(Input::retry("undo again", start_ms + 10'000));
  BOOST_TEST(step.accepted);
  BOOST_TEST(d.types(before) ==
                 (Strings{"workflow_retried", "compensation_started", "task_started", "activity_scheduled"}),
             boost::test_tools::per_element());
  BOOST_TEST(d.events[before].data.at("compensations") == json::array({"/do/0/first"}));
  BOOST_TEST(d.events[before].data.at("from") == "compensation_failed");
  // The failed compensation gets the output of the task it undoes again.
  BOOST_TEST(d.events[before + 1].data.at("input") == (json{{"n", 1}}));
  BOOST_TEST(d.state.status == WorkflowStatus::compensating);
  BOOST_TEST(d.state.closed_ms == 0);
  BOOST_TEST(d.state.error == error);  // the error that started the saga is still the workflow's

  d.complete("/do/0/first/compensate", json::object(), start_ms + 11'000);
  BOOST_TEST(d.state.status == WorkflowStatus::compensated);
  BOOST_TEST(d.refs("compensation_started") == (Strings{"/do/1/second", "/do/0/first", "/do/0/first"}),
             boost::test_tools::per_element());
  BOOST_TEST(
      d.refs("activity_scheduled") == (Strings{"/do/0/first", "/do/1/second", "/do/1/second/compensate",
                                               "/do/0/first/compensate", "/do/0/first/compensate"}),
      boost::test_tools::per_element());
  BOOST_TEST(d.events.back().type == "workflow_compensated");
  BOOST_TEST(d.state.compensation->failures.empty());
  BOOST_TEST(!d.apply(Input::retry("nothing left", start_ms + 12'000)).accepted);
  d.check_replay();
}

BOOST_AUTO_TEST_CASE(retry_of_a_running_or_completed_workflow_is_not_accepted) {
  Driver d(two_calls);
  d.start();
  BOOST_TEST(!d.apply(Input::retry("running", start_ms + 1)).accepted);
  d.complete("/do/0/book", json::object(), start_ms + 2);
  d.complete("/do/1/ship", json::object(), start_ms + 3);
  BOOST_TEST(d.state.status == WorkflowStatus::completed);
  BOOST_TEST(!d.apply(Input::retry("completed", start_ms + 4)).accepted);
  d.check_replay();
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(dedupe)

BOOST_AUTO_TEST_CASE(a_redelivered_control_is_not_accepted_twice) {
  Driver d(fork_with_wait);
  d.start();
  Input pause = Input::pause("first", start_ms + 1000);
  pause.id = "queue-1";
  BOOST_TEST(d.apply(pause).accepted);
  BOOST_TEST(d.events.back().data.at("input_id") == "queue-1");
  Input resume = Input::resume("go", start_ms + 2000);
  resume.id = "queue-2";
  BOOST_TEST(d.apply(resume).accepted);
  // The pause's queue entry delivered again: the workflow stays running.
  pause.time_ms = start_ms + 3000;
  BOOST_TEST(!d.apply(pause).accepted);
  BOOST_TEST(!d.state.paused);
  // A redelivered signal while paused is held once.
  Input pause_again = Input::pause("second", start_ms + 4000);
  pause_again.id = "queue-3";
  BOOST_TEST(d.apply(pause_again).accepted);
  Input signal = Input::signal("poke", json{{"n", 1}}, start_ms + 5000);
  signal.id = "queue-4";
  BOOST_TEST(d.apply(signal).accepted);
  BOOST_TEST(!d.apply(signal).accepted);
  BOOST_TEST(d.state.held_inputs.size() == 1u);
  Input terminate = Input::terminate("stop", start_ms + 6000);
  terminate.id = "queue-5";
  BOOST_TEST(d.apply(terminate).accepted);
  BOOST_TEST(!d.apply(terminate).accepted);
  BOOST_TEST(d.state.recent_input_ids == (Strings{"queue-1", "queue-2", "queue-3", "queue-5"}),
             boost::test_tools::per_element());
  d.check_replay();
}

BOOST_AUTO_TEST_CASE(input_events_round_trip_through_input_from_event) {
  Driver d(fork_with_wait);
  d.start();
  Input pause = Input::pause("why", start_ms + 1000);
  pause.id = "q-9";
  d.apply(pause);
  d.complete("/do/0/both/fork/branches/0/work", json{{"r", 1}}, start_ms + 2000);
  for (const Event& event : {d.events[d.events.size() - 2], d.events.back()}) {
    BOOST_TEST(flightplan::engine::is_input_event(event.type));
    const Input input = flightplan::engine::input_from_event(event, "wf-1");
    if (event.type == "workflow_paused") {
      BOOST_TEST(input.to_json() == pause.to_json());
    } else {
      BOOST_TEST(input.to_json() == event.data.at("input"));
      BOOST_TEST(input.to_json().at("type") == "activity_completed");
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

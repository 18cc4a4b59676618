#define BOOST_TEST_MODULE machine
#include "../support/harness.hpp"

#include "flightplan/engine/duration.hpp"

using flightplan::engine::WorkflowStatus;
using flightplan::testing::Harness;
using flightplan::testing::compile_yaml;
using flightplan::testing::event_refs;
using flightplan::testing::event_types;
using flightplan::testing::start_ms;
using nlohmann::json;

namespace {

std::string workflow(const std::string& body) {
  return "document:\n  dsl: '1.0.0'\n  namespace: test\n  name: sample\n  version: '0.1.0'\n" + body;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(task_semantics)

BOOST_AUTO_TEST_CASE(set_output_and_export_flow_through_tasks) {
  auto definition = compile_yaml(workflow(R"(
do:
  - first:
      set:
        a: ${ .x + 1 }
      export:
        as: '${ $context + {seen: .a} }'
  - second:
      set:
        b: ${ .a * 10 }
        fromContext: ${ $context.seen }
      output:
        as: '${ . + {input: $input} }'
output:
  as: '${ {result: .b, ctx: .fromContext, input: .input} }'
)"));
  Harness h;
  const auto& record = h.run(definition, json{{"x", 1}});
  BOOST_TEST(record.state.status == WorkflowStatus::completed);
  BOOST_TEST(record.state.output == (json{{"result", 20}, {"ctx", 2}, {"input", {{"a", 2}}}}));
  BOOST_TEST(record.state.context == (json{{"seen", 2}}));
}

BOOST_AUTO_TEST_CASE(workflow_input_from_and_task_input_from) {
  auto definition = compile_yaml(workflow(R"(
input:
  from: ${ .order }
do:
  - pick:
      input:
        from: '${ {n: .quantity} }'
      set:
        doubled: ${ .n * 2 }
)"));
  Harness h;
  const auto& record = h.run(definition, json{{"order", {{"quantity", 4}}}});
  BOOST_TEST(record.state.output == (json{{"doubled", 8}}));
}

BOOST_AUTO_TEST_CASE(switch_jumps_and_default_case) {
  auto definition = compile_yaml(workflow(R"(
do:
  - route:
      switch:
        - big:
            when: .n > 10
            then: large
        - fallback:
            then: small
  - large:
      set:
        size: large
      then: end
  - small:
      set:
        size: small
)"));
  Harness h;
  BOOST_TEST(h.run(definition, json{{"n", 50}}, "big").state.output == (json{{"size", "large"}}));
  BOOST_TEST(h.run(definition, json{{"n", 5}}, "small").state.output == (json{{"size", "small"}}));
  const auto& big = h.runtime->workflow("big");
  BOOST_TEST(event_refs(big, "task_completed") ==
                 (std::vector<std::string>{"/do/0/route", "/do/1/large"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(if_false_skips_and_passes_input_through) {
  auto definition = compile_yaml(workflow(R"(
do:
  - maybe:
      if: ${ .enabled }
      set:
        ran: true
  - after:
      set:
        ran: ${ .ran // false }
)"));
  Harness h;
  const auto& off = h.run(definition, json{{"enabled", false}}, "off");
  BOOST_TEST(off.state.output == (json{{"ran", false}}));
  BOOST_TEST(event_refs(off, "task_skipped") == (std::vector<std::string>{"/do/0/maybe"}),
             boost::test_tools::per_element());
  BOOST_TEST(h.run(definition, json{{"enabled", true}}, "on").state.output == (json{{"ran", true}}));
}

BOOST_AUTO_TEST_CASE(nested_do_exit_leaves_only_the_inner_list) {
  auto definition = compile_yaml(workflow(R"(
do:
  - outer:
      do:
        - one:
            set:
              step: 1
            then: exit
        - never:
            set:
              step: 99
  - after:
      set:
        step: ${ .step + 1 }
)"));
  Harness h;
  const auto& record = h.run(definition, json::object());
  BOOST_TEST(record.state.output == (json{{"step", 2}}));
  BOOST_TEST(record.events.back().type == "workflow_completed");
}

BOOST_AUTO_TEST_CASE(for_loop_chains_iterations_with_each_at_and_while) {
  auto definition = compile_yaml(workflow(R"(
do:
  - sum:
      for:
        each: item
        in: ${ .items }
        at: i
      while: ${ .total < 10 }
      do:
        - add:
            set:
              total: ${ .total + $item }
              last: ${ $i }
)"));
  Harness h;
  const auto& record = h.run(definition, json{{"items", {3, 4, 5, 6}}, {"total", 0}});
  // 3, 7, 12: the while check before the 4th item stops the loop.
  BOOST_TEST(record.state.output == (json{{"total", 12}, {"last", 2}}));
}

BOOST_AUTO_TEST_CASE(fork_returns_outputs_in_branch_order) {
  auto definition = compile_yaml(workflow(R"(
do:
  - both:
      fork:
        branches:
          - slow:
              do:
                - pause:
                    wait: PT5S
                - mark:
                    set:
                      who: slow
          - fast:
              set:
                who: fast
)"));
  Harness h;
  const auto& record = h.run(definition, json::object());
  BOOST_TEST(record.state.output == (json::array({{{"who", "slow"}}, {{"who", "fast"}}})));
  BOOST_TEST(record.state.closed_ms == start_ms + 5000);
}

BOOST_AUTO_TEST_CASE(fork_compete_takes_the_winner_and_cancels_the_rest) {
  auto definition = compile_yaml(workflow(R"(
do:
  - race:
      fork:
        compete: true
        branches:
          - slow:
              wait: PT1M
          - quick:
              do:
                - pause:
                    wait: PT2S
                - mark:
                    set:
                      winner: quick
)"));
  Harness h;
  const auto& record = h.run(definition, json::object());
  BOOST_TEST(record.state.output == (json{{"winner", "quick"}}));
  BOOST_TEST(record.state.closed_ms == start_ms + 2000);
  BOOST_TEST(event_refs(record, "task_cancelled") == (std::vector<std::string>{"/do/0/race/fork/branches/0/slow"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(raise_faults_the_workflow_with_the_error) {
  auto definition = compile_yaml(workflow(R"(
do:
  - fail:
      raise:
        error:
          type: https://example.test/errors/nope
          status: 422
          title: Nope
          detail: ${ "value " + (.v | tostring) }
)"));
  Harness h;
  const auto& record = h.run(definition, json{{"v", 7}});
  BOOST_TEST(record.state.status == WorkflowStatus::faulted);
  BOOST_TEST(record.state.error.at("type") == "https://example.test/errors/nope");
  BOOST_TEST(record.state.error.at("status") == 422);
  BOOST_TEST(record.state.error.at("detail") == "value 7");
  BOOST_TEST(record.state.error.at("instance") == "/do/0/fail");
}

BOOST_AUTO_TEST_CASE(raise_by_reference_to_use_errors) {
  auto definition = compile_yaml(workflow(R"(
use:
  errors:
    denied:
      type: https://example.test/errors/denied
      status: 403
do:
  - deny:
      raise:
        error: denied
)"));
  Harness h;
  BOOST_TEST(h.run(definition, json::object()).state.error.at("status") == 403);
}

BOOST_AUTO_TEST_CASE(wait_advances_virtual_time_only) {
  auto definition = compile_yaml(workflow(R"(
do:
  - nap:
      wait:
        hours: 2
        minutes: 30
)"));
  Harness h;
  const auto& record = h.run(definition, json{{"k", 1}});
  BOOST_TEST(record.state.status == WorkflowStatus::completed);
  BOOST_TEST(record.state.output == (json{{"k", 1}}));
  BOOST_TEST(record.state.closed_ms == start_ms + (2 * 60 + 30) * 60 * 1000);
}

BOOST_AUTO_TEST_CASE(expression_error_faults_with_expression_type) {
  auto definition = compile_yaml(workflow(R"(
do:
  - bad:
      set:
        x: ${ .a.b.c }
)"));
  Harness h;
  const auto& record = h.run(definition, json{{"a", 5}});
  BOOST_TEST(record.state.status == WorkflowStatus::faulted);
  BOOST_TEST(record.state.error.at("type") == "https://serverlessworkflow.io/spec/1.0.0/errors/expression");
  BOOST_TEST(record.state.error.at("instance") == "/do/0/bad");
}

BOOST_AUTO_TEST_CASE(use_functions_run_with_their_arguments) {
  auto definition = compile_yaml(workflow(R"(
use:
  functions:
    greet:
      set:
        greeting: ${ "hello " + .name }
do:
  - hi:
      call: greet
      with:
        name: ${ .user }
)"));
  Harness h;
  BOOST_TEST(h.run(definition, json{{"user", "ada"}}).state.output == (json{{"greeting", "hello ada"}}));
}

BOOST_AUTO_TEST_CASE(runaway_loop_hits_the_history_limit) {
  auto definition = compile_yaml(workflow(R"(
do:
  - spin:
      set:
        n: ${ .n + 1 }
      then: spin
)"));
  Harness h;
  const auto& record = h.run(definition, json{{"n", 0}});
  BOOST_TEST(record.state.status == WorkflowStatus::faulted);
  BOOST_TEST(record.state.error.at("title") == "History limit exceeded");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(errors_and_retries)

BOOST_AUTO_TEST_CASE(try_catch_filters_by_status_and_binds_the_error) {
  auto definition = compile_yaml(workflow(R"(
do:
  - guarded:
      try:
        - boom:
            raise:
              error:
                type: https://example.test/errors/x
                status: 409
      catch:
        errors:
          with:
            status: 409
        as: failure
        do:
          - recover:
              set:
                recovered: ${ $failure.status }
)"));
  Harness h;
  const auto& record = h.run(definition, json::object());
  BOOST_TEST(record.state.status == WorkflowStatus::completed);
  BOOST_TEST(record.state.output == (json{{"recovered", 409}}));
}

BOOST_AUTO_TEST_CASE(try_catch_does_not_catch_other_errors) {
  auto definition = compile_yaml(workflow(R"(
do:
  - guarded:
      try:
        - boom:
            raise:
              error:
                type: https://example.test/errors/x
                status: 500
      catch:
        errors:
          with:
            status: 409
)"));
  Harness h;
  BOOST_TEST(h.run(definition, json::object()).state.status == WorkflowStatus::faulted);
}

BOOST_AUTO_TEST_CASE(catch_when_and_except_when_see_the_error) {
  auto definition = compile_yaml(workflow(R"(
do:
  - guarded:
      try:
        - boom:
            raise:
              error:
                type: https://example.test/errors/x
                status: 400
                title: ${ .title }
      catch:
        when: ${ $error.title != "fatal" }
)"));
  Harness h;
  BOOST_TEST(h.run(definition, json{{"title", "minor"}}, "a").state.status == WorkflowStatus::completed);
  BOOST_TEST(h.run(definition, json{{"title", "fatal"}}, "b").state.status == WorkflowStatus::faulted);
}

BOOST_AUTO_TEST_CASE(try_retry_reruns_with_exponential_backoff_then_gives_up) {
  auto definition = compile_yaml(workflow(R"(
do:
  - guarded:
      try:
        - call:
            call: test.fail
            retry:
              limit:
                attempt:
                  count: 1
      catch:
        retry:
          delay: PT1S
          backoff:
            exponential: {}
          limit:
            attempt:
              count: 4
)"));
  Harness h;
  const auto& record = h.run(definition, json::object());
  BOOST_TEST(record.state.status == WorkflowStatus::faulted);
  // Attempts at 0 s, 1 s, 1+2 = 3 s, 3+4 = 7 s.
  std::vector<std::int64_t> retried_at;
  for (const auto& event : record.events)
    if (event.type == "task_retried") retried_at.push_back(event.time_ms - start_ms);
  BOOST_TEST(retried_at == (std::vector<std::int64_t>{1000, 3000, 7000}), boost::test_tools::per_element());
  BOOST_TEST(event_types(record, "activity_scheduled").size() == 4u);
}

BOOST_AUTO_TEST_CASE(activity_retry_policy_linear_backoff_and_success) {
  auto definition = compile_yaml(workflow(R"(
do:
  - flaky:
      call: test.flaky
      with:
        failures: 2
      retry:
        delay: PT2S
        backoff:
          linear: {}
        limit:
          attempt:
            count: 5
)"));
  Harness h;
  const auto& record = h.run(definition, json::object());
  BOOST_TEST(record.state.status == WorkflowStatus::completed);
  BOOST_TEST(record.state.output == (json{{"attempt", 3}}));
  // Linear: 2 s after attempt 1, 4 s after attempt 2.
  BOOST_TEST(record.state.closed_ms - start_ms == 6000);
}

BOOST_AUTO_TEST_CASE(activity_retries_exhausted_fault_the_task) {
  auto definition = compile_yaml(workflow(R"(
do:
  - doomed:
      call: test.fail
      retry:
        delay: PT1S
        limit:
          attempt:
            count: 3
)"));
  Harness h;
  const auto& record = h.run(definition, json::object());
  BOOST_TEST(record.state.status == WorkflowStatus::faulted);
  BOOST_TEST(event_types(record, "activity_failed").size() == 3u);
  BOOST_TEST(record.state.error.at("detail").get<std::string>().find("attempts exhausted (3 of 3)") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(non_retryable_activity_failure_is_not_retried) {
  auto definition = compile_yaml(workflow(R"(
do:
  - badInput:
      call: package.upsert
      with:
        packageId: p-1
        ownerId: o-1
        size: enormous
        weight: 1
)"));
  Harness h;
  const auto& record = h.run(definition, json::object());
  BOOST_TEST(record.state.status == WorkflowStatus::faulted);
  BOOST_TEST(event_types(record, "activity_failed").size() == 1u);
  BOOST_TEST(record.state.error.at("status") == 400);
}

BOOST_AUTO_TEST_CASE(retry_when_expression_limits_retries) {
  auto definition = compile_yaml(workflow(R"(
do:
  - doomed:
      call: test.fail
      retry:
        when: ${ $error.status != 503 }
        limit:
          attempt:
            count: 5
)"));
  Harness h;
  BOOST_TEST(event_types(h.run(definition, json::object()), "activity_failed").size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(signals)

BOOST_AUTO_TEST_CASE(listen_one_consumes_a_matching_signal) {
  auto definition = compile_yaml(workflow(R"(
do:
  - await:
      listen:
        to:
          one:
            with:
              type: approved
              data: ${ .amount > 10 }
)"));
  Harness h;
  h.runtime->start(definition, "wf", json::object());
  h.runtime->run();
  BOOST_TEST(h.runtime->workflow("wf").state.status == WorkflowStatus::waiting);
  h.runtime->signal("wf", "approved", json{{"amount", 5}});  // filtered out: buffered
  h.runtime->signal("wf", "rejected", json{{"amount", 50}});
  BOOST_TEST(h.runtime->workflow("wf").state.status == WorkflowStatus::waiting);
  h.runtime->signal("wf", "approved", json{{"amount", 50}});
  h.runtime->run();
  const auto& record = h.runtime->workflow("wf");
  BOOST_TEST(record.state.status == WorkflowStatus::completed);
  BOOST_TEST(record.state.output == (json::array({{{"amount", 50}}})));
  flightplan::testing::check_replay(record);
}

BOOST_AUTO_TEST_CASE(signal_before_listen_is_buffered_and_consumed) {
  auto definition = compile_yaml(workflow(R"(
do:
  - first:
      wait: PT10S
  - await:
      listen:
        read: envelope
        to:
          all:
            - with:
                type: a
            - with:
                type: b
)"));
  Harness h;
  h.runtime->start(definition, "wf", json::object());
  h.runtime->signal("wf", "b", json{{"n", 2}});
  h.runtime->signal("wf", "a", json{{"n", 1}});
  h.runtime->run();
  const auto& record = h.runtime->workflow("wf");
  BOOST_TEST(record.state.status == WorkflowStatus::completed);
  BOOST_TEST(record.state.output.size() == 2u);
  BOOST_TEST(record.state.output[0].at("type") == "b");
  BOOST_TEST(record.state.output[1].at("data") == (json{{"n", 1}}));
  flightplan::testing::check_replay(record);
}

BOOST_AUTO_TEST_CASE(listen_any_until_counts_signals) {
  auto definition = compile_yaml(workflow(R"(
do:
  - collect:
      listen:
        to:
          any: []
          until: ${ length >= 3 }
)"));
  Harness h;
  h.runtime->start(definition, "wf", json::object());
  for (int i = 0; i < 3; ++i) h.runtime->signal("wf", "tick", json{{"i", i}});
  const auto& record = h.runtime->workflow("wf");
  BOOST_TEST(record.state.status == WorkflowStatus::completed);
  BOOST_TEST(record.state.output.size() == 3u);
  flightplan::testing::check_replay(record);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(timeouts)

BOOST_AUTO_TEST_CASE(task_timeout_is_a_catchable_timeout_error) {
  auto definition = compile_yaml(workflow(R"(
do:
  - guarded:
      try:
        - slow:
            wait: PT1H
            timeout:
              after: PT30S
      catch:
        errors:
          with:
            type: https://serverlessworkflow.io/spec/1.0.0/errors/timeout
        do:
          - note:
              set:
                timedOut: true
)"));
  Harness h;
  const auto& record = h.run(definition, json::object());
  BOOST_TEST(record.state.output == (json{{"timedOut", true}}));
  BOOST_TEST(record.state.closed_ms == start_ms + 30'000);
}

BOOST_AUTO_TEST_CASE(workflow_timeout_ends_timed_out) {
  auto definition = compile_yaml(workflow(R"(
timeout:
  after: PT1M
do:
  - forever:
      listen:
        to:
          one:
            with:
              type: never
)"));
  Harness h;
  const auto& record = h.run(definition, json::object());
  BOOST_TEST(record.state.status == WorkflowStatus::timed_out);
  BOOST_TEST(record.state.closed_ms == start_ms + 60'000);
  BOOST_TEST(record.events.back().type == "workflow_timed_out");
}

BOOST_AUTO_TEST_CASE(runtime_expression_timeout) {
  auto definition = compile_yaml(workflow(R"(
do:
  - guarded:
      try:
        - slow:
            wait: PT1H
            timeout:
              after: '${ {seconds: .limit} }'
      catch: {}
)"));
  Harness h;
  BOOST_TEST(h.run(definition, json{{"limit", 42}}).state.closed_ms == start_ms + 42'000);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(redelivered_signals_and_cancels_are_received_once) {
  auto definition = compile_yaml(workflow(R"(
do:
  - collect:
      listen:
        to:
          any: []
          until: ${ length >= 2 }
)"));
  using flightplan::engine::Input;
  flightplan::engine::WorkflowState state;
  flightplan::engine::apply(*definition, state, Input::start("wf", json::object(), start_ms));
  Input signal = Input::signal("tick", json{{"n", 1}}, start_ms + 1);
  signal.id = "1700000000000-0";
  BOOST_TEST(flightplan::engine::apply(*definition, state, signal).accepted);
  BOOST_TEST(!flightplan::engine::apply(*definition, state, signal).accepted);  // redelivery
  Input cancel = Input::cancel("stop", start_ms + 2);
  cancel.id = "1700000000001-0";
  BOOST_TEST(flightplan::engine::apply(*definition, state, cancel).accepted);
  BOOST_TEST(!flightplan::engine::apply(*definition, state, cancel).accepted);
  BOOST_TEST(state.status == WorkflowStatus::cancelled);
  BOOST_TEST(state.recent_input_ids.size() == 2u);
  // The ids are part of the recorded inputs, so replay rebuilds the same state.
  BOOST_TEST(flightplan::engine::WorkflowState::from_json(state.to_json()).to_json() == state.to_json());
}

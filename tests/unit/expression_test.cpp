#define BOOST_TEST_MODULE expression
#include <boost/test/unit_test.hpp>

#include "flightplan/engine/error.hpp"
#include "flightplan/engine/expression.hpp"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace {

using flightplan::engine::Binding;
using flightplan::engine::ErrorCategory;
using flightplan::engine::WorkflowError;
namespace error_types = flightplan::engine::error_types;
using flightplan::engine::EvaluationBudget;
using flightplan::engine::Expression;
using flightplan::engine::ExpressionBatch;
using flightplan::engine::ExpressionError;
using flightplan::engine::ExpressionPtr;
using flightplan::engine::unwrap_expression;
using flightplan::engine::ValueTemplate;
using nlohmann::json;

const std::vector<std::string> standard_names = {"context",  "input",   "output", "task",
                                                 "workflow", "runtime", "secrets"};

// Evaluates `source` against `input` with no variables bound.
json eval(std::string_view source, const json& input = nullptr) {
  return Expression::compile(source, standard_names)->evaluate(input, {});
}

// The message of the ExpressionError that `action` throws; fails the test when it throws nothing.
template <typename Action>
std::string error_message(Action action) {
  try {
    action();
  } catch (const ExpressionError& error) {
    return error.what();
  }
  BOOST_FAIL("expected an ExpressionError");
  return {};
}

std::string compile_error(std::string_view source) {
  return error_message([&] { Expression::compile(source, standard_names); });
}

std::string eval_error(std::string_view source, const json& input = nullptr) {
  return error_message([&] { eval(source, input); });
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_SUITE(evaluation)

BOOST_AUTO_TEST_CASE(variables_are_bound_by_name_in_any_order) {
  const auto expression = Expression::compile("[$input.a, $task.b, .c]", standard_names);
  const json input = {{"a", 1}};
  const json task = {{"b", "two"}};
  const Binding bindings[] = {{"task", &task}, {"input", &input}};
  BOOST_TEST(expression->evaluate(json{{"c", true}}, bindings) == json::parse(R"([1, "two", true])"));
}

BOOST_AUTO_TEST_CASE(unbound_variables_are_null) {
  const auto expression = Expression::compile("[$context, $secrets]", standard_names);
  const json context = {{"x", 1}};
  const Binding bindings[] = {{"context", &context}};
  BOOST_TEST(expression->evaluate(nullptr, bindings) == json::parse(R"([{"x": 1}, null])"));
  BOOST_TEST(expression->evaluate(nullptr, {}) == json::parse("[null, null]"));
}

BOOST_AUTO_TEST_CASE(bindings_for_undeclared_names_are_ignored) {
  const auto expression = Expression::compile(".", {"a"});
  const json value = 5;
  const Binding bindings[] = {{"b", &value}};
  BOOST_TEST(expression->evaluate(3, bindings) == json(3));
}

BOOST_AUTO_TEST_CASE(only_the_first_output_is_returned) {
  BOOST_TEST(eval("1, 2") == json(1));
  BOOST_TEST(eval(".[]", json::array({"a", "b"})) == json("a"));
  // The first output is taken without running the rest: this generator never ends.
  BOOST_TEST(eval("range(0; infinite)") == json(0));
}

BOOST_AUTO_TEST_CASE(no_output_is_null) {
  BOOST_TEST(eval("empty").is_null());
  BOOST_TEST(eval(".[]", json::array()).is_null());
  BOOST_TEST(eval("select(. > 5)", 3).is_null());
}

BOOST_AUTO_TEST_CASE(object_construction_and_interpolation) {
  const json input = {{"name", "Ada"}, {"items", {1, 2, 3}}};
  BOOST_TEST(eval("{who: .name, count: (.items | length), total: (.items | add)}", input) ==
             json::parse(R"({"who": "Ada", "count": 3, "total": 6})"));
  BOOST_TEST(eval(R"("hello \(.name), you have \(.items | length) items")", input) ==
             json("hello Ada, you have 3 items"));
}

BOOST_AUTO_TEST_CASE(test_uses_jq_truthiness) {
  const auto check = [](std::string_view source) {
    return Expression::compile(source, standard_names)->test(nullptr, {});
  };
  BOOST_TEST(!check("false"));
  BOOST_TEST(!check("null"));
  BOOST_TEST(!check("empty"));
  BOOST_TEST(check("true"));
  BOOST_TEST(check("0"));
  BOOST_TEST(check("\"\""));
  BOOST_TEST(check("[]"));
}

BOOST_AUTO_TEST_CASE(definitions_and_comments_inside_a_source) {
  BOOST_TEST(eval("def double: . * 2; .x | double", json{{"x", 21}}) == json(42));
  BOOST_TEST(eval("def f($n): . + $n; def g: f(1) | f(2); g", 10) == json(13));
  BOOST_TEST(eval(".x # the input's x", json{{"x", 7}}) == json(7));
  BOOST_TEST(eval("# leading comment\n.x\n| . + 1 # trailing comment", json{{"x", 1}}) == json(2));
}

BOOST_AUTO_TEST_CASE(repeated_evaluations_are_deterministic_and_independent) {
  const auto expression = Expression::compile("[.n, $input.n, (.n | tostring)]", standard_names);
  for (int i = 0; i < 50; ++i) {
    const json input = {{"n", i}};
    const Binding bindings[] = {{"input", &input}};
    BOOST_TEST(expression->evaluate(input, bindings) == json::array({i, i, std::to_string(i)}));
  }
  // An evaluation that fails leaves the program usable.
  const auto failing = Expression::compile("if . then error(\"no\") else 1 end", standard_names);
  BOOST_CHECK_THROW(failing->evaluate(true, {}), ExpressionError);
  BOOST_TEST(failing->evaluate(false, {}) == json(1));
}

BOOST_AUTO_TEST_CASE(pure_date_builtins_remain) {
  BOOST_TEST(eval("\"2026-11-21T04:32:34Z\" | fromdateiso8601") == json(1795235554));
  BOOST_TEST(eval("0 | todate") == json("1970-01-01T00:00:00Z"));
  BOOST_TEST(eval("1795235554 | gmtime | mktime") == json(1795235554));
  BOOST_TEST(eval("0 | strftime(\"%Y\")") == json("1970"));
}

BOOST_AUTO_TEST_CASE(error_values_do_not_crash) {
  // libjq 1.5 aborted on this; the installed library must report an error instead.
  BOOST_TEST(contains(eval_error("[{}] | implode"), "can't be imploded"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(values)

BOOST_AUTO_TEST_CASE(numbers_convert_exactly) {
  BOOST_TEST(eval(".", 42).is_number_integer());
  BOOST_TEST(eval(".", -7) == json(-7));
  BOOST_TEST(eval(".", 1.5) == json(1.5));
  BOOST_TEST(eval(". + 1", 1.0).is_number_integer());  // integral results come back as integers
  BOOST_TEST(eval("pow(2; 53)") == json(9007199254740992LL));
  BOOST_TEST(eval("pow(2; 53)").is_number_integer());
  BOOST_TEST(eval("pow(2; 60)").is_number_float());
  BOOST_TEST(eval("nan").is_null());
  BOOST_TEST(eval("infinite").is_null());
}

BOOST_AUTO_TEST_CASE(strings_and_keys_round_trip) {
  const json input = {{"h\u00e9llo \u2603", "a\u0000b"}, {"k", {true, false, nullptr}}};
  BOOST_TEST(eval(".", input) == input);
  BOOST_TEST(eval(".[\"k\"] | length", input) == json(3));
  BOOST_TEST(eval("keys", input) == json::array({"h\u00e9llo \u2603", "k"}));
}

BOOST_AUTO_TEST_CASE(excessive_nesting_is_refused) {
  json deep = 1;
  for (int i = 0; i < 1500; ++i) deep = json::array({deep});
  BOOST_TEST(contains(eval_error(".", deep), "nested deeper"));
  BOOST_TEST(contains(eval_error("reduce range(1500) as $i (0; [.])"), "nested deeper"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(errors)

BOOST_AUTO_TEST_CASE(syntax_errors_name_the_source) {
  const std::string message = compile_error(".a | | .b");
  BOOST_TEST(contains(message, "invalid jq expression `.a | | .b`"));
  BOOST_TEST(contains(message, "syntax error"));
  BOOST_TEST(!contains(message, "<top-level>"));  // no trace of the wrapper program
}

BOOST_AUTO_TEST_CASE(undeclared_variables_do_not_compile) {
  const std::string message = compile_error("$foo + 1");
  BOOST_TEST(contains(message, "`$foo + 1`"));
  BOOST_TEST(contains(message, "$foo is not defined"));
  BOOST_CHECK_THROW(Expression::compile("$input", {"task"}), ExpressionError);
  BOOST_CHECK_NO_THROW(Expression::compile("$task", {"task"}));
}

BOOST_AUTO_TEST_CASE(multi_line_errors_give_the_source_line) {
  BOOST_TEST(contains(compile_error(".a\n| $nope"), "(line 2)"));
}

BOOST_AUTO_TEST_CASE(empty_sources_and_bad_variable_names_are_rejected) {
  BOOST_TEST(contains(compile_error("   "), "empty"));
  BOOST_TEST(contains(error_message([] { Expression::compile(".", {"not-a-name"}); }), "not-a-name"));
  BOOST_TEST(contains(error_message([] { Expression::compile(".", {"1x"}); }), "not an identifier"));
  BOOST_TEST(contains(error_message([] { Expression::compile(".", {"__fp_in"}); }), "reserved"));
}

BOOST_AUTO_TEST_CASE(runtime_errors_carry_jq_message) {
  const std::string boom = eval_error("error(\"boom\")");
  BOOST_TEST(boom == "jq expression `error(\"boom\")` failed: boom");
  BOOST_TEST(contains(eval_error(".a.b", 5), "Cannot index number"));
  BOOST_TEST(contains(eval_error("error({code: 7})"), R"({"code":7})"));
}

BOOST_AUTO_TEST_CASE(errors_can_be_caught_inside_the_program) {
  BOOST_TEST(eval("try error(\"x\") catch \"caught \\(.)\"") == json("caught x"));
  BOOST_TEST(eval("(.a.b)?", 5).is_null());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sandbox)

BOOST_AUTO_TEST_CASE(clock_is_not_available) {
  const std::string message = eval_error("now");
  BOOST_TEST(contains(message, "now is not available in flightplan expressions"));
  BOOST_TEST(contains(message, "$workflow.startedAt"));
  BOOST_TEST(contains(eval_error("0 | localtime"), "localtime is not available"));
  BOOST_TEST(contains(eval_error("0 | strflocaltime(\"%H\")"), "strflocaltime is not available"));
}

BOOST_AUTO_TEST_CASE(environment_is_not_available) {
  BOOST_TEST(contains(eval_error("env"), "env is not available"));
  BOOST_TEST(contains(eval_error("env.PATH"), "env is not available"));
  BOOST_TEST(eval("$ENV").is_null());
  BOOST_TEST(eval("$ENV.PATH").is_null());
  BOOST_TEST(eval("$ENV.HOME").is_null());
}

BOOST_AUTO_TEST_CASE(input_and_host_builtins_are_not_available) {
  BOOST_TEST(contains(eval_error("input"), "input is not available"));
  BOOST_TEST(contains(eval_error("[inputs]"), "inputs is not available"));
  BOOST_TEST(contains(eval_error("input_filename"), "input_filename is not available"));
  BOOST_TEST(contains(eval_error("input_line_number"), "input_line_number is not available"));
  BOOST_TEST(contains(eval_error("halt"), "halt is not available"));
  BOOST_TEST(contains(eval_error("\"x\" | halt_error"), "halt_error is not available"));
  BOOST_TEST(contains(eval_error("\"x\" | halt_error(1)"), "halt_error is not available"));
  BOOST_TEST(contains(eval_error("get_search_list"), "get_search_list is not available"));
  BOOST_TEST(contains(eval_error("\"m\" | modulemeta"), "modulemeta is not available"));
}

BOOST_AUTO_TEST_CASE(diagnostic_builtins_are_the_identity) {
  BOOST_TEST(eval("debug | . + 1", 1) == json(2));
  BOOST_TEST(eval("stderr", "x") == json("x"));
}

BOOST_AUTO_TEST_CASE(closing_the_wrapper_does_not_escape_the_sandbox) {
  BOOST_TEST(contains(eval_error("1) | (now"), "now is not available"));
  BOOST_CHECK_THROW(Expression::compile("include \"x\"; .", standard_names), ExpressionError);
  BOOST_CHECK_THROW(Expression::compile("import \"x\" as x; .", standard_names), ExpressionError);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(templates)

BOOST_AUTO_TEST_CASE(unwrap_recognises_runtime_expressions) {
  BOOST_TEST(unwrap_expression("${ .a }").value() == ".a");
  BOOST_TEST(unwrap_expression("  ${.a | length}\n").value() == ".a | length");
  BOOST_TEST(unwrap_expression("${}").value() == "");
  BOOST_TEST(!unwrap_expression(".a").has_value());
  BOOST_TEST(!unwrap_expression("${ .a").has_value());
  BOOST_TEST(!unwrap_expression("$ {.a}").has_value());
  BOOST_TEST(!unwrap_expression("x ${ .a }").has_value());
}

BOOST_AUTO_TEST_CASE(nested_values_mix_constants_and_expressions) {
  const json raw = json::parse(R"({
    "name": "${ .user.name }",
    "static": "plain text",
    "list": [1, "${ $task.id }", {"deep": "${ .user.age + 1 }"}],
    "flag": true
  })");
  const auto value_template = ValueTemplate::compile(raw, standard_names);
  BOOST_TEST(!value_template.is_constant());
  BOOST_TEST(value_template.raw() == raw);
  const json input = {{"user", {{"name", "Ada"}, {"age", 36}}}};
  const json task = {{"id", "t-1"}};
  const Binding bindings[] = {{"task", &task}};
  BOOST_TEST(value_template.render(input, bindings) == json::parse(R"({
    "name": "Ada", "static": "plain text", "list": [1, "t-1", {"deep": 37}], "flag": true
  })"));
}

BOOST_AUTO_TEST_CASE(constant_templates_render_as_is) {
  const json raw = json::parse(R"({"a": [1, "b", {"c": null}], "d": "$ not an expression"})");
  const auto value_template = ValueTemplate::compile(raw, standard_names);
  BOOST_TEST(value_template.is_constant());
  BOOST_TEST(value_template.render(nullptr, {}) == raw);
  BOOST_TEST(ValueTemplate().render(1, {}).is_null());
}

BOOST_AUTO_TEST_CASE(a_whole_string_template_is_replaced_by_its_value) {
  const auto value_template = ValueTemplate::compile("${ .items }", standard_names);
  BOOST_TEST(value_template.render(json{{"items", {1, 2}}}, {}) == json::array({1, 2}));
}

BOOST_AUTO_TEST_CASE(compile_expression_treats_every_string_as_jq) {
  const json input = {{"a", 5}};
  BOOST_TEST(ValueTemplate::compile_expression(".a > 3", standard_names).render(input, {}) == json(true));
  BOOST_TEST(ValueTemplate::compile_expression("${ .a }", standard_names).render(input, {}) == json(5));
  const auto constant = ValueTemplate::compile_expression(false, standard_names);
  BOOST_TEST(constant.is_constant());
  BOOST_TEST(constant.render(input, {}) == json(false));
  BOOST_TEST(ValueTemplate::compile_expression(json{{"a", "${ .a }"}}, standard_names).is_constant());
}

BOOST_AUTO_TEST_CASE(compile_errors_give_the_pointer) {
  const json raw = json::parse(R"({"ok": "${ .a }", "list": [0, {"a/b": "${ $nope }"}]})");
  try {
    ValueTemplate::compile(raw, standard_names);
    BOOST_FAIL("expected a CompileError");
  } catch (const ValueTemplate::CompileError& error) {
    BOOST_TEST(error.pointer == "/list/1/a~1b");
    BOOST_TEST(contains(error.message, "$nope is not defined"));
  }
  try {
    ValueTemplate::compile_expression(".a |", standard_names);
    BOOST_FAIL("expected a CompileError");
  } catch (const ValueTemplate::CompileError& error) {
    BOOST_TEST(error.pointer == "");
    BOOST_TEST(contains(error.message, "`.a |`"));
  }
}

BOOST_AUTO_TEST_CASE(render_errors_name_the_expression) {
  const auto value_template = ValueTemplate::compile(json{{"x", "${ .a.b }"}}, standard_names);
  BOOST_TEST(contains(error_message([&] { value_template.render(1, {}); }), "`.a.b`"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(load)

BOOST_AUTO_TEST_CASE(ten_thousand_evaluations_complete) {
  const auto expression = Expression::compile("{id: $task.id, next: (.n + 1)}", standard_names);
  const json task = {{"id", "t"}};
  const Binding bindings[] = {{"task", &task}};
  json last;
  for (int i = 0; i < 10000; ++i) last = expression->evaluate(json{{"n", i}}, bindings);
  BOOST_TEST(last == json::parse(R"({"id": "t", "next": 10000})"));
}

BOOST_AUTO_TEST_CASE(one_expression_serves_concurrent_callers) {
  // Results share the program's constant "k"; the mutex keeps libjq's reference counts consistent.
  const auto expression = Expression::compile("{k: \"k\", v: .}", standard_names);
  std::atomic<int> mismatch_count = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        if (expression->evaluate(t * 10000 + i, {}) != json{{"k", "k"}, {"v", t * 10000 + i}})
          ++mismatch_count;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  BOOST_TEST(mismatch_count.load() == 0);
}

BOOST_AUTO_TEST_SUITE_END()

// ExpressionBatch: many expressions in one jq program, each behaving as if compiled alone.
BOOST_AUTO_TEST_SUITE(batches)

namespace {

// A batch and what its handlers received, by the order of add().
struct RecordingBatch {
  ExpressionBatch batch;
  std::vector<std::pair<std::size_t, std::string>> errors;

  ExpressionPtr add(std::string_view source, const std::vector<std::string>& variables = standard_names) {
    const std::size_t index = added++;
    return batch.add(source, variables,
                     [this, index](const std::string& message) { errors.emplace_back(index, message); });
  }
  std::size_t added = 0;
};

}  // namespace

BOOST_AUTO_TEST_CASE(each_expression_of_a_batch_evaluates_as_alone) {
  const std::vector<std::string> sources = {
      ".a + 1",
      "[$input.a, $task.b, .c]",
      "\"drone \\(.a) for \\($input.a) (a paren: ))\"",
      "def twice(f): f | f; .a | twice(. * 2)  # a comment with ) and \"",
      "[.[]?] | length",
      "$__loc__",
      "1) | (2",
      ".a + 1",  // a duplicate
      "{k: \"k\", v: .c}",
      "if .c then \"yes\" else empty end",
      "reduce range(5) as $i (0; . + $i)",
      ".a as $task | $task",  // a variable the source binds itself
      "\"a\\(\"b\\(.a)c)\")d # ) \\\" (\"",  // nested interpolation, escapes, a bracket in a string
      "[.a, \"#)\"] # a string with # and )",
  };
  RecordingBatch batch;
  std::vector<ExpressionPtr> expressions;
  for (const std::string& source : sources) expressions.push_back(batch.add(source));
  batch.batch.compile();
  BOOST_TEST(batch.errors.empty());
  const json input = {{"a", 1}};
  const json task = {{"b", "two"}};
  const Binding bindings[] = {{"task", &task}, {"input", &input}};
  for (const json& value : {json{{"a", 3}, {"c", true}}, json{{"a", -1}, {"c", false}}}) {
    for (std::size_t i = 0; i < sources.size(); ++i) {
      const json alone = Expression::compile(sources[i], standard_names)->evaluate(value, bindings);
      BOOST_TEST(expressions[i]->evaluate(value, bindings) == alone, sources[i]);
      BOOST_TEST(expressions[i]->source() == sources[i]);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_failing_expression_gets_the_message_it_gets_alone) {
  const std::vector<std::string> sources = {".a",
                                            ".items | map(.price | add",
                                            ".b",
                                            "$item.ready",
                                            "nosuchfunction(1)",
                                            "",
                                            "__fp_in",
                                            "1 +\n  | 2",
                                            ".c"};
  RecordingBatch batch;
  std::vector<ExpressionPtr> expressions;
  for (const std::string& source : sources) expressions.push_back(batch.add(source));
  batch.batch.compile();
  std::vector<std::pair<std::size_t, std::string>> expected;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    try {
      Expression::compile(sources[i], standard_names);
    } catch (const ExpressionError& error) {
      expected.emplace_back(i, error.what());
    }
  }
  BOOST_TEST_REQUIRE(expected.size() == 6u);
  BOOST_TEST(batch.errors == expected);   // every failure, in the order of add()
  BOOST_TEST(expressions[5] == nullptr);  // refused before jq saw it
  const json input = {{"a", 1}, {"b", 2}, {"c", 3}};
  BOOST_TEST(expressions[0]->evaluate(input, {}) == json(1));
  BOOST_TEST(expressions[2]->evaluate(input, {}) == json(2));
  BOOST_TEST(expressions[8]->evaluate(input, {}) == json(3));
}

BOOST_AUTO_TEST_CASE(variables_stay_in_the_scope_of_their_expression) {
  RecordingBatch batch;
  const auto in_loop = batch.add("[$item, $index]", {"item", "index"});
  const auto outside = batch.add("$item.ready");
  const auto shadowing = batch.add("$input");
  batch.batch.compile();
  BOOST_TEST_REQUIRE(batch.errors.size() == 1u);
  BOOST_TEST(batch.errors[0].first == 1u);
  BOOST_TEST(contains(batch.errors[0].second, "$item is not defined"));
  const json item = "x";
  const json index = 4;
  const Binding bindings[] = {{"item", &item}, {"index", &index}, {"input", &index}};
  BOOST_TEST(in_loop->evaluate(nullptr, bindings) == json::parse(R"(["x", 4])"));
  BOOST_TEST(shadowing->evaluate(nullptr, bindings) == json(4));
}

BOOST_AUTO_TEST_CASE(closing_a_parenthesis_reaches_no_other_expression) {
  // Sources that could reach out of their parentheses are compiled alone.
  RecordingBatch batch;
  const auto first = batch.add(".a");
  const auto reaching = batch.add(".a); (.b");
  const auto unbalanced = batch.add("1) | (2");
  const auto string = batch.add("\"1) | (2\"");
  const auto last = batch.add(".b");
  batch.batch.compile();
  BOOST_TEST(batch.errors.size() == 1u);  // `.a); (.b` does not compile alone either
  BOOST_TEST(batch.errors.at(0).second == compile_error(".a); (.b"));
  BOOST_TEST(reaching != nullptr);  // refused by jq, not before
  const json input = {{"a", 1}, {"b", 2}};
  BOOST_TEST(first->evaluate(input, {}) == json(1));
  BOOST_TEST(unbalanced->evaluate(input, {}) == json(2));
  BOOST_TEST(string->evaluate(input, {}) == json("1) | (2"));
  BOOST_TEST(last->evaluate(input, {}) == json(2));

  // Each of these would close its own parentheses early and compile in a shared program (with
  // one program text or another), where alone it does not.
  for (const std::string reaching_out : {"1); def f: (2", "1)); def f: ((2", "1))); def f: (((2"}) {
    RecordingBatch shared;
    shared.add(reaching_out);
    const auto next = shared.add("10");
    shared.add("20");
    shared.batch.compile();
    BOOST_TEST_REQUIRE(shared.errors.size() == 1u, reaching_out);
    BOOST_TEST(shared.errors[0].first == 0u);
    BOOST_TEST(shared.errors[0].second == compile_error(reaching_out));
    BOOST_TEST(next->evaluate(nullptr, {}) == json(10));
  }
}

BOOST_AUTO_TEST_CASE(many_expressions_span_several_programs) {
  const std::size_t count = 2 * ExpressionBatch::expressions_per_program_max + 17;
  RecordingBatch batch;
  std::vector<ExpressionPtr> expressions;
  for (std::size_t i = 0; i < count; ++i) expressions.push_back(batch.add(". + " + std::to_string(i)));
  batch.batch.compile();
  BOOST_TEST(batch.errors.empty());
  for (std::size_t i = 0; i < count; ++i) BOOST_TEST(expressions[i]->evaluate(1000, {}) == json(1000 + i));
}

BOOST_AUTO_TEST_CASE(a_stopped_evaluation_leaves_the_shared_program_usable) {
  RecordingBatch batch;
  const auto runaway = batch.add("[range(1e9)]");
  const auto ordinary = batch.add(". + 1");
  batch.batch.compile();
  const EvaluationBudget small{std::size_t{1} << 20, nullptr};
  BOOST_TEST(contains(error_message([&] { runaway->evaluate(nullptr, {}, small); }),
                      "jq expression `[range(1e9)]` exceeded its memory budget of 1 MiB"));
  BOOST_TEST(ordinary->evaluate(1, {}) == json(2));
  flightplan::engine::EvaluationControl control;
  control.interrupt();
  const EvaluationBudget interrupted{small.memory_bytes_max, &control};
  BOOST_TEST(error_message([&] { ordinary->evaluate(1, {}, interrupted); }) ==
             "jq expression `. + 1` was interrupted");
  BOOST_TEST(ordinary->evaluate(1, {}) == json(2));
}

BOOST_AUTO_TEST_CASE(the_expressions_of_one_program_serve_concurrent_callers) {
  // They share one jq_state: the program's lock serialises them.
  RecordingBatch batch;
  std::vector<ExpressionPtr> expressions;
  for (int t = 0; t < 4; ++t) expressions.push_back(batch.add("{k: \"k" + std::to_string(t) + "\", v: .}"));
  batch.batch.compile();
  std::atomic<int> mismatch_count = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const json expected = {{"k", "k" + std::to_string(t)}, {"v", i}};
        if (expressions[t]->evaluate(i, {}) != expected) ++mismatch_count;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  BOOST_TEST(mismatch_count.load() == 0);
}

BOOST_AUTO_TEST_CASE(a_template_in_a_batch_reports_every_failing_string) {
  ExpressionBatch batch;
  std::vector<ValueTemplate::CompileError> errors;
  const json raw = {{"a", "${ .x }"}, {"b", {"${ .y | }", "${ $nope }"}}, {"c", "${ .z }"}};
  const ValueTemplate value_template = ValueTemplate::compile(
      raw, standard_names, batch,
      [&errors](const ValueTemplate::CompileError& error) { errors.push_back(error); });
  batch.compile();
  BOOST_TEST(!value_template.is_constant());
  BOOST_TEST_REQUIRE(errors.size() == 2u);
  BOOST_TEST(errors[0].pointer == "/b/0");
  BOOST_TEST(errors[0].message == compile_error(".y |"));
  BOOST_TEST(errors[1].pointer == "/b/1");
  BOOST_TEST(errors[1].message == compile_error("$nope"));
  ExpressionBatch good_batch;
  const ValueTemplate good = ValueTemplate::compile(json{{"a", "${ .x }"}, {"c", "${ .z }"}}, standard_names,
                                                    good_batch, [](const ValueTemplate::CompileError&) {});
  good_batch.compile();
  BOOST_TEST(good.render(json{{"x", 1}, {"z", 2}}, {}) == json::parse(R"({"a": 1, "c": 2})"));
}

BOOST_AUTO_TEST_SUITE_END()

// WorkflowError has no test file of its own; errors raised by expressions are its main source.
BOOST_AUTO_TEST_SUITE(workflow_errors)

BOOST_AUTO_TEST_CASE(categories_have_stable_names) {
  BOOST_TEST(to_string(ErrorCategory::invalid_argument) == "invalid_argument");
  BOOST_TEST(to_string(ErrorCategory::not_found) == "not_found");
  BOOST_TEST(to_string(ErrorCategory::conflict) == "conflict");
  BOOST_TEST(to_string(ErrorCategory::unavailable) == "unavailable");
  BOOST_TEST(to_string(ErrorCategory::timeout) == "timeout");
  BOOST_TEST(to_string(ErrorCategory::internal) == "internal");
}

BOOST_AUTO_TEST_CASE(to_json_omits_empty_fields) {
  const WorkflowError minimal = flightplan::engine::make_error(error_types::timeout, 408, "");
  BOOST_TEST(minimal.to_json() ==
             json::parse(R"({"type": "https://serverlessworkflow.io/spec/1.0.0/errors/timeout",
                                                  "status": 408})"));
  const WorkflowError full = flightplan::engine::make_error("urn:x", 400, "Bad", "detail text", "/do/0/step");
  BOOST_TEST(full.to_json() ==
             json::parse(R"({"type": "urn:x", "status": 400, "title": "Bad", "detail": "detail text",
                             "instance": "/do/0/step"})"));
  BOOST_TEST((WorkflowError::from_json(full.to_json()) == full));
}

BOOST_AUTO_TEST_CASE(from_json_is_tolerant) {
  const WorkflowError raised =
      WorkflowError::from_json(eval("{type: \"urn:app\", status: 404, title: \"Missing\"}"));
  BOOST_TEST(raised.type == "urn:app");
  BOOST_TEST(raised.status == 404);
  BOOST_TEST(raised.title == "Missing");
  BOOST_TEST(raised.detail.empty());

  const WorkflowError bare = WorkflowError::from_json(json::object());
  BOOST_TEST(bare.type == std::string(error_types::runtime));
  BOOST_TEST(bare.status == 500);
  BOOST_TEST(WorkflowError::from_json(json{{"status", "404"}}).status == 500);
  BOOST_TEST(WorkflowError::from_json(json{{"status", 1e12}}).status == 500);
  BOOST_TEST(WorkflowError::from_json(json{{"detail", {{"a", 1}}}}).detail == R"({"a":1})");

  const WorkflowError text = WorkflowError::from_json("something broke");
  BOOST_TEST(text.type == std::string(error_types::runtime));
  BOOST_TEST(text.status == 500);
  BOOST_TEST(text.detail == "\"something broke\"");
  BOOST_TEST(WorkflowError::from_json(json::array({1, 2})).detail == "[1,2]");
}

BOOST_AUTO_TEST_SUITE_END()

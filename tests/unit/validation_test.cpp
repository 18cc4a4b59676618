#define BOOST_TEST_MODULE validation
#include <boost/test/unit_test.hpp>

#include "flightplan/engine/compiler.hpp"
#include "flightplan/engine/definition.hpp"
#include "flightplan/engine/expression.hpp"
#include "flightplan/yaml/yaml_loader.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace fe = flightplan::engine;
using nlohmann::json;

const std::string source_dir = FLIGHTPLAN_SOURCE_DIR;

fe::CompileOptions test_options() {
  static const std::set<std::string, std::less<>> known = {
      "account.check",  "package.upsert",   "package.cancel",  "transport.check",
      "transport.book", "transport.cancel", "drone.schedule",  "drone.release",
      "drone.track",    "delivery.create",  "delivery.cancel", "delivery.complete"};
  fe::CompileOptions options;
  options.is_known_activity = [](std::string_view name) { return known.find(name) != known.end(); };
  return options;
}

fe::DefinitionPtr compile_file(const std::string& path) {
  return fe::compile_definition(flightplan::yaml::load_yaml_file(path), test_options());
}

fe::DefinitionPtr compile_text(const std::string& text, const fe::CompileOptions& options = test_options()) {
  return fe::compile_definition(flightplan::yaml::load_yaml(text, "inline.yaml"), options);
}

// The diagnostics `action` throws; empty when it does not throw.
std::vector<fe::Diagnostic> diagnostics_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const fe::DefinitionError& error) {
    return error.diagnostics();
  }
  return {};
}

const std::string header =
    "document:\n"
    "  dsl: '1.0.0'\n"
    "  namespace: tests\n"
    "  name: inline\n"
    "  version: '1.0.0'\n";

struct Expectation {
  int line = 0;
  int column = 0;
  std::string message;
};

// Parses the first line "# expect: LINE:COLUMN: <message substring>".
std::optional<Expectation> read_expectation(const fs::path& path) {
  std::ifstream in(path);
  std::string first;
  std::getline(in, first);
  const std::string prefix = "# expect: ";
  if (first.rfind(prefix, 0) != 0) return std::nullopt;
  const std::string rest = first.substr(prefix.size());
  const std::size_t colon1 = rest.find(':');
  const std::size_t colon2 = rest.find(':', colon1 + 1);
  if (colon1 == std::string::npos || colon2 == std::string::npos || rest.size() < colon2 + 2)
    return std::nullopt;
  Expectation expectation;
  expectation.line = std::stoi(rest.substr(0, colon1));
  expectation.column = std::stoi(rest.substr(colon1 + 1, colon2 - colon1 - 1));
  expectation.message = rest.substr(colon2 + 2);
  return expectation;
}

std::vector<fs::path> files_in(const std::string& directory) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(directory)) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

const fe::Task& top_task(const fe::Definition& definition, std::size_t index) {
  return *definition.do_->tasks.at(index);
}

template <typename Body>
const Body& body_of(const fe::Task& task) {
  BOOST_TEST_REQUIRE(std::holds_alternative<Body>(task.body), "task " << task.name << " has another type");
  return std::get<Body>(task.body);
}

}  // namespace

BOOST_AUTO_TEST_CASE(invalid_documents_report_their_first_problem_where_it_is) {
  const std::vector<fs::path> files = files_in(source_dir + "/tests/invalid");
  BOOST_TEST(files.size() >= 30u);
  for (const fs::path& path : files) {
    BOOST_TEST_CONTEXT(path.filename().string()) {
      const std::optional<Expectation> expected = read_expectation(path);
      BOOST_TEST_REQUIRE(expected.has_value(), "first line must be '# expect: LINE:COLUMN: message'");
      const auto diagnostics = diagnostics_of([&] { compile_file(path.string()); });
      BOOST_TEST_REQUIRE(!diagnostics.empty(), "the document compiled");
      const fe::Diagnostic& first = diagnostics.front();
      BOOST_TEST(first.file == path.string());
      BOOST_TEST(first.position.line == expected->line);
      BOOST_TEST(first.position.column == expected->column);
      BOOST_TEST(first.message.find(expected->message) != std::string::npos,
                 "message '" << first.message << "' lacks '" << expected->message << "'");
      // One problem per file, so a second diagnostic means a check reports twice or cascades.
      BOOST_TEST(diagnostics.size() == 1u, "extra diagnostic: " << diagnostics.back().to_string());
    }
  }
}

BOOST_AUTO_TEST_CASE(oversized_file_is_rejected_before_parsing) {
  const fs::path path = fs::temp_directory_path() / "flightplan_validation_oversized.yaml";
  {
    std::ofstream out(path, std::ios::binary);
    out << header << "do:\n  - a:\n      set: {}\n";
    const std::string comment = "# " + std::string(98, 'x') + "\n";
    for (int i = 0; i < 11'000; ++i) out << comment;  // about 1.1 MB
  }
  const auto diagnostics = diagnostics_of([&] { compile_file(path.string()); });
  fs::remove(path);
  BOOST_TEST_REQUIRE(diagnostics.size() == 1u);
  BOOST_TEST(diagnostics[0].file == path.string());
  BOOST_TEST(diagnostics[0].position.line == 1);
  BOOST_TEST(diagnostics[0].position.column == 1);
  BOOST_TEST(diagnostics[0].message.find("the limit is 1048576 bytes") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(task_lists_nested_deeper_than_the_limit_are_rejected) {
  // 33 nested `do` lists; the YAML depth limit is raised so the compiler's own limit is the one hit.
  std::string text = header + "do:\n";
  std::string indent;
  int deepest_line = 0;
  int line = 6;  // the `do:` line
  for (int level = 1; level <= 33; ++level) {
    text += indent + "  - level" + std::to_string(level) + ":\n";
    ++line;
    if (level == 33) {
      text += indent + "      set: {}\n";
      break;
    }
    text += indent + "      do:\n";
    ++line;
    if (level == 32) deepest_line = line;
    indent += "      ";
  }
  flightplan::yaml::LoadLimits limits;
  limits.depth_max = 1000;
  const auto diagnostics = diagnostics_of([&] {
    fe::compile_definition(flightplan::yaml::load_yaml(text, "deep.yaml", limits), test_options());
  });
  BOOST_TEST_REQUIRE(diagnostics.size() == 1u);
  BOOST_TEST(diagnostics[0].message == "task list nesting deeper than 32 levels");
  BOOST_TEST(diagnostics[0].position.line == deepest_line);
  // One level less compiles.
  fe::CompileOptions options = test_options();
  options.depth_max = 33;
  BOOST_TEST(
      fe::compile_definition(flightplan::yaml::load_yaml(text, "deep.yaml", limits), options)->tasks.size() ==
      33u);
}

BOOST_AUTO_TEST_CASE(oversized_expression_and_too_many_tasks_are_rejected) {
  fe::CompileOptions options = test_options();
  options.expression_bytes_max = 64;
  const std::string long_expression = "${ ." + std::string(100, 'a') + " }";
  auto diagnostics = diagnostics_of([&] {
    compile_text(header + "do:\n  - a:\n      set:\n        x: " + long_expression + "\n", options);
  });
  BOOST_TEST_REQUIRE(diagnostics.size() == 1u);
  BOOST_TEST(diagnostics[0].message.find("more than the limit of 64") != std::string::npos);
  BOOST_TEST(diagnostics[0].pointer == "/do/0/a/set/x");
  BOOST_TEST(diagnostics[0].position.line == 9);

  options = test_options();
  options.tasks_max = 2;
  diagnostics = diagnostics_of([&] {
    compile_text(
        header + "do:\n  - a:\n      wait: PT1S\n  - b:\n      wait: PT1S\n  - c:\n      wait: PT1S\n",
        options);
  });
  BOOST_TEST_REQUIRE(diagnostics.size() == 1u);
  BOOST_TEST(diagnostics[0].message == "more than 2 tasks in one definition");
  BOOST_TEST(diagnostics[0].pointer == "/do/2/c");
}

BOOST_AUTO_TEST_CASE(every_problem_of_a_document_is_reported_in_document_order) {
  const std::string text = header +
                           "do:\n"
                           "  - a:\n"                     // line 7
                           "      call: drone.schedul\n"  // line 8
                           "  - b:\n"
                           "      wait: PT5X\n"  // line 10
                           "  - c:\n"
                           "      set: {}\n"
                           "      then: nowhere\n"  // line 13
                           "  - a:\n"               // line 14
                           "      set: {}\n";
  const auto diagnostics = diagnostics_of([&] { compile_text(text); });
  BOOST_TEST_REQUIRE(diagnostics.size() == 4u);
  BOOST_TEST(diagnostics[0].position.line == 8);
  BOOST_TEST(diagnostics[0].message == "unknown activity 'drone.schedul' (did you mean 'drone.schedule'?)");
  BOOST_TEST(diagnostics[1].position.line == 10);
  BOOST_TEST(diagnostics[1].message.find("invalid duration 'PT5X' for 'wait' in task 'b'") == 0u);
  BOOST_TEST(diagnostics[2].position.line == 13);
  BOOST_TEST(diagnostics[2].message == "then target 'nowhere' does not exist in /do (tasks: a, b, c)");
  BOOST_TEST(diagnostics[3].position.line == 14);
  BOOST_TEST(diagnostics[3].message == "duplicate task name 'a' in /do (first at line 7)");
  BOOST_TEST(diagnostics[3].to_string() == "inline.yaml:14:5: " + diagnostics[3].message);
}

BOOST_AUTO_TEST_CASE(every_expression_that_does_not_compile_is_reported_where_it_is) {
  // The expressions of a definition compile together once the document is walked: each failing one
  // is reported with the message it gets alone, and what refers to it (the timeout) reports nothing.
  const std::string text = header +
                           "use:\n"
                           "  timeouts:\n"
                           "    slow:\n"
                           "      after: '${ .minutes | }'\n"  // line 9
                           "do:\n"
                           "  - a:\n"
                           "      timeout: slow\n"
                           "      set:\n"
                           "        ok: ${ .x }\n"
                           "        bad: ${ $item }\n"  // line 15
                           "  - b:\n"
                           "      if: ${ .y }\n"
                           "      set: {}\n";
  const std::vector<std::string> variables(std::begin(fe::standard_variables),
                                           std::end(fe::standard_variables));
  const auto message_alone = [&](std::string_view source) {
    try {
      fe::Expression::compile(source, variables);
    } catch (const fe::ExpressionError& error) {
      return std::string(error.what());
    }
    return std::string("compiled");
  };
  const auto diagnostics = diagnostics_of([&] { compile_text(text); });
  BOOST_TEST_REQUIRE(diagnostics.size() == 2u);
  BOOST_TEST(diagnostics[0].position.line == 9);
  BOOST_TEST(diagnostics[0].message == message_alone(".minutes |") + " (in 'use.timeouts.slow.after')");
  BOOST_TEST(diagnostics[1].position.line == 15);
  BOOST_TEST(diagnostics[1].pointer == "/do/0/a/set/bad");
  BOOST_TEST(diagnostics[1].message == message_alone("$item") + " (in 'set' in task 'a')");
}

BOOST_AUTO_TEST_CASE(every_valid_document_compiles) {
  std::vector<fs::path> files = files_in(source_dir + "/tests/valid");
  BOOST_TEST(files.size() >= 3u);
  for (const fs::path& path : files) {
    BOOST_TEST_CONTEXT(path.filename().string()) {
      fe::DefinitionPtr definition;
      try {
        definition = compile_file(path.string());
      } catch (const fe::DefinitionError& error) {
        BOOST_FAIL(error.what());
      }
      BOOST_TEST(definition->source_file == path.string());
      BOOST_TEST(definition->digest.size() == 16u);
      for (std::size_t id = 0; id < definition->tasks.size(); ++id) {
        BOOST_TEST(definition->tasks[id]->id == static_cast<int>(id));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(calls_compile_to_activities_functions_policies_and_compensations) {
  const auto definition = compile_file(source_dir + "/tests/valid/calls.yaml");
  BOOST_TEST(definition->document.name == "calls");
  BOOST_TEST(definition->document.title == "Calls");
  BOOST_TEST(definition->document.tags.at("tier") == "unit");
  BOOST_TEST(definition->input_schema.at("format") == "json");
  BOOST_TEST_REQUIRE(definition->input_from.has_value());
  BOOST_TEST(definition->input_from->render(json{{"id", 1}}, {}) == (json{{"order", {{"id", 1}}}}));
  BOOST_TEST(definition->timeout->fixed_ms == 2 * 3600 * 1000);
  BOOST_TEST(definition->output_as->render(json{{"order", 5}}, {}) == json(5));

  const fe::RetryPolicy& fast = definition->retries.at("fast");
  BOOST_TEST(fast.name == "fast");
  BOOST_TEST(fast.delay_ms == 1000);
  BOOST_TEST((fast.backoff == fe::Backoff::exponential));
  BOOST_TEST(fast.delay_ms_max == 10'000);
  BOOST_TEST(fast.attempt_count_max.value_or(0) == 4);
  BOOST_TEST(fast.attempt_duration_ms.value_or(0) == 20'000);
  BOOST_TEST(fast.duration_ms.value_or(0) == 120'000);
  BOOST_TEST(fast.jitter_from_ms == 100);
  BOOST_TEST(fast.jitter_to_ms == 500);
  const json error_500 = {{"status", 503}};
  const json error_400 = {{"status", 404}};
  const fe::Binding with_500[] = {{"error", &error_500}};
  const fe::Binding with_400[] = {{"error", &error_400}};
  BOOST_TEST(fast.when->test(json(), with_500));
  BOOST_TEST(!fast.when->test(json(), with_400));

  const fe::Task& check = top_task(*definition, 0);
  BOOST_TEST(check.reference == "/do/0/checkAccount");
  BOOST_TEST(check.position.line == 52);
  BOOST_TEST(check.position.column == 5);
  BOOST_TEST((check.then.kind == fe::FlowDirective::Kind::go_to));
  BOOST_TEST(check.then.target == "scheduleDrone");
  BOOST_TEST(check.then.target_index == 2);
  BOOST_TEST(check.timeout->fixed_ms == 30'000);
  BOOST_TEST(check.export_as.has_value());
  const auto& activity = body_of<fe::CallActivityTask>(check);
  BOOST_TEST(activity.activity == "account.check");
  BOOST_TEST(activity.has_with);
  BOOST_TEST(activity.with.render(json{{"order", {{"ownerId", "o-1"}}}}, {}) == (json{{"ownerId", "o-1"}}));
  BOOST_TEST(activity.options.retry->name == "fast");
  BOOST_TEST(activity.options.schedule_to_start_ms == 5000);
  BOOST_TEST(activity.options.start_to_close_ms == 10'000);
  BOOST_TEST(activity.options.schedule_to_close_ms == 60'000);
  BOOST_TEST(activity.options.heartbeat_ms == 3000);

  const fe::Task& schedule = top_task(*definition, 2);
  const auto& inline_retry = *body_of<fe::CallActivityTask>(schedule).options.retry;
  BOOST_TEST(inline_retry.name == "");
  BOOST_TEST((inline_retry.backoff == fe::Backoff::linear));
  BOOST_TEST(inline_retry.delay_ms == 2000);
  BOOST_TEST(inline_retry.attempt_count_max.value_or(0) == 3);
  // A single compensating task is named "compensate" and is referenced by the key itself.
  BOOST_TEST_REQUIRE(schedule.compensate != nullptr);
  BOOST_TEST(schedule.compensate->reference == "/do/2/scheduleDrone/compensate");
  BOOST_TEST_REQUIRE(schedule.compensate->tasks.size() == 1u);
  const fe::Task& release = *schedule.compensate->tasks[0];
  BOOST_TEST(release.name == "compensate");
  BOOST_TEST(release.reference == "/do/2/scheduleDrone/compensate");
  const auto& call = body_of<fe::CallFunctionTask>(release);
  BOOST_TEST(call.function == "releaseDrone");
  BOOST_TEST(call.body == definition->functions.at("releaseDrone"));
  BOOST_TEST(call.body->reference == "/use/functions/releaseDrone");
  BOOST_TEST(body_of<fe::CallActivityTask>(*call.body).activity == "drone.release");

  const fe::Task& create = top_task(*definition, 3);
  BOOST_TEST((create.then.kind == fe::FlowDirective::Kind::end));
  BOOST_TEST(create.compensate->reference == "/do/3/createDelivery/compensate");
  BOOST_TEST(create.compensate->tasks.at(1)->reference == "/do/3/createDelivery/compensate/1/notify");
  BOOST_TEST(create.compensate->find("notify") == 1);
  BOOST_TEST(create.compensate->find("missing") == -1);
  BOOST_TEST(!body_of<fe::CallActivityTask>(create).has_with);

  const fe::ErrorTemplate& rejected = definition->errors.at("rejected");
  BOOST_TEST(rejected.name == "rejected");
  BOOST_TEST(rejected.value.render(json{{"order", {{"id", "42"}}}}, {}).at("detail") ==
             "order 42 was rejected");
  // Function bodies and compensations are tasks of the definition too.
  BOOST_TEST(definition->tasks.size() == 8u);
}

BOOST_AUTO_TEST_CASE(control_flow_tasks_compile_with_their_scopes) {
  const auto definition = compile_file(source_dir + "/tests/valid/control.yaml");
  BOOST_TEST(definition->document.version == "1.2.3-rc.1");
  const auto& prepare = body_of<fe::DoTask>(top_task(*definition, 0));
  BOOST_TEST(prepare.tasks->reference == "/do/0/prepare/do");
  BOOST_TEST(prepare.tasks->tasks.at(0)->reference == "/do/0/prepare/do/0/init");
  BOOST_TEST(body_of<fe::WaitTask>(*prepare.tasks->tasks.at(1)).duration.fixed_ms == 90'000);
  BOOST_TEST(body_of<fe::WaitTask>(*prepare.tasks->tasks.at(2)).duration.fixed_ms == 125'000);
  const auto& computed = body_of<fe::WaitTask>(*prepare.tasks->tasks.at(3)).duration;
  BOOST_TEST_REQUIRE(computed.expression != nullptr);
  BOOST_TEST(computed.expression->evaluate(json{{"delay", "PT3S"}}, {}) == "PT3S");

  const auto& loop = body_of<fe::ForTask>(top_task(*definition, 1));
  BOOST_TEST(loop.each == "pkg");
  BOOST_TEST(loop.at == "position");
  BOOST_TEST(loop.in->evaluate(json{{"items", {1, 2}}}, {}) == json({1, 2}));
  const json position = 12;
  const fe::Binding at_12[] = {{"position", &position}};
  BOOST_TEST(!loop.while_->test(json(), at_12));
  BOOST_TEST(loop.do_->reference == "/do/1/loop/do");
  const auto& tally = body_of<fe::SetTask>(*loop.do_->tasks.at(0));
  const json package = "p-1";
  const fe::Binding loop_variables[] = {{"pkg", &package}, {"position", &position}};
  BOOST_TEST(tally.value.render(json(), loop_variables) == (json{{"current", "p-1"}, {"at", 12}}));

  const auto& fork = body_of<fe::ForkTask>(top_task(*definition, 2));
  BOOST_TEST(fork.compete);
  BOOST_TEST(fork.branches->reference == "/do/2/branches/fork/branches");
  BOOST_TEST(fork.branches->tasks.at(1)->reference == "/do/2/branches/fork/branches/1/right");

  const auto& route = body_of<fe::SwitchTask>(top_task(*definition, 3));
  BOOST_TEST_REQUIRE(route.cases.size() == 2u);
  BOOST_TEST(route.cases[0].name == "big");
  BOOST_TEST((route.cases[0].then.kind == fe::FlowDirective::Kind::go_to));
  BOOST_TEST(route.cases[0].then.target_index == 4);
  BOOST_TEST(route.cases[0].when->test(json{{"items", {1, 2, 3}}}, {}));
  BOOST_TEST(route.cases[1].when == nullptr);
  BOOST_TEST((route.cases[1].then.kind == fe::FlowDirective::Kind::exit));

  const auto& guarded = body_of<fe::TryTask>(top_task(*definition, 4));
  BOOST_TEST(guarded.try_->reference == "/do/4/guarded/try");
  const auto& raise = body_of<fe::RaiseTask>(*guarded.try_->tasks.at(0));
  BOOST_TEST(raise.error.value.render(json(), {}).at("status") == 503);
  const fe::Catch& handler = guarded.catch_;
  BOOST_TEST(handler.as == "failure");
  BOOST_TEST(handler.filter.status.value_or(0) == 503);
  BOOST_TEST(!handler.filter.type.has_value());
  const json failure = {{"status", 503}, {"title", "Boom"}};
  const fe::Binding caught[] = {{"failure", &failure}};
  BOOST_TEST(handler.when->test(json(), caught));
  BOOST_TEST(handler.retry->when->test(json(), caught));
  BOOST_TEST(handler.retry->attempt_count_max.value_or(0) == 2);
  BOOST_TEST(handler.do_->reference == "/do/4/guarded/catch/do");
  const auto& recover = body_of<fe::SetTask>(*handler.do_->tasks.at(0));
  BOOST_TEST(recover.value.render(json(), caught) == (json{{"recovered", "Boom"}}));

  const fe::Task& missing = top_task(*definition, 5);
  BOOST_TEST(!missing.if_->test(json::object(), {}));
  BOOST_TEST(body_of<fe::RaiseTask>(missing).error.name == "notFound");
  BOOST_TEST(body_of<fe::RaiseTask>(missing).error.value.render(json(), {}).at("status") == 404);
}

BOOST_AUTO_TEST_CASE(listen_tasks_compile_their_strategies) {
  const auto definition = compile_file(source_dir + "/tests/valid/listen.yaml");
  const auto& one = body_of<fe::ListenTask>(top_task(*definition, 0));
  BOOST_TEST((one.mode == fe::ListenTask::Mode::one));
  BOOST_TEST_REQUIRE(one.filters.size() == 1u);
  BOOST_TEST(one.filters[0].type == "approved");
  BOOST_TEST(one.filters[0].data->test(json{{"amount", 11}}, {}));
  BOOST_TEST((one.read == fe::ListenTask::Read::data));

  const auto& any = body_of<fe::ListenTask>(top_task(*definition, 1));
  BOOST_TEST((any.mode == fe::ListenTask::Mode::any));
  BOOST_TEST(any.filters.size() == 2u);
  BOOST_TEST(any.filters[1].type == "cancelled");
  BOOST_TEST(any.filters[1].data == nullptr);
  BOOST_TEST(any.until->test(json({1, 2, 3}), {}));
  BOOST_TEST((any.read == fe::ListenTask::Read::envelope));

  const fe::Task& all_task = top_task(*definition, 2);
  BOOST_TEST((body_of<fe::ListenTask>(all_task).mode == fe::ListenTask::Mode::all));
  BOOST_TEST(all_task.timeout->expression->evaluate(json{{"minutes", 5}}, {}) == "PT5M");
}

BOOST_AUTO_TEST_CASE(references_escape_task_names_and_digest_is_stable) {
  const std::string text = header + "do:\n  - a/b~c:\n      set: {}\n";
  const auto first = compile_text(text);
  BOOST_TEST(first->task(0).reference == "/do/0/a~1b~0c");
  BOOST_TEST(first->task(0).position.line == 7);
  BOOST_TEST(first->digest == compile_text(text)->digest);
  BOOST_TEST(first->digest != compile_text(text + "# changed\n")->digest);
  // FNV-1a 64 of the empty string is the offset basis.
  fe::SourceDocument empty = flightplan::yaml::load_yaml(text, "x.yaml");
  empty.text.clear();
  BOOST_TEST(fe::compile_definition(empty, test_options())->digest == "cbf29ce484222325");
}

BOOST_AUTO_TEST_CASE(activity_names_are_checked_by_shape_without_a_registry) {
  const fe::CompileOptions any_activity;
  const auto definition = compile_text(header + "do:\n  - a:\n      call: billing.charge\n", any_activity);
  BOOST_TEST(body_of<fe::CallActivityTask>(definition->task(0)).activity == "billing.charge");
  const auto diagnostics =
      diagnostics_of([&] { compile_text(header + "do:\n  - a:\n      call: charge\n", any_activity); });
  BOOST_TEST_REQUIRE(diagnostics.size() == 1u);
  BOOST_TEST(diagnostics[0].message.find("unknown function or activity 'charge'") == 0u);
}

BOOST_AUTO_TEST_CASE(error_filters_match_when_every_set_field_is_equal) {
  const fe::WorkflowError error = fe::make_error("https://x/e", 503, "Down", "detail", "/do/0/a");
  BOOST_TEST(fe::ErrorFilter{}.matches(error));
  fe::ErrorFilter filter;
  filter.status = 503;
  filter.type = "https://x/e";
  BOOST_TEST(filter.matches(error));
  filter.instance = "/do/1/b";
  BOOST_TEST(!filter.matches(error));
  fe::ErrorFilter by_title;
  by_title.title = "Up";
  BOOST_TEST(!by_title.matches(error));
  fe::ErrorFilter by_detail;
  by_detail.detail = "detail";
  BOOST_TEST(by_detail.matches(error));
}

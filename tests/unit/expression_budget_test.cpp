#define BOOST_TEST_MODULE expression_budget
#include <boost/test/unit_test.hpp>

// Bounded expressions (docs/engine.md, "Bounded expressions"): every runaway fails with a clear
// ExpressionError in bounded time and memory, leaves its compiled program usable, and the guards keep
// jq's results for ordinary values. Runaways run in a child process: a failure there (a crash, a hang,
// memory growth) must not take the test runner with it, and the child's peak RSS is its own.
#include "flightplan/engine/expression.hpp"

extern "C" {
#include <jq.h>
#include <jv.h>
}

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using flightplan::engine::EvaluationBudget;
using flightplan::engine::EvaluationControl;
using flightplan::engine::Expression;
using flightplan::engine::ExpressionError;
using nlohmann::json;

const std::vector<std::string> no_variables;
constexpr std::size_t mib = std::size_t{1} << 20;

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

// The message of the ExpressionError `evaluate` throws, or "" when it returns.
std::string failure(const Expression& expression, const json& input, const EvaluationBudget& budget) {
  try {
    expression.evaluate(input, {}, budget);
  } catch (const ExpressionError& error) {
    return error.what();
  }
  return "";
}

std::int64_t status_kb(const char* field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind(field, 0) == 0) return std::stoll(line.substr(std::string(field).size()));
  return -1;
}

// What a child process reports back.
struct ChildReport {
  bool finished = false;  // the child exited normally within the time limit
  std::string problem;    // why not: a signal, a timeout
  std::int64_t elapsed_ms = 0;
  std::int64_t rss_growth_kb = 0;  // peak RSS of the child minus its RSS when it started
  std::string text;                // what the child wrote
};

// Runs `action` (returning a string) in a child process, with `seconds_max` to finish. The child
// inherits this process's memory; its growth is measured from its own start.
template <typename Action>
ChildReport in_child(Action action, int seconds_max = 60) {
  int fds[2];
  BOOST_REQUIRE(pipe(fds) == 0);
  const pid_t pid = fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    // Boost.Test's handlers would turn a crash into a test failure and carry on running the suite
    // in the child: a crash must end the child, and the parent reports it.
    for (int signal_number : {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL}) std::signal(signal_number, SIG_DFL);
    close(fds[0]);
    const std::int64_t rss_start_kb = status_kb("VmRSS:");
    const auto start = std::chrono::steady_clock::now();
    std::string text;
    try {
      text = action();
    } catch (const std::exception& error) {
      text = std::string("exception: ") + error.what();
    }
    const auto elapsed = std::chrono::steady_clock::now() - start;
    std::ostringstream out;
    out << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << "\n"
        << status_kb("VmHWM:") - rss_start_kb << "\n"
        << text;
    const std::string record = out.str();
    std::size_t written = 0;
    while (written < record.size()) {
      const ssize_t n = write(fds[1], record.data() + written, record.size() - written);
      if (n <= 0) break;
      written += static_cast<std::size_t>(n);
    }
    _exit(0);
  }
  close(fds[1]);
  ChildReport report;
  std::string received;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds_max);
  char buffer[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      kill(pid, SIGKILL);
      report.problem = "no answer within " + std::to_string(seconds_max) + " s";
      break;
    }
    pollfd waiting{fds[0], POLLIN, 0};
    if (poll(&waiting, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = read(fds[0], buffer, sizeof(buffer));
    if (n <= 0) break;
    received.append(buffer, static_cast<std::size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (report.problem.empty()) {
    if (WIFSIGNALED(status)) report.problem = "killed by signal " + std::to_string(WTERMSIG(status));
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) report.problem = "exited abnormally";
  }
  if (!report.problem.empty()) return report;
  std::istringstream in(received);
  std::string line;
  std::getline(in, line);
  report.elapsed_ms = std::stoll(line);
  std::getline(in, line);
  report.rss_growth_kb = std::stoll(line);
  report.text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  report.finished = true;
  return report;
}

// Interrupts `control` after `delay_ms` on its own thread, as the runtime's watchdog does.
class Interrupter {
 public:
  Interrupter(EvaluationControl& control, int delay_ms)
      : thread_([&control, delay_ms, this] {
          const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(delay_ms);
          while (!cancelled_ && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
          if (!cancelled_) control.interrupt();
        }) {}
  ~Interrupter() {
    cancelled_ = true;
    thread_.join();
  }

 private:
  std::atomic<bool> cancelled_{false};
  std::thread thread_;
};

constexpr const char* memory_budget = "exceeded its memory budget of 64 MiB";
constexpr const char* time_budget = "exceeded the step's time budget of 100 ms";

struct Runaway {
  const char* source;
  const char* expected;  // part of the error message: memory_budget, time_budget or another
};

// Runs `runaway` under the default memory budget and a control interrupted after 100 ms (10 s when a
// memory stop is expected, so that a slow machine cannot turn it into a time stop), then an ordinary
// evaluation of the same compiled program. Reports "<message>|<ordinary result>".
ChildReport run_runaway(const Runaway& runaway) {
  const int budget_ms = std::string_view(runaway.expected) == time_budget ? 100 : 10'000;
  return in_child([&] {
    const auto expression = Expression::compile(
        std::string("if . == \"run\" then (") + runaway.source + ") else \"ordinary\" end", no_variables);
    EvaluationControl control(100);
    std::string message;
    {
      Interrupter interrupter(control, budget_ms);
      message = failure(*expression, "run", EvaluationBudget{flightplan::engine::expression_memory_bytes_max_default, &control});
    }
    const json ordinary = expression->evaluate("skip", {});
    return message + "|" + ordinary.dump();
  });
}

void check_runaway(const Runaway& runaway) {
  const ChildReport report = run_runaway(runaway);
  BOOST_TEST_MESSAGE(runaway.source << ": " << report.elapsed_ms << " ms, peak RSS +" << report.rss_growth_kb / 1024
                                    << " MiB: " << report.text);
  BOOST_REQUIRE_MESSAGE(report.finished, runaway.source << ": " << report.problem);
  BOOST_TEST(contains(report.text, runaway.expected), runaway.source << " gave: " << report.text);
  BOOST_TEST(contains(report.text, "jq expression `if . == \"run\" then (" + std::string(runaway.source)));
  BOOST_TEST(contains(report.text, "|\"ordinary\""), runaway.source << ": the program is unusable after it");
  BOOST_TEST(report.elapsed_ms < 10'000, runaway.source << " took " << report.elapsed_ms << " ms");
  // Far below what would hurt the server: the budget is 64 MiB, and a stop may come one allocation
  // (at most a doubling of the largest value) late.
  BOOST_TEST(report.rss_growth_kb < 400 * 1024, runaway.source << " grew RSS by " << report.rss_growth_kb << " KiB");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(runaways)

BOOST_AUTO_TEST_CASE(loops_in_constant_memory_stop_at_the_time_budget) {
  check_runaway({"def f: f; f", time_budget});
  check_runaway({"0 | until(false; .+1)", time_budget});
  check_runaway({"last(range(1e15))", time_budget});
}

BOOST_AUTO_TEST_CASE(growing_programs_stop_at_the_memory_budget) {
  check_runaway({"[range(1e9)]", memory_budget});
  check_runaway({"def f: 1 + f; f", memory_budget});  // libjq aborts the process at 1.2 GB without it
  check_runaway({"def f: [f]; f", memory_budget});
  check_runaway({"[limit(1e9; repeat(\"abcdefgh\"))] | add", memory_budget});
}

BOOST_AUTO_TEST_CASE(one_builtin_call_cannot_outgrow_the_budget) {
  check_runaway({"\"x\" * 1e9", memory_budget});
  check_runaway({"1e9 * \"x\"", memory_budget});
  check_runaway({"[] | .[1e9] = 1", memory_budget});
  check_runaway({"null | setpath([3e8]; 1)", memory_budget});
  check_runaway({"[] | .[1e9] |= 1", memory_budget});
  check_runaway({"(\"x\" * 1e7) | explode", memory_budget});
  check_runaway({"(\"x\" * 1e7) | ascii_downcase", memory_budget});
  check_runaway({"(\"x\" * 1e7) | split(\"\")", memory_budget});
  check_runaway({"(\"x\" * 1e7) / \"\"", memory_budget});
  check_runaway({"(\"x\" * 1e7) | [indices(\"x\")]", memory_budget});
  check_runaway({"\"[\" + (\"[],\" * 3e6) + \"[]]\" | fromjson", memory_budget});
  check_runaway({"(\"x\" * 1e6) | [match(\"\"; \"g\")]", memory_budget});
  check_runaway({"(\"x\" * 1e6) | [scan(\"x\")]", memory_budget});
  check_runaway({"(\"x\" * 1e6) | [splits(\"\")]", memory_budget});
  check_runaway({"(\"<\" * 2e7) | @html", memory_budget});
  check_runaway({"(\"'\" * 2e7) | @sh", memory_budget});
  check_runaway({"[\"<\" * 2e7] | @csv", memory_budget});
}

BOOST_AUTO_TEST_CASE(values_that_share_themselves_are_not_expanded) {
  // 40 levels of [., .]: a few kilobytes in memory, 2^40 leaves when printed or converted.
  check_runaway({"reduce range(40) as $i (1; [., .]) | tojson", memory_budget});
  check_runaway({"reduce range(40) as $i (1; [., .]) | tostring", memory_budget});
  check_runaway({"\"\\(reduce range(40) as $i (1; [., .]))\"", memory_budget});
  check_runaway({"reduce range(40) as $i (1; [., .]) | @json", memory_budget});
  check_runaway({"reduce range(40) as $i (1; [., .])", memory_budget});  // the result's conversion
  check_runaway({"error(reduce range(40) as $i (1; [., .]))", memory_budget});
  check_runaway({"path(reduce range(40) as $i (1; [., .]))", memory_budget});  // printed in libjq's message
  check_runaway({"reduce range(40) as $i ({}; {a: ., b: .}) | . * .", memory_budget});
  // Comparisons walk a shared value without allocating: only the interrupt stops them.
  check_runaway({"reduce range(40) as $i (1; [., .]) | . < .", time_budget});
  check_runaway({"def d: reduce range(40) as $i (1; [., .]); d == d", time_budget});
  check_runaway({"def d: reduce range(40) as $i (1; [., .]); d | contains(d)", time_budget});
  check_runaway({"def d: reduce range(40) as $i (1; [., .]); [d, d] | sort", time_budget});
  check_runaway({"def d: reduce range(40) as $i (1; [., .]); [d, d] | unique", time_budget});
}

BOOST_AUTO_TEST_CASE(regular_expressions_have_a_bounded_stack) {
  // Oniguruma's own stack is not counted by the budget: it is capped (1.25 GB here without the cap).
  check_runaway({"(\"a\" * 2e7) | test(\"(a|aa)+b\")", "Regex failure: match-stack limit over"});
  check_runaway({"(\"a\" * 3000) | test(\"(a+)+b\")", "Regex failure: retry-limit-in-match over"});
}

BOOST_AUTO_TEST_CASE(quadratic_builtins_stop_at_the_time_budget) {
  check_runaway({"[range(2e5)] as $a | $a | .[$a]", time_budget});
  check_runaway({"[range(2e5)] as $a | $a | indices($a)", time_budget});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(crashes_of_libjq)

BOOST_AUTO_TEST_CASE(deep_values_are_freed_without_recursion) {
  // libjq 1.6 frees nested values recursively: 300,000 levels overflow an 8 MiB stack (SIGSEGV).
  const ChildReport arrays = in_child([] {
    return Expression::compile("reduce range(300000) as $i (1; [.]) | 1", no_variables)->evaluate(nullptr, {}).dump();
  });
  BOOST_REQUIRE_MESSAGE(arrays.finished, arrays.problem);
  BOOST_TEST(arrays.text == "1");
  const ChildReport objects = in_child([] {
    const EvaluationBudget budget{512 * mib, nullptr};
    return Expression::compile("reduce range(300000) as $i (1; {a: .}) | 1", no_variables)
        ->evaluate(nullptr, {}, budget)
        .dump();
  });
  BOOST_REQUIRE_MESSAGE(objects.finished, objects.problem);
  BOOST_TEST(objects.text == "1");
}

BOOST_AUTO_TEST_CASE(deep_values_are_compared_within_libjq_limits) {
  const ChildReport report = in_child([] {
    const auto expression = Expression::compile(
        "def d: reduce range(200000) as $i (1; [.]); d as $a | d as $b | [($a | contains($b)), ($a == $b)]",
        no_variables);
    try {
      return expression->evaluate(nullptr, {}).dump();
    } catch (const ExpressionError& error) {
      return std::string(error.what());
    }
  });
  BOOST_REQUIRE_MESSAGE(report.finished, report.problem);
  BOOST_TEST(contains(report.text, "nests values deeper than 10000 levels"), report.text);
}

BOOST_AUTO_TEST_CASE(an_empty_needle_fails_instead_of_looping) {
  // libjq 1.6 appends position 0 forever.
  const auto expression = Expression::compile("indices(\"\")", no_variables);
  BOOST_TEST(contains(failure(*expression, "abc", {}), "cannot find the positions of an empty string"));
  BOOST_TEST(contains(failure(*Expression::compile("index(\"\")", no_variables), "abc", {}), "empty string"));
}

BOOST_AUTO_TEST_CASE(dates_out_of_range_fail_instead_of_aborting) {
  // libjq 1.6 asserts (SIGABRT) when gmtime fails inside strftime.
  for (const char* source : {"todate", "todateiso8601", "strftime(\"%Y\")"}) {
    for (const json& input : {json(1e18), json(-1e300), json(1e300)}) {
      const std::string message = failure(*Expression::compile(source, no_variables), input, {});
      BOOST_TEST(contains(message, "converting number of seconds since epoch to datetime"), source << ": " << message);
    }
  }
  BOOST_TEST(Expression::compile("todate", no_variables)->evaluate(1795235554, {}) == json("2026-11-21T04:32:34Z"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(accounting)

BOOST_AUTO_TEST_CASE(libjq_allocations_are_counted) {
  // Only counted allocations can exceed a budget: this fails at 1 MiB and fits in 64 MiB.
  const auto expression = Expression::compile("[range(100000)] | length", no_variables);
  BOOST_TEST(contains(failure(*expression, nullptr, {mib, nullptr}), "exceeded its memory budget of 1 MiB"));
  BOOST_TEST(expression->evaluate(nullptr, {}) == json(100000));
}

BOOST_AUTO_TEST_CASE(input_and_result_count_too) {
  json items = json::array();
  for (int i = 0; i < 50000; ++i) items.push_back("item " + std::to_string(i));
  const auto identity = Expression::compile(".", no_variables);
  BOOST_TEST(contains(failure(*identity, items, {mib, nullptr}), "exceeded its memory budget of 1 MiB"));
  BOOST_TEST(identity->evaluate(items, {}) == items);
  const auto builder = Expression::compile("[range(50000) | \"item \\(.)\"]", no_variables);
  BOOST_TEST(contains(failure(*builder, nullptr, {2 * mib, nullptr}), "exceeded its memory budget of 2 MiB"));
}

// The smallest budget under which `source` succeeds, found by bisection.
std::size_t threshold(const std::string& source) {
  const auto expression = Expression::compile(source, no_variables);
  std::size_t low = 0;           // fails
  std::size_t high = 64 * mib;   // succeeds
  while (high - low > 1) {
    const std::size_t middle = low + (high - low) / 2;
    if (failure(*expression, nullptr, {middle, nullptr}).empty()) high = middle;
    else low = middle;
  }
  return high;
}

BOOST_AUTO_TEST_CASE(the_count_is_deterministic) {
  // The same program and input count the same bytes, on any thread, however often they run.
  for (const std::string source : {"[range(3000) | {id: ., name: \"n\\(.)\"}] | length",
                                   "[range(2000) | tostring] | join(\",\") | length",
                                   "def f($n): if $n == 0 then 0 else 1 + f($n - 1) end; f(2000)"}) {
    const std::size_t here = threshold(source);
    std::size_t there = 0;
    std::thread([&] { there = threshold(source); }).join();
    BOOST_TEST(here == there, source);
    BOOST_TEST(threshold(source) == here, source);
    BOOST_TEST(here > 0u);
  }
}

BOOST_AUTO_TEST_CASE(an_interrupted_control_fails_later_evaluations_at_once) {
  EvaluationControl control(250);
  control.interrupt();
  const auto expression = Expression::compile("1 + 1", no_variables);
  const std::string message = failure(*expression, nullptr, {mib, &control});
  BOOST_TEST(message == "jq expression `1 + 1` exceeded the step's time budget of 250 ms");
  EvaluationControl plain;
  plain.interrupt();
  BOOST_TEST(failure(*expression, nullptr, {mib, &plain}) == "jq expression `1 + 1` was interrupted");
  BOOST_TEST(expression->evaluate(nullptr, {}) == json(2));  // the program itself is fine
}

BOOST_AUTO_TEST_CASE(a_budget_stop_cannot_be_caught_by_the_program) {
  for (const char* source : {"try (\"x\" * 1e9) catch \"caught\"", "try ([range(1e9)]) catch \"caught\"",
                             "(reduce range(40) as $i (1; [., .]) | tojson)? // \"caught\""}) {
    BOOST_TEST(contains(failure(*Expression::compile(source, no_variables), nullptr, {}), memory_budget), source);
  }
}

BOOST_AUTO_TEST_CASE(reserved_names_are_refused) {
  try {
    Expression::compile("__fp_builtin_multiply(\"x\"; 1e9)", no_variables);
    BOOST_FAIL("expected an ExpressionError");
  } catch (const ExpressionError& error) {
    BOOST_TEST(contains(error.what(), "names starting with __fp_ are reserved"));
  }
}

BOOST_AUTO_TEST_SUITE_END()

// The guarded builtins give what libjq gives for ordinary values: each program runs once through
// libjq directly (no sandbox, no guards) and once as an Expression, collecting every output.
namespace {

std::string dump(jv value) {
  jv text = jv_dump_string(value, JV_PRINT_SORTED);
  std::string result = jv_string_value(text);
  jv_free(text);
  return result;
}

std::string through_libjq(const std::string& program, const json& input) {
  jq_state* jq = jq_init();
  BOOST_REQUIRE(jq != nullptr);
  std::string result;
  if (!jq_compile(jq, ("[" + program + "]").c_str())) {
    jq_teardown(&jq);
    return "compile error";
  }
  jq_start(jq, jv_parse(input.dump().c_str()), 0);
  jv value = jq_next(jq);
  if (jv_is_valid(value)) {
    result = dump(value);
  } else if (jv_invalid_has_msg(jv_copy(value))) {
    jv message = jv_invalid_get_msg(value);
    result = "error: " + (jv_get_kind(message) == JV_KIND_STRING ? std::string(jv_string_value(message)) : dump(jv_copy(message)));
    jv_free(message);
  } else {
    jv_free(value);
    result = "no output";
  }
  jq_teardown(&jq);
  return result;
}

std::string through_expression(const std::string& program, const json& input) {
  try {
    const json value = Expression::compile("[" + program + "]", no_variables)->evaluate(input, {});
    jv parsed = jv_parse(value.dump().c_str());
    return dump(parsed);
  } catch (const ExpressionError& error) {
    const std::string message = error.what();
    const auto at = message.find("failed: ");
    return at == std::string::npos ? message : "error: " + message.substr(at + 8);
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(guards_keep_jq_semantics)

BOOST_AUTO_TEST_CASE(guarded_builtins_match_libjq) {
  const json input = json::parse(R"({"s": "a1b22c333", "csv": "x, y,z", "n": 3, "a": [1, [2, 3], "x"],
                                     "o": {"k": {"l": 1}}, "t": 1795235554})");
  const std::vector<std::string> programs = {
      // `*`: repetition, merge, numbers, generator order, errors
      "(1,2) * (10,20)", ".s * 2", "2 * .s", ".s * 0", ".s * -1", ".s * 0.5", ".s * 2.7", "null * 2",
      ".o * {\"k\": {\"m\": 2}}", ".n * .n", "(\"a\",\"b\") * (1,2)", "{} * 2",
      // `/` and split/1
      "(10,20) / (1,2)", ".csv / \",\"", ".csv | split(\", \")", ".csv | split(\"\")", "\"\" / \",\"",
      "\"a,\" / \",\"", ".n / 0", "[1] / 1",
      // explode and friends
      ".s | explode", ".s | ascii_downcase", "\"AbC\" | ascii_upcase", "\"é\" | explode | implode",
      // indices
      ".s | indices(\"2\")", ".s | index(\"2\")", ".s | rindex(\"3\")", ".s | indices(\"zz\")",
      "[1,2,1,2,3] | indices([1,2])", "[1,2,1,2,3] | indices(1)", "[1,2,1,2] | .[[1,2]]", "[] | .[[1]]",
      "[1,2] | .[[]]", "[[1],[1]] | .[[[1]]]",
      // padding
      "[1,2] | .[5] = 1", "null | .[3] = 1", "[1,2] | .[-1] = 5", "{} | .a.b[2] = 1", "[1] | .[1500] = 1 | length",
      "null | setpath([\"a\", 0]; 1)",
      // printing
      ".a | tojson", ".o | tostring", "\"\\(.a) and \\(.o)\"", ".a | @json", ".s | @html", "[.a[0], .s] | @csv", "[.s, 1, null] | @tsv", ".s | @sh", "[.s, \"it's\"] | @sh", ".csv | @uri",
      ".s | @base64", ".s | @base64 | @base64d", ".s | @base32", "@html \"<\\(.s)>\"", "[(\"html\", \"uri\") as $f | .s | format($f)]",
      "1 | format(\"nope\")", "[1, 2] | @text", ".a | @html", "{} | format(1)",
      "1e1000 | tostring", "[nan, -0, 0.1, 1e17, 123456789012] | tojson", "\"\\u0000\\t\\\"\" | tojson",
      "error(.a)", "error({a: 1})", "{} | .[[1]]", ".a - 1",
      // fromjson
      "\"[1, {\\\"a\\\": [2]}]\" | fromjson", "\"[1,\" | fromjson", "\"\" | fromjson",
      // regex
      ".s | [match(\"\\\\d+\"; \"g\") | .string]", ".s | [match(\"(?<d>\\\\d)\"; \"g\") | .captures]",
      "[(\"ab\",\"cd\") | match((\"a\",\"c\"); (null,\"g\")) | .offset]", ".s | match([\"B\", \"gi\"]) | .string",
      ".s | capture(\"(?<letter>[a-z])(?<digit>\\\\d)\")", ".s | [capture(\"(?<d>\\\\d)\"; \"g\")]",
      ".s | [scan(\"\\\\d+\")]", ".s | [scan(\"([a-z])(\\\\d)\")]", ".csv | [splits(\", *\")]",
      ".csv | split(\", *\"; null)", ".s | sub(\"\\\\d\"; \"#\")", ".s | gsub(\"\\\\d\"; \"#\")",
      ".s | gsub(\"(?<x>\\\\d)\"; \"<\\(.x)>\")", ".s | test(\"B\"; \"i\")", ".s | _match_impl(\"2\"; \"g\"; false) | length",
      ".s | [match(\"\"; \"g\") | .offset]", "1 | match(\"a\")", ".s | match(1)",
      // dates
      ".t | todate", ".t | todateiso8601", ".t | strftime(\"%A %B\")", "[(0, 86400) | strftime((\"%Y\", \"%j\"))]",
      ".t | gmtime | todate", "\"x\" | todate", "[1] | todate", ".t | gmtime | mktime",
      // comparisons, merges and containment (the walks that stop when stopped)
      ".a | sort", "[3,1,2] | sort", ".a == .a", "[.a, .a] | unique", ".a | contains([[2]])", "\"abc\" | contains(\"b\")",
      "[1,[2]] | inside([1,[2,3]])", ".o * .o", "[1,2,3] - [2]", "[.a[] | tostring] | group_by(length)",
      "{a: 1, b: {c: 2}} * {b: {d: 3}, a: {e: 4}}", "{a: {b: 1}} * {a: 2}", "{} * {}", "{a: 1} * {}",
      "def d($n): reduce range($n) as $i ({}; {a: .}); d(10000) * d(10000) | [..] | length",
      "def d($n): reduce range($n) as $i (1; [.]); [d(9000) == d(9000), d(9000) < d(9000)]",
      "[1,2,3] | [.[0:1] == .[1:2], .[0:1] < .[1:2], .[0:2] == .[1:3]]", "\"abc\" | .[0:1] == .[1:2]",
      "[nan] == [nan]", "nan == nan", "nan < nan", "[1, nan, null] | sort", "{} == {}", "{a: 1} == {a: 1.0}",
      "{a: 1} == {a: 1, b: 2}", "{a: 1, b: 2} == {b: 2, a: 1}", "[{b: 1, a: 2}, {a: 2, b: 0}, {a: 1}, {c: 0}] | sort",
      "[\"ab\", \"a\", \"b\", \"\\u00e9\", \"z\", \"a\\u0000\"] | sort", "[[1,2],[1],[1,2,0],[]] | sort",
      "[null, false, true, 0, \"\", [], {}] | sort", "[3, [1], {a: 1}, \"x\"] | [min, max]",
      "[{a: [1, {b: 2}]}, {a: [1, {b: 1}]}] | sort_by(.a) | unique", "[1,2,1] | [index(1), rindex(1)]",
      "{a: {b: 1}} == {a: {b: 1}}", "[[1,2],[1,2]] | .[0] == .[1]", "[1,[2]] - [[2]]", "[1,2,3] | .[[2,3]]",
      "def d($n): reduce range($n) as $i ({}; {a: .}); d(10001) * d(10001) | [..] | length",
  };
  for (const std::string& program : programs) {
    const std::string ours = through_expression(program, input);
    const std::string libjq = through_libjq(program, input);
    BOOST_TEST(ours == libjq, program << ": " << ours.substr(0, 300) << " vs libjq " << libjq.substr(0, 300));
  }
}

BOOST_AUTO_TEST_SUITE_END()

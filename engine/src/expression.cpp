// jq expressions through libjq 1.6. Everything libjq-specific stays in this file.
//
// Programs: every jq_compile parses jq's builtin library and binds it to the program, about 175 M
// instructions (25 ms), so a program per expression made loading a definition cost that much per
// expression. ExpressionBatch compiles many expressions (a definition's) into one program of the shape
//   <sandbox prelude> . as [$__fp_in, $ENV, $__fp_bytes_max] | <budget prelude>
//   if .[3] then (if .[4] then (def __fp_e: .[5] as $v1 | $__fp_in | (\n<source 0>\n); __fp_e) else
//   ... end) else ... end
// (a balanced tree of `if`s, here two deep) started with [input, null, memory budget, true, true,
// value of $v1] to run expression 0. A program of one expression is
// `<sandbox prelude> . as [$__fp_in, $ENV, $__fp_bytes_max, $v1] | <budget prelude> $__fp_in |
// (\n<source>\n)`, as every expression's program was before batches (program_text says why each piece is
// there). An expression that could reach out of its parentheses, mentions `$__loc__`, or does not compile,
// gets a program of its own, so its messages and results are exactly those of a program of its own.
//
// Budgets: jq_budget.hpp counts libjq's memory and stops runaway programs; the budget prelude guards
// the few builtins that could outgrow the budget inside one call, where that cannot stop them.
#include "flightplan/engine/expression.hpp"

#include "jq_budget.hpp"

extern "C" {
#include <jq.h>
#include <jv.h>
}

#include <algorithm>
#include <cassert>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace flightplan::engine {
namespace {

using nlohmann::json;

// Values nested deeper than this are refused rather than risking the stack in the recursive
// conversions below (and in libjq's own recursive routines).
constexpr int nesting_depth_max = 1000;

// Integers up to 2^53 survive the round trip through a double exactly.
constexpr double exact_integer_max = 9007199254740992.0;

// Definitions placed before every program. jq resolves names lexically, so these shadow the builtins
// for the user's source: clock, environment, host and I/O builtins raise an error, and the
// diagnostic builtins become the identity. Pure date functions (mktime, gmtime, todate, fromdate,
// strftime, strptime) stay available.
constexpr std::string_view sandbox_prelude = R"jq(
def __fp_unavailable($name; $why): error("\($name) is not available in flightplan expressions: \($why)");
def now: __fp_unavailable("now"; "they must be deterministic (use $workflow.startedAt or $task.startedAt)");
def localtime: __fp_unavailable("localtime"; "it depends on the host time zone (use gmtime)");
def strflocaltime(f): __fp_unavailable("strflocaltime"; "it depends on the host time zone (use strftime)");
def env: __fp_unavailable("env"; "they cannot read the process environment (use $secrets or $runtime)");
def input: __fp_unavailable("input"; "they read only their input and variables");
def inputs: __fp_unavailable("inputs"; "they read only their input and variables");
def input_filename: __fp_unavailable("input_filename"; "they read only their input and variables");
def input_line_number: __fp_unavailable("input_line_number"; "they read only their input and variables");
def debug: .;
def stderr: .;
def halt: __fp_unavailable("halt"; "use error(...) to fail");
def halt_error: __fp_unavailable("halt_error"; "use error(...) to fail");
def halt_error(f): __fp_unavailable("halt_error"; "use error(...) to fail");
def get_search_list: __fp_unavailable("get_search_list"; "they cannot inspect the host");
def get_jq_origin: __fp_unavailable("get_jq_origin"; "they cannot inspect the host");
def get_prog_origin: __fp_unavailable("get_prog_origin"; "they cannot inspect the host");
def modulemeta: __fp_unavailable("modulemeta"; "they cannot load modules");
)jq";

// Definitions inside the variable binding (they read $__fp_bytes_max), before the user's source. Each
// guards a builtin that allocates its whole result inside one libjq call, where the allocation hooks
// can count but not stop it, and that jq_budget.cpp cannot check from its arguments: string repetition
// (a loop of up to 2^31 appends) and global regular expressions. strftime converts a number with gmtime
// first: libjq 1.6 aborts when its own conversion fails. Shadows cost: a `*` on numbers runs about
// 10,000 more instructions (docs/benchmarks.md). A guard that
// finds the result too large calls __fp_refuse, which asks for the largest array index: the padding
// check in jq_budget.cpp turns that into a memory-budget stop (so `try` cannot swallow it). Guards keep
// jq's semantics otherwise, including the order in which generator arguments are tried: libjq runs a
// builtin's closure arguments last one outermost, hence `b as $b | a as $a`. Arithmetic inside the
// guards comes before the shadow of `*` below, so it is the builtin's. Names starting with __fp_ are
// refused in sources, so a program cannot reach the unguarded builtins through them.
constexpr std::string_view budget_prelude = R"jq(
def __fp_refuse: [] | setpath([2147483647]; null);
def __fp_builtin_multiply(a; b): _multiply(a; b);
def __fp_repeat($s; $n):
  if __fp_builtin_multiply($s | utf8bytelength; $n) > $__fp_bytes_max then __fp_refuse
  else __fp_builtin_multiply($s; $n) end;
def _multiply(a; b):
  b as $b | a as $a
  | if ($a | type) == "string" and ($b | type) == "number" then __fp_repeat($a; $b)
    elif ($b | type) == "string" and ($a | type) == "number" then __fp_repeat($b; $a)
    else __fp_builtin_multiply($a; $b) end;
def __fp_builtin_match_impl(re; mode; test): _match_impl(re; mode; test);
def __fp_global_match_too_large($re; $mode): (type == "string") and ($re | type) == "string"
  and ($mode | type) == "string" and ($mode | contains("g"))
  and __fp_builtin_multiply(utf8bytelength + 1; 1200 + __fp_builtin_multiply(900; $re | split("(") | length))
    > $__fp_bytes_max;
def _match_impl(re; mode; test):
  test as $test | mode as $mode | re as $re
  | if $test != true and __fp_global_match_too_large($re; $mode) then __fp_refuse
    else __fp_builtin_match_impl($re; $mode; $test) end;
def __fp_builtin_strftime(f): strftime(f);
def strftime(f): f as $f | if type == "number" then gmtime | __fp_builtin_strftime($f) else __fp_builtin_strftime($f) end;
def match(re; mode): _match_impl(re; mode; false)|.[];
def match($val): ($val|type) as $vt | if $vt == "string" then match($val; null)
   elif $vt == "array" and ($val | length) > 1 then match($val[0]; $val[1])
   elif $vt == "array" and ($val | length) > 0 then match($val[0]; null)
   else error( $vt + " not a string or array") end;
def capture(re; mods): match(re; mods) | reduce ( .captures | .[] | select(.name != null) | { (.name) : .string } ) as $pair ({}; . + $pair);
def capture($val): ($val|type) as $vt | if $vt == "string" then capture($val; null)
   elif $vt == "array" and ($val | length) > 1 then capture($val[0]; $val[1])
   elif $vt == "array" and ($val | length) > 0 then capture($val[0]; null)
   else error( $vt + " not a string or array") end;
def scan(re):
  match(re; "g")
  |  if (.captures|length > 0)
      then [ .captures | .[] | .string ]
      else .string
      end ;
def splits($re; flags): . as $s
  | [ match($re; "g" + flags) | (.offset, .offset + .length) ]
  | [0] + . +[$s|length]
  | _nwise(2)
  | $s[.[0]:.[1] ] ;
def splits($re): splits($re; null);
def split($re; flags): [ splits($re; flags) ];
def todateiso8601: strftime("%Y-%m-%dT%H:%M:%SZ");
def todate: todateiso8601;
)jq";

// Owns one jv reference and frees it on scope exit, so that an exception cannot leak jq values.
class OwnedJv {
 public:
  explicit OwnedJv(jv value) : value_(value) {}
  ~OwnedJv() { jv_free(value_); }
  OwnedJv(const OwnedJv&) = delete;
  OwnedJv& operator=(const OwnedJv&) = delete;
  jv get() const { return value_; }
  jv release() {
    jv value = value_;
    value_ = jv_invalid();
    return value;
  }
  // Takes ownership of `value`, freeing the reference held so far.
  void reset(jv value) {
    jv_free(value_);
    value_ = value;
  }

 private:
  jv value_;
};

jv make_jv_string(const std::string& text) {
  return jv_string_sized(text.data(), static_cast<int>(text.size()));
}

// The text of a jq string, which may contain NUL characters. Does not consume `value`.
std::string string_of(jv value) {
  const int length = jv_string_length_bytes(jv_copy(value));
  return std::string(jv_string_value(value), static_cast<std::size_t>(length));
}

void check_depth(int depth) {
  if (depth > nesting_depth_max) {
    throw ExpressionError("value nested deeper than " + std::to_string(nesting_depth_max) + " levels");
  }
}

// Thrown by the conversions below when the evaluation's budget stopped it; evaluate() turns it into
// the ExpressionError that names the expression and the budget.
struct BudgetStopped {};

// Precondition: an EvaluationScope runs on this thread.
void check_budget() {
  if (detail::EvaluationScope::current()->stopping()) throw BudgetStopped{};
}

// Converts `value`; libjq's allocations count against the running evaluation's budget.
jv to_jv(const json& value, int depth) {
  check_depth(depth);
  check_budget();
  switch (value.type()) {
    case json::value_t::null:
    case json::value_t::discarded:
      return jv_null();
    case json::value_t::boolean:
      return jv_bool(value.get<bool>());
    case json::value_t::number_integer:
      return jv_number(static_cast<double>(value.get<std::int64_t>()));
    case json::value_t::number_unsigned:
      return jv_number(static_cast<double>(value.get<std::uint64_t>()));
    case json::value_t::number_float:
      return jv_number(value.get<double>());
    case json::value_t::string:
      return make_jv_string(value.get_ref<const std::string&>());
    case json::value_t::binary:
      throw ExpressionError("binary values cannot be passed to jq expressions");
    case json::value_t::array: {
      OwnedJv array(jv_array_sized(static_cast<int>(value.size())));
      for (const json& element : value) {
        jv converted = to_jv(element, depth + 1);
        array.reset(jv_array_append(array.release(), converted));
      }
      return array.release();
    }
    case json::value_t::object: {
      OwnedJv object(jv_object());
      for (const auto& [key, element] : value.items()) {
        jv converted = to_jv(element, depth + 1);
        object.reset(jv_object_set(object.release(), make_jv_string(key), converted));
      }
      return object.release();
    }
  }
  return jv_null();
}

json number_to_json(double number) {
  if (!std::isfinite(number)) return nullptr;
  if (std::trunc(number) == number && std::fabs(number) <= exact_integer_max) {
    return static_cast<std::int64_t>(number);
  }
  return number;
}

// What a converted result costs in our memory, charged to the evaluation's budget: a JSON node, plus
// a string's characters or an object entry. A value that shares itself in jq (`[., .]` forty times)
// converts to an exponentially larger tree, so its conversion stops at the budget.
constexpr std::size_t json_node_bytes = sizeof(json) + 16;
constexpr std::size_t json_object_entry_bytes = 64;

void charge(std::size_t bytes) {
  if (!detail::EvaluationScope::current()->charge(bytes)) throw BudgetStopped{};
}

// Converts without consuming `value` (the caller keeps its reference). Precondition: an
// EvaluationScope runs on this thread; the result is charged to it.
json from_jv(jv value, int depth) {
  check_depth(depth);
  charge(json_node_bytes);
  switch (jv_get_kind(value)) {
    case JV_KIND_NULL:
    case JV_KIND_INVALID:
      return nullptr;
    case JV_KIND_FALSE:
      return false;
    case JV_KIND_TRUE:
      return true;
    case JV_KIND_NUMBER:
      return number_to_json(jv_number_value(value));
    case JV_KIND_STRING:
      charge(static_cast<std::size_t>(jv_string_length_bytes(jv_copy(value))));
      return string_of(value);
    case JV_KIND_ARRAY: {
      json array = json::array();
      const int length = jv_array_length(jv_copy(value));
      for (int i = 0; i < length; ++i) {
        OwnedJv element(jv_array_get(jv_copy(value), i));
        array.push_back(from_jv(element.get(), depth + 1));
      }
      return array;
    }
    case JV_KIND_OBJECT: {
      json object = json::object();
      for (int it = jv_object_iter(value); jv_object_iter_valid(value, it);
           it = jv_object_iter_next(value, it)) {
        OwnedJv key(jv_object_iter_key(value, it));
        OwnedJv element(jv_object_iter_value(value, it));
        charge(json_object_entry_bytes + static_cast<std::size_t>(jv_string_length_bytes(jv_copy(key.get()))));
        object[string_of(key.get())] = from_jv(element.get(), depth + 1);
      }
      return object;
    }
  }
  return nullptr;
}

// Renders any jv as text: strings as they are, other values as compact JSON. Consumes `value`.
// Outside evaluations only (compile diagnostics, which are strings).
std::string describe_jv(jv value) {
  if (jv_get_kind(value) == JV_KIND_STRING) {
    OwnedJv owned(value);
    return string_of(owned.get());
  }
  return describe_jv(jv_dump_string(value, 0));
}

// The text of an error value raised by a program, charged to the running evaluation. Consumes `value`.
std::string describe_error(jv value) {
  detail::EvaluationScope& scope = *detail::EvaluationScope::current();
  if (jv_get_kind(value) == JV_KIND_STRING) {
    OwnedJv owned(value);
    charge(static_cast<std::size_t>(jv_string_length_bytes(jv_copy(owned.get()))));
    return string_of(owned.get());
  }
  std::optional<std::string> text = detail::bounded_dump(value, scope.remaining_bytes());
  if (!text) {
    scope.stop(detail::StopReason::memory);
    throw BudgetStopped{};
  }
  charge(text->size());
  return std::move(*text);
}

// "64 MiB", "1536 KiB", "1000 bytes".
std::string format_bytes(std::size_t bytes) {
  constexpr std::size_t kib = 1024;
  constexpr std::size_t mib = kib * 1024;
  if (bytes >= mib && bytes % mib == 0) return std::to_string(bytes / mib) + " MiB";
  if (bytes >= kib && bytes % kib == 0) return std::to_string(bytes / kib) + " KiB";
  return std::to_string(bytes) + " bytes";
}

bool is_identifier(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name.front()))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

std::string_view trim(std::string_view text) {
  constexpr std::string_view whitespace = " \t\n\r\f\v";
  const auto begin = text.find_first_not_of(whitespace);
  if (begin == std::string_view::npos) return {};
  const auto end = text.find_last_not_of(whitespace);
  return text.substr(begin, end - begin + 1);
}

// True when `source` contains `$name` not followed by another identifier character.
bool mentions_variable(std::string_view source, std::string_view name) {
  const std::string token = "$" + std::string(name);
  for (auto at = source.find(token); at != std::string_view::npos; at = source.find(token, at + 1)) {
    const std::size_t end = at + token.size();
    if (end == source.size()) return true;
    const char next = source[end];
    if (!(std::isalnum(static_cast<unsigned char>(next)) || next == '_')) return true;
  }
  return false;
}

}  // namespace

namespace detail {

// Where a program's parts are: a balanced binary tree of `if`s over `part_count` parts, `depth` deep
// (program_text). A program of one part has depth 0.
struct ProgramShape {
  std::size_t part_count = 1;
  std::size_t depth = 0;
};

// One compiled libjq program. libjq state is not re-entrant, and results may share the program's
// constants, whose reference counts are not atomic: evaluations take `mutex`. The expressions of one
// batch share a program, so evaluations of one definition's expressions run one at a time. An
// orchestrator evaluates on one thread, where that costs nothing; with several orchestrator threads,
// one may wait here for another's evaluation of the same definition, and the wait counts against its
// step's time budget (a runaway expression can hold the lock for that budget).
struct JqProgram {
  jq_state* jq = nullptr;
  ProgramShape shape;
  std::mutex mutex;

  JqProgram() = default;
  JqProgram(const JqProgram&) = delete;
  JqProgram& operator=(const JqProgram&) = delete;
  ~JqProgram() {
    if (jq != nullptr) jq_teardown(&jq);
  }
};

}  // namespace detail

namespace {

// True when `source`, lexed as jq 1.6 lexes it (src/lexer.l), closes every bracket, string and string
// interpolation it opens and closes nothing it did not open. Only such a source may share a program:
// inside the program's `(\n<source>\n)` it then parses as one expression, as it does alone, and cannot
// reach into the text around it (another expression's). A source that is not (most do not compile;
// `1) | (2` does) gets a program of its own, as does one this check misjudges as not self-contained.
bool is_self_contained(std::string_view source) {
  constexpr std::string_view openers = "\"([{";
  constexpr std::string_view closers = "\")]}";  // closers[i] closes openers[i]
  std::vector<char> expected;                    // what closes each open construct; '"' for a string
  for (std::size_t at = 0; at < source.size(); ++at) {
    const char c = source[at];
    if (!expected.empty() && expected.back() == '"') {
      if (c == '"') {
        expected.pop_back();
      } else if (c == '\\') {
        if (++at == source.size()) return false;
        if (source[at] == '(') expected.push_back(')');  // an interpolation: code until its ')'
      }
    } else if (c == '#') {
      // A comment runs to the end of the line. One ending in a backslash, which jq 1.7 continues on
      // the next line, is refused.
      at = std::min(source.find_first_of("\r\n", at), source.size());
      if (source[at - 1] == '\\') return false;
    } else if (const auto opener = openers.find(c); opener != std::string_view::npos) {
      expected.push_back(closers[opener]);
    } else if (closers.find(c) != std::string_view::npos) {
      if (expected.empty() || expected.back() != c) return false;
      expected.pop_back();
    }
  }
  return expected.empty();
}

// A source that must be compiled in a program of its own: one that is not self-contained, and one that
// mentions `$__loc__` (its value is a line number in the program, the same only when alone).
bool needs_own_program(std::string_view source) {
  return !is_self_contained(source) || source.find("__loc__") != std::string_view::npos;
}

// Why `source` cannot be compiled, found without jq; empty when it may be. Fills `used` with the
// variables the source mentions, in the order of `variables`.
std::string refusal(std::string_view source, const std::vector<std::string>& variables,
                    std::vector<std::string>& used) {
  const std::string quoted = "`" + std::string(source) + "`";
  if (trim(source).empty()) return "invalid jq expression " + quoted + ": it is empty";
  if (source.find('\0') != std::string_view::npos) {
    return "invalid jq expression " + quoted + ": it contains a NUL character";
  }
  // The sandbox's own definitions (the unguarded builtins among them) are named __fp_...: a program
  // that could call them would get around its budget (or call __fp_e, another expression's function).
  if (source.find("__fp_") != std::string_view::npos) {
    return "invalid jq expression " + quoted + ": names starting with __fp_ are reserved";
  }
  // Bind only the variables the source mentions: each bound variable is converted to a jq value on
  // every evaluation, and $workflow or $context can be large. A name that merely appears inside a
  // string literal is bound needlessly, which is harmless; an unmentioned one cannot be referenced.
  for (const std::string& name : variables) {
    // Names starting with "__" are reserved for the wrapper ($__fp_in).
    if (!is_identifier(name) || name.starts_with("__")) {
      return "invalid jq expression " + quoted + ": variable name \"" + name +
             "\" is not an identifier or is reserved";
    }
    if (mentions_variable(source, name)) used.push_back(name);
  }
  return {};
}

// Receives jq's diagnostics (compile errors) instead of letting libjq print them to stderr.
// No exception may unwind through libjq's C frames; a message lost to bad_alloc is acceptable.
void collect_message(void* data, jv message) {
  try {
    static_cast<std::vector<std::string>*>(data)->push_back(describe_jv(message));
  } catch (...) {
  }
}

// Once a program is compiled: errors of evaluations come back from jq_next as values.
void drop_message(void* /*data*/, jv message) { jv_free(message); }

// Turns one libjq compile diagnostic into text about the user's source: drops the "jq: error:"
// prefix and the shell-quoting hint, and rewrites the location relative to the source's first line.
std::string clean_compile_message(std::string message, int source_first_line, int source_line_count) {
  constexpr std::string_view prefix = "jq: error: ";
  if (message.starts_with(prefix)) message.erase(0, prefix.size());
  constexpr std::string_view shell_hint = " (Unix shell quoting issues?)";
  if (auto at = message.find(shell_hint); at != std::string::npos) message.erase(at, shell_hint.size());
  constexpr std::string_view location = " at <top-level>, line ";
  const auto at = message.find(location);
  if (at == std::string::npos) return std::string(trim(message));
  const int program_line = std::atoi(message.c_str() + at + location.size());
  const int source_line = program_line - source_first_line + 1;
  message.erase(at);
  if (source_line >= 1 && source_line <= source_line_count && source_line_count > 1) {
    message += " (line " + std::to_string(source_line) + ")";
  }
  return std::string(trim(message));
}

// jq's diagnostics for a program holding only `source`, which starts on line `source_first_line`,
// as the reason in an "invalid jq expression" message.
std::string compile_failure(std::vector<std::string> messages, std::string_view source,
                            int source_first_line) {
  const int line_count = static_cast<int>(std::count(source.begin(), source.end(), '\n')) + 1;
  std::string joined;
  for (std::string& message : messages) {
    message = clean_compile_message(std::move(message), source_first_line, line_count);
    // libjq ends with a summary ("jq: 1 compile error") that adds nothing to the messages before it.
    if (message.starts_with("jq: ") && message.find("compile error") != std::string::npos) continue;
    if (!joined.empty()) joined += "; ";
    joined += message;
  }
  return joined.empty() ? "the program does not compile" : joined;
}

// One expression as a program holds it: expressions with the same source and variables are one part.
struct ProgramPart {
  std::string_view source;
  const std::vector<std::string>* variables;  // the variables it binds
};

// The depth of the tree of `if`s that reaches each of `part_count` parts.
detail::ProgramShape program_shape(std::size_t part_count) {
  detail::ProgramShape shape{part_count, 0};
  while ((std::size_t{1} << shape.depth) < part_count) ++shape.depth;
  return shape;
}

// Appends the tree that runs part `first` ... `last - 1`: at depth d, `.[3 + d]` is true for the first
// half (branch_path gives the booleans for a part).
void append_branches(std::string& text, std::span<const std::string> leaves, std::size_t first,
                     std::size_t last, std::size_t depth) {
  if (last - first == 1) {
    text += leaves[first];
    return;
  }
  const std::size_t middle = first + (last - first) / 2;
  text += "if .[" + std::to_string(3 + depth) + "] then ";
  append_branches(text, leaves, first, middle, depth + 1);
  text += " else ";
  append_branches(text, leaves, middle, last, depth + 1);
  text += " end";
}

// The booleans that lead append_branches' tree to part `index`, padded with false to the tree's depth.
std::vector<bool> branch_path(const detail::ProgramShape& shape, std::size_t index) {
  std::vector<bool> path;
  path.reserve(shape.depth);
  for (std::size_t first = 0, last = shape.part_count; last - first > 1;) {
    const std::size_t middle = first + (last - first) / 2;
    path.push_back(index < middle);
    (index < middle ? last : first) = middle;
  }
  path.resize(shape.depth, false);
  return path;
}

// The text of a program holding `parts`, started with the array
//   [input, null, memory budget, <shape.depth booleans: branch_path>, values of the part's variables]
// Binding by destructuring and indexing lets one compiled program serve every evaluation
// (jq_compile_args would bake values into the bytecode), and binding `$ENV` to null hides the process
// environment. The budget prelude sits inside the binding because its guards read $__fp_bytes_max.
//
// A program of one part is exactly what each expression's program was before batches:
//   <sandbox prelude> . as [$__fp_in, $ENV, $__fp_bytes_max, $v1, $v2] | <budget prelude> $__fp_in |
//   (\n<source>\n)
// so its messages and `$__loc__` are unchanged, and it costs nothing more to evaluate. Several parts
//   <sandbox prelude> . as [$__fp_in, $ENV, $__fp_bytes_max] | <budget prelude>
//   if .[3] then (def __fp_e: .[5] as $v1 | $__fp_in | (\n<source 0>\n); __fp_e) else ... end
// are the leaves of a balanced tree of `if`s, each a function: it gets bytecode and a frame of its own
// (libjq 1.6 keeps jump offsets in 16 bits, which one body holding every part could overflow, and
// would set up every part's variables on every evaluation), and binds only the variables it mentions,
// so it cannot refer to another's and the values of the others are never converted. The tree costs
// about 1,700 instructions per level at each evaluation; a tree of calls with closure arguments
// (fewer levels) was cheaper to compile but cost twice that to evaluate.
std::string program_text(std::span<const ProgramPart> parts, const detail::ProgramShape& shape) {
  assert(!parts.empty() && parts.size() == shape.part_count);
  std::string text = std::string(sandbox_prelude) + ". as [$__fp_in, $ENV, $__fp_bytes_max";
  if (parts.size() == 1) {
    for (const std::string& name : *parts.front().variables) text += ", $" + name;
    return text + "] |" + std::string(budget_prelude) + "$__fp_in | (\n" + std::string(parts.front().source) +
           "\n)";
  }
  text += "] |" + std::string(budget_prelude);
  std::vector<std::string> leaves;
  leaves.reserve(parts.size());
  for (const ProgramPart& part : parts) {
    std::string leaf = "(def __fp_e: ";
    for (std::size_t i = 0; i < part.variables->size(); ++i) {
      leaf += ".[" + std::to_string(3 + shape.depth + i) + "] as $" + (*part.variables)[i] + " | ";
    }
    leaves.push_back(leaf + "$__fp_in | (\n" + std::string(part.source) + "\n); __fp_e)");
  }
  append_branches(text, leaves, 0, leaves.size(), 0);
  return text;
}

// Compiles `text`; returns nullptr, with jq's diagnostics in `messages`, when it does not compile.
std::shared_ptr<detail::JqProgram> compile_program(const std::string& text,
                                                   std::vector<std::string>& messages) {
  auto program = std::make_shared<detail::JqProgram>();
  program->jq = jq_init();
  if (program->jq == nullptr) {
    messages.push_back("jq could not be initialised (out of memory)");
    return nullptr;
  }
  jq_set_error_cb(program->jq, &collect_message, &messages);
  const bool compiled = jq_compile(program->jq, text.c_str()) != 0;
  jq_set_error_cb(program->jq, &drop_message, nullptr);
  return compiled ? program : nullptr;
}

}  // namespace

Expression::Expression(std::string source, std::vector<std::string> variables)
    : source_(std::move(source)), variables_(std::move(variables)) {}

Expression::~Expression() = default;

std::shared_ptr<const Expression> Expression::compile(std::string_view source,
                                                      const std::vector<std::string>& variables) {
  ExpressionBatch batch;
  std::string error;
  ExpressionPtr expression =
      batch.add(source, variables, [&error](const std::string& message) { error = message; });
  batch.compile();
  if (!error.empty()) throw ExpressionError(error);
  return expression;
}

ExpressionPtr ExpressionBatch::add(std::string_view source, const std::vector<std::string>& variables,
                                   ErrorHandler on_error) {
  std::vector<std::string> used;
  std::string error = refusal(source, variables, used);
  std::shared_ptr<Expression> expression;
  if (error.empty()) expression.reset(new Expression(std::string(source), std::move(used)));
  entries_.push_back(Entry{expression, std::move(on_error), std::move(error)});
  return expression;
}

// Expressions with the same source and variables: compiled once, as one part of a program.
struct ExpressionBatch::Part {
  const Expression* expression;  // the first of them
  std::vector<Entry*> entries;
};

void ExpressionBatch::compile() {
  std::vector<Entry> entries = std::exchange(entries_, {});
  std::vector<Part> parts;
  std::map<std::pair<std::string_view, std::vector<std::string>>, std::size_t> part_of;
  for (Entry& entry : entries) {
    if (entry.expression == nullptr) continue;
    const auto [found, added] =
        part_of.try_emplace({entry.expression->source_, entry.expression->variables_}, parts.size());
    if (added) parts.push_back(Part{entry.expression.get(), {}});
    parts[found->second].entries.push_back(&entry);
  }
  std::vector<Part*> shared;
  for (Part& part : parts) {
    if (needs_own_program(part.expression->source_)) {
      compile_alone(part);
    } else {
      shared.push_back(&part);
    }
  }
  for (std::size_t first = 0; first < shared.size(); first += expressions_per_program_max) {
    const std::span<Part* const> group(shared.data() + first,
                                       std::min(expressions_per_program_max, shared.size() - first));
    // When the shared program does not compile, one by one finds the culprits (with their messages).
    if (group.size() == 1 || !compile_together(group)) {
      for (Part* part : group) compile_alone(*part);
    }
  }
  for (const Entry& entry : entries) {
    if (!entry.error.empty()) entry.on_error(entry.error);
  }
}

void ExpressionBatch::compile_alone(Part& part) {
  const Expression& expression = *part.expression;
  const ProgramPart program_part[] = {{expression.source_, &expression.variables_}};
  const std::string text = program_text(program_part, program_shape(1));
  std::vector<std::string> messages;
  std::shared_ptr<detail::JqProgram> program = compile_program(text, messages);
  if (program != nullptr) {
    for (Entry* entry : part.entries) {
      entry->expression->program_ = program;
      entry->expression->index_in_program_ = 0;
    }
    return;
  }
  // The text ends with the source and "\n)".
  const auto source_begin = text.end() - static_cast<std::ptrdiff_t>(expression.source_.size() + 2);
  const int source_first_line = static_cast<int>(std::count(text.begin(), source_begin, '\n')) + 1;
  const std::string error = "invalid jq expression `" + expression.source_ + "`: " +
                            compile_failure(std::move(messages), expression.source_, source_first_line);
  for (Entry* entry : part.entries) entry->error = error;
}

bool ExpressionBatch::compile_together(std::span<Part* const> group) {
  std::vector<ProgramPart> parts;
  parts.reserve(group.size());
  for (const Part* part : group) parts.push_back({part->expression->source_, &part->expression->variables_});
  const detail::ProgramShape shape = program_shape(parts.size());
  std::vector<std::string> messages;
  std::shared_ptr<detail::JqProgram> program = compile_program(program_text(parts, shape), messages);
  if (program == nullptr) return false;
  program->shape = shape;
  for (std::size_t i = 0; i < group.size(); ++i) {
    for (Entry* entry : group[i]->entries) {
      entry->expression->program_ = program;
      entry->expression->index_in_program_ = i;
    }
  }
  return true;
}

nlohmann::json Expression::evaluate(const nlohmann::json& input, Bindings bindings,
                                   const EvaluationBudget& budget) const {
  assert(program_ != nullptr && "evaluated before its batch compiled");
  if (!detail::jq_interposition_active()) {
    throw ExpressionError("jq expression `" + source_ +
                          "` cannot run: libjq's allocations are not counted (see engine/src/jq_budget.hpp)");
  }
  detail::EvaluationScope scope(budget);
  try {
    return run(input, bindings, scope);
  } catch (const BudgetStopped&) {
  }
  throw ExpressionError(stop_message(scope));
}

nlohmann::json Expression::run(const nlohmann::json& input, Bindings bindings, detail::EvaluationScope& scope) const {
  check_budget();  // a control interrupted earlier fails every later evaluation at once
  // The arguments (see program_text) are fresh jq values shared with nothing, so they may be built
  // before locking. Everything that touches values owned by the jq_state (results may share the
  // program's constants, whose reference counts are not atomic) happens under the lock.
  const std::vector<bool> path = branch_path(program_->shape, index_in_program_);
  OwnedJv arguments(jv_array_sized(static_cast<int>(3 + path.size() + variables_.size())));
  arguments.reset(jv_array_append(arguments.release(), to_jv(input, 1)));
  arguments.reset(jv_array_append(arguments.release(), jv_null()));
  arguments.reset(jv_array_append(arguments.release(), jv_number(static_cast<double>(scope.memory_bytes_max()))));
  for (const bool branch : path) arguments.reset(jv_array_append(arguments.release(), jv_bool(branch)));
  for (const std::string& name : variables_) {
    jv value = jv_null();
    for (const Binding& binding : bindings) {
      if (binding.name == name && binding.value != nullptr) {
        jv_free(value);
        value = to_jv(*binding.value, 1);
        break;
      }
    }
    arguments.reset(jv_array_append(arguments.release(), value));
  }
  check_budget();

  std::lock_guard lock(program_->mutex);
  jq_state* jq = program_->jq;
  jq_start(jq, arguments.release(), 0);
  const bool attached = scope.attach(jq);
  OwnedJv result(attached ? jq_next(jq) : jv_invalid());
  if (attached) scope.detach();
  // Restart on null so the state does not keep the last input alive until the next evaluation; this
  // also clears a halt.
  jq_start(jq, jv_null(), 0);
  check_budget();
  if (jv_is_valid(result.get())) return from_jv(result.get(), 1);
  if (!jv_invalid_has_msg(jv_copy(result.get()))) return nullptr;  // the program produced no output
  std::string message = describe_error(jv_invalid_get_msg(result.release()));
  throw ExpressionError("jq expression `" + source_ + "` failed: " + message);
}

std::string Expression::stop_message(const detail::EvaluationScope& scope) const {
  const std::string prefix = "jq expression `" + source_ + "` ";
  switch (scope.stop_reason()) {
    case detail::StopReason::memory:
      return prefix + "exceeded its memory budget of " + format_bytes(scope.memory_bytes_max());
    case detail::StopReason::nesting:
      return prefix + "nests values deeper than " + std::to_string(detail::value_depth_max) + " levels";
    case detail::StopReason::interrupted:
    case detail::StopReason::none:
      break;
  }
  assert(scope.stop_reason() == detail::StopReason::interrupted);
  const std::int64_t time_budget_ms = scope.control()->time_budget_ms();
  if (time_budget_ms > 0) return prefix + "exceeded the step's time budget of " + std::to_string(time_budget_ms) + " ms";
  return prefix + "was interrupted";
}

bool Expression::test(const nlohmann::json& input, Bindings bindings, const EvaluationBudget& budget) const {
  const json result = evaluate(input, bindings, budget);
  return !(result.is_null() || (result.is_boolean() && !result.get<bool>()));
}

std::optional<std::string_view> unwrap_expression(std::string_view text) {
  const std::string_view trimmed = trim(text);
  if (trimmed.size() < 3 || !trimmed.starts_with("${") || !trimmed.ends_with("}")) return std::nullopt;
  return trim(trimmed.substr(2, trimmed.size() - 3));
}

namespace {

// Adds every expression string in `value` to `batch`, depth first; `pointer` locates `value`.
void collect_slots(const json& value, const json::json_pointer& pointer,
                   const std::vector<std::string>& variables, ExpressionBatch& batch,
                   const ValueTemplate::ErrorHandler& on_error,
                   std::vector<std::pair<json::json_pointer, ExpressionPtr>>& slots) {
  if (value.is_string()) {
    const auto source = unwrap_expression(value.get_ref<const std::string&>());
    if (!source) return;
    ExpressionPtr expression =
        batch.add(*source, variables, [on_error, at = pointer.to_string()](const std::string& message) {
          on_error(ValueTemplate::CompileError{at, message});
        });
    if (expression != nullptr) slots.emplace_back(pointer, std::move(expression));
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      collect_slots(value[i], pointer / i, variables, batch, on_error, slots);
    }
  } else if (value.is_object()) {
    for (const auto& [key, element] : value.items()) {
      collect_slots(element, pointer / key, variables, batch, on_error, slots);
    }
  }
}

// Compiles a template in a batch of its own; throws the first failure, in document order.
template <typename CompileInto>
ValueTemplate compile_now(const CompileInto& compile_into) {
  ExpressionBatch batch;
  std::optional<ValueTemplate::CompileError> first;
  ValueTemplate result = compile_into(batch, [&first](const ValueTemplate::CompileError& error) {
    if (!first) first = error;
  });
  batch.compile();
  if (first) throw *first;
  return result;
}

}  // namespace

ValueTemplate ValueTemplate::compile(const nlohmann::json& value, const std::vector<std::string>& variables) {
  return compile_now([&](ExpressionBatch& batch, const ErrorHandler& on_error) {
    return compile(value, variables, batch, on_error);
  });
}

ValueTemplate ValueTemplate::compile_expression(const nlohmann::json& value,
                                                const std::vector<std::string>& variables) {
  return compile_now([&](ExpressionBatch& batch, const ErrorHandler& on_error) {
    return compile_expression(value, variables, batch, on_error);
  });
}

ValueTemplate ValueTemplate::compile(const nlohmann::json& value, const std::vector<std::string>& variables,
                                     ExpressionBatch& batch, const ErrorHandler& on_error) {
  std::vector<std::pair<json::json_pointer, ExpressionPtr>> slots;
  collect_slots(value, json::json_pointer(), variables, batch, on_error, slots);
  ValueTemplate result;
  result.raw_ = value;
  for (auto& [pointer, expression] : slots) result.expressions_.push_back({pointer, std::move(expression)});
  return result;
}

ValueTemplate ValueTemplate::compile_expression(const nlohmann::json& value,
                                                const std::vector<std::string>& variables,
                                                ExpressionBatch& batch, const ErrorHandler& on_error) {
  ValueTemplate result;
  result.raw_ = value;
  if (!value.is_string()) return result;
  const std::string& text = value.get_ref<const std::string&>();
  const std::string_view source = unwrap_expression(text).value_or(std::string_view(text));
  ExpressionPtr expression = batch.add(source, variables, [on_error](const std::string& message) {
    on_error(CompileError{"", message});
  });
  if (expression != nullptr) result.expressions_.push_back({json::json_pointer(), std::move(expression)});
  return result;
}

nlohmann::json ValueTemplate::render(const nlohmann::json& input, Bindings bindings,
                                    const EvaluationBudget& budget) const {
  if (expressions_.empty()) return raw_;
  // Slots are leaves (strings), so replacing one never moves another.
  json rendered = raw_;
  for (const Slot& slot : expressions_) rendered[slot.pointer] = slot.expression->evaluate(input, bindings, budget);
  return rendered;
}

}  // namespace flightplan::engine

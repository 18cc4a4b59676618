// jq expressions through libjq 1.6. Everything libjq-specific stays in this file.
//
// A compiled program has the shape
//   <sandbox prelude> . as [$__fp_in, $ENV, $__fp_bytes_max, $v1, $v2, ...] | <budget prelude>
//   $__fp_in | (\n<source>\n)
// and is started with the array [input, null, memory budget, value of $v1, value of $v2, ...]. Binding
// variables by destructuring lets one compiled program serve every evaluation (jq_compile_args would
// bake values into the bytecode), and binding `$ENV` to null hides the process environment. The
// budget prelude sits inside the binding because its guards read $__fp_bytes_max.
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
#include <string>
#include <utility>

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

struct Expression::Impl {
  jq_state* jq = nullptr;
  std::vector<std::string> messages;

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    if (jq != nullptr) jq_teardown(&jq);
  }

  // Receives jq's diagnostics (compile errors) instead of letting libjq print them to stderr.
  // No exception may unwind through libjq's C frames; a message lost to bad_alloc is acceptable.
  static void collect_message(void* data, jv message) {
    try {
      static_cast<Impl*>(data)->messages.push_back(describe_jv(message));
    } catch (...) {
    }
  }

  std::string compile_messages() const;
};

namespace {

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

}  // namespace

std::string Expression::Impl::compile_messages() const {
  std::string joined;
  for (const std::string& message : messages) {
    // libjq ends with a summary ("jq: 1 compile error") that adds nothing to the messages before it.
    if (message.starts_with("jq: ") && message.find("compile error") != std::string::npos) continue;
    if (!joined.empty()) joined += "; ";
    joined += message;
  }
  return joined.empty() ? "the program does not compile" : joined;
}

Expression::Expression(std::string source, std::vector<std::string> variables, std::unique_ptr<Impl> impl)
    : source_(std::move(source)), variables_(std::move(variables)), impl_(std::move(impl)) {}

Expression::~Expression() = default;

std::shared_ptr<const Expression> Expression::compile(std::string_view source,
                                                      const std::vector<std::string>& variables) {
  const std::string quoted = "`" + std::string(source) + "`";
  if (trim(source).empty()) throw ExpressionError("invalid jq expression " + quoted + ": it is empty");
  if (source.find('\0') != std::string_view::npos) {
    throw ExpressionError("invalid jq expression " + quoted + ": it contains a NUL character");
  }
  // The sandbox's own definitions (the unguarded builtins among them) are named __fp_...: a program
  // that could call them would get around its budget.
  if (source.find("__fp_") != std::string_view::npos) {
    throw ExpressionError("invalid jq expression " + quoted + ": names starting with __fp_ are reserved");
  }
  // Bind only the variables the source mentions: each bound variable is converted to a jq value on
  // every evaluation, and $workflow or $context can be large. A name that merely appears inside a
  // string literal is bound needlessly, which is harmless; an unmentioned one cannot be referenced.
  std::vector<std::string> used;
  for (const std::string& name : variables) {
    // Names starting with "__" are reserved for the wrapper ($__fp_in).
    if (!is_identifier(name) || name.starts_with("__")) {
      throw ExpressionError("invalid jq expression " + quoted + ": variable name \"" + name +
                            "\" is not an identifier or is reserved");
    }
    if (mentions_variable(source, name)) used.push_back(name);
  }
  std::string header = ". as [$__fp_in, $ENV, $__fp_bytes_max";
  for (const std::string& name : used) header += ", $" + name;
  header += "] |";
  const std::string prefix = std::string(sandbox_prelude) + header + std::string(budget_prelude) + "$__fp_in | (\n";
  const std::string program = prefix + std::string(source) + "\n)";
  const int source_first_line = static_cast<int>(std::count(prefix.begin(), prefix.end(), '\n')) + 1;

  auto impl = std::make_unique<Impl>();
  impl->jq = jq_init();
  if (impl->jq == nullptr) throw ExpressionError("jq could not be initialised (out of memory)");
  jq_set_error_cb(impl->jq, &Impl::collect_message, impl.get());
  if (!jq_compile(impl->jq, program.c_str())) {
    const int line_count = static_cast<int>(std::count(source.begin(), source.end(), '\n')) + 1;
    for (std::string& message : impl->messages) {
      message = clean_compile_message(std::move(message), source_first_line, line_count);
    }
    throw ExpressionError("invalid jq expression " + quoted + ": " + impl->compile_messages());
  }
  impl->messages.clear();
  return std::shared_ptr<const Expression>(new Expression(std::string(source), std::move(used), std::move(impl)));
}

nlohmann::json Expression::evaluate(const nlohmann::json& input, Bindings bindings,
                                   const EvaluationBudget& budget) const {
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
  // The arguments are fresh jq values shared with nothing, so they may be built before locking.
  // Everything that touches values owned by the jq_state (results may share the program's
  // constants, whose reference counts are not atomic) happens under the lock.
  OwnedJv arguments(jv_array_sized(static_cast<int>(variables_.size()) + 3));
  arguments.reset(jv_array_append(arguments.release(), to_jv(input, 1)));
  arguments.reset(jv_array_append(arguments.release(), jv_null()));
  arguments.reset(jv_array_append(arguments.release(), jv_number(static_cast<double>(scope.memory_bytes_max()))));
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

  std::lock_guard lock(mutex_);
  jq_start(impl_->jq, arguments.release(), 0);
  const bool attached = scope.attach(impl_->jq);
  OwnedJv result(attached ? jq_next(impl_->jq) : jv_invalid());
  if (attached) scope.detach();
  // Restart on null so the state does not keep the last input alive until the next evaluation; this
  // also clears a halt.
  jq_start(impl_->jq, jv_null(), 0);
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

// Adds a slot for every expression string in `value`, depth first; `pointer` locates `value`.
void collect_slots(const json& value, const json::json_pointer& pointer,
                   const std::vector<std::string>& variables,
                   std::vector<std::pair<json::json_pointer, ExpressionPtr>>& slots) {
  if (value.is_string()) {
    const auto source = unwrap_expression(value.get_ref<const std::string&>());
    if (!source) return;
    try {
      slots.emplace_back(pointer, Expression::compile(*source, variables));
    } catch (const ExpressionError& error) {
      throw ValueTemplate::CompileError{pointer.to_string(), error.what()};
    }
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) collect_slots(value[i], pointer / i, variables, slots);
  } else if (value.is_object()) {
    for (const auto& [key, element] : value.items()) collect_slots(element, pointer / key, variables, slots);
  }
}

}  // namespace

ValueTemplate ValueTemplate::compile(const nlohmann::json& value, const std::vector<std::string>& variables) {
  std::vector<std::pair<json::json_pointer, ExpressionPtr>> slots;
  collect_slots(value, json::json_pointer(), variables, slots);
  ValueTemplate result;
  result.raw_ = value;
  for (auto& [pointer, expression] : slots) result.expressions_.push_back({pointer, std::move(expression)});
  return result;
}

ValueTemplate ValueTemplate::compile_expression(const nlohmann::json& value,
                                                const std::vector<std::string>& variables) {
  ValueTemplate result;
  result.raw_ = value;
  if (!value.is_string()) return result;
  const std::string& text = value.get_ref<const std::string&>();
  const std::string_view source = unwrap_expression(text).value_or(std::string_view(text));
  try {
    result.expressions_.push_back({json::json_pointer(), Expression::compile(source, variables)});
  } catch (const ExpressionError& error) {
    throw CompileError{"", error.what()};
  }
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

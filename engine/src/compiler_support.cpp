// The compiler's building blocks: naming values in messages, type checks, expressions, durations,
// timeouts, retry policies and error definitions. See compiler_context.hpp for the error policy.
#include <algorithm>
#include <cstdio>
#include <string>

#include "compiler_context.hpp"
#include "flightplan/engine/duration.hpp"
#include "flightplan/engine/expression.hpp"

namespace flightplan::engine::compiler_detail {

namespace {

std::string_view kind_name(JsonKind kind) {
  switch (kind) {
    case JsonKind::string:
      return "a string";
    case JsonKind::integer:
      return "an integer";
    case JsonKind::boolean:
      return "a boolean";
    case JsonKind::mapping:
      return "a mapping";
    case JsonKind::list:
      return "a list";
  }
  return "a value";
}

bool has_kind(const json& value, JsonKind kind) {
  switch (kind) {
    case JsonKind::string:
      return value.is_string();
    case JsonKind::integer:
      return value.is_number_integer();
    case JsonKind::boolean:
      return value.is_boolean();
    case JsonKind::mapping:
      return value.is_object();
    case JsonKind::list:
      return value.is_array();
  }
  return false;
}

// A string value as written, for messages; other values as compact JSON.
std::string show(const json& value) { return value.is_string() ? value.get<std::string>() : value.dump(); }

}  // namespace

// --- naming -----------------------------------------------------------------------------------------

Where Where::child(std::string_view key) const {
  return Where{pointer + "/" + escape_pointer_token(key),
               path.empty() ? std::string(key) : path + "." + std::string(key), owner};
}

Where Where::item(std::size_t index) const {
  return Where{pointer + "/" + std::to_string(index), path + "[" + std::to_string(index) + "]", owner};
}

std::string Where::label() const {
  if (path.empty()) return owner.empty() ? "the workflow" : owner;
  return "'" + path + "'" + (owner.empty() ? "" : " in " + owner);
}

std::string Where::container() const {
  if (path.empty()) return owner.empty() ? "the workflow" : owner;
  return "'" + path + "'" + (owner.empty() ? "" : " of " + owner);
}

Scope Scope::with_variables(std::initializer_list<std::string> names) const {
  Scope result = *this;
  for (const std::string& name : names) {
    if (std::find(result.variables.begin(), result.variables.end(), name) == result.variables.end()) {
      result.variables.push_back(name);
    }
  }
  return result;
}

std::string escape_pointer_token(std::string_view token) {
  std::string result;
  for (char c : token) {
    if (c == '~') {
      result += "~0";
    } else if (c == '/') {
      result += "~1";
    } else {
      result += c;
    }
  }
  return result;
}

std::string describe_kind(const json& value) {
  if (value.is_null()) return "null";
  if (value.is_boolean()) return "a boolean";
  if (value.is_number()) return "a number";
  if (value.is_string()) return "a string";
  if (value.is_object()) return "a mapping";
  return "a list";
}

// Optimal string alignment distance: Levenshtein plus adjacent transpositions, so "wiht" is one
// edit away from "with".
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::optional<std::string> closest_match(std::string_view word, const std::vector<std::string>& candidates) {
  // A long word is no misspelling of a key, and would make the quadratic distance costly.
  if (word.size() > 64) return std::nullopt;
  // Short words tolerate fewer edits, or every two-letter key would "match" every other.
  const std::size_t distance_max = word.size() <= 3 ? 1 : word.size() <= 6 ? 2 : 3;
  std::optional<std::string> best;
  std::size_t best_distance = distance_max + 1;
  for (const std::string& candidate : candidates) {
    const std::size_t distance = edit_distance(word, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

std::string did_you_mean(const std::optional<std::string>& suggestion) {
  return suggestion ? " (did you mean '" + *suggestion + "'?)" : "";
}

std::string join_names(const std::vector<std::string>& names, std::size_t count_max) {
  std::string result;
  for (std::size_t i = 0; i < names.size() && i < count_max; ++i) {
    if (i > 0) result += ", ";
    result += names[i];
  }
  if (names.size() > count_max) result += ", ...";
  return result;
}

bool is_identifier(std::string_view text) {
  if (text.empty()) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!letter && !(digit && i > 0)) return false;
  }
  return true;
}

// --- reporting and plain values ---------------------------------------------------------------------

void Compiler::report(const std::string& pointer, std::string message) {
  diagnostics_.push_back(
      Diagnostic{document_.file, document_.position_of(pointer), pointer, std::move(message)});
}

bool Compiler::expect(const json& value, JsonKind kind, const Where& at) {
  if (has_kind(value, kind)) return true;
  report(at.pointer,
         "expected " + std::string(kind_name(kind)) + " for " + at.label() + ", got " + describe_kind(value));
  return false;
}

const json* Compiler::member(const json& object, std::string_view key, const Where& at, bool required) {
  const auto found = object.find(key);
  if (found != object.end()) return &*found;
  if (required) report(at.pointer, "missing required key '" + std::string(key) + "' in " + at.container());
  return nullptr;
}

std::optional<std::string> Compiler::string_member(const json& object, std::string_view key, const Where& at,
                                                   bool required) {
  const json* value = member(object, key, at, required);
  if (value == nullptr || !expect(*value, JsonKind::string, at.child(key))) return std::nullopt;
  return value->get<std::string>();
}

void Compiler::check_keys(const json& object, const Where& at,
                          std::initializer_list<std::string_view> allowed) {
  std::vector<std::string> names(allowed.begin(), allowed.end());
  for (const auto& [key, value] : object.items()) {
    if (std::find(names.begin(), names.end(), key) == names.end()) report_unknown_key(key, at, names);
  }
}

void Compiler::report_unknown_key(const std::string& key, const Where& at,
                                  const std::vector<std::string>& allowed) {
  report(at.child(key).pointer,
         "unknown key '" + key + "' in " + at.container() + did_you_mean(closest_match(key, allowed)));
}

std::string Compiler::identifier(const json& object, std::string_view key, const Where& at,
                                 std::string fallback) {
  const std::optional<std::string> name = string_member(object, key, at);
  if (!name) return fallback;
  const Where where = at.child(key);
  if (!is_identifier(*name)) {
    report(where.pointer,
           "expected an identifier ([A-Za-z_][A-Za-z0-9_]*) for " + where.label() + ", got '" + *name + "'");
    return fallback;
  }
  for (std::string_view reserved : standard_variables) {
    if (*name == reserved) {
      report(where.pointer,
             "'" + *name + "' for " + where.label() + " would hide the standard variable $" + *name);
      return fallback;
    }
  }
  return *name;
}

std::vector<std::string> Compiler::names_of(const json& object) const {
  std::vector<std::string> names;
  if (!object.is_object()) return names;
  for (const auto& [key, value] : object.items()) names.push_back(key);
  return names;
}

// --- expressions ------------------------------------------------------------------------------------

bool Compiler::check_expression_size(std::string_view text, const Where& at) {
  if (text.size() <= options_.expression_bytes_max) return true;
  report(at.pointer, "expression in " + at.label() + " is " + std::to_string(text.size()) +
                         " bytes, more than the limit of " + std::to_string(options_.expression_bytes_max));
  return false;
}

bool Compiler::check_template_sizes(const json& value, const Where& at) {
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    return !unwrap_expression(text) || check_expression_size(text, at);
  }
  bool ok = true;
  if (value.is_object()) {
    for (const auto& [key, item] : value.items()) ok = check_template_sizes(item, at.child(key)) && ok;
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) ok = check_template_sizes(value[i], at.item(i)) && ok;
  }
  return ok;
}

// Expressions go into the definition's batch, compiled at the end (Compiler::compile); the
// handlers report the ones that do not compile then. The messages already read
// "invalid jq expression `...`: <jq's reason>".
ExpressionBatch::ErrorHandler Compiler::expression_errors(const Where& at) {
  return [this, pointer = at.pointer, label = at.label()](const std::string& message) {
    report(pointer, message + " (in " + label + ")");
  };
}

ValueTemplate::ErrorHandler Compiler::template_errors(const Where& at) {
  return [this, pointer = at.pointer, label = at.label()](const ValueTemplate::CompileError& error) {
    report(pointer + error.pointer, error.message + " (in " + label + ")");
  };
}

ExpressionPtr Compiler::expression(const json& value, const Where& at, const Scope& scope) {
  // A boolean is accepted where a condition is expected (`if: false`), as the constant program.
  if (value.is_boolean()) {
    return expressions_.add(value.get<bool>() ? "true" : "false", scope.variables, expression_errors(at));
  }
  if (!value.is_string()) {
    report(at.pointer,
           "expected a string (a jq expression) for " + at.label() + ", got " + describe_kind(value));
    return nullptr;
  }
  const std::string& text = value.get_ref<const std::string&>();
  if (!check_expression_size(text, at)) return nullptr;
  const std::string_view program = unwrap_expression(text).value_or(std::string_view(text));
  return expressions_.add(program, scope.variables, expression_errors(at));
}

std::optional<ValueTemplate> Compiler::value_template(const json& value, const Where& at,
                                                      const Scope& scope) {
  if (!check_template_sizes(value, at)) return std::nullopt;
  return ValueTemplate::compile(value, scope.variables, expressions_, template_errors(at));
}

std::optional<ValueTemplate> Compiler::template_or_expression(const json& value, const Where& at,
                                                              const Scope& scope) {
  if (value.is_object()) return value_template(value, at, scope);
  if (!value.is_string()) {
    report(at.pointer, "expected a string (a jq expression) or a mapping for " + at.label() + ", got " +
                           describe_kind(value));
    return std::nullopt;
  }
  if (!check_expression_size(value.get_ref<const std::string&>(), at)) return std::nullopt;
  return ValueTemplate::compile_expression(value, scope.variables, expressions_, template_errors(at));
}

std::optional<ValueTemplate> Compiler::transform(const json& value, const Where& at, const Scope& scope,
                                                 std::string_view key, json* schema) {
  if (!expect(value, JsonKind::mapping, at)) return std::nullopt;
  check_keys(value, at, {key, "schema"});
  if (const json* found = member(value, "schema", at);
      found && expect(*found, JsonKind::mapping, at.child("schema"))) {
    if (schema != nullptr) *schema = *found;
  }
  const json* found = member(value, key, at);
  if (found == nullptr) return std::nullopt;
  return template_or_expression(*found, at.child(key), scope);
}

// --- durations and timeouts -------------------------------------------------------------------------

std::optional<std::int64_t> Compiler::fixed_duration(const json& value, const Where& at) {
  if (value.is_string() && unwrap_expression(value.get_ref<const std::string&>())) {
    report(at.pointer, "a runtime expression is not allowed for " + at.label() +
                           " (only 'wait' and 'timeout.after' accept one); expected a fixed duration");
    return std::nullopt;
  }
  std::string error;
  const std::optional<std::int64_t> duration_ms = parse_duration_ms(value, &error);
  if (duration_ms) return duration_ms;
  if (value.is_string()) {
    report(at.pointer, "invalid duration '" + show(value) + "' for " + at.label() + ": " + error);
  } else {
    report(at.pointer, "invalid duration for " + at.label() + ": " + error);
  }
  return std::nullopt;
}

std::optional<DurationSpec> Compiler::duration(const json& value, const Where& at, const Scope& scope) {
  if (value.is_string() && unwrap_expression(value.get_ref<const std::string&>())) {
    ExpressionPtr computed = expression(value, at, scope);
    if (!computed) return std::nullopt;
    return DurationSpec{0, std::move(computed)};
  }
  const std::optional<std::int64_t> duration_ms = fixed_duration(value, at);
  if (!duration_ms) return std::nullopt;
  return DurationSpec{*duration_ms, nullptr};
}

template <typename T>
std::optional<T> Compiler::named(const std::string& name, const std::map<std::string, T>& known, const Where& at,
                                 std::string_view noun, std::string_view section) {
  if (const auto found = known.find(name); found != known.end()) return found->second;
  std::vector<std::string> names;
  for (const auto& entry : known) names.push_back(entry.first);
  report(at.pointer, "unknown " + std::string(noun) + " '" + name + "' for " + at.label() + " (" +
                         std::string(section) + ": " + (names.empty() ? "none" : join_names(names)) + ")" +
                         did_you_mean(closest_match(name, names)));
  return std::nullopt;
}

std::optional<DurationSpec> Compiler::timeout(const json& value, const Where& at, const Scope& scope) {
  if (value.is_string()) return named(value.get_ref<const std::string&>(), timeouts_, at, "timeout", "use.timeouts");
  if (!value.is_object()) {
    report(at.pointer, "expected a mapping {after: duration} or a use.timeouts name for " + at.label() +
                           ", got " + describe_kind(value));
    return std::nullopt;
  }
  check_keys(value, at, {"after"});
  const json* after = member(value, "after", at, true);
  if (after == nullptr) return std::nullopt;
  return duration(*after, at.child("after"), scope);
}

// --- retry policies ---------------------------------------------------------------------------------

std::optional<RetryPolicy> Compiler::retry(const json& value, const Where& at, const Scope& scope) {
  if (value.is_object()) return retry_policy(value, at, scope);
  if (!value.is_string()) {
    report(at.pointer, "expected a use.retries name or a retry policy mapping for " + at.label() + ", got " +
                           describe_kind(value));
    return std::nullopt;
  }
  return named(value.get_ref<const std::string&>(), retries_, at, "retry policy", "use.retries");
}

RetryPolicy Compiler::retry_policy(const json& value, const Where& at, const Scope& scope) {
  RetryPolicy policy;
  if (!expect(value, JsonKind::mapping, at)) return policy;
  check_keys(value, at, {"when", "exceptWhen", "delay", "backoff", "maxDelay", "limit", "jitter"});
  // The failed attempt's error is bound as $error while `when`/`exceptWhen` run.
  const Scope inner = scope.with_variables({"error"});
  if (const json* when = member(value, "when", at)) policy.when = expression(*when, at.child("when"), inner);
  if (const json* except = member(value, "exceptWhen", at)) {
    policy.except_when = expression(*except, at.child("exceptWhen"), inner);
  }
  if (const json* delay = member(value, "delay", at)) {
    policy.delay_ms = fixed_duration(*delay, at.child("delay")).value_or(0);
  }
  if (const json* found = member(value, "backoff", at)) policy.backoff = backoff(*found, at.child("backoff"));
  if (const json* cap = member(value, "maxDelay", at)) {
    policy.delay_ms_max = fixed_duration(*cap, at.child("maxDelay")).value_or(0);
  }
  if (const json* limit = member(value, "limit", at)) retry_limit(*limit, at.child("limit"), policy);
  if (const json* jitter = member(value, "jitter", at)) retry_jitter(*jitter, at.child("jitter"), policy);
  return policy;
}

Backoff Compiler::backoff(const json& value, const Where& at) {
  if (!expect(value, JsonKind::mapping, at)) return Backoff::constant;
  check_keys(value, at, {"constant", "linear", "exponential"});
  std::vector<std::pair<std::string, Backoff>> present;
  for (const auto& [key, kind] :
       {std::pair{"constant", Backoff::constant}, std::pair{"linear", Backoff::linear},
        std::pair{"exponential", Backoff::exponential}}) {
    const json* found = member(value, key, at);
    if (found == nullptr) continue;
    present.emplace_back(key, kind);
    // `constant: {}` or a bare `constant:`; the strategies take no parameters.
    if (!found->is_null() && !(found->is_object() && found->empty())) {
      report(at.child(key).pointer, "expected an empty mapping {} for " + at.child(key).label() + ", got " +
                                        describe_kind(*found) + " with content");
    }
  }
  if (present.size() == 1) return present.front().second;
  if (present.empty() && value.size() > 0) return Backoff::constant;  // the unknown key was reported
  report(at.pointer, "expected exactly one of 'constant', 'linear', 'exponential' in " + at.container() +
                         ", got " + std::to_string(present.size()));
  return Backoff::constant;
}

void Compiler::retry_limit(const json& value, const Where& at, RetryPolicy& policy) {
  if (!expect(value, JsonKind::mapping, at)) return;
  check_keys(value, at, {"attempt", "duration"});
  if (const json* attempt = member(value, "attempt", at)) {
    const Where attempt_at = at.child("attempt");
    if (expect(*attempt, JsonKind::mapping, attempt_at)) {
      check_keys(*attempt, attempt_at, {"count", "duration"});
      if (const json* count = member(*attempt, "count", attempt_at)) {
        const Where count_at = attempt_at.child("count");
        if (expect(*count, JsonKind::integer, count_at)) {
          if (*count < 1 || *count > 1'000'000) {
            report(count_at.pointer, "expected an integer between 1 and 1000000 for " + count_at.label() +
                                         ", got " + count->dump());
          } else {
            policy.attempt_count_max = count->get<int>();
          }
        }
      }
      if (const json* duration_value = member(*attempt, "duration", attempt_at)) {
        policy.attempt_duration_ms = fixed_duration(*duration_value, attempt_at.child("duration"));
      }
    }
  }
  if (const json* total = member(value, "duration", at)) {
    policy.duration_ms = fixed_duration(*total, at.child("duration"));
  }
}

void Compiler::retry_jitter(const json& value, const Where& at, RetryPolicy& policy) {
  if (!expect(value, JsonKind::mapping, at)) return;
  check_keys(value, at, {"from", "to"});
  const json* from = member(value, "from", at, true);
  const json* to = member(value, "to", at, true);
  if (from == nullptr || to == nullptr) return;
  const std::optional<std::int64_t> from_ms = fixed_duration(*from, at.child("from"));
  const std::optional<std::int64_t> to_ms = fixed_duration(*to, at.child("to"));
  if (!from_ms || !to_ms) return;
  if (*from_ms > *to_ms) {
    report(at.pointer, "jitter 'from' (" + format_iso8601_duration(*from_ms) + ") is greater than 'to' (" +
                           format_iso8601_duration(*to_ms) + ") in " + at.container());
    return;
  }
  policy.jitter_from_ms = *from_ms;
  policy.jitter_to_ms = *to_ms;
}

// --- errors -----------------------------------------------------------------------------------------

std::optional<ErrorTemplate> Compiler::error_reference(const json& value, const Where& at,
                                                       const Scope& scope) {
  if (value.is_object()) return error_definition(value, at, scope);
  if (!value.is_string()) {
    report(at.pointer, "expected a use.errors name or an error mapping for " + at.label() + ", got " +
                           describe_kind(value));
    return std::nullopt;
  }
  return named(value.get_ref<const std::string&>(), errors_, at, "error", "use.errors");
}

ErrorTemplate Compiler::error_definition(const json& value, const Where& at, const Scope& scope) {
  ErrorTemplate error;
  if (!expect(value, JsonKind::mapping, at)) return error;
  check_keys(value, at, {"type", "status", "title", "detail", "instance"});
  string_member(value, "type", at, true);
  for (std::string_view key : {"title", "detail", "instance"}) string_member(value, key, at);
  if (const json* status = member(value, "status", at, true)) {
    const bool is_expression =
        status->is_string() && unwrap_expression(status->get_ref<const std::string&>());
    if (!is_expression && expect(*status, JsonKind::integer, at.child("status")) &&
        (*status < 100 || *status > 599)) {
      report(at.child("status").pointer, "expected an HTTP status between 100 and 599 for " +
                                             at.child("status").label() + ", got " + status->dump());
    }
  }
  if (auto compiled = value_template(value, at, scope)) error.value = std::move(*compiled);
  return error;
}

}  // namespace flightplan::engine::compiler_detail

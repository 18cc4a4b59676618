#pragma once
// Private to the compiler: the Compiler class whose member functions are spread over compiler.cpp
// (workflow level), compiler_tasks.cpp (task lists and tasks) and compiler_support.cpp (value
// checks, expressions, durations, retry policies, errors). One member function per DSL construct.
//
// Error policy: every check reports a Diagnostic and carries on, so that one run lists every problem
// of a document. A construct that fails leaves default values behind; that is harmless because any
// diagnostic makes compile_definition() throw, so a partly built Definition never escapes. jq reports
// on expressions only at the end, when the definition's ExpressionBatch compiles: until then a
// construct holds its expressions as if they compiled, so a failing one causes no second diagnostic.
#include "flightplan/engine/compiler.hpp"
#include "flightplan/engine/definition.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace flightplan::engine::compiler_detail {

using nlohmann::json;

// Where a value sits in the document and how messages name it.
struct Where {
  std::string pointer;  // JSON pointer of the value
  std::string path;     // dotted path relative to `owner`, e.g. "timeouts.startToClose"; "" = the owner
  std::string owner;    // "task 'x'", "function 'f'"; "" for workflow-level values

  Where child(std::string_view key) const;
  Where item(std::size_t index) const;
  // How a value is named in "expected ..." messages: "'document.name'", "'with' in task 'x'".
  std::string label() const;
  // How a mapping is named in "unknown key" messages: "'document'", "task 'x'", "the workflow".
  std::string container() const;
};

// What is in force where a construct is compiled.
struct Scope {
  std::vector<std::string> variables;  // jq variables an expression may use
  std::size_t depth = 0;               // task lists enclosing the construct
  bool in_compensation = false;
  bool in_function = false;

  Scope with_variables(std::initializer_list<std::string> names) const;
};

// The names of a task list, so `then` targets can be resolved while its tasks compile.
struct ListInfo {
  std::string reference;
  std::vector<std::string> names;
};

enum class JsonKind { string, integer, boolean, mapping, list };

std::string escape_pointer_token(std::string_view token);
std::string describe_kind(const json& value);  // "a number", "a mapping", "null", ...
std::size_t edit_distance(std::string_view a, std::string_view b);
// The candidate closest to `word` when close enough to be a likely misspelling.
std::optional<std::string> closest_match(std::string_view word, const std::vector<std::string>& candidates);
std::string did_you_mean(const std::optional<std::string>& suggestion);  // " (did you mean 'x'?)" or ""
std::string join_names(const std::vector<std::string>& names, std::size_t count_max = 20);
bool is_identifier(std::string_view text);

class Compiler {
 public:
  Compiler(const SourceDocument& document, const CompileOptions& options);
  DefinitionPtr compile();

 private:
  // --- workflow level (compiler.cpp)
  void compile_root(const json& root, Definition& definition);
  void compile_document(const json& value, const Where& at, DocumentInfo& info);
  void compile_document_name(const json& object, const Where& at, std::string_view key, std::string& out);
  void compile_evaluate(const json& value, const Where& at);
  void compile_use(const json& value, const Where& at);
  void compile_use_timeouts(const json& value, const Where& at);
  void compile_use_retries(const json& value, const Where& at);
  void compile_use_errors(const json& value, const Where& at);
  void compile_use_functions(const json& value, const Where& at);
  std::shared_ptr<const Task> function(const std::string& name);

  // --- task lists and tasks (compiler_tasks.cpp)
  std::shared_ptr<const TaskList> task_list(const json& value, const Where& at, const Scope& scope);
  std::shared_ptr<const Task> task(const std::string& name, const json& value, const Where& at,
                                   const ListInfo& list, const Scope& scope);
  std::optional<std::string> task_type(const std::string& name, const json& object, const Where& at);
  void check_task_keys(const json& object, const Where& at, const std::string& type);
  void compile_common(const json& object, const Where& at, const ListInfo& list, const Scope& scope,
                      Task& task);
  void compile_compensate(const json& value, const Where& at, const Scope& scope, Task& task);
  FlowDirective flow_directive(const json& value, const Where& at, const ListInfo& list);
  TaskBody call_task(const json& object, const Where& at, const Scope& scope);
  CallActivityTask activity_task(const std::string& activity, const json& object, const Where& at,
                                 const Scope& scope);
  ActivityOptions activity_timeouts(const json& value, const Where& at, ActivityOptions options);
  std::string unknown_call_message(const std::string& name);
  ForkTask fork_task(const json& value, const Where& at, const Scope& scope);
  ForTask for_task(const json& object, const Where& at, const Scope& scope);
  ListenTask listen_task(const json& object, const Where& at, const Scope& scope);
  void listen_strategy(const json& value, const Where& at, const Scope& scope, ListenTask& listen);
  std::vector<EventFilter> event_filters(const json& value, const Where& at, const Scope& scope);
  EventFilter event_filter(const json& value, const Where& at, const Scope& scope);
  RaiseTask raise_task(const json& value, const Where& at, const Scope& scope);
  SetTask set_task(const json& value, const Where& at, const Scope& scope);
  SwitchTask switch_task(const json& value, const Where& at, const ListInfo& list, const Scope& scope);
  TryTask try_task(const json& object, const Where& at, const Scope& scope);
  Catch catch_clause(const json& value, const Where& at, const Scope& scope);
  ErrorFilter error_filter(const json& value, const Where& at);
  WaitTask wait_task(const json& value, const Where& at, const Scope& scope);

  // --- values, expressions, durations, policies (compiler_support.cpp)
  void report(const std::string& pointer, std::string message);
  bool expect(const json& value, JsonKind kind, const Where& at);
  // The member `key` of `object` (a mapping), or null; reports a missing required key.
  const json* member(const json& object, std::string_view key, const Where& at, bool required = false);
  std::optional<std::string> string_member(const json& object, std::string_view key, const Where& at,
                                           bool required = false);
  void check_keys(const json& object, const Where& at, std::initializer_list<std::string_view> allowed);
  void report_unknown_key(const std::string& key, const Where& at, const std::vector<std::string>& allowed);
  std::string identifier(const json& object, std::string_view key, const Where& at, std::string fallback);
  bool check_expression_size(std::string_view text, const Where& at);
  bool check_template_sizes(const json& value, const Where& at);
  // Report the expressions that do not compile when expressions_ compiles.
  ExpressionBatch::ErrorHandler expression_errors(const Where& at);
  ValueTemplate::ErrorHandler template_errors(const Where& at);
  ExpressionPtr expression(const json& value, const Where& at, const Scope& scope);
  std::optional<ValueTemplate> value_template(const json& value, const Where& at, const Scope& scope);
  std::optional<ValueTemplate> template_or_expression(const json& value, const Where& at, const Scope& scope);
  std::optional<ValueTemplate> transform(const json& value, const Where& at, const Scope& scope,
                                         std::string_view key, json* schema);
  std::optional<std::int64_t> fixed_duration(const json& value, const Where& at);
  std::optional<DurationSpec> duration(const json& value, const Where& at, const Scope& scope);
  // Looks `name` up in a use.* section (`section`, e.g. "use.retries"); an unknown name is reported
  // with the known ones and a suggestion. Defined in compiler_support.cpp, its only user.
  template <typename T>
  std::optional<T> named(const std::string& name, const std::map<std::string, T>& known, const Where& at,
                         std::string_view noun, std::string_view section);
  std::optional<DurationSpec> timeout(const json& value, const Where& at, const Scope& scope);
  std::optional<RetryPolicy> retry(const json& value, const Where& at, const Scope& scope);
  RetryPolicy retry_policy(const json& value, const Where& at, const Scope& scope);
  Backoff backoff(const json& value, const Where& at);
  void retry_limit(const json& value, const Where& at, RetryPolicy& policy);
  void retry_jitter(const json& value, const Where& at, RetryPolicy& policy);
  std::optional<ErrorTemplate> error_reference(const json& value, const Where& at, const Scope& scope);
  ErrorTemplate error_definition(const json& value, const Where& at, const Scope& scope);
  std::vector<std::string> names_of(const json& object) const;

  const SourceDocument& document_;
  const CompileOptions& options_;
  std::vector<Diagnostic> diagnostics_;
  // Every expression of the definition, compiled together once the document is walked (compile()).
  ExpressionBatch expressions_;
  std::vector<std::shared_ptr<Task>> tasks_;  // every task by id
  bool tasks_max_reported_ = false;
  Scope root_scope_;

  std::map<std::string, DurationSpec> timeouts_;
  std::map<std::string, RetryPolicy> retries_;
  std::map<std::string, ErrorTemplate> errors_;
  // use.functions: raw definitions, compiled on first use (so functions may call each other in any
  // order) with `functions_in_progress_` catching cycles.
  const json* functions_json_ = nullptr;
  std::map<std::string, std::shared_ptr<const Task>> functions_;
  std::set<std::string> functions_in_progress_;
};

}  // namespace flightplan::engine::compiler_detail

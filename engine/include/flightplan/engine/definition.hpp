#pragma once
// Typed, validated workflow definitions. Built once by compile_definition() from a SourceDocument;
// immutable afterwards and shared by every workflow instance that runs it. Every expression in it is
// already compiled.
#include "flightplan/engine/error.hpp"
#include "flightplan/engine/expression.hpp"
#include "flightplan/engine/source.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

namespace flightplan::engine {

struct Task;
struct TaskList;

// A duration that is either fixed at load time or computed by an expression when the timer starts
// (flightplan extension: the expression yields an ISO 8601 string, a duration object or milliseconds).
struct DurationSpec {
  std::int64_t fixed_ms = 0;
  ExpressionPtr expression;  // set when the duration is computed at run time
};

struct FlowDirective {
  enum class Kind { continue_, exit, end, go_to };
  Kind kind = Kind::continue_;
  std::string target;     // task name when kind == go_to
  int target_index = -1;  // index of that task in the enclosing list, resolved by the compiler
};

enum class Backoff { constant, linear, exponential };

struct RetryPolicy {
  std::string name;  // the name in use.retries, or "" when inline
  ExpressionPtr when;         // retry only when true (evaluated with the error bound)
  ExpressionPtr except_when;  // never retry when true
  std::int64_t delay_ms = 0;  // base delay between attempts
  Backoff backoff = Backoff::constant;
  std::int64_t delay_ms_max = 0;  // flightplan extension `maxDelay`: cap on the computed delay; 0 = none
  std::optional<int> attempt_count_max;              // total attempts allowed, the first included
  std::optional<std::int64_t> attempt_duration_ms;   // time limit of each attempt
  std::optional<std::int64_t> duration_ms;           // no new attempt after this long since the first
  std::int64_t jitter_from_ms = 0;
  std::int64_t jitter_to_ms = 0;
};

// The fields of an error, each a constant or an expression (raise.error).
struct ErrorTemplate {
  std::string name;  // the name in use.errors, or ""
  ValueTemplate value;  // renders to {type, status, title?, detail?, instance?}
};

struct ErrorFilter {
  std::optional<std::string> type;
  std::optional<int> status;
  std::optional<std::string> instance;
  std::optional<std::string> title;
  std::optional<std::string> detail;
  bool matches(const WorkflowError& error) const;
};

struct Catch {
  ErrorFilter filter;
  std::string as = "error";
  ExpressionPtr when;
  ExpressionPtr except_when;
  std::optional<RetryPolicy> retry;
  std::shared_ptr<const TaskList> do_;  // null when the catch has no `do`
};

// flightplan extension keys of an activity call.
struct ActivityOptions {
  std::optional<RetryPolicy> retry;
  std::int64_t schedule_to_start_ms = 0;  // 0 = no limit
  std::int64_t start_to_close_ms = 0;
  std::int64_t schedule_to_close_ms = 0;
  std::int64_t heartbeat_ms = 0;
};

struct CallActivityTask {
  std::string activity;  // registered activity name, e.g. "package.create"
  ValueTemplate with;    // arguments; null when `with` is absent (the task input is sent)
  bool has_with = false;
  ActivityOptions options;
};

// `call: <name>` where <name> is in use.functions: runs that task with `with` as its input.
struct CallFunctionTask {
  std::string function;
  ValueTemplate with;
  bool has_with = false;
  std::shared_ptr<const Task> body;
};

struct DoTask {
  std::shared_ptr<const TaskList> tasks;
};

struct ForkTask {
  std::shared_ptr<const TaskList> branches;  // each branch is one named task
  bool compete = false;
};

struct ForTask {
  std::string each = "item";
  std::string at = "index";
  ExpressionPtr in;
  ExpressionPtr while_;  // may be null
  std::shared_ptr<const TaskList> do_;
};

struct EventFilter {
  std::string type;     // the signal name
  ExpressionPtr data;   // optional predicate over the signal's payload
};

struct ListenTask {
  enum class Mode { one, any, all };
  Mode mode = Mode::one;
  std::vector<EventFilter> filters;  // `any: []` (empty) accepts every signal
  ExpressionPtr until;               // `any` only: stop when true over the consumed signals
  enum class Read { data, envelope };
  Read read = Read::data;
};

struct RaiseTask {
  ErrorTemplate error;
};

struct SetTask {
  ValueTemplate value;
};

struct SwitchCase {
  std::string name;
  ExpressionPtr when;  // null for the default case
  FlowDirective then;
};

struct SwitchTask {
  std::vector<SwitchCase> cases;
};

struct TryTask {
  std::shared_ptr<const TaskList> try_;
  Catch catch_;
};

struct WaitTask {
  DurationSpec duration;
};

using TaskBody = std::variant<CallActivityTask, CallFunctionTask, DoTask, ForkTask, ForTask, ListenTask,
                              RaiseTask, SetTask, SwitchTask, TryTask, WaitTask>;

struct Task {
  int id = -1;              // index in Definition::tasks
  std::string name;
  std::string reference;    // JSON pointer, e.g. "/do/2/scheduleDrone"
  SourcePosition position;
  ExpressionPtr if_;
  std::optional<ValueTemplate> input_from;
  std::optional<ValueTemplate> output_as;
  std::optional<ValueTemplate> export_as;
  std::optional<DurationSpec> timeout;
  FlowDirective then;
  TaskBody body;
  // flightplan saga extension: what undoes this task once it has completed. Null when none.
  std::shared_ptr<const TaskList> compensate;
  nlohmann::json metadata;
};

struct TaskList {
  std::string reference;  // JSON pointer of the list, e.g. "/do" or "/do/3/fetch/try"
  std::vector<std::shared_ptr<const Task>> tasks;
  // Index of the task named `name`, or -1.
  int find(std::string_view name) const;
};

struct DocumentInfo {
  std::string dsl;
  std::string namespace_;
  std::string name;
  std::string version;
  std::string title;
  std::string summary;
  std::map<std::string, std::string> tags;
};

struct Definition {
  DocumentInfo document;
  std::optional<ValueTemplate> input_from;
  nlohmann::json input_schema;  // kept as documentation; null when absent
  std::optional<ValueTemplate> output_as;
  std::optional<DurationSpec> timeout;
  std::shared_ptr<const TaskList> do_;
  std::map<std::string, RetryPolicy> retries;
  std::map<std::string, ErrorTemplate> errors;
  std::map<std::string, std::shared_ptr<const Task>> functions;
  // Every task of the definition by id (do lists, branches, catch.do, compensations, functions).
  std::vector<const Task*> tasks;
  std::string source_file;
  std::string source_text;
  std::string digest;  // stable hash of source_text, recorded in histories
  // Every task list by reference (TaskList::reference), so a persisted execution tree can name the
  // list it is running. Filled by index_task_lists().
  std::unordered_map<std::string, const TaskList*> lists;

  const Task& task(int id) const { return *tasks.at(static_cast<std::size_t>(id)); }
  // Precondition: `reference` names a list of this definition.
  const TaskList& list(const std::string& reference) const;
};

// Fills Definition::lists from the definition's task tree (the compiler calls it once).
void index_task_lists(Definition& definition);

using DefinitionPtr = std::shared_ptr<const Definition>;

}  // namespace flightplan::engine

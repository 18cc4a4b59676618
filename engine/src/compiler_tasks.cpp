// Task lists and the tasks in them: one member function per task type. A task's reference is its JSON
// pointer, "<list reference>/<index>/<name>", so history events and diagnostics name the same place.
#include <algorithm>
#include <cctype>
#include <regex>
#include <string>

#include "compiler_context.hpp"

namespace flightplan::engine::compiler_detail {

namespace {

constexpr std::string_view type_keys_text = "call, do, fork, for, listen, raise, set, switch, try, wait";
const std::vector<std::string> type_keys = {"call", "do",     "fork", "for",  "listen", "raise",
                                            "set",  "switch", "try",  "wait", "emit",   "run"};
const std::vector<std::string> common_keys = {"if",      "input", "output",   "export",
                                              "timeout", "then",  "metadata", "compensate"};

// Keys that belong to one task type only, so a misplaced one gets a precise message.
const std::vector<std::pair<std::string, std::string>> type_specific_keys = {
    {"with", "call"}, {"retry", "call"}, {"timeouts", "call"}, {"while", "for"}, {"catch", "try"}};

std::vector<std::string> keys_of_type(const std::string& type) {
  std::vector<std::string> keys = common_keys;
  keys.push_back(type);
  if (type == "call") keys.insert(keys.end(), {"with", "retry", "timeouts"});
  if (type == "for") keys.insert(keys.end(), {"do", "while"});
  if (type == "try") keys.push_back("catch");
  return keys;
}

bool contains(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::string task_owner(const std::string& name) { return "task '" + name + "'"; }

// Without an activity registry, an activity is anything shaped like "<queue>.<operation>".
bool looks_like_activity(const std::string& name) {
  static const std::regex shape("^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)+$");
  return std::regex_match(name, shape);
}

// Names one edit away from `name` that the registry knows, for "did you mean". The registry is a
// predicate, not a list, so candidates are generated rather than enumerated.
std::optional<std::string> probe_activity(const std::string& name,
                                          const std::function<bool(std::string_view)>& is_known) {
  static constexpr std::string_view alphabet = "abcdefghijklmnopqrstuvwxyz0123456789._-";
  // The candidates grow with the square of the length; real activity names are short.
  if (name.size() > 64) return std::nullopt;
  std::vector<std::string> candidates;
  for (std::size_t i = 0; i <= name.size(); ++i) {
    if (i < name.size()) candidates.push_back(name.substr(0, i) + name.substr(i + 1));
    if (i + 1 < name.size()) {
      std::string swapped = name;
      std::swap(swapped[i], swapped[i + 1]);
      candidates.push_back(swapped);
    }
    for (char c : alphabet) {
      candidates.push_back(name.substr(0, i) + c + name.substr(i));
      if (i < name.size()) candidates.push_back(name.substr(0, i) + c + name.substr(i + 1));
    }
  }
  std::string lowered = name;
  std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  candidates.push_back(lowered);
  std::sort(candidates.begin(), candidates.end());
  for (const std::string& candidate : candidates) {
    if (candidate != name && is_known(candidate)) return candidate;
  }
  return std::nullopt;
}

}  // namespace

// --- lists ------------------------------------------------------------------------------------------

std::shared_ptr<const TaskList> Compiler::task_list(const json& value, const Where& at, const Scope& scope) {
  auto list = std::make_shared<TaskList>();
  list->reference = at.pointer;
  if (!expect(value, JsonKind::list, at)) return list;
  if (scope.depth + 1 > options_.depth_max) {
    report(at.pointer, "task list nesting deeper than " + std::to_string(options_.depth_max) + " levels");
    return list;
  }
  if (value.empty()) {
    report(at.pointer, "empty task list " + at.pointer + " (expected at least one task)");
    return list;
  }
  // First pass: shape and names, so `then` can name a later task while earlier ones compile.
  struct Entry {
    std::string name;
    const json* body;
    std::string pointer;
  };
  std::vector<Entry> entries;
  std::map<std::string, std::string> first_pointers;  // task name -> pointer of its first use
  ListInfo info{at.pointer, {}};
  for (std::size_t i = 0; i < value.size(); ++i) {
    const json& item = value[i];
    const std::string item_pointer = at.pointer + "/" + std::to_string(i);
    if (!item.is_object() || item.size() != 1) {
      std::string message = "expected a single-key mapping {name: task} at " + item_pointer + ", got ";
      if (item.is_object() && !item.empty()) {
        message += "a mapping with " + std::to_string(item.size()) + " keys (" + join_names(names_of(item)) +
                   "); is the task body indented under its name?";
      } else if (item.is_object()) {
        message += "an empty mapping";
      } else {
        message += describe_kind(item);
      }
      report(item_pointer, message);
      continue;
    }
    const std::string& name = item.begin().key();
    const std::string pointer = item_pointer + "/" + escape_pointer_token(name);
    if (name.empty()) {
      report(pointer, "empty task name at " + item_pointer);
      continue;
    }
    const auto [first, inserted] = first_pointers.emplace(name, pointer);
    if (!inserted) {
      report(pointer, "duplicate task name '" + name + "' in " + at.pointer + " (first at line " +
                          std::to_string(document_.position_of(first->second).line) + ")");
      continue;
    }
    entries.push_back(Entry{name, &item.begin().value(), pointer});
    info.names.push_back(name);
  }
  Scope inner = scope;
  inner.depth += 1;
  for (const Entry& entry : entries) {
    auto compiled =
        task(entry.name, *entry.body, Where{entry.pointer, "", task_owner(entry.name)}, info, inner);
    if (compiled) list->tasks.push_back(std::move(compiled));
  }
  return list;
}

// --- one task ---------------------------------------------------------------------------------------

std::shared_ptr<const Task> Compiler::task(const std::string& name, const json& value, const Where& at,
                                           const ListInfo& list, const Scope& scope) {
  if (tasks_.size() >= options_.tasks_max) {
    if (!tasks_max_reported_) {
      report(at.pointer, "more than " + std::to_string(options_.tasks_max) + " tasks in one definition");
      tasks_max_reported_ = true;
    }
    return nullptr;
  }
  auto task = std::make_shared<Task>();
  task->id = static_cast<int>(tasks_.size());
  tasks_.push_back(task);
  task->name = name;
  task->reference = at.pointer;
  task->position = document_.position_of(at.pointer);
  if (!value.is_object()) {
    report(at.pointer, "expected a mapping for " + at.owner + ", got " + describe_kind(value));
    return task;
  }
  const std::optional<std::string> type = task_type(name, value, at);
  if (!type) return task;
  check_task_keys(value, at, *type);
  compile_common(value, at, list, scope, *task);
  const json& body = value.at(*type);
  const Where body_at = at.child(*type);
  if (*type == "call") task->body = call_task(value, at, scope);
  if (*type == "do") task->body = DoTask{task_list(body, body_at, scope)};
  if (*type == "fork") task->body = fork_task(body, body_at, scope);
  if (*type == "for") task->body = for_task(value, at, scope);
  if (*type == "listen") task->body = listen_task(value, at, scope);
  if (*type == "raise") task->body = raise_task(body, body_at, scope);
  if (*type == "set") task->body = set_task(body, body_at, scope);
  if (*type == "switch") task->body = switch_task(body, body_at, list, scope);
  if (*type == "try") task->body = try_task(value, at, scope);
  if (*type == "wait") task->body = wait_task(body, body_at, scope);
  return task;
}

std::optional<std::string> Compiler::task_type(const std::string& name, const json& object, const Where& at) {
  std::vector<std::string> found;
  for (const std::string& key : type_keys) {
    if (object.contains(key)) found.push_back(key);
  }
  // `for` and `try` own a sibling `do`/`catch`; that `do` is the loop body, not a second type.
  if (contains(found, "for")) found.erase(std::remove(found.begin(), found.end(), "do"), found.end());
  if (found.empty()) {
    std::string hint;
    for (const std::string& key : names_of(object)) {
      const auto suggestion =
          closest_match(key, std::vector<std::string>(type_keys.begin(), type_keys.end() - 2));
      if (suggestion && !contains(common_keys, key)) {
        hint = " (did you mean '" + *suggestion + "' instead of '" + key + "'?)";
        break;
      }
    }
    report(at.pointer,
           "task '" + name + "' has no type (expected one of " + std::string(type_keys_text) + ")" + hint);
    return std::nullopt;
  }
  if (found.size() > 1) {
    report(at.pointer, "task '" + name + "' has more than one type ('" + found[0] + "' and '" + found[1] +
                           "'); a task has exactly one of " + std::string(type_keys_text));
    return std::nullopt;
  }
  if (found[0] == "emit" || found[0] == "run") {
    report(at.child(found[0]).pointer, "'" + found[0] + "' tasks are not supported by flightplan yet");
    return std::nullopt;
  }
  return found[0];
}

void Compiler::check_task_keys(const json& object, const Where& at, const std::string& type) {
  const std::vector<std::string> allowed = keys_of_type(type);
  for (const auto& [key, value] : object.items()) {
    if (contains(allowed, key) || contains(type_keys, key)) continue;  // a second type was reported
    if (key == "foreach" && type == "listen") {
      report(at.child(key).pointer, "'foreach' on listen tasks is not supported by flightplan yet");
      continue;
    }
    const auto specific = std::find_if(type_specific_keys.begin(), type_specific_keys.end(),
                                       [&](const auto& entry) { return entry.first == key; });
    if (specific != type_specific_keys.end()) {
      report(at.child(key).pointer, "key '" + key + "' is not allowed in " + at.owner + " (a '" + type +
                                        "' task); it belongs to '" + specific->second + "' tasks");
      continue;
    }
    report_unknown_key(key, at, allowed);
  }
}

void Compiler::compile_common(const json& object, const Where& at, const ListInfo& list, const Scope& scope,
                              Task& task) {
  if (const json* condition = member(object, "if", at)) {
    task.if_ = expression(*condition, at.child("if"), scope);
  }
  if (const json* input = member(object, "input", at)) {
    task.input_from = transform(*input, at.child("input"), scope, "from", nullptr);
  }
  if (const json* output = member(object, "output", at)) {
    task.output_as = transform(*output, at.child("output"), scope, "as", nullptr);
  }
  if (const json* exported = member(object, "export", at)) {
    task.export_as = transform(*exported, at.child("export"), scope, "as", nullptr);
  }
  if (const json* limit = member(object, "timeout", at)) {
    task.timeout = timeout(*limit, at.child("timeout"), scope);
  }
  if (const json* then = member(object, "then", at)) {
    task.then = flow_directive(*then, at.child("then"), list);
  }
  if (const json* metadata = member(object, "metadata", at)) task.metadata = *metadata;
  if (const json* compensate = member(object, "compensate", at)) {
    compile_compensate(*compensate, at, scope, task);
  }
}

// flightplan saga extension. A mapping is one task, named "compensate", whose reference is the
// `compensate` key itself; a list is an ordinary task list.
void Compiler::compile_compensate(const json& value, const Where& at, const Scope& scope, Task& task) {
  const Where where = at.child("compensate");
  if (scope.in_function) {
    report(where.pointer, "'compensate' is not allowed inside use.functions (" + at.owner + ")");
    return;
  }
  if (scope.in_compensation) {
    report(where.pointer, "a compensation task may not itself declare 'compensate' (" + at.owner + ")");
    return;
  }
  Scope inner = scope;
  inner.in_compensation = true;
  if (value.is_array()) {
    task.compensate = task_list(value, where, inner);
    return;
  }
  if (!value.is_object()) {
    report(where.pointer, "expected a mapping (one task) or a list of tasks for " + where.label() + ", got " +
                              describe_kind(value));
    return;
  }
  auto list = std::make_shared<TaskList>();
  list->reference = where.pointer;
  inner.depth += 1;
  if (inner.depth > options_.depth_max) {
    report(where.pointer, "task list nesting deeper than " + std::to_string(options_.depth_max) + " levels");
    return;
  }
  const ListInfo info{where.pointer, {"compensate"}};
  auto compiled =
      this->task("compensate", value, Where{where.pointer, "", "compensation of " + at.owner}, info, inner);
  if (compiled) list->tasks.push_back(std::move(compiled));
  task.compensate = std::move(list);
}

FlowDirective Compiler::flow_directive(const json& value, const Where& at, const ListInfo& list) {
  FlowDirective directive;
  if (!expect(value, JsonKind::string, at)) return directive;
  const std::string& target = value.get_ref<const std::string&>();
  if (target == "continue") return directive;
  if (target == "exit" || target == "end") {
    directive.kind = target == "exit" ? FlowDirective::Kind::exit : FlowDirective::Kind::end;
    return directive;
  }
  const auto found = std::find(list.names.begin(), list.names.end(), target);
  if (found == list.names.end()) {
    report(at.pointer, "then target '" + target + "' does not exist in " + list.reference +
                           " (tasks: " + (list.names.empty() ? "none" : join_names(list.names)) + ")");
    return directive;
  }
  directive.kind = FlowDirective::Kind::go_to;
  directive.target = target;
  directive.target_index = static_cast<int>(found - list.names.begin());
  return directive;
}

// --- call -------------------------------------------------------------------------------------------

TaskBody Compiler::call_task(const json& object, const Where& at, const Scope& scope) {
  const Where call_at = at.child("call");
  const json& value = object.at("call");
  if (!expect(value, JsonKind::string, call_at)) return CallActivityTask{};
  const std::string& name = value.get_ref<const std::string&>();
  std::string lowered = name;
  std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  for (std::string_view protocol : {"http", "grpc", "openapi", "asyncapi", "a2a", "mcp"}) {
    if (lowered == protocol) {
      report(call_at.pointer,
             "call: " + lowered + " is not supported by flightplan yet (call an activity instead)");
      return CallActivityTask{};
    }
  }
  if (functions_json_ == nullptr || !functions_json_->contains(name)) {
    const bool known =
        options_.is_known_activity ? options_.is_known_activity(name) : looks_like_activity(name);
    if (!known) report(call_at.pointer, unknown_call_message(name));
    return activity_task(name, object, at, scope);
  }
  CallFunctionTask call;
  call.function = name;
  call.body = function(name);
  if (!call.body && functions_in_progress_.count(name) > 0) {
    report(call_at.pointer, "recursive call of function '" + name +
                                "' (use.functions may not call themselves, directly or through others)");
  }
  for (std::string_view key : {"retry", "timeouts"}) {
    if (object.contains(key)) {
      const std::string message = "key '" + std::string(key) +
                                  "' is only allowed on activity calls, not on a call of function '" + name +
                                  "' (" + at.owner + ")";
      report(at.child(key).pointer, message);
    }
  }
  if (const json* with = member(object, "with", at);
      with && expect(*with, JsonKind::mapping, at.child("with"))) {
    call.has_with = true;
    if (auto compiled = value_template(*with, at.child("with"), scope)) call.with = std::move(*compiled);
  }
  return call;
}

std::string Compiler::unknown_call_message(const std::string& name) {
  std::optional<std::string> suggestion =
      closest_match(name, names_of(functions_json_ ? *functions_json_ : json()));
  if (!suggestion && options_.is_known_activity) {
    suggestion = probe_activity(name, options_.is_known_activity);
  }
  if (name.find('.') != std::string::npos) {
    return "unknown activity '" + name + "'" + did_you_mean(suggestion);
  }
  return "unknown function or activity '" + name + "' (not in use.functions; activities are named " +
         "'<queue>.<operation>')" + did_you_mean(suggestion);
}

CallActivityTask Compiler::activity_task(const std::string& activity, const json& object, const Where& at,
                                         const Scope& scope) {
  CallActivityTask call;
  call.activity = activity;
  if (const json* with = member(object, "with", at);
      with && expect(*with, JsonKind::mapping, at.child("with"))) {
    call.has_with = true;
    if (auto compiled = value_template(*with, at.child("with"), scope)) call.with = std::move(*compiled);
  }
  if (const json* policy = member(object, "retry", at)) {
    call.options.retry = retry(*policy, at.child("retry"), scope);
  }
  if (const json* timeouts = member(object, "timeouts", at)) {
    call.options = activity_timeouts(*timeouts, at.child("timeouts"), std::move(call.options));
  }
  return call;
}

ActivityOptions Compiler::activity_timeouts(const json& value, const Where& at, ActivityOptions options) {
  if (!expect(value, JsonKind::mapping, at)) return options;
  check_keys(value, at, {"scheduleToStart", "startToClose", "scheduleToClose", "heartbeat"});
  const std::pair<const char*, std::int64_t*> fields[] = {{"scheduleToStart", &options.schedule_to_start_ms},
                                                          {"startToClose", &options.start_to_close_ms},
                                                          {"scheduleToClose", &options.schedule_to_close_ms},
                                                          {"heartbeat", &options.heartbeat_ms}};
  for (const auto& [key, target] : fields) {
    if (const json* found = member(value, key, at)) {
      *target = fixed_duration(*found, at.child(key)).value_or(0);
    }
  }
  return options;
}

// --- fork, for --------------------------------------------------------------------------------------

ForkTask Compiler::fork_task(const json& value, const Where& at, const Scope& scope) {
  ForkTask fork;
  if (!expect(value, JsonKind::mapping, at)) return fork;
  check_keys(value, at, {"branches", "compete"});
  if (const json* branches = member(value, "branches", at, true)) {
    fork.branches = task_list(*branches, at.child("branches"), scope);
  }
  if (const json* compete = member(value, "compete", at);
      compete && expect(*compete, JsonKind::boolean, at.child("compete"))) {
    fork.compete = compete->get<bool>();
  }
  return fork;
}

ForTask Compiler::for_task(const json& object, const Where& at, const Scope& scope) {
  ForTask loop;
  const Where for_at = at.child("for");
  const json& value = object.at("for");
  if (!expect(value, JsonKind::mapping, for_at)) return loop;
  check_keys(value, for_at, {"each", "in", "at"});
  loop.each = identifier(value, "each", for_at, "item");
  loop.at = identifier(value, "at", for_at, "index");
  if (loop.each == loop.at) {
    report(for_at.pointer,
           "'each' and 'at' in " + for_at.container() + " name the same variable $" + loop.each);
  }
  // `in` is evaluated before the loop starts, so the loop variables are not in its scope.
  if (const json* in = member(value, "in", for_at, true)) {
    loop.in = expression(*in, for_at.child("in"), scope);
  }
  const Scope inner = scope.with_variables({loop.each, loop.at});
  if (const json* condition = member(object, "while", at)) {
    loop.while_ = expression(*condition, at.child("while"), inner);
  }
  if (const json* body = member(object, "do", at, true)) loop.do_ = task_list(*body, at.child("do"), inner);
  return loop;
}

// --- listen -----------------------------------------------------------------------------------------

ListenTask Compiler::listen_task(const json& object, const Where& at, const Scope& scope) {
  ListenTask listen;
  const Where listen_at = at.child("listen");
  const json& value = object.at("listen");
  if (!expect(value, JsonKind::mapping, listen_at)) return listen;
  check_keys(value, listen_at, {"to", "read", "foreach"});
  if (value.contains("foreach")) {
    report(listen_at.child("foreach").pointer,
           "'foreach' on listen tasks is not supported by flightplan yet");
  }
  if (const json* to = member(value, "to", listen_at, true)) {
    listen_strategy(*to, listen_at.child("to"), scope, listen);
  }
  if (const auto read = string_member(value, "read", listen_at)) {
    if (*read == "envelope") {
      listen.read = ListenTask::Read::envelope;
    } else if (*read == "raw") {
      report(listen_at.child("read").pointer, "listen.read 'raw' is not supported by flightplan yet");
    } else if (*read != "data") {
      report(listen_at.child("read").pointer, "expected 'data' or 'envelope' for " +
                                                  listen_at.child("read").label() + ", got '" + *read + "'");
    }
  }
  return listen;
}

void Compiler::listen_strategy(const json& value, const Where& at, const Scope& scope, ListenTask& listen) {
  if (!expect(value, JsonKind::mapping, at)) return;
  check_keys(value, at, {"one", "any", "all", "until"});
  const int mode_count = static_cast<int>(value.contains("one")) + static_cast<int>(value.contains("any")) +
                         static_cast<int>(value.contains("all"));
  if (mode_count != 1) {
    report(at.pointer, "expected exactly one of 'one', 'any', 'all' in " + at.container() + ", got " +
                           std::to_string(mode_count));
    return;
  }
  if (const json* one = member(value, "one", at)) {
    listen.mode = ListenTask::Mode::one;
    listen.filters.push_back(event_filter(*one, at.child("one"), scope));
  } else if (const json* any = member(value, "any", at)) {
    listen.mode = ListenTask::Mode::any;
    listen.filters = event_filters(*any, at.child("any"), scope);
  } else {
    listen.mode = ListenTask::Mode::all;
    listen.filters = event_filters(value.at("all"), at.child("all"), scope);
  }
  const json* until = member(value, "until", at);
  if (until == nullptr) return;
  if (listen.mode != ListenTask::Mode::any) {
    report(at.child("until").pointer, "'until' is only allowed with 'any' in " + at.container());
  } else if (until->is_object()) {
    report(
        at.child("until").pointer,
        "'until' as an event consumption strategy is not supported by flightplan yet (use a jq expression)");
  } else {
    listen.until = expression(*until, at.child("until"), scope);
  }
}

std::vector<EventFilter> Compiler::event_filters(const json& value, const Where& at, const Scope& scope) {
  std::vector<EventFilter> filters;
  if (!expect(value, JsonKind::list, at)) return filters;
  for (std::size_t i = 0; i < value.size(); ++i) filters.push_back(event_filter(value[i], at.item(i), scope));
  return filters;
}

EventFilter Compiler::event_filter(const json& value, const Where& at, const Scope& scope) {
  EventFilter filter;
  if (!expect(value, JsonKind::mapping, at)) return filter;
  check_keys(value, at, {"with", "correlate"});
  if (value.contains("correlate")) {
    report(at.child("correlate").pointer, "'correlate' in event filters is not supported by flightplan yet");
  }
  const json* with = member(value, "with", at, true);
  const Where with_at = at.child("with");
  if (with == nullptr || !expect(*with, JsonKind::mapping, with_at)) return filter;
  check_keys(
      *with, with_at,
      {"type", "data", "id", "source", "subject", "time", "datacontenttype", "dataschema", "specversion"});
  for (std::string_view key :
       {"id", "source", "subject", "time", "datacontenttype", "dataschema", "specversion"}) {
    if (with->contains(key)) {
      report(with_at.child(key).pointer, "event filter attribute '" + std::string(key) +
                                             "' is not supported by flightplan yet (only 'type' and 'data')");
    }
  }
  filter.type = string_member(*with, "type", with_at, true).value_or("");
  if (const json* data = member(*with, "data", with_at)) {
    filter.data = expression(*data, with_at.child("data"), scope);
  }
  return filter;
}

// --- raise, set, switch -----------------------------------------------------------------------------

RaiseTask Compiler::raise_task(const json& value, const Where& at, const Scope& scope) {
  RaiseTask raise;
  if (!expect(value, JsonKind::mapping, at)) return raise;
  check_keys(value, at, {"error"});
  if (const json* error = member(value, "error", at, true)) {
    if (auto compiled = error_reference(*error, at.child("error"), scope)) raise.error = std::move(*compiled);
  }
  return raise;
}

SetTask Compiler::set_task(const json& value, const Where& at, const Scope& scope) {
  SetTask set;
  if (auto compiled = template_or_expression(value, at, scope)) set.value = std::move(*compiled);
  return set;
}

SwitchTask Compiler::switch_task(const json& value, const Where& at, const ListInfo& list,
                                 const Scope& scope) {
  SwitchTask result;
  if (!expect(value, JsonKind::list, at)) return result;
  if (value.empty()) report(at.pointer, "expected at least one case in " + at.container());
  std::string default_name;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const json& item = value[i];
    const Where item_at = at.item(i);
    if (!item.is_object() || item.size() != 1) {
      report(item_at.pointer,
             "expected a single-key mapping {caseName: {when, then}} for " + item_at.label() + ", got " +
                 (item.is_object() ? "a mapping with " + std::to_string(item.size()) + " keys"
                                   : describe_kind(item)));
      continue;
    }
    SwitchCase entry;
    entry.name = item.begin().key();
    const Where case_at = item_at.child(entry.name);
    const json& body = item.begin().value();
    if (!expect(body, JsonKind::mapping, case_at)) continue;
    check_keys(body, case_at, {"when", "then"});
    if (const json* when = member(body, "when", case_at)) {
      entry.when = expression(*when, case_at.child("when"), scope);
    } else if (!default_name.empty()) {
      report(case_at.pointer, "switch in " + at.owner +
                                  " has more than one default case (without 'when'): '" + default_name +
                                  "' and '" + entry.name + "'");
    } else {
      default_name = entry.name;
    }
    if (const json* then = member(body, "then", case_at, true)) {
      entry.then = flow_directive(*then, case_at.child("then"), list);
    }
    result.cases.push_back(std::move(entry));
  }
  return result;
}

// --- try, wait --------------------------------------------------------------------------------------

TryTask Compiler::try_task(const json& object, const Where& at, const Scope& scope) {
  TryTask attempt;
  attempt.try_ = task_list(object.at("try"), at.child("try"), scope);
  if (const json* handler = member(object, "catch", at, true)) {
    attempt.catch_ = catch_clause(*handler, at.child("catch"), scope);
  }
  return attempt;
}

Catch Compiler::catch_clause(const json& value, const Where& at, const Scope& scope) {
  Catch handler;
  if (!expect(value, JsonKind::mapping, at)) return handler;
  check_keys(value, at, {"errors", "as", "when", "exceptWhen", "retry", "do"});
  if (const json* errors = member(value, "errors", at)) {
    const Where errors_at = at.child("errors");
    if (expect(*errors, JsonKind::mapping, errors_at)) {
      check_keys(*errors, errors_at, {"with"});
      if (const json* with = member(*errors, "with", errors_at)) {
        handler.filter = error_filter(*with, errors_at.child("with"));
      }
    }
  }
  handler.as = identifier(value, "as", at, "error");
  // The caught error is bound as $<as> in everything the catch evaluates or runs.
  const Scope inner = scope.with_variables({handler.as});
  if (const json* when = member(value, "when", at)) handler.when = expression(*when, at.child("when"), inner);
  if (const json* except = member(value, "exceptWhen", at)) {
    handler.except_when = expression(*except, at.child("exceptWhen"), inner);
  }
  if (const json* policy = member(value, "retry", at)) {
    handler.retry = retry(*policy, at.child("retry"), inner);
  }
  if (const json* body = member(value, "do", at)) handler.do_ = task_list(*body, at.child("do"), inner);
  return handler;
}

ErrorFilter Compiler::error_filter(const json& value, const Where& at) {
  ErrorFilter filter;
  if (!expect(value, JsonKind::mapping, at)) return filter;
  check_keys(value, at, {"type", "status", "instance", "title", "detail"});
  filter.type = string_member(value, "type", at);
  filter.instance = string_member(value, "instance", at);
  filter.title = string_member(value, "title", at);
  filter.detail = string_member(value, "detail", at);
  if (const json* status = member(value, "status", at);
      status && expect(*status, JsonKind::integer, at.child("status"))) {
    if (*status < 100 || *status > 599) {
      report(at.child("status").pointer, "expected an HTTP status between 100 and 599 for " +
                                             at.child("status").label() + ", got " + status->dump());
    } else {
      filter.status = status->get<int>();
    }
  }
  return filter;
}

WaitTask Compiler::wait_task(const json& value, const Where& at, const Scope& scope) {
  WaitTask wait;
  if (auto spec = duration(value, at, scope)) wait.duration = std::move(*spec);
  return wait;
}

}  // namespace flightplan::engine::compiler_detail

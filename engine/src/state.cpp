#include "flightplan/engine/state.hpp"

#include <array>
#include <utility>

namespace flightplan::engine {
namespace {

using nlohmann::json;

constexpr std::array<std::pair<WorkflowStatus, std::string_view>, 11> status_names{{
    {WorkflowStatus::pending, "pending"},
    {WorkflowStatus::running, "running"},
    {WorkflowStatus::waiting, "waiting"},
    {WorkflowStatus::compensating, "compensating"},
    {WorkflowStatus::completed, "completed"},
    {WorkflowStatus::faulted, "faulted"},
    {WorkflowStatus::compensated, "compensated"},
    {WorkflowStatus::compensation_failed, "compensation_failed"},
    {WorkflowStatus::cancelled, "cancelled"},
    {WorkflowStatus::timed_out, "timed_out"},
    {WorkflowStatus::terminated, "terminated"},
}};

constexpr std::array<std::pair<TimerKind, std::string_view>, 10> timer_kind_names{{
    {TimerKind::wait, "wait"},
    {TimerKind::task_timeout, "task_timeout"},
    {TimerKind::workflow_timeout, "workflow_timeout"},
    {TimerKind::try_retry, "try_retry"},
    {TimerKind::activity_retry, "activity_retry"},
    {TimerKind::schedule_to_start, "schedule_to_start"},
    {TimerKind::start_to_close, "start_to_close"},
    {TimerKind::heartbeat, "heartbeat"},
    {TimerKind::schedule_to_close, "schedule_to_close"},
    {TimerKind::abandoned_wait, "abandoned_wait"},
}};

// Optional-field helpers: state JSON omits defaults so stored states stay small.
template <typename T>
void put(json& out, const char* key, const T& value, const T& default_value) {
  if (value != default_value) out[key] = value;
}
template <typename T>
T get(const json& in, const char* key, T default_value) {
  auto it = in.find(key);
  return it == in.end() ? default_value : it->get<T>();
}
json get_json(const json& in, const char* key, json default_value = nullptr) {
  auto it = in.find(key);
  return it == in.end() ? std::move(default_value) : *it;
}

json node_to_json(const Node& node) {
  json out{{"id", node.id}, {"parent", node.parent}, {"kind", node.kind == Node::Kind::list ? "list" : "task"}};
  if (!node.vars.empty()) out["vars"] = node.vars;
  put(out, "list_ref", node.list_ref, std::string{});
  put(out, "index", node.index, 0);
  put(out, "child", node.child, std::int64_t{0});
  put(out, "task_id", node.task_id, -1);
  if (!node.raw_input.is_null()) out["raw_input"] = node.raw_input;
  if (!node.input.is_null()) out["input"] = node.input;
  put(out, "started_ms", node.started_ms, std::int64_t{0});
  put(out, "timeout_timer", node.timeout_timer, std::int64_t{0});
  put(out, "attempt", node.attempt, 0);
  put(out, "first_attempt_ms", node.first_attempt_ms, std::int64_t{0});
  put(out, "activity_id", node.activity_id, std::int64_t{0});
  put(out, "timer_id", node.timer_id, std::int64_t{0});
  put(out, "phase", node.phase, std::string{});
  if (!node.children.empty()) out["children"] = node.children;
  if (!node.results.is_null()) out["results"] = node.results;
  put(out, "remaining", node.remaining, 0);
  put(out, "item_index", node.item_index, 0);
  if (!node.matched.empty()) out["matched"] = node.matched;
  if (!node.error.is_null()) out["error"] = node.error;
  return out;
}

Node node_from_json(const json& in) {
  Node node;
  node.id = in.at("id").get<std::int64_t>();
  node.parent = in.at("parent").get<std::int64_t>();
  node.kind = in.at("kind").get<std::string>() == "list" ? Node::Kind::list : Node::Kind::task;
  node.vars = get_json(in, "vars", json::object());
  node.list_ref = get(in, "list_ref", std::string{});
  node.index = get(in, "index", 0);
  node.child = get(in, "child", std::int64_t{0});
  node.task_id = get(in, "task_id", -1);
  node.raw_input = get_json(in, "raw_input");
  node.input = get_json(in, "input");
  node.started_ms = get(in, "started_ms", std::int64_t{0});
  node.timeout_timer = get(in, "timeout_timer", std::int64_t{0});
  node.attempt = get(in, "attempt", 0);
  node.first_attempt_ms = get(in, "first_attempt_ms", std::int64_t{0});
  node.activity_id = get(in, "activity_id", std::int64_t{0});
  node.timer_id = get(in, "timer_id", std::int64_t{0});
  node.phase = get(in, "phase", std::string{});
  node.children = get(in, "children", std::vector<std::int64_t>{});
  node.results = get_json(in, "results");
  node.remaining = get(in, "remaining", 0);
  node.item_index = get(in, "item_index", 0);
  node.matched = get(in, "matched", std::vector<bool>{});
  node.error = get_json(in, "error");
  return node;
}

json activity_to_json(const PendingActivity& a) {
  json out{{"id", a.id},
           {"node", a.node},
           {"name", a.name},
           {"attempt", a.attempt},
           {"arguments", a.arguments},
           {"idempotency_key", a.idempotency_key},
           {"first_scheduled_ms", a.first_scheduled_ms},
           {"scheduled_ms", a.scheduled_ms}};
  put(out, "started_ms", a.started_ms, std::int64_t{0});
  put(out, "schedule_to_start_timer", a.schedule_to_start_timer, std::int64_t{0});
  put(out, "start_to_close_timer", a.start_to_close_timer, std::int64_t{0});
  put(out, "heartbeat_timer", a.heartbeat_timer, std::int64_t{0});
  put(out, "schedule_to_close_timer", a.schedule_to_close_timer, std::int64_t{0});
  put(out, "retry_timer", a.retry_timer, std::int64_t{0});
  return out;
}

PendingActivity activity_from_json(const json& in) {
  PendingActivity a;
  a.id = in.at("id").get<std::int64_t>();
  a.node = in.at("node").get<std::int64_t>();
  a.name = in.at("name").get<std::string>();
  a.attempt = in.at("attempt").get<int>();
  a.arguments = in.at("arguments");
  a.idempotency_key = in.at("idempotency_key").get<std::string>();
  a.first_scheduled_ms = in.at("first_scheduled_ms").get<std::int64_t>();
  a.scheduled_ms = in.at("scheduled_ms").get<std::int64_t>();
  a.started_ms = get(in, "started_ms", std::int64_t{0});
  a.schedule_to_start_timer = get(in, "schedule_to_start_timer", std::int64_t{0});
  a.start_to_close_timer = get(in, "start_to_close_timer", std::int64_t{0});
  a.heartbeat_timer = get(in, "heartbeat_timer", std::int64_t{0});
  a.schedule_to_close_timer = get(in, "schedule_to_close_timer", std::int64_t{0});
  a.retry_timer = get(in, "retry_timer", std::int64_t{0});
  return a;
}

json timer_to_json(const Timer& t) {
  json out{{"id", t.id}, {"due_ms", t.due_ms}, {"kind", to_string(t.kind)}};
  put(out, "node", t.node, std::int64_t{0});
  put(out, "activity_id", t.activity_id, std::int64_t{0});
  put(out, "recorded", t.recorded, false);
  return out;
}

Timer timer_from_json(const json& in) {
  Timer t;
  t.id = in.at("id").get<std::int64_t>();
  t.due_ms = in.at("due_ms").get<std::int64_t>();
  auto kind = parse_timer_kind(in.at("kind").get<std::string>());
  if (!kind) throw OperationError(ErrorCategory::invalid_argument, "unknown timer kind in state");
  t.kind = *kind;
  t.node = get(in, "node", std::int64_t{0});
  t.activity_id = get(in, "activity_id", std::int64_t{0});
  t.recorded = get(in, "recorded", false);
  return t;
}

json record_to_json(const CompensationRecord& r) {
  return json{{"task_id", r.task_id}, {"reference", r.reference}, {"output", r.output}};
}

CompensationRecord record_from_json(const json& in) {
  return CompensationRecord{in.at("task_id").get<int>(), in.at("reference").get<std::string>(),
                            in.at("output")};
}

}  // namespace

std::string_view to_string(WorkflowStatus status) {
  for (const auto& [value, name] : status_names)
    if (value == status) return name;
  return "unknown";
}

std::optional<WorkflowStatus> parse_workflow_status(std::string_view text) {
  for (const auto& [value, name] : status_names)
    if (name == text) return value;
  return std::nullopt;
}

bool is_final(WorkflowStatus status) {
  switch (status) {
    case WorkflowStatus::pending:
    case WorkflowStatus::running:
    case WorkflowStatus::waiting:
    case WorkflowStatus::compensating:
      return false;
    default:
      return true;
  }
}

std::string_view to_string(TimerKind kind) {
  for (const auto& [value, name] : timer_kind_names)
    if (value == kind) return name;
  return "unknown";
}

std::optional<TimerKind> parse_timer_kind(std::string_view text) {
  for (const auto& [value, name] : timer_kind_names)
    if (name == text) return value;
  return std::nullopt;
}

json WorkflowState::to_json() const {
  json out{{"id", id},
           {"name", name},
           {"version", version},
           {"digest", digest},
           {"status", to_string(status)},
           {"input", input},
           {"output", output},
           {"error", error},
           {"context", context},
           {"started_ms", started_ms},
           {"updated_ms", updated_ms},
           {"closed_ms", closed_ms},
           {"history_length", history_length},
           {"next_id", next_id},
           {"workflow_timer", workflow_timer}};
  json& nodes_json = out["nodes"] = json::array();
  for (const auto& [node_id, node] : nodes) nodes_json.push_back(node_to_json(node));
  json& activities_json = out["activities"] = json::array();
  for (const auto& [activity_id, activity] : activities) activities_json.push_back(activity_to_json(activity));
  json& timers_json = out["timers"] = json::array();
  for (const auto& [timer_id, timer] : timers) timers_json.push_back(timer_to_json(timer));
  json& compensable_json = out["compensable"] = json::array();
  for (const auto& record : compensable) compensable_json.push_back(record_to_json(record));
  if (compensation) {
    json remaining = json::array();
    for (const auto& record : compensation->remaining) remaining.push_back(record_to_json(record));
    out["compensation"] = json{{"cause", compensation->cause},
                               {"remaining", std::move(remaining)},
                               {"current_reference", compensation->current_reference},
                               {"failures", compensation->failures}};
    if (compensation->current.task_id >= 0)
      out["compensation"]["current"] = record_to_json(compensation->current);
    if (!compensation->failed.empty()) {
      json failed = json::array();
      for (const auto& record : compensation->failed) failed.push_back(record_to_json(record));
      out["compensation"]["failed"] = std::move(failed);
    }
    if (compensation->waiting) out["compensation"]["waiting"] = true;
    if (compensation->ran != 0) out["compensation"]["ran"] = compensation->ran;
    if (!compensation->then.is_null()) out["compensation"]["then"] = compensation->then;
    if (!compensation->fault_path.empty()) {
      json path = json::array();
      for (const auto& node : compensation->fault_path) path.push_back(node_to_json(node));
      out["compensation"]["fault_path"] = std::move(path);
    }
  }
  if (!abandoned.empty()) {
    json& abandoned_json = out["abandoned"] = json::array();
    for (const auto& [activity_id, a] : abandoned)
      abandoned_json.push_back(json{{"activity_id", a.activity_id},
                                    {"attempt", a.attempt},
                                    {"task_id", a.task_id},
                                    {"reference", a.reference},
                                    {"input", a.input},
                                    {"vars", a.vars},
                                    {"activity", a.activity},
                                    {"idempotency_key", a.idempotency_key},
                                    {"arguments", a.arguments},
                                    {"fence_only", a.fence_only}});
  }
  if (!late_results.empty()) {
    json& late_json = out["late_results"] = json::array();
    for (const auto& record : late_results) late_json.push_back(record_to_json(record));
  }
  if (abandoned_timer != 0) out["abandoned_timer"] = abandoned_timer;
  out["signals"] = signals;
  if (!recent_input_ids.empty()) out["recent_input_ids"] = recent_input_ids;
  if (!correlation_id.empty()) out["correlation_id"] = correlation_id;
  if (paused) out["paused"] = true;
  if (!held_inputs.empty()) out["held_inputs"] = held_inputs;
  if (!fault_path.empty()) {
    json& path_json = out["fault_path"] = json::array();
    for (const auto& node : fault_path) path_json.push_back(node_to_json(node));
  }
  return out;
}

WorkflowState WorkflowState::from_json(const json& in) {
  WorkflowState s;
  s.id = in.at("id").get<std::string>();
  s.name = in.at("name").get<std::string>();
  s.version = in.at("version").get<std::string>();
  s.digest = get(in, "digest", std::string{});
  s.correlation_id = get(in, "correlation_id", std::string{});
  auto status = parse_workflow_status(in.at("status").get<std::string>());
  if (!status) throw OperationError(ErrorCategory::invalid_argument, "unknown workflow status in state");
  s.status = *status;
  s.input = get_json(in, "input");
  s.output = get_json(in, "output");
  s.error = get_json(in, "error");
  s.context = get_json(in, "context", json::object());
  s.started_ms = get(in, "started_ms", std::int64_t{0});
  s.updated_ms = get(in, "updated_ms", std::int64_t{0});
  s.closed_ms = get(in, "closed_ms", std::int64_t{0});
  s.history_length = get(in, "history_length", std::int64_t{0});
  s.next_id = get(in, "next_id", std::int64_t{1});
  s.workflow_timer = get(in, "workflow_timer", std::int64_t{0});
  for (const auto& n : get_json(in, "nodes", json::array())) {
    Node node = node_from_json(n);
    s.nodes.emplace(node.id, std::move(node));
  }
  for (const auto& a : get_json(in, "activities", json::array())) {
    PendingActivity activity = activity_from_json(a);
    s.activities.emplace(activity.id, std::move(activity));
  }
  for (const auto& t : get_json(in, "timers", json::array())) {
    Timer timer = timer_from_json(t);
    s.timers.emplace(timer.id, timer);
  }
  for (const auto& r : get_json(in, "compensable", json::array())) s.compensable.push_back(record_from_json(r));
  if (auto it = in.find("compensation"); it != in.end() && !it->is_null()) {
    CompensationState c;
    c.cause = it->at("cause").get<std::string>();
    for (const auto& r : it->at("remaining")) c.remaining.push_back(record_from_json(r));
    c.current_reference = it->at("current_reference").get<std::string>();
    c.failures = it->at("failures");
    if (auto current = it->find("current"); current != it->end()) c.current = record_from_json(*current);
    for (const auto& r : get_json(*it, "failed", json::array())) c.failed.push_back(record_from_json(r));
    c.waiting = get(*it, "waiting", false);
    c.ran = get(*it, "ran", 0);
    c.then = get_json(*it, "then");
    for (const auto& n : get_json(*it, "fault_path", json::array())) c.fault_path.push_back(node_from_json(n));
    s.compensation = std::move(c);
  }
  for (const auto& a : get_json(in, "abandoned", json::array())) {
    AbandonedAttempt attempt{a.at("activity_id").get<std::int64_t>(),
                             a.at("attempt").get<int>(),
                             a.at("task_id").get<int>(),
                             a.at("reference").get<std::string>(),
                             get_json(a, "input"),
                             get_json(a, "vars", json::object()),
                             get(a, "activity", std::string{}),
                             get(a, "idempotency_key", std::string{}),
                             get_json(a, "arguments"),
                             get(a, "fence_only", false)};
    s.abandoned.emplace(attempt.activity_id, std::move(attempt));
  }
  for (const auto& r : get_json(in, "late_results", json::array())) s.late_results.push_back(record_from_json(r));
  s.abandoned_timer = get(in, "abandoned_timer", std::int64_t{0});
  for (const auto& signal : get_json(in, "signals", json::array())) s.signals.push_back(signal);
  s.recent_input_ids = get(in, "recent_input_ids", std::vector<std::string>{});
  s.paused = get(in, "paused", false);
  for (const auto& held : get_json(in, "held_inputs", json::array())) s.held_inputs.push_back(held);
  for (const auto& n : get_json(in, "fault_path", json::array())) s.fault_path.push_back(node_from_json(n));
  return s;
}

}  // namespace flightplan::engine

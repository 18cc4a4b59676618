#include "flightplan/rest/workflow_api.hpp"

#include "flightplan/engine/duration.hpp"
#include "flightplan/engine/replay.hpp"
#include "flightplan/http/problem.hpp"
#include "flightplan/runtime/log.hpp"
#include "query_params.hpp"

#include <array>

namespace flightplan::rest {
namespace {

using engine::ErrorCategory;
using engine::OperationError;
using engine::WorkflowStatus;
using nlohmann::json;

constexpr std::size_t signal_name_bytes_max = 128;
constexpr std::size_t reason_bytes_max = 1024;
constexpr std::size_t name_filter_bytes_max = 256;
constexpr std::size_t id_prefix_bytes_max = 200;
constexpr std::size_t page_size_max = 1000;
constexpr std::size_t page_size_default = 50;
constexpr std::size_t history_events_max = 1'000'000;

// Every status, in the order the API lists them. A status added to the engine must be added here too
// (the counts test compares this list with the contract).
constexpr std::array all_statuses = {WorkflowStatus::pending,     WorkflowStatus::running,
                                     WorkflowStatus::waiting,     WorkflowStatus::compensating,
                                     WorkflowStatus::completed,   WorkflowStatus::faulted,
                                     WorkflowStatus::compensated, WorkflowStatus::compensation_failed,
                                     WorkflowStatus::cancelled,   WorkflowStatus::timed_out,
                                     WorkflowStatus::terminated};

[[noreturn]] void conflict(const std::string& detail) {
  throw OperationError(ErrorCategory::conflict, detail);
}

engine::StoredWorkflow load_or_404(engine::WorkflowStore& store, const std::string& id) {
  std::optional<engine::StoredWorkflow> stored = store.load(id);
  if (!stored) throw OperationError(ErrorCategory::not_found, "no workflow with id '" + id + "'");
  return std::move(*stored);
}

std::string status_names() {
  std::string names;
  for (WorkflowStatus status : all_statuses)
    names += (names.empty() ? "" : ", ") + std::string(engine::to_string(status));
  return names;
}

// The start request: {"workflow": NAME, "version"?: V, "id"?: ID, "input"?: {...}}.
runtime::StartRequest parse_start(const json& body) {
  if (!body.is_object())
    bad_request("the body must be a JSON object {\"workflow\", \"version\"?, \"id\"?, \"input\"?}");
  for (const auto& [key, value] : body.items())
    if (key != "workflow" && key != "version" && key != "id" && key != "input")
      bad_request("unknown field '" + key + "' (expected workflow, version, id, input)");
  runtime::StartRequest request;
  auto text = [&](const char* key, bool required) -> std::string {
    auto it = body.find(key);
    if (it == body.end()) {
      if (required) bad_request(std::string("field '") + key + "' is required");
      return "";
    }
    if (!it->is_string()) bad_request(std::string("field '") + key + "' must be a string");
    return it->get<std::string>();
  };
  request.workflow = text("workflow", true);
  request.version = text("version", false);
  request.id = text("id", false);
  request.input = body.value("input", json::object());
  return request;
}

// The workflow id of a start: the body's, else the Idempotency-Key header's, else a new one.
void choose_workflow_id(runtime::StartRequest& start, const http::Request& request, const WorkflowApi& api) {
  const auto key = request.headers.find("Idempotency-Key");
  if (key) {
    try {
      runtime::check_workflow_id(std::string(*key));
    } catch (const OperationError& error) {
      bad_request(std::string("header 'Idempotency-Key' is not a valid workflow id: ") + error.what());
    }
    if (!start.id.empty() && start.id != *key)
      bad_request("the body's id " + excerpt(start.id) + " and the Idempotency-Key header " + excerpt(*key) +
                  " differ; give one, or the same in both");
    start.id = std::string(*key);
  }
  if (start.id.empty()) start.id = api.new_workflow_id();
}

json timer_view(const engine::Timer& timer) {
  return json{{"timer_id", timer.id},
              {"kind", engine::to_string(timer.kind)},
              {"due", engine::format_timestamp(timer.due_ms)}};
}

json activity_view(const engine::WorkflowState& state, const engine::PendingActivity& activity) {
  json deadlines = json::array();
  for (std::int64_t timer_id :
       {activity.schedule_to_start_timer, activity.start_to_close_timer, activity.heartbeat_timer,
        activity.schedule_to_close_timer, activity.retry_timer}) {
    if (auto it = state.timers.find(timer_id); timer_id != 0 && it != state.timers.end())
      deadlines.push_back(timer_view(it->second));
  }
  json view{{"activity_id", activity.id},
            {"activity", activity.name},
            {"attempt", activity.attempt},
            {"scheduled", engine::format_timestamp(activity.scheduled_ms)},
            {"deadlines", std::move(deadlines)}};
  if (activity.started_ms != 0) view["started"] = engine::format_timestamp(activity.started_ms);
  return view;
}

// The optional control body {"reason": string}; `fallback` when there is none.
std::string parse_reason(const http::Request& request, const std::string& fallback) {
  if (request.body.empty()) return fallback;
  const json body = http::parse_json_body(request);
  if (!body.is_object()) bad_request("the body must be a JSON object {\"reason\": string}");
  for (const auto& [key, value] : body.items())
    if (key != "reason") bad_request("unknown field '" + key + "' (expected reason)");
  if (!body.contains("reason")) return fallback;
  if (!body["reason"].is_string()) bad_request("field 'reason' must be a string");
  std::string reason = body["reason"].get<std::string>();
  if (reason.size() > reason_bytes_max)
    bad_request("field 'reason' is longer than " + std::to_string(reason_bytes_max) + " bytes");
  return reason;
}

// An operator control: which input it sends, and when it does not apply (409).
struct Control {
  std::string action;  // cancel, terminate, pause, resume, retry
  engine::Input (*make)(std::string reason, std::int64_t time_ms);
  std::optional<std::string> (*refusal)(const engine::WorkflowState& state);
};

std::string is_status(const engine::WorkflowState& state, std::string_view prefix) {
  return "workflow '" + state.id + "' is " + std::string(prefix) +
         std::string(engine::to_string(state.status));
}

std::optional<std::string> refuse_final(const engine::WorkflowState& state) {
  if (engine::is_final(state.status)) return is_status(state, "already ");
  return std::nullopt;
}

std::optional<std::string> refuse_pause(const engine::WorkflowState& state) {
  if (engine::is_final(state.status)) return is_status(state, "already ");
  if (state.paused) return "workflow '" + state.id + "' is already paused";
  return std::nullopt;
}

std::optional<std::string> refuse_resume(const engine::WorkflowState& state) {
  if (!state.paused) return "workflow '" + state.id + "' is not paused";
  return std::nullopt;
}

std::optional<std::string> refuse_retry(const engine::WorkflowState& state) {
  if (state.status == WorkflowStatus::faulted || state.status == WorkflowStatus::compensation_failed)
    return std::nullopt;
  return is_status(state, "") + "; only a faulted or compensation_failed workflow can be retried";
}

void add_control(http::Router& router, const WorkflowApi& api, Control control) {
  router.add(
      "POST", "/api/v1/workflows/{id}/" + control.action, [&api, control](const http::Request& request) {
        const std::string reason = parse_reason(request, control.action + " requested through the API");
        const engine::StoredWorkflow stored = load_or_404(api.store, request.path_param("id"));
        if (const auto refusal = control.refusal(stored.state)) conflict(*refusal);
        api.store.enqueue_input(stored.state.id, control.make(reason, api.clock.now_ms()));
        runtime::log(runtime::LogLevel::info, "workflow control queued",
                     {{"workflow_id", stored.state.id},
                      {"action", control.action},
                      {"reason", reason},
                      {"request_id", request.request_id},
                      {"caller", request.caller}});
        json answer{{"id", stored.state.id}, {"action", control.action}, {"accepted", true}};
        if (control.action == "cancel") answer["cancel_requested"] = true;
        return http::json_response(202, answer);
      });
}

// The long poll's `wait`: epoch-free milliseconds ("5000") or an ISO 8601 duration ("PT5S"); 0 when
// absent. Longer than wait_ms_max is shortened to it: a client may ask for more than a server gives.
std::int64_t parse_wait_ms(const http::Request& request, std::int64_t wait_ms_max) {
  const auto text = request.query_param("wait");
  if (!text) return 0;
  constexpr std::size_t digits_max = 12;
  std::optional<std::int64_t> wait_ms;
  if (!text->empty() && text->size() <= digits_max &&
      std::all_of(text->begin(), text->end(), [](char c) { return c >= '0' && c <= '9'; }))
    wait_ms = std::stoll(std::string(*text));
  else
    wait_ms = engine::parse_iso8601_duration_ms(*text, nullptr);
  if (!wait_ms || *wait_ms < 0)
    bad_request("query parameter 'wait' must be milliseconds (5000) or an ISO 8601 duration (PT5S), not " +
                excerpt(*text));
  return std::min(*wait_ms, wait_ms_max);
}

// Parks a request until workflow `id` (read at `seen_version`) closes or `wait_ms` has passed; then
// `answer` runs.
http::Response park_until_closed(const WorkflowApi& api, const std::string& id, std::int64_t seen_version,
                                 std::int64_t wait_ms, std::function<http::Response()> answer) {
  auto parked = std::make_shared<http::Parked>();
  parked->wait_ms = wait_ms;
  parked->subscribe = [waiters = api.close_waiters, id, seen_version](std::function<void()> wake) {
    const std::uint64_t token = waiters->subscribe(id, seen_version, std::move(wake));
    return std::function<void()>([waiters, id, token] { waiters->unsubscribe(id, token); });
  };
  parked->answer = std::move(answer);
  http::Response response;
  response.parked = std::move(parked);
  return response;
}

// GET /api/v1/workflows/{id}: the workflow now, or with `wait`, once it has closed or the wait is
// over, whichever comes first (a long poll: the request is parked, no thread waits). The answer is
// the same view either way; a client that sees a status that is not final asks again.
http::Response get_workflow(const WorkflowApi& api, const http::Request& request) {
  allow_only(request, {"wait"});
  const std::int64_t wait_ms = parse_wait_ms(request, api.wait_ms_max);
  const std::string& id = request.path_param("id");
  const engine::StoredWorkflow stored = load_or_404(api.store, id);
  if (wait_ms == 0 || api.close_waiters == nullptr || engine::is_final(stored.state.status))
    return http::json_response(200, workflow_view(stored));
  return park_until_closed(api, id, stored.version, wait_ms, [&api, id] {
    return http::json_response(200, workflow_view(load_or_404(api.store, id)));
  });
}

// POST /api/v1/workflows. With `wait`, the answer comes once the workflow has closed or the wait is
// over, and carries the workflow's view (its output or error) as "workflow": start and result in
// one request.
http::Response start_workflow(const WorkflowApi& api, const http::Request& request) {
  allow_only(request, {"wait"});
  const std::int64_t wait_ms = parse_wait_ms(request, api.wait_ms_max);
  runtime::StartRequest start = parse_start(http::parse_json_body(request));
  choose_workflow_id(start, request, api);
  start.correlation_id = request.request_id;
  const runtime::StartResult result = api.orchestrator.start(start);
  const int status = result.created ? 201 : 200;
  const std::string id = result.state.id;
  auto answer = [id, status, created = result.created](const engine::StoredWorkflow* stored,
                                                        const engine::WorkflowState& state) {
    json body{{"id", id}, {"status", engine::to_string(state.status)}, {"created", created}};
    if (stored != nullptr) body["workflow"] = workflow_view(*stored);
    http::Response response = http::json_response(status, body);
    response.headers.set("Location", "/api/v1/workflows/" + id);
    return response;
  };
  if (!request.query_param("wait")) return answer(nullptr, result.state);
  if (wait_ms == 0 || api.close_waiters == nullptr || engine::is_final(result.state.status)) {
    const engine::StoredWorkflow stored = load_or_404(api.store, id);
    return answer(&stored, stored.state);
  }
  return park_until_closed(api, id, result.state.history_length, wait_ms, [&api, id, answer] {
    const engine::StoredWorkflow stored = load_or_404(api.store, id);
    return answer(&stored, stored.state);
  });
}

http::Response list_workflows(const WorkflowApi& api, const http::Request& request) {
  const engine::WorkflowQuery query = parse_workflow_query(request);
  engine::WorkflowPage page;
  try {
    page = api.store.list_workflows(query);
  } catch (const OperationError& error) {
    // The parameters were checked above; what the store still refuses is the opaque cursor.
    if (error.category() != ErrorCategory::invalid_argument || query.cursor.empty()) throw;
    bad_request("query parameter 'cursor' is not a cursor this server gave out (" +
                std::string(error.what()) + ")");
  }
  json rows = json::array();
  for (const engine::WorkflowSummary& summary : page.workflows) rows.push_back(summary_view(summary));
  return http::json_response(
      200, json{{"workflows", std::move(rows)},
                {"next_cursor", page.next_cursor.empty() ? json() : json(page.next_cursor)}});
}

http::Response count_workflows(const WorkflowApi& api, const http::Request& request) {
  allow_only(request, {"workflow"});
  const std::string name(request.query_param("workflow").value_or(""));
  if (name.size() > name_filter_bytes_max) bad_request("query parameter 'workflow' is longer than 256 bytes");
  const std::map<WorkflowStatus, std::int64_t> counted = api.store.count_workflows(name);
  json counts = json::object();
  std::int64_t total = 0;
  for (WorkflowStatus status : all_statuses) {
    const auto it = counted.find(status);
    const std::int64_t n = it == counted.end() ? 0 : it->second;
    counts[std::string(engine::to_string(status))] = n;
    total += n;
  }
  return http::json_response(200, json{{"counts", std::move(counts)}, {"total", total}});
}

http::Response workflow_history(const WorkflowApi& api, const http::Request& request) {
  allow_only(request, {"download"});
  const std::string_view download = request.query_param("download").value_or("false");
  if (download != "true" && download != "false")
    bad_request("query parameter 'download' must be true or false, not " + excerpt(download));
  const engine::StoredWorkflow stored = load_or_404(api.store, request.path_param("id"));
  engine::History history{stored.state.id, stored.state.name, stored.state.version, stored.state.digest,
                          api.store.history(stored.state.id, 0, history_events_max)};
  http::Response response = http::json_response(200, history.to_json());
  // Workflow ids hold no quote or backslash (check_workflow_id), so the name needs no escaping.
  if (download == "true")
    response.headers.set("Content-Disposition",
                         "attachment; filename=\"" + stored.state.id + ".history.json\"");
  return response;
}

http::Response send_signal(const WorkflowApi& api, const http::Request& request) {
  const std::string& name = request.path_param("name");
  if (name.size() > signal_name_bytes_max) bad_request("signal name longer than 128 bytes");
  const json payload = request.body.empty() ? json() : http::parse_json_body(request);
  const engine::StoredWorkflow stored = load_or_404(api.store, request.path_param("id"));
  if (engine::is_final(stored.state.status)) conflict(is_status(stored.state, ""));
  api.store.enqueue_input(stored.state.id, engine::Input::signal(name, payload, api.clock.now_ms()));
  runtime::log(runtime::LogLevel::info, "signal queued",
               {{"workflow_id", stored.state.id},
                {"signal", name},
                {"request_id", request.request_id},
                {"caller", request.caller}});
  return http::json_response(202, json{{"id", stored.state.id}, {"signal", name}, {"accepted", true}});
}

}  // namespace

std::int64_t parse_instant_ms(std::string_view name, std::string_view text) {
  constexpr std::size_t epoch_digits_max = 15;  // year 33658; more is not a time we store
  const bool digits = !text.empty() && text.size() <= epoch_digits_max &&
                      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits) return std::stoll(std::string(text));
  if (const auto ms = engine::parse_timestamp_ms(text); ms && *ms >= 0) return *ms;
  bad_request("query parameter '" + std::string(name) +
              "' must be an RFC 3339 timestamp (2026-11-21T10:00:00Z) or epoch milliseconds, not " +
              excerpt(text));
}

engine::WorkflowQuery parse_workflow_query(const http::Request& request) {
  allow_only(request,
             {"status", "workflow", "started_after", "started_before", "id_prefix", "limit", "cursor"});
  engine::WorkflowQuery query;
  if (const auto status = request.query_param("status")) {
    query.status = engine::parse_workflow_status(*status);
    if (!query.status)
      bad_request("query parameter 'status' must be one of " + status_names() + ", not " + excerpt(*status));
  }
  query.name = std::string(request.query_param("workflow").value_or(""));
  if (query.name.size() > name_filter_bytes_max)
    bad_request("query parameter 'workflow' is longer than 256 bytes");
  // started_after is exclusive; the store's lower bound is inclusive.
  if (const auto after = request.query_param("started_after"))
    query.started_from_ms = parse_instant_ms("started_after", *after) + 1;
  if (const auto before = request.query_param("started_before")) {
    query.started_to_ms = parse_instant_ms("started_before", *before);
    if (query.started_to_ms == 0)
      bad_request("query parameter 'started_before' must be after 1970-01-01T00:00:00Z");
  }
  query.id_prefix = std::string(request.query_param("id_prefix").value_or(""));
  if (query.id_prefix.size() > id_prefix_bytes_max)
    bad_request("query parameter 'id_prefix' is longer than 200 bytes");
  query.limit = parse_page_size(request, page_size_default, page_size_max);
  query.cursor = std::string(request.query_param("cursor").value_or(""));
  if (query.cursor.size() > 1024) bad_request("query parameter 'cursor' is longer than 1024 bytes");
  return query;
}

json summary_view(const engine::WorkflowSummary& summary) {
  json view{{"id", summary.id},
            {"workflow", summary.name},
            {"version", summary.version},
            {"status", engine::to_string(summary.status)},
            {"paused", summary.paused},
            {"started", engine::format_timestamp(summary.started_ms)},
            {"updated", engine::format_timestamp(summary.updated_ms)},
            {"history_length", summary.history_length}};
  if (summary.closed_ms != 0) view["closed"] = engine::format_timestamp(summary.closed_ms);
  if (!summary.error.is_null()) view["error"] = summary.error;
  return view;
}

json workflow_view(const engine::StoredWorkflow& stored) {
  const engine::WorkflowState& s = stored.state;
  json tasks = json::array();
  json activities = json::array();
  json timers = json::array();
  for (const auto& [id, node] : s.nodes)
    if (node.kind == engine::Node::Kind::task)
      tasks.push_back(json{{"node", id}, {"started", engine::format_timestamp(node.started_ms)}});
  for (const auto& [id, activity] : s.activities) activities.push_back(activity_view(s, activity));
  for (const auto& [id, timer] : s.timers)
    if (timer.recorded) timers.push_back(timer_view(timer));
  json view{{"id", s.id},
            {"workflow", s.name},
            {"version", s.version},
            {"status", engine::to_string(s.status)},
            {"paused", s.paused},
            {"held_inputs", s.held_inputs.size()},
            {"correlation_id", s.correlation_id},
            {"input", s.input},
            {"output", s.output},
            {"error", s.error},
            {"context", s.context},
            {"started", engine::format_timestamp(s.started_ms)},
            {"updated", engine::format_timestamp(s.updated_ms)},
            {"history_length", s.history_length},
            {"current_tasks", std::move(tasks)},
            {"pending_activities", std::move(activities)},
            {"timers", std::move(timers)}};
  if (s.closed_ms != 0) view["closed"] = engine::format_timestamp(s.closed_ms);
  if (s.compensation)
    view["compensation"] = json{{"cause", s.compensation->cause},
                                {"current", s.compensation->current_reference},
                                {"failures", s.compensation->failures}};
  return view;
}

void add_workflow_routes(http::Router& router, const WorkflowApi& api) {
  router.add("POST", "/api/v1/workflows",
             [&api](const http::Request& request) { return start_workflow(api, request); });
  router.add("GET", "/api/v1/workflows",
             [&api](const http::Request& request) { return list_workflows(api, request); });
  router.add("GET", "/api/v1/workflows/counts",
             [&api](const http::Request& request) { return count_workflows(api, request); });
  router.add("GET", "/api/v1/workflows/{id}",
             [&api](const http::Request& request) { return get_workflow(api, request); });
  router.add("GET", "/api/v1/workflows/{id}/history",
             [&api](const http::Request& request) { return workflow_history(api, request); });
  router.add("POST", "/api/v1/workflows/{id}/signals/{name}",
             [&api](const http::Request& request) { return send_signal(api, request); });
  add_control(router, api, Control{"cancel", &engine::Input::cancel, &refuse_final});
  add_control(router, api, Control{"terminate", &engine::Input::terminate, &refuse_final});
  add_control(router, api, Control{"pause", &engine::Input::pause, &refuse_pause});
  add_control(router, api, Control{"resume", &engine::Input::resume, &refuse_resume});
  add_control(router, api, Control{"retry", &engine::Input::retry, &refuse_retry});
}

}  // namespace flightplan::rest

#include "flightplan/rest/workflow_api.hpp"

#include "flightplan/engine/duration.hpp"
#include "flightplan/engine/replay.hpp"
#include "flightplan/http/problem.hpp"

namespace flightplan::rest {
namespace {

using engine::ErrorCategory;
using engine::OperationError;
using nlohmann::json;

constexpr std::size_t signal_name_bytes_max = 128;

[[noreturn]] void bad_request(const std::string& detail) { throw OperationError(ErrorCategory::invalid_argument, detail); }

engine::StoredWorkflow load_or_404(engine::WorkflowStore& store, const std::string& id) {
  std::optional<engine::StoredWorkflow> stored = store.load(id);
  if (!stored) throw OperationError(ErrorCategory::not_found, "no workflow with id '" + id + "'");
  return std::move(*stored);
}

// The start request: {"workflow": NAME, "version"?: V, "id"?: ID, "input"?: {...}}.
runtime::StartRequest parse_start(const json& body, const WorkflowApi& api) {
  if (!body.is_object()) bad_request("the body must be a JSON object {\"workflow\", \"version\"?, \"id\"?, \"input\"?}");
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
  if (request.id.empty()) request.id = api.new_workflow_id();
  request.input = body.value("input", json::object());
  return request;
}

json timer_view(const engine::Timer& timer) {
  return json{{"timer_id", timer.id}, {"kind", engine::to_string(timer.kind)},
              {"due", engine::format_timestamp(timer.due_ms)}};
}

json activity_view(const engine::WorkflowState& state, const engine::PendingActivity& activity) {
  json deadlines = json::array();
  for (std::int64_t timer_id : {activity.schedule_to_start_timer, activity.start_to_close_timer,
                                activity.heartbeat_timer, activity.schedule_to_close_timer, activity.retry_timer}) {
    if (auto it = state.timers.find(timer_id); timer_id != 0 && it != state.timers.end())
      deadlines.push_back(timer_view(it->second));
  }
  json view{{"activity_id", activity.id}, {"activity", activity.name},       {"attempt", activity.attempt},
            {"scheduled", engine::format_timestamp(activity.scheduled_ms)}, {"deadlines", std::move(deadlines)}};
  if (activity.started_ms != 0) view["started"] = engine::format_timestamp(activity.started_ms);
  return view;
}

}  // namespace

json workflow_view(const engine::StoredWorkflow& stored) {
  const engine::WorkflowState& s = stored.state;
  json tasks = json::array();
  json activities = json::array();
  json timers = json::array();
  for (const auto& [id, node] : s.nodes)
    if (node.kind == engine::Node::Kind::task) tasks.push_back(json{{"node", id}, {"started", engine::format_timestamp(node.started_ms)}});
  for (const auto& [id, activity] : s.activities) activities.push_back(activity_view(s, activity));
  for (const auto& [id, timer] : s.timers)
    if (timer.recorded) timers.push_back(timer_view(timer));
  json view{{"id", s.id},
            {"workflow", s.name},
            {"version", s.version},
            {"status", engine::to_string(s.status)},
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
  if (s.compensation) view["compensation"] = json{{"cause", s.compensation->cause},
                                                  {"current", s.compensation->current_reference},
                                                  {"failures", s.compensation->failures}};
  return view;
}

void add_workflow_routes(http::Router& router, const WorkflowApi& api) {
  router.add("POST", "/api/v1/workflows", [&api](const http::Request& request) {
    const runtime::StartRequest start = parse_start(http::parse_json_body(request), api);
    const runtime::StartResult result = api.orchestrator.start(start);
    http::Response response = http::json_response(
        result.created ? 201 : 200,
        json{{"id", result.state.id}, {"status", engine::to_string(result.state.status)}, {"created", result.created}});
    response.headers.set("Location", "/api/v1/workflows/" + result.state.id);
    return response;
  });
  router.add("GET", "/api/v1/workflows/{id}", [&api](const http::Request& request) {
    return http::json_response(200, workflow_view(load_or_404(api.store, request.path_param("id"))));
  });
  router.add("GET", "/api/v1/workflows/{id}/history", [&api](const http::Request& request) {
    const engine::StoredWorkflow stored = load_or_404(api.store, request.path_param("id"));
    engine::History history{stored.state.id, stored.state.name, stored.state.version, stored.state.digest,
                            api.store.history(stored.state.id, 0, 1'000'000)};
    return http::json_response(200, history.to_json());
  });
  router.add("POST", "/api/v1/workflows/{id}/signals/{name}", [&api](const http::Request& request) {
    const std::string& name = request.path_param("name");
    if (name.size() > signal_name_bytes_max) bad_request("signal name longer than 128 bytes");
    const json payload = request.body.empty() ? json() : http::parse_json_body(request);
    const engine::StoredWorkflow stored = load_or_404(api.store, request.path_param("id"));
    if (engine::is_final(stored.state.status))
      throw OperationError(ErrorCategory::conflict, "workflow '" + stored.state.id + "' is " +
                                                        std::string(engine::to_string(stored.state.status)));
    api.store.enqueue_input(stored.state.id, engine::Input::signal(name, payload, api.clock.now_ms()));
    return http::json_response(202, json{{"id", stored.state.id}, {"signal", name}, {"accepted", true}});
  });
  router.add("POST", "/api/v1/workflows/{id}/cancel", [&api](const http::Request& request) {
    std::string reason = "cancelled through the API";
    if (!request.body.empty()) {
      const json body = http::parse_json_body(request);
      if (!body.is_object() || (body.contains("reason") && !body["reason"].is_string()))
        bad_request("the body must be {\"reason\": string}");
      reason = body.value("reason", reason);
    }
    const engine::StoredWorkflow stored = load_or_404(api.store, request.path_param("id"));
    if (engine::is_final(stored.state.status))
      throw OperationError(ErrorCategory::conflict, "workflow '" + stored.state.id + "' is already " +
                                                        std::string(engine::to_string(stored.state.status)));
    api.store.enqueue_input(stored.state.id, engine::Input::cancel(reason, api.clock.now_ms()));
    return http::json_response(202, json{{"id", stored.state.id}, {"cancel_requested", true}});
  });
}

}  // namespace flightplan::rest

#include "flightplan/rest/definition_api.hpp"

#include "flightplan/engine/duration.hpp"
#include "flightplan/http/problem.hpp"
#include "flightplan/runtime/log.hpp"

#include <type_traits>

namespace flightplan::rest {
namespace {

using engine::ErrorCategory;
using engine::OperationError;
using nlohmann::json;

json task_list_view(const engine::TaskList& list);
json task_view(const engine::Task& task);

std::string directive_text(const engine::FlowDirective& directive) {
  switch (directive.kind) {
    case engine::FlowDirective::Kind::continue_:
      return "continue";
    case engine::FlowDirective::Kind::exit:
      return "exit";
    case engine::FlowDirective::Kind::end:
      return "end";
    case engine::FlowDirective::Kind::go_to:
      return directive.target;
  }
  return "continue";
}

json child(std::string label, const engine::TaskList& list) {
  return json{{"label", std::move(label)}, {"tasks", task_list_view(list)}};
}

// Type, call target, children and cases of one task body.
void describe_body(const engine::TaskBody& body, json& view) {
  json& children = view["children"];
  std::visit(
      [&](const auto& task) {
        using T = std::decay_t<decltype(task)>;
        if constexpr (std::is_same_v<T, engine::CallActivityTask>) {
          view["type"] = "call";
          view["call"] = task.activity;
        } else if constexpr (std::is_same_v<T, engine::CallFunctionTask>) {
          view["type"] = "call";
          view["call"] = task.function;
        } else if constexpr (std::is_same_v<T, engine::DoTask>) {
          view["type"] = "do";
          children.push_back(child("do", *task.tasks));
        } else if constexpr (std::is_same_v<T, engine::ForkTask>) {
          view["type"] = "fork";
          // Each branch is one named task; its label names it, its list holds just that task.
          for (const auto& branch : task.branches->tasks)
            children.push_back(
                json{{"label", "branch:" + branch->name}, {"tasks", json::array({task_view(*branch)})}});
        } else if constexpr (std::is_same_v<T, engine::ForTask>) {
          view["type"] = "for";
          children.push_back(child("for", *task.do_));
        } else if constexpr (std::is_same_v<T, engine::ListenTask>) {
          view["type"] = "listen";
        } else if constexpr (std::is_same_v<T, engine::RaiseTask>) {
          view["type"] = "raise";
        } else if constexpr (std::is_same_v<T, engine::SetTask>) {
          view["type"] = "set";
        } else if constexpr (std::is_same_v<T, engine::SwitchTask>) {
          view["type"] = "switch";
          json cases = json::array();
          for (const engine::SwitchCase& c : task.cases) {
            json one{{"name", c.name}, {"then", directive_text(c.then)}};
            if (c.when) one["when"] = c.when->source();
            cases.push_back(std::move(one));
          }
          view["cases"] = std::move(cases);
        } else if constexpr (std::is_same_v<T, engine::TryTask>) {
          view["type"] = "try";
          children.push_back(child("try", *task.try_));
          if (task.catch_.do_) children.push_back(child("catch", *task.catch_.do_));
        } else {
          static_assert(std::is_same_v<T, engine::WaitTask>, "every task type needs a graph description");
          view["type"] = "wait";
        }
      },
      body);
}

json task_view(const engine::Task& task) {
  json view{{"name", task.name}, {"reference", task.reference}, {"type", ""}, {"children", json::array()}};
  if (task.if_) view["condition"] = task.if_->source();
  if (task.then.kind != engine::FlowDirective::Kind::continue_) view["then"] = directive_text(task.then);
  describe_body(task.body, view);
  if (task.compensate) view["children"].push_back(child("compensate", *task.compensate));
  return view;
}

json task_list_view(const engine::TaskList& list) {
  json tasks = json::array();
  for (const auto& task : list.tasks) tasks.push_back(task_view(*task));
  return tasks;
}

json definition_view(const runtime::RegisteredDefinition& entry, const std::string& latest_version) {
  const engine::DocumentInfo& doc = entry.definition->document;
  json view{{"name", doc.name},
            {"version", doc.version},
            {"digest", entry.definition->digest},
            {"latest", doc.version == latest_version},
            {"origin", runtime::to_string(entry.origin)}};
  if (!doc.title.empty()) view["title"] = doc.title;
  if (!doc.summary.empty()) view["summary"] = doc.summary;
  if (entry.created_ms != 0) view["created"] = engine::format_timestamp(entry.created_ms);
  return view;
}

bool is_yaml_media_type(const http::Request& request) {
  const auto content_type = request.headers.find("Content-Type");
  if (!content_type) return false;
  std::string_view media_type = content_type->substr(0, content_type->find(';'));
  while (!media_type.empty() && (media_type.back() == ' ' || media_type.back() == '\t'))
    media_type.remove_suffix(1);
  while (!media_type.empty() && (media_type.front() == ' ' || media_type.front() == '\t'))
    media_type.remove_prefix(1);
  for (const std::string_view accepted :
       {"application/yaml", "application/x-yaml", "text/yaml", "text/plain"})
    if (http::iequals(media_type, accepted)) return true;
  return false;
}

// 400 with every diagnostic as "definition.yaml:LINE:COLUMN: message" (up to definition_errors_max).
[[noreturn]] void invalid_definition(const engine::DefinitionError& error, const http::Request& request) {
  json errors = json::array();
  for (const engine::Diagnostic& diagnostic : error.diagnostics()) {
    if (errors.size() == definition_errors_max) break;
    errors.push_back(diagnostic.to_string());
  }
  std::string detail = errors.empty() ? "the definition is not valid" : errors.front().get<std::string>();
  if (error.diagnostics().size() > 1)
    detail += " (and " + std::to_string(error.diagnostics().size() - 1) + " more problems)";
  http::Response response = http::problem_response(ErrorCategory::invalid_argument, detail, request.path);
  json body = json::parse(response.body);
  body["errors"] = std::move(errors);
  response.body = http::dump_json(body);
  throw http::ProblemError(std::move(response));
}

http::Response register_definition(const DefinitionApi& api, const http::Request& request) {
  if (!is_yaml_media_type(request)) {
    throw http::ProblemError(
        http::protocol_problem(415, "unsupported-media-type", "Unsupported media type",
                               "a definition is sent as YAML: Content-Type application/yaml, "
                               "application/x-yaml, text/yaml or text/plain",
                               request.path));
  }
  if (request.body.empty())
    throw OperationError(ErrorCategory::invalid_argument,
                         "the request body is empty; a YAML workflow definition is expected");
  runtime::RegisterResult result;
  try {
    result = api.registry.register_source(request.body, api.clock.now_ms());
  } catch (const engine::DefinitionError& error) {
    invalid_definition(error, request);
  }
  const engine::DocumentInfo& doc = result.entry.definition->document;
  runtime::log(runtime::LogLevel::info,
               result.created ? "definition registered" : "definition already registered",
               {{"workflow", doc.name},
                {"version", doc.version},
                {"request_id", request.request_id},
                {"caller", request.caller}});
  json body{{"name", doc.name},
            {"version", doc.version},
            {"digest", result.entry.definition->digest},
            {"latest", api.registry.latest_version(doc.name) == doc.version}};
  if (result.entry.created_ms != 0) body["created"] = engine::format_timestamp(result.entry.created_ms);
  http::Response response = http::json_response(result.created ? 201 : 200, body);
  response.headers.set("Location", "/api/v1/definitions/" + doc.name + "/versions/" + doc.version);
  return response;
}

http::Response list_definitions(const DefinitionApi& api) {
  json definitions = json::array();
  for (const runtime::RegisteredDefinition& entry : api.registry.entries())
    definitions.push_back(
        definition_view(entry, api.registry.latest_version(entry.definition->document.name)));
  return http::json_response(200, json{{"definitions", std::move(definitions)}});
}

http::Response definition_versions(const DefinitionApi& api, const std::string& name) {
  api.registry.find_entry(name);  // 404 naming what is known, after asking the store
  const std::string latest = api.registry.latest_version(name);
  json versions = json::array();
  for (const runtime::RegisteredDefinition& entry : api.registry.entries())
    if (entry.definition->document.name == name) versions.push_back(definition_view(entry, latest));
  return http::json_response(200,
                             json{{"name", name}, {"latest", latest}, {"versions", std::move(versions)}});
}

http::Response definition_version(const DefinitionApi& api, const std::string& name,
                                  const std::string& version) {
  const runtime::RegisteredDefinition entry = api.registry.find_entry(name, version);
  json view = definition_view(entry, api.registry.latest_version(name));
  const std::string& source = entry.definition->source_text;
  view["source"] = source.empty() ? json() : json(source);
  view["graph"] = definition_graph(*entry.definition);
  return http::json_response(200, view);
}

}  // namespace

json definition_graph(const engine::Definition& definition) {
  return json{{"tasks", definition.do_ ? task_list_view(*definition.do_) : json::array()}};
}

void add_definition_routes(http::Router& router, const DefinitionApi& api) {
  router.add("POST", "/api/v1/definitions",
             [&api](const http::Request& request) { return register_definition(api, request); });
  router.add("GET", "/api/v1/definitions", [&api](const http::Request&) { return list_definitions(api); });
  router.add("GET", "/api/v1/definitions/{name}", [&api](const http::Request& request) {
    return definition_versions(api, request.path_param("name"));
  });
  router.add("GET", "/api/v1/definitions/{name}/versions/{version}", [&api](const http::Request& request) {
    return definition_version(api, request.path_param("name"), request.path_param("version"));
  });
}

}  // namespace flightplan::rest

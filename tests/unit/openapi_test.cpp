#define BOOST_TEST_MODULE openapi
// The OpenAPI document cannot drift from the server: the router is built exactly as `flightplan
// server` builds it (cli::build_router from api/cli/serve.cpp), and its (method, pattern, access)
// triples must equal the document's operations and their x-flightplan-access. The document itself
// is checked for the structure tools rely on: every $ref resolves, operation ids are unique, every
// operation answers something.
#include "../../api/cli/serve.hpp"
#include "flightplan/http/problem.hpp"
#include "flightplan/memory/memory_service_store.hpp"
#include "flightplan/memory/memory_store.hpp"
#include "flightplan/yaml/source_loader.hpp"
#include "flightplan/rest/operations_api.hpp"

#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <set>
#include <string>

namespace {

using namespace flightplan;
using nlohmann::json;

constexpr std::int64_t start_ms = 1795219200000;

// Everything build_router() needs, on the in-process store.
struct Server {
  runtime::ManualClock clock{start_ms};
  memory::MemoryStore store{clock};
  runtime::DefinitionRegistry definitions{yaml::source_loader(), clock};
  metrics::Metrics metrics;
  runtime::Orchestrator orchestrator{store, definitions, clock, runtime::OrchestratorSettings{}};
  rest::WorkflowApi workflows{orchestrator, store, clock, [] { return std::string("wf-1"); }};
  rest::DefinitionApi definition_api{definitions, clock};
  rest::OperationsApi operations{metrics, store, clock};
  memory::MemoryServiceStore services;
  rest::FleetApi fleet{services, clock};
  rest::DeadLetterApi dead_letters{store};
  http::Router router = cli::build_router(
      cli::ApiRoutes{workflows, definition_api, operations, fleet, dead_letters, [] { return true; }});
};

json document() { return json::parse(rest::openapi_document()); }

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

using Operation = std::tuple<std::string, std::string, std::string>;  // method, pattern, access

std::set<Operation> router_operations(const http::Router& router) {
  std::set<Operation> operations;
  for (const auto& route : router.routes())
    operations.emplace(lower(route.method), route.pattern, std::string(http::to_string(route.access)));
  return operations;
}

std::set<Operation> document_operations(const json& doc) {
  static const std::set<std::string> methods = {"get",     "put",  "post",  "delete",
                                                "options", "head", "patch", "trace"};
  std::set<Operation> operations;
  for (const auto& [path, item] : doc.at("paths").items())
    for (const auto& [method, operation] : item.items())
      if (methods.count(method) != 0)
        operations.emplace(method, path, operation.value("x-flightplan-access", std::string("(missing)")));
  return operations;
}

std::string describe(const std::set<Operation>& operations) {
  std::string text;
  for (const auto& [method, pattern, access] : operations)
    text += "\n  " + method + " " + pattern + " (" + access + ")";
  return text.empty() ? " none" : text;
}

// Every "$ref" under `node`, as written.
void collect_refs(const json& node, std::vector<std::string>& refs) {
  if (node.is_object()) {
    for (const auto& [key, value] : node.items()) {
      if (key == "$ref" && value.is_string()) refs.push_back(value.get<std::string>());
      collect_refs(value, refs);
    }
  } else if (node.is_array()) {
    for (const json& element : node) collect_refs(element, refs);
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(document_lists_exactly_the_routes_the_server_serves) {
  const Server server;
  const std::set<Operation> served = router_operations(server.router);
  const std::set<Operation> documented = document_operations(document());
  std::set<Operation> undocumented, unserved;
  std::set_difference(served.begin(), served.end(), documented.begin(), documented.end(),
                      std::inserter(undocumented, undocumented.end()));
  std::set_difference(documented.begin(), documented.end(), served.begin(), served.end(),
                      std::inserter(unserved, unserved.end()));
  BOOST_TEST(undocumented.empty(),
             "served but not in api/rest/openapi.json (or with another access):" << describe(undocumented));
  BOOST_TEST(unserved.empty(),
             "in api/rest/openapi.json but not served (or with another access):" << describe(unserved));
  BOOST_TEST(served.size() >=
             25u);  // a router that lost its routes must not pass by matching an empty document
}

BOOST_AUTO_TEST_CASE(public_routes_are_exactly_the_contracts) {
  const Server server;
  std::set<std::string> public_routes;
  for (const auto& route : server.router.routes())
    if (route.access == http::Access::public_) public_routes.insert(route.method + " " + route.pattern);
  const std::set<std::string> expected = {
      "GET /healthz",   "GET /readyz",     "GET /api/v1/openapi.json", "GET /",
      "GET /dashboard", "GET /dashboard/", "GET /dashboard/{asset}"};
  BOOST_TEST((public_routes == expected), "public routes:" << [&] {
    std::string text;
    for (const auto& route : public_routes) text += " " + route;
    return text;
  }());
}

BOOST_AUTO_TEST_CASE(document_is_structurally_sound) {
  const json doc = document();
  BOOST_TEST(doc.at("openapi").get<std::string>().rfind("3.0.", 0) == 0u);
  BOOST_TEST(doc.at("components").at("securitySchemes").at("bearer").at("scheme") == "bearer");
  std::vector<std::string> refs;
  collect_refs(doc, refs);
  BOOST_TEST(refs.size() > 50u);
  for (const std::string& ref : refs) {
    BOOST_REQUIRE_MESSAGE(ref.rfind("#/", 0) == 0, ref << " is not a local reference");
    BOOST_TEST(doc.contains(json::json_pointer(ref.substr(1))), ref << " does not resolve");
  }
  std::set<std::string> operation_ids;
  for (const auto& [path, item] : doc.at("paths").items()) {
    for (const auto& [method, operation] : item.items()) {
      BOOST_TEST(operation_ids.insert(operation.at("operationId").get<std::string>()).second,
                 "duplicate operationId at " << method << " " << path);
      BOOST_TEST(!operation.at("responses").empty(), method << " " << path);
      // Every {param} of the path is declared as a path parameter.
      for (std::size_t open = path.find('{'); open != std::string::npos; open = path.find('{', open + 1)) {
        const std::string name = path.substr(open + 1, path.find('}', open) - open - 1);
        const json& parameters = operation.value("parameters", json::array());
        const bool declared = std::any_of(parameters.begin(), parameters.end(), [&](const json& p) {
          return p.value("in", "") == "path" && p.value("name", "") == name;
        });
        BOOST_TEST(declared, method << " " << path << " does not declare path parameter " << name);
      }
      const bool is_public = operation.at("x-flightplan-access") == "public";
      BOOST_TEST(is_public == (operation.contains("security") && operation["security"].empty()),
                 method << " " << path);
      BOOST_TEST(is_public != operation.at("responses").contains("401"), method << " " << path);
    }
  }
}

BOOST_AUTO_TEST_CASE(document_is_served_as_json_without_credentials) {
  Server server;
  server.router.set_authorizer([](http::Request&, http::Access) -> std::optional<http::Response> {
    return http::protocol_problem(401, "unauthorized", "Unauthorized", "no", "");
  });
  http::Request request;
  request.method = "GET";
  request.target = "/api/v1/openapi.json";
  const http::Response response = http::handle_request(server.router, request, {});
  BOOST_TEST(response.status == 200);
  BOOST_TEST(response.content_type == "application/json");
  BOOST_TEST(response.body == std::string(rest::openapi_document()));
  BOOST_TEST(json::parse(response.body).at("info").at("title") == "flightplan API");
}

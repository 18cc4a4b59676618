#pragma once
// The long-running roles: `flightplan server` (HTTP + orchestrator + supervisor), `flightplan worker`
// (activity workers) and `flightplan dev` (all of them in one process, with a private redis-server
// unless --redis is given). They run until SIGINT/SIGTERM, then drain.
#include "flightplan/http/router.hpp"
#include "flightplan/rest/dead_letter_api.hpp"
#include "flightplan/rest/definition_api.hpp"
#include "flightplan/rest/fleet_api.hpp"
#include "flightplan/rest/operations_api.hpp"
#include "flightplan/rest/workflow_api.hpp"

#include <cstdint>
#include <functional>
#include <string>

namespace flightplan::cli {

struct ServeOptions {
  enum class Role { server, worker, dev };
  Role role = Role::dev;
  std::string redis_url;        // server/worker: required; dev: empty starts a private redis-server
  std::string store = "redis";  // dev only: redis | memory (not durable)
  std::string address = "127.0.0.1";
  int port = 8080;
  std::string data_dir = ".flightplan";  // dev's redis-server data (AOF)
  std::string fsync = "everysec";        // always | everysec (dev's redis-server appendfsync)
  std::string workflows_dir = "workflows";
  std::string activities = "account,package,transport,drone,delivery,bench";
  std::string inject;  // fault injection for workers
  std::uint64_t seed = 1;
  int partitions = 8;
  int orchestrators = 1;    // orchestrator threads in this process
  int worker_threads = 2;   // per activity queue
  double time_scale = 1.0;  // run the clock faster (demos, tests); 1 = real time
  // With time_scale != 1: the real instant (epoch ms) at which virtual time equals real time. Every
  // process of one cluster needs the same origin, or their clocks disagree; 0 = this process's start.
  std::int64_t time_origin_ms = 0;
  std::int64_t visibility_ms = 0;  // unacknowledged inputs/tasks go elsewhere after this; 0: default
  std::string instance;            // consumer name prefix; default: host name + pid
  // API tokens (docs/operations.md). server: required unless no_auth; dev: optional (open without).
  std::string auth_file;   // --auth-file or FLIGHTPLAN_AUTH_FILE: lines ROLE TOKEN [LABEL]
  std::string token_list;  // FLIGHTPLAN_TOKENS: "operator:tok1,viewer:tok2"
  bool no_auth = false;    // --no-auth: serve the API open, on purpose
  std::int64_t definitions_refresh_ms = 1000;  // how often definitions registered elsewhere are learnt
  // worker only: serve /metrics, /healthz and /readyz on this port of `address` (0: any free port);
  // -1: no HTTP at all. Tokens are required as for server (--auth-file or --no-auth).
  int metrics_port = -1;
  // Start even when the Redis given does not keep what it acknowledges (AOF off, or an eviction
  // policy): --allow-unsafe-redis, for throw-away experiments only.
  bool allow_unsafe_redis = false;
  // SIGTERM/SIGINT: the longest the roles may take to drain before the process exits anyway.
  std::int64_t drain_ms = 20'000;
};

int serve_command(const ServeOptions& options);

// What the HTTP API serves, for build_router().
struct ApiRoutes {
  rest::WorkflowApi& workflows;
  rest::DefinitionApi& definitions;
  rest::OperationsApi& operations;
  rest::FleetApi& fleet;
  rest::DeadLetterApi& dead_letters;
  std::function<bool()> readiness;
};

// Every route of the HTTP API, as `flightplan server` and `dev` serve them (tests build the same
// router to compare it with the OpenAPI document). No authorizer is set.
http::Router build_router(const ApiRoutes& routes);

}  // namespace flightplan::cli

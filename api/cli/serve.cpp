#include "serve.hpp"

#include "flightplan/activities/activity.hpp"
#include "flightplan/yaml/source_loader.hpp"
#include "flightplan/dashboard/dashboard.hpp"
#include "flightplan/http/auth.hpp"
#include "flightplan/http/server.hpp"
#include "flightplan/memory/memory_service_store.hpp"
#include "flightplan/memory/memory_store.hpp"
#include "flightplan/redis/close_feed.hpp"
#include "flightplan/redis/redis_service_store.hpp"
#include "flightplan/redis/redis_store.hpp"
#include "flightplan/redis/server_process.hpp"
#include "flightplan/rest/delivery_api.hpp"
#include "flightplan/runtime/log.hpp"
#include "flightplan/metrics/metrics.hpp"
#include "flightplan/runtime/supervisor.hpp"
#include "flightplan/runtime/worker_pool.hpp"

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

namespace flightplan::cli {
namespace {

using runtime::log;
using runtime::LogLevel;

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  for (std::string part; std::getline(stream, part, separator);)
    if (!part.empty()) parts.push_back(part);
  return parts;
}

std::string default_instance() {
  char host[256] = "host";
  gethostname(host, sizeof host - 1);
  return std::string(host) + "-" + std::to_string(getpid());
}

// Workflow ids for start requests that name none: time-ordered and unique across processes.
std::function<std::string()> id_generator(runtime::Clock& clock) {
  auto counter = std::make_shared<std::atomic<std::uint64_t>>(std::random_device{}());
  return [&clock, counter] {
    char id[48];
    std::snprintf(id, sizeof id, "wf-%llx-%06llx", static_cast<unsigned long long>(clock.now_ms()),
                  static_cast<unsigned long long>(counter->fetch_add(1) & 0xffffff));
    return std::string(id);
  };
}

sigset_t termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

// The API tokens of the token file and FLIGHTPLAN_TOKENS together; empty when neither is given.
// Throws std::invalid_argument naming the file and line of a bad entry (never the token).
std::shared_ptr<const http::TokenTable> load_tokens(const ServeOptions& options) {
  auto tokens = std::make_shared<http::TokenTable>();
  if (!options.auth_file.empty()) {
    tokens->add_all(http::load_token_file(options.auth_file));
    struct stat info {};
    if (stat(options.auth_file.c_str(), &info) == 0 && (info.st_mode & (S_IRWXG | S_IRWXO)) != 0)
      log(LogLevel::warn, "the token file can be read by other users; chmod 600 it",
          {{"file", options.auth_file}});
  }
  if (!options.token_list.empty())
    tokens->add_all(http::parse_token_list(options.token_list, "FLIGHTPLAN_TOKENS"));
  for (const std::string& label : tokens->short_token_labels())
    log(LogLevel::warn, "an API token is shorter than 16 characters and could be guessed",
        {{"token", label}});
  return tokens;
}

// The authorizer of the API: bearer tokens when configured. `flightplan server` refuses to run open
// unless told to; `flightplan dev` runs open without tokens, loudly. Empty: the API is open.
http::Authorizer api_authorizer(const ServeOptions& options) {
  const bool dev = options.role == ServeOptions::Role::dev;
  const std::shared_ptr<const http::TokenTable> tokens = load_tokens(options);
  // Both at once is a configuration mistake; guessing which one was meant could open the API.
  if (options.no_auth && !tokens->empty()) {
    throw std::invalid_argument(
        "--no-auth contradicts the API tokens configured (--auth-file, FLIGHTPLAN_AUTH_FILE or "
        "FLIGHTPLAN_TOKENS): drop one or the other");
  }
  if (!tokens->empty()) {
    log(LogLevel::info, "API authentication on", {{"tokens", tokens->size()}});
    return http::bearer_authorizer(tokens);
  }
  if (!options.no_auth && !dev) {
    throw std::invalid_argument(
        "no API tokens are configured: give --auth-file PATH (or FLIGHTPLAN_AUTH_FILE, or FLIGHTPLAN_TOKENS="
        "\"operator:TOKEN,viewer:TOKEN\"), or --no-auth to serve the API open on purpose");
  }
  log(LogLevel::warn,
      "NO AUTHENTICATION: the API, including starting, cancelling and terminating workflows, is "
      "open to anyone who can reach it; bind it to 127.0.0.1 only, or configure tokens");
  return {};
}

// Probes and scrapes would drown the access log; they are logged at debug level only.
bool is_routine(std::string_view route) {
  return route == "/healthz" || route == "/readyz" || route == "/metrics";
}

http::HttpServerHooks server_hooks(metrics::Metrics& metrics) {
  http::HttpServerHooks hooks;
  // One JSON line per response. Headers are not passed to this hook: tokens never reach the log.
  hooks.access_log = [&metrics](const http::AccessLogEntry& entry) {
    const double seconds = static_cast<double>(entry.duration_us) / 1e6;
    metrics.http_request(entry.route_pattern, entry.method, entry.status, seconds);
    log(is_routine(entry.route_pattern) && entry.status < 400 ? LogLevel::debug : LogLevel::info, "http",
        {{"method", entry.method},
         {"route", entry.route_pattern},
         {"status", entry.status},
         {"duration_ms", static_cast<double>(entry.duration_us) / 1000.0},
         {"request_id", entry.request_id}});
  };
  hooks.error_log = [](std::string_view request_id, std::string_view message) {
    log(LogLevel::error, "request failed", {{"request_id", request_id}, {"error", message}});
  };
  return hooks;
}

// Learns definitions other processes registered, every `interval_ms`, on its own thread.
class DefinitionRefresher {
 public:
  DefinitionRefresher(const runtime::DefinitionRegistry& registry, std::int64_t interval_ms)
      : thread_([this, &registry, interval_ms](std::stop_token stop) { run(registry, interval_ms, stop); }) {}

 private:
  void run(const runtime::DefinitionRegistry& registry, std::int64_t interval_ms, std::stop_token stop) {
    std::mutex mutex;
    std::condition_variable_any wake;
    while (!stop.stop_requested()) {
      try {
        if (const std::size_t added = registry.refresh(); added > 0)
          log(LogLevel::info, "definitions learnt from the store", {{"added", added}});
      } catch (const std::exception& e) {
        log(LogLevel::warn, "definition refresh failed", {{"error", e.what()}});
      }
      std::unique_lock lock(mutex);
      wake.wait_for(lock, stop, std::chrono::milliseconds(interval_ms), [] { return false; });
    }
  }

  std::jthread thread_;  // last: joined (after a stop request) before anything else goes
};

// "Acknowledged" must mean "durable": refuses a Redis that would lose acknowledged work, unless told
// to accept the risk. Throws std::runtime_error naming every unsafe setting.
void check_durability(redis::RedisStore& store, const ServeOptions& options) {
  const redis::RedisStore::Durability durability = store.check_durability();
  if (durability.appendfsync == "no")
    log(LogLevel::warn, "Redis appendfsync is 'no': the OS decides when acknowledged writes reach the disk",
        {{"appendfsync", durability.appendfsync}});
  if (durability.problems.empty()) return;
  std::string message = "the Redis server does not keep what it acknowledges:";
  for (const std::string& problem : durability.problems) message += "\n  - " + problem;
  if (!options.allow_unsafe_redis)
    throw std::runtime_error(message + "\nfix the server, or start with --allow-unsafe-redis to accept losing work");
  log(LogLevel::warn, "starting on an unsafe Redis (--allow-unsafe-redis)", {{"problems", durability.problems}});
}

// The store every role works on: Redis (given or a private redis-server for dev) or, for dev on
// request, the in-process store. The activities' service state goes to the same place.
std::unique_ptr<engine::WorkflowStore> open_store(const ServeOptions& options, runtime::Clock& clock,
                                                  std::unique_ptr<redis::ServerProcess>& private_redis,
                                                  redis::RedisStore*& redis_store,
                                                  std::unique_ptr<activities::ServiceStore>& service_store) {
  const bool dev = options.role == ServeOptions::Role::dev;
  if (dev && options.store == "memory") {
    service_store = std::make_unique<memory::MemoryServiceStore>();
    return std::make_unique<memory::MemoryStore>(clock);
  }
  std::string url = options.redis_url;
  if (url.empty() && dev) {
    redis::ServerOptions server;
    server.data_dir = options.data_dir;
    server.appendonly = true;
    server.appendfsync = options.fsync;
    private_redis = std::make_unique<redis::ServerProcess>(server);
    url = private_redis->url();
    log(LogLevel::info, "private redis-server started",
        {{"pid", private_redis->pid()}, {"dir", private_redis->dir()}, {"appendfsync", options.fsync}});
  }
  if (url.empty()) throw std::runtime_error("--redis URL is required");
  redis::RedisStoreSettings settings;
  settings.pool.client.url = url;
  // Blocking claims hold a connection while they wait: one per claiming thread, plus room for
  // the API handlers, the supervisor and commits.
  const std::size_t claimers =
      static_cast<std::size_t>(std::max(1, options.orchestrators)) +
      split(options.activities, ',').size() * static_cast<std::size_t>(std::max(1, options.worker_threads));
  settings.pool.client_count = claimers + 8;
  settings.partitions = options.partitions;
  auto redis = std::make_unique<redis::RedisStore>(settings);
  redis_store = redis.get();
  check_durability(*redis, options);
  redis::RedisServiceStoreSettings service_settings;
  service_settings.pool.client.url = url;
  service_settings.pool.client_count = claimers + 2;  // a worker thread holds one while its activity runs
  service_store = std::make_unique<redis::RedisServiceStore>(service_settings);
  return redis;
}

// Everything one process runs, in the order it is stopped (reverse of declaration is destruction).
struct Roles {
  std::vector<std::unique_ptr<runtime::Orchestrator>> orchestrators;
  std::unique_ptr<runtime::Supervisor> supervisor;
  std::unique_ptr<runtime::WorkerPool> workers;
  std::unique_ptr<DefinitionRefresher> refresher;
  std::unique_ptr<redis::CloseFeed> close_feed;  // news of workflows other processes closed
  std::unique_ptr<rest::WorkflowApi> workflow_api;
  std::unique_ptr<rest::DefinitionApi> definition_api;
  std::unique_ptr<rest::OperationsApi> operations_api;
  std::unique_ptr<rest::FleetApi> fleet_api;
  std::unique_ptr<rest::DeadLetterApi> dead_letter_api;
  std::unique_ptr<http::HttpServer> http_server;
};

struct Context {
  const ServeOptions& options;
  std::string instance;
  engine::WorkflowStore& store;
  redis::RedisStore* redis_store;
  activities::ServiceStore& service_store;
  runtime::Clock& clock;
  runtime::DefinitionRegistry& definitions;
  activities::ActivityRegistry& activity_registry;
  metrics::Metrics& metrics;
  runtime::Orchestrator& starter;
  runtime::CloseWaiters& close_waiters;  // requests waiting for a workflow to close (long polls)
  http::Authorizer authorizer;           // empty: the API is open
};

void start_orchestration(Roles& roles, const Context& context) {
  for (int i = 0; i < std::max(1, context.options.orchestrators); ++i) {
    runtime::OrchestratorSettings o;
    o.consumer = context.instance + "/orchestrator-" + std::to_string(i);
    if (context.options.visibility_ms > 0) o.visibility_ms = context.options.visibility_ms;
    o.observer = &context.metrics;
    o.close_waiters = &context.close_waiters;
    roles.orchestrators.push_back(
        std::make_unique<runtime::Orchestrator>(context.store, context.definitions, context.clock, o));
    roles.orchestrators.back()->start_thread();
  }
  roles.supervisor =
      std::make_unique<runtime::Supervisor>(context.store, context.clock, runtime::SupervisorSettings{});
  roles.supervisor->start_thread();
  roles.refresher =
      std::make_unique<DefinitionRefresher>(context.definitions, context.options.definitions_refresh_ms);
}

void start_workers(Roles& roles, const Context& context) {
  const ServeOptions& options = context.options;
  activities::FaultInjector faults(options.seed);
  if (!options.inject.empty())
    if (auto problem = faults.parse_and_add(options.inject)) throw std::runtime_error(*problem);
  runtime::WorkerSettings w;
  w.queues = split(options.activities, ',');
  w.threads_per_queue = std::max(1, options.worker_threads);
  w.consumer = context.instance;
  if (options.visibility_ms > 0) w.lease_ms = options.visibility_ms;
  w.observer = &context.metrics;
  roles.workers = std::make_unique<runtime::WorkerPool>(context.store, context.activity_registry, faults,
                                                        context.clock, w);
  roles.workers->start_threads();
  log(LogLevel::info, "workers started", {{"queues", w.queues}, {"threads_per_queue", w.threads_per_queue}});
}

void start_http(Roles& roles, const Context& context) {
  const ServeOptions& options = context.options;
  const bool dev = options.role == ServeOptions::Role::dev;
  roles.workflow_api = std::make_unique<rest::WorkflowApi>(rest::WorkflowApi{
      context.starter, context.store, context.clock, id_generator(context.clock), &context.close_waiters});
  if (context.redis_store != nullptr) {
    // Workflows closed by other processes' orchestrators; this process's own tell the waiters directly.
    runtime::CloseWaiters& waiters = context.close_waiters;
    roles.close_feed = std::make_unique<redis::CloseFeed>(
        context.redis_store->settings().pool.client, context.redis_store->closed_channel(),
        [&waiters](const std::string& id, std::int64_t version) { waiters.closed(id, version); },
        [&waiters] { waiters.wake_all(); });
    roles.close_feed->start();
  }
  roles.definition_api =
      std::make_unique<rest::DefinitionApi>(rest::DefinitionApi{context.definitions, context.clock});
  roles.operations_api = std::make_unique<rest::OperationsApi>(
      rest::OperationsApi{context.metrics, context.store, context.clock});
  roles.fleet_api = std::make_unique<rest::FleetApi>(rest::FleetApi{context.service_store, context.clock});
  roles.dead_letter_api = std::make_unique<rest::DeadLetterApi>(rest::DeadLetterApi{context.store});
  redis::RedisStore* redis_store = context.redis_store;
  http::Router router = build_router(ApiRoutes{
      *roles.workflow_api, *roles.definition_api, *roles.operations_api, *roles.fleet_api,
      *roles.dead_letter_api, [redis_store] { return redis_store == nullptr || redis_store->ping(); }});
  if (context.authorizer) router.set_authorizer(context.authorizer);
  http::HttpServerSettings http_settings;
  http_settings.address = options.address;
  http_settings.port = static_cast<std::uint16_t>(options.port);
  roles.http_server =
      std::make_unique<http::HttpServer>(http_settings, std::move(router), server_hooks(context.metrics));
  roles.http_server->start();
  log(LogLevel::info, "listening",
      {{"url", "http://" + options.address + ":" + std::to_string(roles.http_server->port())},
       {"role", dev ? "dev" : "server"},
       {"store", redis_store ? "redis" : "memory"}});
}

// A worker's own small HTTP server: probes and /metrics (its activity latencies live in this
// process only), behind the same tokens as the API.
void start_worker_http(Roles& roles, const Context& context) {
  const ServeOptions& options = context.options;
  roles.operations_api = std::make_unique<rest::OperationsApi>(
      rest::OperationsApi{context.metrics, context.store, context.clock});
  redis::RedisStore* redis_store = context.redis_store;
  http::Router router;
  http::add_builtin_routes(router, [redis_store] { return redis_store == nullptr || redis_store->ping(); });
  rest::add_operations_routes(router, *roles.operations_api);
  if (context.authorizer) router.set_authorizer(context.authorizer);
  http::HttpServerSettings http_settings;
  http_settings.address = options.address;
  http_settings.port = static_cast<std::uint16_t>(options.metrics_port);
  roles.http_server =
      std::make_unique<http::HttpServer>(http_settings, std::move(router), server_hooks(context.metrics));
  roles.http_server->start();
  log(LogLevel::info, "listening",
      {{"url", "http://" + options.address + ":" + std::to_string(roles.http_server->port())},
       {"role", "worker"}});
}

// New requests stop first, then the roles finish their current round: every decision is either
// committed or left unacknowledged for redelivery, never half-done.
void drain(Roles& roles) {
  if (roles.http_server) roles.http_server->stop();
  roles.close_feed.reset();
  if (roles.workers) roles.workers->stop();
  if (roles.supervisor) roles.supervisor->stop();
  for (auto& o : roles.orchestrators) o->stop();
  roles.refresher.reset();
}

}  // namespace

http::Router build_router(const ApiRoutes& routes) {
  http::Router router;
  http::add_builtin_routes(router, routes.readiness);
  rest::add_workflow_routes(router, routes.workflows);
  rest::add_delivery_routes(
      router, rest::DeliveryApi{routes.workflows.orchestrator, routes.workflows.store, routes.workflows.clock,
                                routes.workflows.new_workflow_id});
  rest::add_definition_routes(router, routes.definitions);
  rest::add_operations_routes(router, routes.operations);
  rest::add_fleet_routes(router, routes.fleet);
  rest::add_dead_letter_routes(router, routes.dead_letters);
  dashboard::add_dashboard_routes(router);
  return router;
}

int serve_command(const ServeOptions& options) {
  using Role = ServeOptions::Role;
  // Block the termination signals before any thread starts, so every thread inherits the mask and
  // only the sigwait below sees them: shutdown is an orderly drain on the main thread.
  const sigset_t signals = termination_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::unique_ptr<redis::ServerProcess> private_redis;
  std::unique_ptr<engine::WorkflowStore> store;
  redis::RedisStore* redis_store = nullptr;
  runtime::SystemClock system_clock;
  // Virtual time = origin + (real time - origin) * scale: processes given the same origin agree on
  // the time, so one stamps an activity's start and another fires its deadline consistently.
  const std::int64_t real_now_ms = system_clock.now_ms();
  const std::int64_t time_origin_ms = options.time_origin_ms > 0 ? options.time_origin_ms : real_now_ms;
  const double real_elapsed_ms = static_cast<double>(real_now_ms - time_origin_ms);
  const std::int64_t virtual_elapsed_ms = static_cast<std::int64_t>(real_elapsed_ms * options.time_scale);
  runtime::ScaledClock scaled_clock(time_origin_ms + virtual_elapsed_ms, options.time_scale);
  runtime::Clock& clock = options.time_scale != 1.0 ? static_cast<runtime::Clock&>(scaled_clock) : system_clock;
  const std::string instance = options.instance.empty() ? default_instance() : options.instance;
  runtime::DefinitionRegistry definitions{yaml::source_loader(), clock};
  std::unique_ptr<activities::ServiceStore> service_store;  // outlives the registry, whose activities use it
  activities::ActivityRegistry activity_registry;
  http::Authorizer authorizer;
  try {
    if (options.role != Role::worker || options.metrics_port >= 0) authorizer = api_authorizer(options);
    engine::CompileOptions compile;
    compile.is_known_activity = [&](std::string_view name) { return activity_registry.contains(name); };
    store = open_store(options, clock, private_redis, redis_store, service_store);
    activities::register_delivery_activities(activity_registry, *service_store);
    activities::register_bench_activities(activity_registry);
    definitions.load_directory(options.workflows_dir, compile);
    definitions.attach_store(*store, compile);
  } catch (const engine::DefinitionError& e) {
    for (const auto& d : e.diagnostics()) std::cerr << d.to_string() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "flightplan: " << e.what() << "\n";
    return 2;
  }

  metrics::Metrics metrics;
  runtime::CloseWaiters close_waiters;
  runtime::OrchestratorSettings starter_settings;
  starter_settings.consumer = instance + "/api";
  starter_settings.observer = &metrics;
  starter_settings.close_waiters = &close_waiters;
  runtime::Orchestrator starter(*store, definitions, clock, starter_settings);  // serves start requests
  const Context context{options,     instance,          *store,  redis_store, *service_store,       clock,
                        definitions, activity_registry, metrics, starter,     close_waiters,
                        std::move(authorizer)};
  Roles roles;
  try {
    if (options.role != Role::worker) start_orchestration(roles, context);
    if (options.role != Role::server) start_workers(roles, context);
    if (options.role != Role::worker) start_http(roles, context);
    if (options.role == Role::worker && options.metrics_port >= 0) start_worker_http(roles, context);
  } catch (const std::exception& e) {
    std::cerr << "flightplan: " << e.what() << "\n";
    drain(roles);
    return 2;
  }

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  log(LogLevel::info, "draining", {{"signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"}, {"drain_ms", options.drain_ms}});
  {
    // The drain is bounded: an activity that never returns must not keep the process alive. Past
    // the deadline the process exits at once; whatever it held comes back to other processes when
    // its leases run out, as after a kill -9 (docs/operations.md).
    std::jthread deadline([drain_ms = options.drain_ms](std::stop_token stop) {
      std::mutex mutex;
      std::condition_variable_any wake;
      std::unique_lock lock(mutex);
      if (wake.wait_for(lock, stop, std::chrono::milliseconds(drain_ms), [] { return false; })) return;
      if (stop.stop_requested()) return;
      log(LogLevel::error, "drain took too long; exiting without waiting any more", {{"drain_ms", drain_ms}});
      std::_Exit(1);
    });
    drain(roles);
  }
  if (private_redis) private_redis->stop();
  log(LogLevel::info, "stopped");
  return 0;
}

}  // namespace flightplan::cli

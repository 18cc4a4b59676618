#include "serve.hpp"

#include "flightplan/activities/activity.hpp"
#include "flightplan/http/server.hpp"
#include "flightplan/memory/memory_store.hpp"
#include "flightplan/redis/redis_store.hpp"
#include "flightplan/redis/server_process.hpp"
#include "flightplan/rest/workflow_api.hpp"
#include "flightplan/runtime/log.hpp"
#include "flightplan/runtime/workers.hpp"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <iostream>
#include <random>
#include <sstream>

namespace flightplan::cli {
namespace {

using runtime::LogLevel;
using runtime::log;

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
std::function<std::string()> id_generator(memory::Clock& clock) {
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

}  // namespace

int serve_command(const ServeOptions& options) {
  using Role = ServeOptions::Role;
  const bool dev = options.role == Role::dev;
  const bool serves_http = options.role != Role::worker;
  const bool runs_workers = options.role != Role::server;
  const std::string instance = options.instance.empty() ? default_instance() : options.instance;
  // Block the termination signals before any thread starts, so every thread inherits the mask and
  // only the sigwait below sees them: shutdown is an orderly drain on the main thread.
  const sigset_t signals = termination_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::unique_ptr<redis::ServerProcess> private_redis;
  std::unique_ptr<engine::WorkflowStore> store;
  redis::RedisStore* redis_store = nullptr;
  memory::SystemClock system_clock;
  // Virtual time = origin + (real time - origin) * scale: processes given the same origin agree on
  // the time, so one stamps an activity's start and another fires its deadline consistently.
  const std::int64_t real_now_ms = system_clock.now_ms();
  const std::int64_t time_origin_ms = options.time_origin_ms > 0 ? options.time_origin_ms : real_now_ms;
  const double real_elapsed_ms = static_cast<double>(real_now_ms - time_origin_ms);
  const std::int64_t virtual_elapsed_ms = static_cast<std::int64_t>(real_elapsed_ms * options.time_scale);
  memory::ScaledClock scaled_clock(time_origin_ms + virtual_elapsed_ms, options.time_scale);
  memory::Clock& clock = options.time_scale != 1.0 ? static_cast<memory::Clock&>(scaled_clock) : system_clock;
  runtime::DefinitionRegistry definitions;
  activities::ActivityRegistry activity_registry;
  activities::register_delivery_activities(activity_registry);
  activities::register_bench_activities(activity_registry);
  try {
    engine::CompileOptions compile;
    compile.is_known_activity = [&](std::string_view name) { return activity_registry.contains(name); };
    definitions.load_directory(options.workflows_dir, compile);
    if (dev && options.store == "memory") {
      store = std::make_unique<memory::MemoryStore>(clock);
    } else {
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
      const std::size_t claimers = static_cast<std::size_t>(std::max(1, options.orchestrators)) +
                                   split(options.activities, ',').size() *
                                       static_cast<std::size_t>(std::max(1, options.worker_threads));
      settings.pool.client_count = claimers + 8;
      settings.partitions = options.partitions;
      auto redis = std::make_unique<redis::RedisStore>(settings);
      redis_store = redis.get();
      store = std::move(redis);
    }
  } catch (const engine::DefinitionError& e) {
    for (const auto& d : e.diagnostics()) std::cerr << d.to_string() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "flightplan: " << e.what() << "\n";
    return 2;
  }

  std::vector<std::unique_ptr<runtime::Orchestrator>> orchestrators;
  std::unique_ptr<runtime::Supervisor> supervisor;
  std::unique_ptr<runtime::WorkerPool> workers;
  std::unique_ptr<http::HttpServer> http_server;
  std::unique_ptr<rest::WorkflowApi> api;
  runtime::OrchestratorSettings orchestrator_settings;
  orchestrator_settings.consumer = instance + "/api";
  runtime::Orchestrator starter(*store, definitions, clock, orchestrator_settings);  // serves start requests
  try {
    if (serves_http) {
      for (int i = 0; i < std::max(1, options.orchestrators); ++i) {
        runtime::OrchestratorSettings o;
        o.consumer = instance + "/orchestrator-" + std::to_string(i);
        if (options.visibility_ms > 0) o.visibility_ms = options.visibility_ms;
        orchestrators.push_back(std::make_unique<runtime::Orchestrator>(*store, definitions, clock, o));
        orchestrators.back()->start_thread();
      }
      supervisor = std::make_unique<runtime::Supervisor>(*store, clock, runtime::SupervisorSettings{});
      supervisor->start_thread();
    }
    if (runs_workers) {
      activities::FaultInjector faults(options.seed);
      if (!options.inject.empty())
        if (auto problem = faults.parse_and_add(options.inject)) throw std::runtime_error(*problem);
      runtime::WorkerSettings w;
      w.queues = split(options.activities, ',');
      w.threads_per_queue = std::max(1, options.worker_threads);
      w.consumer = instance;
      if (options.visibility_ms > 0) w.visibility_ms = options.visibility_ms;
      workers = std::make_unique<runtime::WorkerPool>(*store, activity_registry, faults, clock, w);
      workers->start_threads();
      log(LogLevel::info, "workers started", {{"queues", w.queues}, {"threads_per_queue", w.threads_per_queue}});
    }
    if (serves_http) {
      api = std::make_unique<rest::WorkflowApi>(rest::WorkflowApi{starter, *store, clock, id_generator(clock)});
      http::Router router;
      http::add_builtin_routes(router, [redis_store] { return redis_store == nullptr || redis_store->ping(); });
      rest::add_workflow_routes(router, *api);
      http::HttpServerSettings http_settings;
      http_settings.address = options.address;
      http_settings.port = static_cast<std::uint16_t>(options.port);
      http_server = std::make_unique<http::HttpServer>(http_settings, std::move(router));
      http_server->start();
      log(LogLevel::info, "listening",
          {{"url", "http://" + options.address + ":" + std::to_string(http_server->port())},
           {"role", dev ? "dev" : "server"}, {"store", redis_store ? "redis" : "memory"}});
      if (dev)
        log(LogLevel::warn, "DEV MODE: the API is open to anyone who can reach it (no authentication); "
                            "bind it to 127.0.0.1 only");
    }
  } catch (const std::exception& e) {
    std::cerr << "flightplan: " << e.what() << "\n";
    return 2;
  }

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  log(LogLevel::info, "draining", {{"signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"}});
  // New requests stop first, then the roles finish their current round: every decision is either
  // committed or left unacknowledged for redelivery, never half-done.
  if (http_server) http_server->stop();
  if (workers) workers->stop();
  if (supervisor) supervisor->stop();
  for (auto& o : orchestrators) o->stop();
  if (private_redis) private_redis->stop();
  log(LogLevel::info, "stopped");
  return 0;
}

}  // namespace flightplan::cli

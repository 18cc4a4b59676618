// The flightplan binary: one executable, one subcommand per job. This is the wiring layer: the only
// place that reads flags and the environment and turns them into typed options.
#include "bench.hpp"
#include "client_commands.hpp"
#include "commands.hpp"
#include "serve.hpp"

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>

int main(int argc, char** argv) {
  CLI::App app{"flightplan: durable workflow orchestration (Serverless Workflow 1.0 DSL)"};
  app.require_subcommand(1);

  std::vector<std::string> files;
  auto* validate = app.add_subcommand("validate", "Validate workflow definitions; errors as FILE:LINE:COLUMN");
  validate->add_option("files", files, "YAML workflow files")->required();

  flightplan::cli::RunOptions run_options;
  auto* run = app.add_subcommand("run", "Run one workflow in process (virtual time) and print its result");
  run->add_option("file", run_options.file, "YAML workflow file")->required();
  run->add_option("--input", run_options.input, "Workflow input: JSON text or @file");
  run->add_option("--history-out", run_options.history_out, "Write the history (replay format) here");
  run->add_option("--id", run_options.workflow_id, "Workflow id");
  run->add_option("--inject", run_options.inject,
                  "Fault injection, e.g. drone.schedule:fail=0.2,hang=0.05,latency_ms=5");
  run->add_option("--seed", run_options.seed, "Seed of the fault injection");
  run->add_option("--start-time", run_options.start_time, "Virtual start time (RFC 3339); default now");
  run->add_flag("--real-time", run_options.real_time, "Wait for real instead of in virtual time");

  std::string replay_definition;
  std::string replay_history;
  auto* replay = app.add_subcommand("replay", "Re-run a recorded history and compare every event");
  replay->add_option("file", replay_definition, "YAML workflow file")->required();
  replay->add_option("history", replay_history, "History JSON file")->required();

  flightplan::cli::ServeOptions serve;
  auto add_serve_options = [&serve](CLI::App* command, flightplan::cli::ServeOptions::Role role) {
    const bool http = role != flightplan::cli::ServeOptions::Role::worker;
    const bool workers = role != flightplan::cli::ServeOptions::Role::server;
    const bool dev = role == flightplan::cli::ServeOptions::Role::dev;
    auto* redis = command->add_option("--redis", serve.redis_url,
                                      "Redis URL: redis://[:password@]host:port/db or unix:///path.sock");
    if (!dev) redis->required();
    command->add_option("--partitions", serve.partitions, "Partitions of the Redis key space (fixed per dataset)");
    command->add_option("--workflows", serve.workflows_dir, "Folder of workflow definitions to load");
    command->add_option("--instance", serve.instance, "Name of this process in consumer groups");
    if (http) {
      command->add_option("--address", serve.address, "HTTP listen address");
      command->add_option("--port", serve.port, "HTTP port (0: any free port)");
      command->add_option("--orchestrators", serve.orchestrators, "Orchestrator threads");
      command->add_option("--auth-file", serve.auth_file, "API tokens, one 'ROLE TOKEN [LABEL]' per line");
      command->add_flag("--no-auth", serve.no_auth, "Serve the API without authentication (on purpose)");
      command->add_option("--definitions-refresh-ms", serve.definitions_refresh_ms,
                          "How often definitions registered through other servers are learnt")
          ->check(CLI::Range(10, 3'600'000));
    }
    if (role == flightplan::cli::ServeOptions::Role::worker) {
      command->add_option("--address", serve.address, "Listen address of --metrics-port");
      command->add_option("--metrics-port", serve.metrics_port,
                          "Serve /metrics, /healthz and /readyz on this port (0: any free port)")
          ->check(CLI::Range(0, 65535));
      command->add_option("--auth-file", serve.auth_file, "Tokens for --metrics-port, one 'ROLE TOKEN [LABEL]' per line");
      command->add_flag("--no-auth", serve.no_auth, "Serve --metrics-port without authentication (on purpose)");
    }
    if (workers) {
      command->add_option("--activities", serve.activities, "Activity queues to serve, comma-separated");
      command->add_option("--worker-threads", serve.worker_threads, "Threads per activity queue");
      command->add_option("--inject", serve.inject, "Fault injection, e.g. drone.schedule:fail=0.2,hang=0.05");
      command->add_option("--seed", serve.seed, "Seed of the fault injection");
    }
    if (dev) {
      command->add_option("--store", serve.store, "redis (durable) or memory (not durable)")
          ->check(CLI::IsMember({"redis", "memory"}));
      command->add_option("--data-dir", serve.data_dir, "Data folder of the private redis-server");
      command->add_option("--fsync", serve.fsync, "always: no acknowledged write is lost; everysec: up to 1 s")
          ->check(CLI::IsMember({"always", "everysec"}));
    }
    command->add_option("--time-scale", serve.time_scale, "Run the clock this many times faster (tests)")
        ->check(CLI::PositiveNumber);
    command->add_option("--time-origin-ms", serve.time_origin_ms,
                        "Epoch ms at which the scaled clock equals real time; give every process the same")
        ->check(CLI::NonNegativeNumber);
    command->add_flag("--allow-unsafe-redis", serve.allow_unsafe_redis,
                      "Start even if Redis has AOF off or evicts keys (acknowledged work may be lost)");
    command->add_option("--drain-ms", serve.drain_ms, "On SIGTERM, exit after at most this long")
        ->check(CLI::PositiveNumber);
    command->add_option("--visibility-ms", serve.visibility_ms,
                        "Claimed but unacknowledged inputs and tasks go to another process after this")
        ->check(CLI::NonNegativeNumber);
    command->callback([&serve, role] { serve.role = role; });
  };
  using Role = flightplan::cli::ServeOptions::Role;
  auto* server = app.add_subcommand("server", "HTTP API + orchestrator + supervisor on Redis");
  add_serve_options(server, Role::server);
  auto* worker = app.add_subcommand("worker", "Activity workers on Redis");
  add_serve_options(worker, Role::worker);
  auto* dev = app.add_subcommand("dev", "Everything in one process, with a private redis-server");
  add_serve_options(dev, Role::dev);

  flightplan::cli::BenchOptions bench_options;
  auto* bench =
      app.add_subcommand("bench", "Load a running API with a closed loop of clients; print JSON figures");
  bench->add_option("--url", bench_options.url, "API base URL, http://HOST:PORT");
  bench->add_option("--workflow", bench_options.workflow, "Workload: bench-5step or delivery");
  bench->add_option("--workflows", bench_options.workflows, "Workflows to measure (N)");
  bench->add_option("--concurrency", bench_options.concurrency, "Concurrent clients (C)");
  bench->add_option("--warmup", bench_options.warmup, "Workflows run first and not measured");
  bench->add_option("--timeout-s", bench_options.timeout_s, "Deadline of the whole run, warm-up included");
  bench->add_option("--input", bench_options.input,
                    "Input template: JSON text or @file (ids are made unique)");
  bench->add_option("--wait-ms", bench_options.wait_ms,
                    "Long-poll wait: the server answers when the workflow closes (0: poll instead)");
  bench->add_option("--poll-ms", bench_options.poll_ms, "Pause between two status polls (with --wait-ms 0)");
  bench->add_option("--request-timeout-ms", bench_options.request_timeout_ms, "Deadline of one HTTP request");
  bench->add_option("--id-prefix", bench_options.id_prefix,
                    "Prefix of the workflow ids (default: unique per run)");

  flightplan::cli::ClientOptions client_options;
  flightplan::cli::add_client_commands(app, client_options);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (*validate) return flightplan::cli::validate_command(files, std::cout, std::cerr);
  if (*run) return flightplan::cli::run_command(run_options, std::cout, std::cerr);
  if (*replay) return flightplan::cli::replay_command(replay_definition, replay_history, std::cout, std::cerr);
  if (*bench) return flightplan::cli::bench_command(bench_options, std::cout, std::cerr);
  if (*server || *worker || *dev) {
    // "operator:tok1,viewer:tok2"; read here, the wiring layer, like every other setting.
    if (const char* tokens = std::getenv("FLIGHTPLAN_TOKENS")) serve.token_list = tokens;
    // Not CLI11's envname: with the option on several subcommands the environment would win over
    // the flag. The flag first, then the environment.
    if (const char* file = std::getenv("FLIGHTPLAN_AUTH_FILE"); file != nullptr && serve.auth_file.empty())
      serve.auth_file = file;
    return flightplan::cli::serve_command(serve);
  }
  if (auto status = flightplan::cli::run_client_command(client_options, std::cout, std::cerr)) return *status;
  return 2;
}

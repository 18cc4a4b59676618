// The flightplan binary: one executable, one subcommand per job. This is the wiring layer: the only
// place that reads flags and the environment and turns them into typed options.
#include "commands.hpp"

#include <CLI/CLI.hpp>

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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (*validate) return flightplan::cli::validate_command(files, std::cout, std::cerr);
  if (*run) return flightplan::cli::run_command(run_options, std::cout, std::cerr);
  if (*replay) return flightplan::cli::replay_command(replay_definition, replay_history, std::cout, std::cerr);
  return 2;
}

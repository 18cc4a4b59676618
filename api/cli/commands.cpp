#include "commands.hpp"

#include "flightplan/activities/activity.hpp"
#include "flightplan/activities/fault_injection.hpp"
#include "flightplan/engine/compiler.hpp"
#include "flightplan/engine/duration.hpp"
#include "flightplan/engine/replay.hpp"
#include "flightplan/runtime/log.hpp"
#include "flightplan/memory/local_runtime.hpp"
#include "flightplan/memory/memory_service_store.hpp"
#include "flightplan/yaml/yaml_loader.hpp"

#include <fstream>
#include <iostream>
#include <sstream>

namespace flightplan::cli {
namespace {

using nlohmann::json;

constexpr std::size_t json_file_bytes_max = 64 * 1024 * 1024;

// Registry of the activities this binary serves; validation checks names against it.
activities::ActivityRegistry& builtin_activities() {
  static memory::MemoryServiceStore names_only;  // never called: this registry only answers names
  static activities::ActivityRegistry registry = [] {
    activities::ActivityRegistry r;
    activities::register_delivery_activities(r, names_only);
    activities::register_bench_activities(r);
    return r;
  }();
  return registry;
}

engine::DefinitionPtr load_definition(const std::string& file) {
  engine::SourceDocument document = yaml::load_yaml_file(file);
  engine::CompileOptions options;
  options.is_known_activity = [](std::string_view name) { return builtin_activities().contains(name); };
  return engine::compile_definition(document, options);
}

void print_diagnostics(const engine::DefinitionError& error, std::ostream& err) {
  for (const auto& diagnostic : error.diagnostics()) err << diagnostic.to_string() << "\n";
}

// Reads JSON from text or from "@path"; throws std::runtime_error naming the source on failure.
json read_json_argument(const std::string& argument, const std::string& what) {
  std::string text = argument;
  std::string source = what;
  if (!argument.empty() && argument.front() == '@') {
    source = argument.substr(1);
    std::ifstream in(source, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + what + " file '" + source + "'");
    std::ostringstream buffer;
    buffer << in.rdbuf();
    text = buffer.str();
    if (text.size() > json_file_bytes_max) throw std::runtime_error(source + " is larger than 64 MiB");
  }
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw std::runtime_error("invalid JSON in " + source + ": " + e.what());
  }
}

std::int64_t start_time_ms(const std::string& text) {
  if (text.empty()) return runtime::SystemClock().now_ms();
  auto ms = engine::parse_timestamp_ms(text);
  if (!ms) throw std::runtime_error("--start-time '" + text + "' is not an RFC 3339 timestamp");
  return *ms;
}

}  // namespace

int validate_command(const std::vector<std::string>& files, std::ostream& out, std::ostream& err) {
  int invalid = 0;
  for (const std::string& file : files) {
    try {
      engine::DefinitionPtr definition = load_definition(file);
      out << file << ": ok (" << definition->document.name << " " << definition->document.version << ", "
          << definition->tasks.size() << " tasks)\n";
    } catch (const engine::DefinitionError& e) {
      print_diagnostics(e, err);
      ++invalid;
    }
  }
  return invalid == 0 ? 0 : 2;
}

int run_command(const RunOptions& options, std::ostream& out, std::ostream& err) {
  // The runtime's own lines (workflow started/closed) would drown the result on a terminal.
  runtime::set_log_level(runtime::LogLevel::warn);
  engine::DefinitionPtr definition;
  json input;
  activities::FaultInjector faults(options.seed);
  std::int64_t start_ms = 0;
  try {
    definition = load_definition(options.file);
    input = read_json_argument(options.input, "--input");
    if (!options.inject.empty()) {
      if (auto problem = faults.parse_and_add(options.inject)) throw std::runtime_error(*problem);
    }
    start_ms = start_time_ms(options.start_time);
  } catch (const engine::DefinitionError& e) {
    print_diagnostics(e, err);
    return 2;
  } catch (const std::exception& e) {
    err << "flightplan run: " << e.what() << "\n";
    return 2;
  }
  memory::MemoryServiceStore service_store;  // fresh service state for this run
  activities::ActivityRegistry registry;
  activities::register_delivery_activities(registry, service_store);
  activities::register_bench_activities(registry);
  runtime::ManualClock manual_clock(start_ms);
  runtime::SystemClock system_clock;
  runtime::Clock& clock = options.real_time ? static_cast<runtime::Clock&>(system_clock) : manual_clock;
  memory::LocalRuntime runtime(registry, faults, clock);
  runtime.start(definition, options.workflow_id, input);
  const bool finished = runtime.run();
  const memory::WorkflowRecord& record = runtime.workflow(options.workflow_id);
  if (!options.history_out.empty()) {
    std::ofstream history(options.history_out, std::ios::binary | std::ios::trunc);
    history << record.history().to_json().dump(2) << "\n";
    if (!history) {
      err << "flightplan run: cannot write history to '" << options.history_out << "'\n";
      return 2;
    }
  }
  if (!finished) err << "flightplan run: stopped at a runtime limit before the workflow finished\n";
  out << json{{"id", record.state.id},
              {"status", engine::to_string(record.state.status)},
              {"output", record.state.output},
              {"error", record.state.error}}
             .dump(2)
      << "\n";
  return record.state.status == engine::WorkflowStatus::completed ? 0 : 1;
}

int replay_command(const std::string& definition_file, const std::string& history_file, std::ostream& out,
                   std::ostream& err) {
  engine::DefinitionPtr definition;
  engine::History history;
  try {
    definition = load_definition(definition_file);
    history = engine::History::from_json(read_json_argument("@" + history_file, "history"));
  } catch (const engine::DefinitionError& e) {
    print_diagnostics(e, err);
    return 2;
  } catch (const std::exception& e) {
    err << "flightplan replay: " << history_file << ": " << e.what() << "\n";
    return 2;
  }
  const engine::ReplayResult result = engine::replay(*definition, history);
  if (result.ok()) {
    out << "replay ok: " << history.events.size() << " events identical, final status "
        << engine::to_string(result.state.status) << "\n";
    return 0;
  }
  const engine::Divergence& d = *result.divergence;
  out << "replay diverged at event index " << d.index << ": " << d.message << "\n"
      << "  expected: " << d.expected.dump() << "\n"
      << "  actual:   " << d.actual.dump() << "\n";
  return 1;
}

}  // namespace flightplan::cli

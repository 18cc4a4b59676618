#pragma once
// The CLI's subcommands as plain functions over streams, so tests call them without a process.
// Exit codes: 0 success, 1 the operation ran but did not succeed (workflow not completed, replay
// diverged), 2 invalid input (file, definition, JSON, flag).
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace flightplan::cli {

int validate_command(const std::vector<std::string>& files, std::ostream& out, std::ostream& err);

struct RunOptions {
  std::string file;
  std::string input = "{}";   // JSON text, or @path to read it from a file
  std::string history_out;    // write the history here when set
  std::string workflow_id = "local-1";
  std::string inject;         // fault-injection spec, see activities/fault_injection.hpp
  std::uint64_t seed = 1;
  std::string start_time;     // RFC 3339; default: now (wall clock), read here in the wiring layer
  bool real_time = false;     // sleep for real instead of virtual time
};
int run_command(const RunOptions& options, std::ostream& out, std::ostream& err);

int replay_command(const std::string& definition_file, const std::string& history_file, std::ostream& out,
                   std::ostream& err);

}  // namespace flightplan::cli

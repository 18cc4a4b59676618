#pragma once
// The API client subcommands: submit, get, list, history, signal, cancel, terminate, pause, resume,
// retry and definitions. Each is one or two requests to a running server (docs/api.md); output is
// human-readable by default and the API's own JSON with --json.
#include <CLI/CLI.hpp>

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace flightplan::cli {

struct ClientOptions {
  std::string url;    // --url; empty: FLIGHTPLAN_URL, else http://127.0.0.1:8080
  std::string token;  // --token; empty: FLIGHTPLAN_TOKEN
  bool json = false;                          // print the API's JSON instead of text
  std::int64_t timeout_ms = 30'000;
  std::int64_t wait_ms = 0;  // submit / get: long-poll until the workflow closes, at most this long

  std::string command;      // which subcommand ran: "submit", "definitions show", ...
  std::string id;           // workflow id (or, for submit, the id to start with)
  std::string workflow;     // submit: definition name; list: filter
  std::string version;      // submit / definitions show
  std::string input;        // submit: JSON text or @file
  std::string idempotency_key;
  std::string name;         // signal name; definitions show: definition name
  std::string payload;      // signal: JSON text or @file
  std::string reason;       // controls
  std::string output_file;  // history: write the export here
  std::string file;         // definitions add: the YAML file
  std::string status, id_prefix, started_after, started_before, cursor;  // list filters
  int limit = 20;
};

// Registers the subcommands on `app`; `options` receives what the user typed and must outlive
// parsing.
void add_client_commands(CLI::App& app, ClientOptions& options);

// Runs the client subcommand that was parsed, if any: its exit status (0 success, 1 the API
// refused, 2 bad local input or the server unreachable); std::nullopt when none was chosen. A URL
// or token not given as a flag comes from FLIGHTPLAN_URL / FLIGHTPLAN_TOKEN.
std::optional<int> run_client_command(const ClientOptions& options, std::ostream& out, std::ostream& err);

}  // namespace flightplan::cli

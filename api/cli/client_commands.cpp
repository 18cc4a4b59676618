#include "client_commands.hpp"

#include "api_client.hpp"

#include "flightplan/engine/state.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>

#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <stdexcept>

namespace flightplan::cli {
namespace {

using nlohmann::json;

constexpr const char* default_url = "http://127.0.0.1:8080";

// A local problem (bad flag value, unreadable file, server unreachable): exit status 2.
struct LocalError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The API answered with an error status: exit status 1, its problem detail printed.
struct ApiError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string read_text_file(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw LocalError("cannot read " + what + " file '" + path + "'");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// JSON given as text or as @file; `what` names the flag in messages.
json parse_json_argument(const std::string& argument, const std::string& what) {
  const std::string text = !argument.empty() && argument.front() == '@' ? read_text_file(argument.substr(1), what)
                                                                        : argument;
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw LocalError(what + " is not valid JSON: " + e.what());
  }
}

class Session {
 public:
  explicit Session(const ClientOptions& options)
      : options_(options), client_(endpoint(options.url), options.token, options.timeout_ms) {}

  // Sends the request; any status >= 400 becomes an ApiError carrying the problem's detail.
  json call(const std::string& method, const std::string& target, const std::string& body = "",
            const std::string& content_type = "application/json", int* status = nullptr) {
    ApiResponse response;
    try {
      response = client_.request(method, target, body, content_type);
    } catch (const std::exception& e) {
      throw LocalError(e.what());
    }
    if (status != nullptr) *status = response.status;
    const json parsed = json::parse(response.body, nullptr, false);
    if (response.status >= 400) {
      std::string message = std::to_string(response.status);
      if (parsed.is_object()) {
        message += " " + parsed.value("title", std::string{});
        if (parsed.contains("detail") && parsed["detail"].is_string()) message += ": " + parsed["detail"].get<std::string>();
        if (parsed.contains("errors") && parsed["errors"].is_array())
          for (const auto& error : parsed["errors"]) message += "\n  " + (error.is_string() ? error.get<std::string>() : error.dump());
      } else {
        message += ": " + response.body.substr(0, 300);
      }
      throw ApiError(message);
    }
    if (parsed.is_discarded()) throw LocalError("the server's answer to " + method + " " + target + " is not JSON");
    return parsed;
  }

  const ClientOptions& options() const { return options_; }

 private:
  static Endpoint endpoint(const std::string& url) {
    try {
      return parse_url(url);
    } catch (const std::invalid_argument& e) {
      throw LocalError(e.what());
    }
  }

  const ClientOptions& options_;
  ApiClient client_;
};

std::string text_of(const json& value) {
  if (value.is_null()) return "-";
  return value.is_string() ? value.get<std::string>() : value.dump();
}

std::string workflow_path(const std::string& id) { return "/api/v1/workflows/" + url_encode(id); }

void print_workflow(const json& w, std::ostream& out) {
  out << text_of(w["id"]) << "  " << text_of(w["workflow"]) << " " << text_of(w["version"]) << "  "
      << text_of(w["status"]) << (w.value("paused", false) ? " (paused)" : "") << "\n";
  out << "  started " << text_of(w["started"]) << "   updated " << text_of(w["updated"]);
  if (w.contains("closed")) out << "   closed " << text_of(w["closed"]);
  out << "   events " << text_of(w["history_length"]) << "\n";
  for (const auto& task : w.value("current_tasks", json::array()))
    out << "  task     " << text_of(task["node"]) << " since " << text_of(task["started"]) << "\n";
  for (const auto& activity : w.value("pending_activities", json::array())) {
    out << "  activity " << text_of(activity["activity"]) << " #" << text_of(activity["activity_id"]) << " attempt "
        << text_of(activity["attempt"]);
    for (const auto& deadline : activity.value("deadlines", json::array()))
      out << "  " << text_of(deadline["kind"]) << " " << text_of(deadline["due"]);
    out << "\n";
  }
  if (!w.value("error", json()).is_null()) out << "  error    " << w["error"].dump() << "\n";
  if (!w.value("output", json()).is_null()) out << "  output   " << w["output"].dump() << "\n";
}

using SteadyClock = std::chrono::steady_clock;

bool is_final_view(const json& workflow) {
  const auto status = engine::parse_workflow_status(text_of(workflow.value("status", json())));
  return status && engine::is_final(*status);
}

// `?wait=` for one long poll: what is left of --wait-ms, and at least a second less than a request
// may take (the server shortens it further to its own limit).
std::string wait_query(const ClientOptions& o, SteadyClock::time_point until) {
  const auto left_ms = std::chrono::duration_cast<std::chrono::milliseconds>(until - SteadyClock::now()).count();
  const std::int64_t wait_ms = std::max<std::int64_t>(0, std::min<std::int64_t>(left_ms, o.timeout_ms - 1000));
  return "?wait=" + std::to_string(wait_ms);
}

// With --wait-ms: long polls until the workflow is final or --wait-ms has passed; its last view.
json wait_until_final(Session& session, json workflow) {
  const ClientOptions& o = session.options();
  const std::string id = o.id.empty() ? text_of(workflow["id"]) : o.id;
  const auto until = SteadyClock::now() + std::chrono::milliseconds(o.wait_ms);
  while (!is_final_view(workflow) && SteadyClock::now() < until)
    workflow = session.call("GET", workflow_path(id) + wait_query(o, until));
  return workflow;
}

int submit(Session& session, std::ostream& out) {
  const ClientOptions& o = session.options();
  json body{{"workflow", o.workflow}};
  if (!o.version.empty()) body["version"] = o.version;
  if (!o.id.empty()) body["id"] = o.id;
  body["input"] = o.input.empty() ? json::object() : parse_json_argument(o.input, "--input");
  int status = 0;
  const auto until = SteadyClock::now() + std::chrono::milliseconds(o.wait_ms);
  const std::string target = "/api/v1/workflows" + (o.wait_ms > 0 ? wait_query(o, until) : "");
  json answer = session.call("POST", target, body.dump(), "application/json", &status);
  if (o.wait_ms > 0) {
    // A waited start's answer carries the workflow's view; follow it to the end.
    json workflow = answer.contains("workflow") ? answer["workflow"] : answer;
    workflow = wait_until_final(session, std::move(workflow));
    answer["status"] = workflow.value("status", answer["status"]);
    answer["workflow"] = std::move(workflow);
  }
  if (o.json) {
    out << answer.dump() << "\n";
  } else {
    out << (status == 201 ? "started " : "exists  ") << text_of(answer["id"]) << "  " << text_of(answer["status"]) << "\n";
    if (answer.contains("workflow")) {
      const json& w = answer["workflow"];
      if (!w.value("error", json()).is_null()) out << "  error    " << w["error"].dump() << "\n";
      if (!w.value("output", json()).is_null()) out << "  output   " << w["output"].dump() << "\n";
    }
  }
  // With --wait-ms, a workflow that did not close in time, or closed without completing, is not a success.
  if (o.wait_ms > 0 && text_of(answer["status"]) != "completed") return 1;
  return 0;
}

std::string list_target(const ClientOptions& o) {
  std::string target = "/api/v1/workflows?limit=" + std::to_string(o.limit);
  const std::pair<const char*, const std::string*> filters[] = {
      {"status", &o.status},        {"workflow", &o.workflow},          {"id_prefix", &o.id_prefix},
      {"started_after", &o.started_after}, {"started_before", &o.started_before}, {"cursor", &o.cursor}};
  for (const auto& [key, value] : filters)
    if (!value->empty()) target += std::string("&") + key + "=" + url_encode(*value);
  return target;
}

int list(Session& session, std::ostream& out) {
  const json answer = session.call("GET", list_target(session.options()));
  if (session.options().json) {
    out << answer.dump() << "\n";
    return 0;
  }
  out << std::left << std::setw(36) << "ID" << std::setw(16) << "WORKFLOW" << std::setw(20) << "STATUS"
      << "STARTED\n";
  for (const auto& w : answer.value("workflows", json::array())) {
    const std::string status = text_of(w["status"]) + (w.value("paused", false) ? "+paused" : "");
    out << std::setw(36) << text_of(w["id"]) << std::setw(16) << text_of(w["workflow"]) << std::setw(20) << status
        << text_of(w["started"]) << "\n";
  }
  if (answer.contains("next_cursor") && answer["next_cursor"].is_string())
    out << "more: --cursor " << answer["next_cursor"].get<std::string>() << "\n";
  return 0;
}

int history(Session& session, std::ostream& out) {
  const ClientOptions& o = session.options();
  const json answer = session.call("GET", workflow_path(o.id) + "/history");
  if (!o.output_file.empty()) {
    std::ofstream file(o.output_file, std::ios::binary);
    if (!(file << answer.dump(2) << "\n")) throw LocalError("cannot write '" + o.output_file + "'");
    if (!o.json) out << "wrote " << answer.value("events", json::array()).size() << " events to " << o.output_file << "\n";
    return 0;
  }
  if (o.json) {
    out << answer.dump() << "\n";
    return 0;
  }
  for (const auto& event : answer.value("events", json::array()))
    out << std::right << std::setw(5) << text_of(event["seq"]) << "  " << text_of(event["time"]) << "  " << std::left
        << std::setw(26) << text_of(event["type"]) << text_of(event["ref"]) << "\n";
  return 0;
}

int signal(Session& session, std::ostream& out) {
  const ClientOptions& o = session.options();
  const std::string body = o.payload.empty() ? "" : parse_json_argument(o.payload, "--payload").dump();
  const json answer = session.call("POST", workflow_path(o.id) + "/signals/" + url_encode(o.name), body);
  out << (o.json ? answer.dump() : "signal " + o.name + " sent to " + o.id) << "\n";
  return 0;
}

int control(Session& session, const std::string& action, std::ostream& out) {
  const ClientOptions& o = session.options();
  const std::string body = o.reason.empty() ? "" : json{{"reason", o.reason}}.dump();
  const json answer = session.call("POST", workflow_path(o.id) + "/" + action, body);
  out << (o.json ? answer.dump() : action + " requested for " + o.id) << "\n";
  return 0;
}

int definitions(Session& session, std::ostream& out) {
  const ClientOptions& o = session.options();
  if (o.command == "definitions add") {
    int status = 0;
    const json answer =
        session.call("POST", "/api/v1/definitions", read_text_file(o.file, "definition"), "application/yaml", &status);
    out << (o.json ? answer.dump()
                   : std::string(status == 201 ? "registered " : "unchanged  ") + text_of(answer["name"]) + " " +
                         text_of(answer["version"]))
        << "\n";
    return 0;
  }
  if (o.command == "definitions show") {
    const std::string version = o.version.empty() ? "latest" : o.version;
    const json answer = session.call("GET", "/api/v1/definitions/" + url_encode(o.name) + "/versions/" + url_encode(version));
    if (o.json) {
      out << answer.dump() << "\n";
    } else {
      out << "# " << text_of(answer["name"]) << " " << text_of(answer["version"]) << " (" << text_of(answer["origin"])
          << ", digest " << text_of(answer["digest"]) << ")\n"
          << (answer.value("source", json()).is_string() ? answer["source"].get<std::string>() : "") << "\n";
    }
    return 0;
  }
  const json answer = session.call("GET", "/api/v1/definitions");
  if (o.json) {
    out << answer.dump() << "\n";
    return 0;
  }
  out << std::left << std::setw(24) << "NAME" << std::setw(12) << "VERSION" << std::setw(8) << "ORIGIN" << "TITLE\n";
  for (const auto& d : answer.value("definitions", json::array()))
    out << std::setw(24) << text_of(d["name"]) << std::setw(12)
        << (text_of(d["version"]) + (d.value("latest", false) ? "*" : "")) << std::setw(8) << text_of(d["origin"])
        << (d.contains("title") ? text_of(d["title"]) : "") << "\n";
  return 0;
}

int dispatch(Session& session, std::ostream& out) {
  const std::string& command = session.options().command;
  if (command == "submit") return submit(session, out);
  if (command == "get") {
    json answer = session.call("GET", workflow_path(session.options().id));
    if (session.options().wait_ms > 0) answer = wait_until_final(session, std::move(answer));
    if (session.options().json) out << answer.dump() << "\n";
    else print_workflow(answer, out);
    return 0;
  }
  if (command == "list") return list(session, out);
  if (command == "history") return history(session, out);
  if (command == "signal") return signal(session, out);
  if (command.rfind("definitions", 0) == 0) return definitions(session, out);
  return control(session, command, out);
}

// The flags every client subcommand takes.
void add_connection_flags(CLI::App* command, ClientOptions& options) {
  // Not CLI11's envname: it fills the variable from every subcommand, so the environment would win
  // over a flag given on the command line. run_client_command() falls back to the environment.
  command->add_option("--url", options.url, "API base URL, http://HOST:PORT (default: $FLIGHTPLAN_URL, else " +
                                                std::string(default_url) + ")");
  command->add_option("--token", options.token, "Bearer token, viewer or operator (default: $FLIGHTPLAN_TOKEN)");
  command->add_flag("--json", options.json, "Print the API's JSON answer");
  command->add_option("--timeout-ms", options.timeout_ms, "Deadline of each request")->check(CLI::PositiveNumber);
}

CLI::App* add_command(CLI::App& parent, ClientOptions& options, const std::string& name, const std::string& help,
                      const std::string& label) {
  CLI::App* command = parent.add_subcommand(name, help);
  add_connection_flags(command, options);
  // CLI11 runs a subcommand's callback before its parent's: the innermost one chosen wins.
  command->callback([&options, label] {
    if (options.command.empty()) options.command = label;
  });
  return command;
}

}  // namespace

void add_client_commands(CLI::App& app, ClientOptions& o) {
  auto* submit = add_command(app, o, "submit", "Start a workflow through the API", "submit");
  submit->add_option("workflow", o.workflow, "Definition name")->required();
  submit->add_option("--input", o.input, "Workflow input: JSON text or @file");
  submit->add_option("--id", o.id, "Workflow id (default: server-generated)");
  submit->add_option("--version", o.version, "Definition version (default: latest)");
  submit->add_option("--wait-ms", o.wait_ms,
                     "Wait up to this long for the workflow to close; exit 1 unless it completed")
      ->check(CLI::NonNegativeNumber);

  auto* get = add_command(app, o, "get", "Show a workflow's state", "get");
  get->add_option("id", o.id, "Workflow id")->required();
  get->add_option("--wait-ms", o.wait_ms, "Wait up to this long for the workflow to close first")
      ->check(CLI::NonNegativeNumber);

  auto* list = add_command(app, o, "list", "List and search workflows, newest first", "list");
  list->add_option("--status", o.status, "Only this status (running, completed, faulted, ...)");
  list->add_option("--workflow", o.workflow, "Only this definition name");
  list->add_option("--id-prefix", o.id_prefix, "Only ids starting with this");
  list->add_option("--started-after", o.started_after, "RFC 3339 time or epoch ms");
  list->add_option("--started-before", o.started_before, "RFC 3339 time or epoch ms");
  list->add_option("--limit", o.limit, "Page size (1..1000)")->check(CLI::Range(1, 1000));
  list->add_option("--cursor", o.cursor, "Continue after a previous page");

  auto* history = add_command(app, o, "history", "Export a workflow's history (the format replay reads)", "history");
  history->add_option("id", o.id, "Workflow id")->required();
  history->add_option("-o,--output", o.output_file, "Write the JSON export to this file");

  auto* signal = add_command(app, o, "signal", "Send a signal to a workflow", "signal");
  signal->add_option("id", o.id, "Workflow id")->required();
  signal->add_option("name", o.name, "Signal name")->required();
  signal->add_option("--payload", o.payload, "Signal payload: JSON text or @file");

  const std::pair<const char*, const char*> controls[] = {
      {"cancel", "Cancel a workflow; what completed is compensated, newest first"},
      {"terminate", "End a workflow at once, without compensation"},
      {"pause", "Hold a workflow's inputs until it is resumed"},
      {"resume", "Apply a paused workflow's held inputs and go on"},
      {"retry", "Re-run a faulted or compensation_failed workflow from the task that failed"}};
  for (const auto& [name, help] : controls) {
    auto* command = add_command(app, o, name, help, name);
    command->add_option("id", o.id, "Workflow id")->required();
    command->add_option("--reason", o.reason, "Why (recorded in the history)");
  }

  auto* definitions = add_command(app, o, "definitions", "List, show or register workflow definitions", "definitions list");
  add_command(*definitions, o, "list", "List every definition", "definitions list");
  auto* show = add_command(*definitions, o, "show", "Show a definition's YAML", "definitions show");
  show->add_option("name", o.name, "Definition name")->required();
  show->add_option("version", o.version, "Version (default: latest)");
  auto* add = add_command(*definitions, o, "add", "Validate and register a YAML definition", "definitions add");
  add->add_option("file", o.file, "YAML file")->required();
}

std::optional<int> run_client_command(const ClientOptions& given, std::ostream& out, std::ostream& err) {
  if (given.command.empty()) return std::nullopt;
  ClientOptions options = given;
  auto from_environment = [](std::string& value, const char* variable, const char* fallback) {
    if (!value.empty()) return;
    const char* set = std::getenv(variable);
    value = set != nullptr && *set != '\0' ? set : fallback;
  };
  from_environment(options.url, "FLIGHTPLAN_URL", default_url);
  from_environment(options.token, "FLIGHTPLAN_TOKEN", "");
  try {
    Session session(options);
    return dispatch(session, out);
  } catch (const ApiError& e) {
    err << "flightplan " << options.command << ": " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    err << "flightplan " << options.command << ": " << e.what() << "\n";
    return 2;
  }
}

}  // namespace flightplan::cli

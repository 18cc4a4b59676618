#pragma once
// Test support: a flightplan cluster of real processes (`flightplan server`, `worker`, `dev`) on a
// private redis-server, for crash and end-to-end tests. All processes share one scaled clock (same
// --time-scale and --time-origin-ms), so a deadline one process sets is fired by another on time.
// The test reads workflows straight from Redis through its own RedisStore.
#include "flightplan/engine/duration.hpp"
#include "flightplan/engine/replay.hpp"
#include "flightplan/redis/redis_store.hpp"

#include "harness.hpp"
#include "http_client.hpp"
#include "process.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace flightplan::testing {

// Pickup and drop-off a few hundred metres from the drone hangar: a drone flight is about 82 s of
// virtual time, mostly the 60 s handling at the pickup.
inline nlohmann::json drone_delivery(const std::string& id,
                                     const std::string& deadline = "2099-01-01T00:00:00Z") {
  return nlohmann::json{
      {"deliveryId", id},
      {"ownerId", "fabrikam-books"},
      {"pickupLocation", "47.6215,-122.3480"},
      {"dropOffLocation", "47.6230,-122.3470"},
      {"deadline", deadline},
      {"packageInfo", {{"packageId", "p-" + id}, {"size", "small"}, {"weight", 1.0}, {"tag", "books"}}}};
}

// A large package goes by the third-party carrier: its van picks up 15 virtual minutes from booking.
// Each worker process has only ten drones, so tests that run many deliveries at once send most of
// them by carrier.
inline nlohmann::json ground_delivery(const std::string& id) {
  nlohmann::json input = drone_delivery(id);
  input["packageInfo"]["size"] = "large";
  return input;
}

// "YYYY-MM-DDTHH:MM:SSZ", the deadline format of the delivery input.
inline std::string deadline_text(std::int64_t epoch_ms) {
  return engine::format_timestamp(epoch_ms).substr(0, 19) + "Z";
}

inline std::int64_t system_now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

struct ServerHandle {
  std::unique_ptr<ChildProcess> process;
  std::uint16_t port = 0;
};

class Cluster {
 public:
  static constexpr int partitions = 4;

  Cluster(std::string redis_url, double time_scale)
      : redis_url_(std::move(redis_url)), time_scale_(time_scale), time_origin_ms_(system_now_ms()) {
    // Only delivery.yaml (and what add_definition adds): the cluster must not depend on other
    // definitions in workflows/.
    std::filesystem::create_directories(workflows_dir());
    add_definition("workflows/delivery.yaml");
    redis::RedisStoreSettings settings;
    settings.pool.client.url = redis_url_;
    settings.pool.client_count = 2;
    settings.partitions = partitions;
    store_ = std::make_unique<redis::RedisStore>(settings);
  }

  const std::string& redis_url() const { return redis_url_; }
  redis::RedisStore& store() { return *store_; }
  const engine::Definition& delivery() const { return *definitions_.at("delivery"); }
  // Adds a definition file of the source tree (e.g. "workflows/bench-5step.yaml"): processes
  // started afterwards load it, and check_replays replays its workflows with it.
  void add_definition(const std::string& relative) {
    const std::filesystem::path source = source_path(relative);
    std::filesystem::copy_file(source, workflows_dir() + "/" + source.filename().string());
    engine::DefinitionPtr definition = compile_file(relative);
    definitions_[definition->document.name] = std::move(definition);
  }
  std::string workflows_dir() const { return dir_.path() + "/workflows"; }

  // The cluster's virtual time now (what every process's clock reads).
  std::int64_t virtual_now_ms() const {
    return time_origin_ms_ +
           static_cast<std::int64_t>(static_cast<double>(system_now_ms() - time_origin_ms_) * time_scale_);
  }
  // Real milliseconds that `virtual_ms` of cluster time take.
  std::int64_t real_ms(std::int64_t virtual_ms) const {
    return static_cast<std::int64_t>(static_cast<double>(virtual_ms) / time_scale_);
  }

  // Options every role shares; `instance` names the process in consumer groups and logs.
  std::vector<std::string> common_args(const std::string& instance) const {
    return {"--redis",          redis_url_,
            "--partitions",     std::to_string(partitions),
            "--workflows",      workflows_dir(),
            "--instance",       instance,
            "--time-scale",     std::to_string(time_scale_),
            "--time-origin-ms", std::to_string(time_origin_ms_)};
  }

  // `flightplan server` on a free port; returns once it listens.
  // Open (`--no-auth`) unless `extra` configures tokens: these tests are about crashes, not access.
  ServerHandle start_server(const std::string& instance, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = extra;
    if (std::find(args.begin(), args.end(), "--auth-file") == args.end()) args.push_back("--no-auth");
    return start_http_role("server", instance, args);
  }
  // `flightplan dev --redis URL` (HTTP, orchestrator, supervisor and workers in one process).
  ServerHandle start_dev(const std::string& instance, const std::vector<std::string>& extra = {}) {
    return start_http_role("dev", instance, extra);
  }

  // `flightplan worker` for the given queues; returns once its threads run.
  std::unique_ptr<ChildProcess> start_worker(const std::string& instance, const std::string& activities,
                                             const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{"worker"};
    for (const auto& arg : common_args(instance)) args.push_back(arg);
    args.insert(args.end(), {"--activities", activities});
    args.insert(args.end(), extra.begin(), extra.end());
    auto process =
        std::make_unique<ChildProcess>(flightplan_binary(), args, log_path_of(instance));
    log_paths_.push_back(process->log_path());
    BOOST_REQUIRE_MESSAGE(process->wait_for_log("\"msg\":\"workers started\"", 20'000),
                          "worker " + instance + " did not start:\n" + process->log_tail());
    return process;
  }

  // POST /api/v1/workflows; requires 201 Created.
  void submit(std::uint16_t port, const std::string& id, const nlohmann::json& input,
              const std::string& workflow = "delivery") {
    const nlohmann::json body{{"workflow", workflow}, {"id", id}, {"input", input}};
    const HttpResponse response = http_post(port, "/api/v1/workflows", body.dump());
    BOOST_REQUIRE_MESSAGE(response.status == 201,
                          "start " + id + ": " + std::to_string(response.status) + " " + response.body);
  }

  std::optional<engine::StoredWorkflow> load(const std::string& id) { return store_->load(id); }

  engine::History history(const std::string& id) {
    const auto stored = store_->load(id);
    BOOST_REQUIRE_MESSAGE(stored, "workflow " + id + " does not exist");
    return engine::History{id, stored->state.name, stored->state.version, stored->state.digest,
                           static_cast<engine::WorkflowStore&>(*store_).history(id)};
  }

  // Waits (polling Redis, at most `seconds_max`) until every workflow is final; returns their
  // states. On timeout the test fails with the stragglers' statuses and the process logs.
  std::map<std::string, engine::WorkflowState> await_final(const std::vector<std::string>& ids,
                                                           int seconds_max) {
    std::map<std::string, engine::WorkflowState> finals;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds_max);
    while (finals.size() < ids.size() && std::chrono::steady_clock::now() < deadline) {
      for (const std::string& id : ids) {
        if (finals.count(id) != 0) continue;
        try {
          if (auto stored = store_->load(id); stored && engine::is_final(stored->state.status))
            finals.emplace(id, std::move(stored->state));
        } catch (const engine::OperationError&) {
          break;  // Redis is restarting: look again next round
        }
      }
      if (finals.size() < ids.size()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (finals.size() < ids.size()) BOOST_FAIL(describe_stragglers(ids, finals, seconds_max));
    return finals;
  }

  // Replays the history through the engine with its definition (delivery.yaml or one added) and
  // checks the state matches.
  void check_replays(const std::string& id) {
    const engine::History history = this->history(id);
    const auto definition = definitions_.find(history.workflow_name);
    BOOST_REQUIRE_MESSAGE(definition != definitions_.end(), id + " runs " + history.workflow_name + ", not in the cluster");
    const engine::ReplayResult result = engine::replay(*definition->second, history);
    BOOST_TEST(result.ok(), id << " replay diverged: "
                               << (result.divergence ? result.divergence->message + " expected " +
                                                           result.divergence->expected.dump() + " actual " +
                                                           result.divergence->actual.dump()
                                                     : std::string()));
    BOOST_TEST(result.state.to_json() == load(id)->state.to_json(), id << ": replayed state differs");
  }

  std::string logs_tail() const {
    std::string out;
    for (const std::string& path : log_paths_) out += path + ":\n" + file_tail(path, 12);
    return out;
  }

 private:
  ServerHandle start_http_role(const std::string& role, const std::string& instance,
                               const std::vector<std::string>& extra) {
    std::vector<std::string> args{role};
    for (const auto& arg : common_args(instance)) args.push_back(arg);
    args.insert(args.end(), {"--port", "0"});
    args.insert(args.end(), extra.begin(), extra.end());
    ServerHandle handle;
    handle.process =
        std::make_unique<ChildProcess>(flightplan_binary(), args, log_path_of(instance));
    log_paths_.push_back(handle.process->log_path());
    const auto line = handle.process->wait_for_log("\"msg\":\"listening\"", 20'000);
    BOOST_REQUIRE_MESSAGE(line,
                          role + " " + instance + " did not start listening:\n" + handle.process->log_tail());
    const std::string url = nlohmann::json::parse(*line).at("url").get<std::string>();
    handle.port = static_cast<std::uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
    return handle;
  }

  // "<instance>.log", or "<instance>.2.log" ... when that instance ran before (a restart under the
  // same name), so a crashed process's log stays for the failure messages.
  std::string log_path_of(const std::string& instance) const {
    std::string path = dir_.path() + "/" + instance + ".log";
    for (int run = 2; std::find(log_paths_.begin(), log_paths_.end(), path) != log_paths_.end(); ++run)
      path = dir_.path() + "/" + instance + "." + std::to_string(run) + ".log";
    return path;
  }

  std::string describe_stragglers(const std::vector<std::string>& ids,
                                  const std::map<std::string, engine::WorkflowState>& finals,
                                  int seconds_max) {
    std::map<std::string, int> by_status;
    std::string examples;
    for (const std::string& id : ids) {
      if (finals.count(id) != 0) continue;
      std::string status = "missing";
      try {
        if (auto stored = store_->load(id)) status = std::string(engine::to_string(stored->state.status));
      } catch (const std::exception& e) {
        status = std::string("unreadable (") + e.what() + ")";
      }
      ++by_status[status];
      if (examples.size() < 300) examples += " " + id + "=" + status;
    }
    std::string text = std::to_string(ids.size() - finals.size()) + " of " + std::to_string(ids.size()) +
                       " workflows not final after " + std::to_string(seconds_max) + " s:";
    for (const auto& [status, count] : by_status) text += " " + status + "=" + std::to_string(count);
    return text + "\ne.g." + examples + "\n" + logs_tail();
  }

  TempDir dir_;
  std::string redis_url_;
  double time_scale_;
  std::int64_t time_origin_ms_;
  std::map<std::string, engine::DefinitionPtr> definitions_;  // by name
  std::unique_ptr<redis::RedisStore> store_;
  std::vector<std::string> log_paths_;  // of every process started, for failure messages
};

}  // namespace flightplan::testing

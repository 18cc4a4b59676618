#define BOOST_TEST_MODULE bench
// `flightplan bench` against a real `flightplan dev --store memory --port 0` on 127.0.0.1: the
// dev process is started from the built binary, its port read from its "listening" log line, and
// bench_command (api/cli/bench.cpp, compiled into this test) drives it.
#include <boost/test/unit_test.hpp>

#include "../../api/cli/bench.hpp"

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

using flightplan::cli::bench_command;
using flightplan::cli::BenchOptions;
using nlohmann::json;

namespace {

// A `flightplan dev --store memory` child process, stopped (SIGTERM, then SIGKILL) on destruction.
class DevServer {
 public:
  DevServer() {
    log_path_ = std::filesystem::temp_directory_path() /
                ("flightplan-bench-nettest-" + std::to_string(getpid()) + ".log");
    pid_ = fork();
    BOOST_REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      const int log = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (log < 0) _exit(127);
      dup2(log, STDERR_FILENO);
      dup2(log, STDOUT_FILENO);
      const std::string workflows = std::string(FLIGHTPLAN_SOURCE_DIR) + "/workflows";
      execl(FLIGHTPLAN_BINARY, FLIGHTPLAN_BINARY, "dev", "--store", "memory", "--port", "0", "--address",
            "127.0.0.1", "--workflows", workflows.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    url_ = wait_for_url();
  }
  ~DevServer() {
    if (pid_ > 0) stop();
    std::filesystem::remove(log_path_);
  }
  const std::string& url() const { return url_; }

 private:
  // Reads the log until the {"msg":"listening","url":...} line appears (at most 60 s: the
  // definitions compile first, and jq compilation is slow).
  std::string wait_for_url() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream in(log_path_);
      for (std::string line; std::getline(in, line);) {
        const json entry = json::parse(line, nullptr, false);
        if (entry.is_object() && entry.value("msg", "") == "listening")
          return entry.at("url").get<std::string>();
      }
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        BOOST_FAIL("flightplan dev exited before listening; its log: " << read_log());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    BOOST_FAIL("flightplan dev did not log 'listening' within 60 s; its log: " << read_log());
    return "";
  }

  void stop() {
    kill(pid_, SIGTERM);
    for (int i = 0; i < 300; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }

  std::string read_log() const {
    std::ifstream in(log_path_);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }

  std::filesystem::path log_path_;
  pid_t pid_ = -1;
  std::string url_;
};

DevServer& server() {
  static DevServer instance;
  return instance;
}

json run_bench(BenchOptions options, int expected_code) {
  std::ostringstream out;
  std::ostringstream err;
  const int code = bench_command(options, out, err);
  BOOST_TEST_INFO("stdout: " << out.str() << " stderr: " << err.str());
  BOOST_REQUIRE_EQUAL(code, expected_code);
  return json::parse(out.str());
}

}  // namespace

BOOST_AUTO_TEST_CASE(bench_5step_reports_twenty_completed_workflows) {
  BenchOptions options;
  options.url = server().url();
  options.workflow = "bench-5step";
  options.workflows = 20;
  options.concurrency = 4;
  options.warmup = 4;
  options.timeout_s = 60;
  const json result = run_bench(options, 0);
  BOOST_TEST(result.at("workflows") == 20);
  BOOST_TEST(result.at("ok") == 20);
  BOOST_TEST(result.at("failed") == 0);
  BOOST_TEST(result.at("statuses") == json({{"completed", 20}}));
  BOOST_TEST(result.at("warmup") == json({{"workflows", 4}, {"ok", 4}}));
  BOOST_TEST(result.at("requests").at("start") == 20);
  BOOST_TEST(result.at("requests").at("signal") == 0);
  // Long polls: each start waits for its workflow to close; nothing is polled.
  BOOST_TEST(result.at("requests").at("poll") == 0);
  const double seconds = result.at("seconds").get<double>();
  BOOST_TEST(seconds > 0.0);
  // Both figures are rounded to 3 decimals, and a run of 20 workflows may take only ~30 ms.
  BOOST_TEST(result.at("throughput_per_s").get<double>() * seconds == 20.0,
             boost::test_tools::tolerance(0.05));
  const json& latency = result.at("latency_ms");
  for (const char* key : {"p50", "p95", "p99", "max"}) BOOST_TEST(latency.at(key).get<double>() > 0.0, key);
  BOOST_TEST(latency.at("p50").get<double>() <= latency.at("p95").get<double>());
  BOOST_TEST(latency.at("p95").get<double>() <= latency.at("p99").get<double>());
  BOOST_TEST(latency.at("p99").get<double>() <= latency.at("max").get<double>());
  BOOST_TEST(latency.at("max").get<double>() <= seconds * 1000.0);
}

BOOST_AUTO_TEST_CASE(without_long_polls_the_status_is_polled) {
  BenchOptions options;
  options.url = server().url();
  options.workflows = 5;
  options.concurrency = 2;
  options.warmup = 0;
  options.wait_ms = 0;
  options.timeout_s = 60;
  const json result = run_bench(options, 0);
  BOOST_TEST(result.at("ok") == 5);
  BOOST_TEST(result.at("requests").at("poll").get<int>() >= 5);
  BOOST_TEST(result.at("wait_ms") == 0);
}

BOOST_AUTO_TEST_CASE(delivery_is_signalled_when_it_waits_for_the_drone) {
  // Fewer workflows than the simulated fleet's ten drones: a delivery never releases its drone.
  BenchOptions options;
  options.url = server().url();
  options.workflow = "delivery";
  options.workflows = 5;
  options.concurrency = 2;
  options.warmup = 0;
  options.timeout_s = 60;
  const json result = run_bench(options, 0);
  BOOST_TEST(result.at("ok") == 5);
  BOOST_TEST(result.at("requests").at("signal") == 5);
  BOOST_TEST(result.at("statuses") == json({{"completed", 5}}));
}

BOOST_AUTO_TEST_CASE(failures_and_deadlines_are_reported_not_hidden) {
  BenchOptions options;
  options.url = server().url();
  options.workflows = 3;
  options.concurrency = 2;
  options.warmup = 0;
  // No pickup: bench.scheduleDrone rejects its arguments, so the earlier steps are compensated.
  options.input = R"({"dropoff": "B"})";
  options.timeout_s = 30;
  const json result = run_bench(options, 1);
  BOOST_TEST(result.at("ok") == 0);
  BOOST_TEST(result.at("failed") == 3);
  BOOST_TEST(result.at("statuses") == json({{"compensated", 3}}));
  BOOST_TEST(result.at("first_error").get<std::string>().find("ended 'compensated'") != std::string::npos,
             result.at("first_error"));
}

BOOST_AUTO_TEST_CASE(a_refused_connection_fails_every_workflow_within_the_deadline) {
  BenchOptions options;
  options.url = "http://127.0.0.1:1";  // nothing listens on port 1
  options.workflows = 3;
  options.concurrency = 2;
  options.warmup = 0;
  options.timeout_s = 10;
  const auto started = std::chrono::steady_clock::now();
  const json result = run_bench(options, 1);
  const auto took_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started)
          .count();
  BOOST_TEST(took_ms < 10'000);
  BOOST_TEST(result.at("failed") == 3);
  BOOST_TEST(result.at("first_error").get<std::string>().find("request failed") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_server_that_never_answers_hits_the_request_timeout) {
  // A listening socket nobody accepts on: connections complete (backlog), requests go unanswered.
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  BOOST_REQUIRE(listener >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  BOOST_REQUIRE(bind(listener, reinterpret_cast<sockaddr*>(&address), length) == 0);
  BOOST_REQUIRE(listen(listener, 16) == 0);
  BOOST_REQUIRE(getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  BenchOptions options;
  options.url = "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  options.workflows = 2;
  options.concurrency = 2;
  options.warmup = 0;
  options.request_timeout_ms = 300;
  options.timeout_s = 10;
  const auto started = std::chrono::steady_clock::now();
  const json result = run_bench(options, 1);
  const auto took_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started)
          .count();
  close(listener);
  BOOST_TEST(took_ms < 3'000);
  BOOST_TEST(result.at("failed") == 2);
  BOOST_TEST(result.at("first_error").get<std::string>().find("timeout") != std::string::npos,
             result.at("first_error"));
}

BOOST_AUTO_TEST_CASE(bad_options_exit_with_2_and_a_reason) {
  const auto error_of = [](BenchOptions options) {
    std::ostringstream out;
    std::ostringstream err;
    BOOST_TEST(bench_command(options, out, err) == 2);
    BOOST_TEST(out.str().empty());
    return err.str();
  };
  BenchOptions options;
  options.workflow = "other";
  BOOST_TEST(error_of(options).find("--workflow must be bench-5step or delivery") != std::string::npos);
  options = BenchOptions{};
  options.url = "https://127.0.0.1:8080";
  BOOST_TEST(error_of(options).find("must start with http://") != std::string::npos);
  options = BenchOptions{};
  options.url = "http://127.0.0.1:8080/api";
  BOOST_TEST(error_of(options).find("no path") != std::string::npos);
  options = BenchOptions{};
  options.concurrency = 0;
  BOOST_TEST(error_of(options).find("--concurrency must be 1..") != std::string::npos);
  options = BenchOptions{};
  options.input = "[1]";
  BOOST_TEST(error_of(options).find("--input must be a JSON object") != std::string::npos);
  options = BenchOptions{};
  options.wait_ms = -1;
  BOOST_TEST(error_of(options).find("--wait-ms must be 0..600000") != std::string::npos);
}

#include "bench.hpp"

#include "api_client.hpp"

#include "flightplan/engine/duration.hpp"
#include "flightplan/engine/state.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace flightplan::cli {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int workflows_max = 10'000'000;
constexpr int concurrency_max = 10'000;
constexpr std::size_t error_text_max = 300;

json read_input_template(const std::string& argument, const std::string& workflow) {
  if (argument.empty()) {
    if (workflow == "bench-5step")
      return json{{"deliveryId", "d"}, {"seq", 0},        {"accountId", "acct-0"}, {"pickup", "A"},
                  {"dropoff", "B"},    {"size", "small"}, {"weightKg", 1.2}};
    return json{{"ownerId", "fabrikam-books"},
                {"pickupLocation", "47.6097,-122.3331"},
                {"dropOffLocation", "47.6740,-122.1215"},
                {"deadline", "2099-01-01T00:00:00Z"},
                {"packageInfo", {{"packageId", "p"}, {"size", "small"}, {"weight", 2.5}, {"tag", "bench"}}}};
  }
  std::string text = argument;
  if (argument.front() == '@') {
    std::ifstream in(argument.substr(1), std::ios::binary);
    if (!in) throw std::invalid_argument("cannot read --input file '" + argument.substr(1) + "'");
    std::ostringstream buffer;
    buffer << in.rdbuf();
    text = buffer.str();
  }
  json value = json::parse(text, nullptr, false);
  if (!value.is_object()) throw std::invalid_argument("--input must be a JSON object (text or @file)");
  return value;
}

// The input of workflow number `index`: the template with the fields that must be unique per
// workflow replaced (ids, as the peers' makeRequest does), so no two workflows share a record.
json input_for(const json& input_template, const std::string& workflow, const std::string& id, int index) {
  json input = input_template;
  input["deliveryId"] = id;
  if (workflow == "bench-5step") {
    input["seq"] = index;
    input["accountId"] = "acct-" + std::to_string(index % 1000);
  } else if (input.contains("packageInfo") && input["packageInfo"].is_object()) {
    input["packageInfo"]["packageId"] = "p-" + id;
  }
  return input;
}

std::string clip(std::string text) {
  if (text.size() > error_text_max) text.resize(error_text_max);
  return text;
}

// One keep-alive connection. Every request (connect included) has a deadline; a request on a
// reused connection that fails other than by timing out is retried once on a fresh connection,
// because the server may have closed the idle connection just as we wrote to it.
class Connection {
 public:
  Connection(asio::any_io_executor executor, Endpoint endpoint, milliseconds timeout)
      : resolver_(executor), stream_(executor), endpoint_(std::move(endpoint)), timeout_(timeout) {}

  asio::awaitable<bhttp::response<bhttp::string_body>> request(bhttp::verb verb, std::string target,
                                                               std::string body) {
    const bool reused = connected_;
    try {
      co_return co_await attempt(verb, target, body);
    } catch (const boost::system::system_error& e) {
      close();
      if (!reused || e.code() == beast::error::timeout) throw;
    }
    co_return co_await attempt(verb, target, body);
  }

 private:
  asio::awaitable<bhttp::response<bhttp::string_body>> attempt(bhttp::verb verb, const std::string& target,
                                                               const std::string& body) {
    if (!connected_) {
      stream_.expires_after(timeout_);
      const auto addresses =
          co_await resolver_.async_resolve(endpoint_.host, endpoint_.port, asio::use_awaitable);
      co_await stream_.async_connect(addresses, asio::use_awaitable);
      stream_.socket().set_option(asio::ip::tcp::no_delay(true));
      connected_ = true;
    }
    bhttp::request<bhttp::string_body> message{verb, target, 11};
    message.set(bhttp::field::host, endpoint_.host);
    message.keep_alive(true);
    if (verb == bhttp::verb::post) {
      message.set(bhttp::field::content_type, "application/json");
      message.body() = body;
      message.prepare_payload();
    }
    stream_.expires_after(timeout_);
    co_await bhttp::async_write(stream_, message, asio::use_awaitable);
    bhttp::response<bhttp::string_body> response;
    co_await bhttp::async_read(stream_, buffer_, response, asio::use_awaitable);
    if (!response.keep_alive()) close();
    co_return response;
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    stream_.close();
    buffer_.clear();
    connected_ = false;
  }

  asio::ip::tcp::resolver resolver_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  Endpoint endpoint_;
  milliseconds timeout_;
  bool connected_ = false;
};

struct Outcome {
  bool finished = false;  // reached a final status
  bool ok = false;        // finished "completed"
  double latency_ms = 0;
  std::string status;  // last status seen
  std::string error;   // why it did not complete, when it did not
};

struct RequestCounts {
  std::int64_t start = 0;
  std::int64_t poll = 0;
  std::int64_t signal = 0;
};

// One phase (warm-up or measured): `count` workflows shared by the clients through `next`.
struct Phase {
  std::string tag;
  int count = 0;
  int next = 0;
  std::vector<Outcome> outcomes;
  RequestCounts requests;
  int clients_live = 0;  // the last client to return cancels the backstop
  asio::steady_timer* backstop = nullptr;
};

struct Run {
  const BenchOptions& options;
  Endpoint endpoint;
  json input_template;
  std::string id_prefix;
  SteadyClock::time_point deadline;
  bool sends_delivered = false;  // the delivery workflow waits for its drop-off: confirm it
};

std::string status_of(const bhttp::response<bhttp::string_body>& response) {
  const json body = json::parse(response.body(), nullptr, false);
  if (!body.is_object() || !body.contains("status") || !body["status"].is_string()) return "";
  return body["status"].get<std::string>();
}

bool is_final_status(const std::string& status) {
  const auto parsed = engine::parse_workflow_status(status);
  return parsed && engine::is_final(*parsed);
}

std::string http_error(const char* what, const bhttp::response<bhttp::string_body>& response) {
  return clip(std::string(what) + ": HTTP " + std::to_string(response.result_int()) + " " + response.body());
}

double elapsed_ms(SteadyClock::time_point since) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - since).count();
}

// The recipient's confirmation (what POST /api/deliveries/{id}/confirmations sends): without
// confirmationRequired it completes a waiting delivery at once, as a hand-over before the drone's
// landing would. The drone's own `delivered` signal names its flight plan, which a client cannot know.
json confirmation_payload() {
  const auto now_ms =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch());
  return json{{"dateTime", engine::format_timestamp(now_ms.count())}, {"confirmationType", "bench"}};
}

// Sends the recipient's confirmation to delivery `path` (a workflow that is not yet waiting keeps
// it until it listens).
asio::awaitable<std::string> confirm(Connection& connection, Phase& phase, const std::string& path) {
  ++phase.requests.signal;
  const auto sent = co_await connection.request(bhttp::verb::post, path + "/signals/confirmation",
                                                confirmation_payload().dump());
  if (sent.result_int() != 202 && sent.result_int() != 409) co_return http_error("signal", sent);
  co_return "";
}

// Submits workflow `index` of `phase` and follows it until it is final or the run's deadline passes.
// With wait_ms > 0 (the default) the server answers when the workflow closes: bench-5step needs one
// request (POST ...?wait=), delivery three (start, confirmation, GET ...?wait=). With wait_ms 0 the
// status is polled every poll_ms, as a client without long polls would.
asio::awaitable<Outcome> run_one(Run& run, Phase& phase, Connection& connection, asio::steady_timer& timer,
                                 int index) {
  Outcome outcome;
  const std::string id = run.id_prefix + phase.tag + std::to_string(index);
  const std::string path = "/api/v1/workflows/" + id;
  // The wait asked for leaves a third of the request's timeout for the answer to come back.
  const int wait_ms = std::min(run.options.wait_ms, run.options.request_timeout_ms * 2 / 3);
  const std::string wait = wait_ms > 0 ? "?wait=" + std::to_string(wait_ms) : "";
  const json start{{"workflow", run.options.workflow},
                   {"id", id},
                   {"input", input_for(run.input_template, run.options.workflow, id, index)}};
  const auto started = SteadyClock::now();
  ++phase.requests.start;
  // A delivery must be confirmed before it can close: no waiting on its start. (Targets are named
  // locals: GCC 12 mishandles temporaries of a conditional expression inside a co_await.)
  const std::string start_target = run.sends_delivered ? std::string("/api/v1/workflows") : "/api/v1/workflows" + wait;
  const std::string poll_target = path + wait;
  auto response = co_await connection.request(bhttp::verb::post, start_target, start.dump());
  if (response.result_int() != 201 && response.result_int() != 200) {
    outcome.error = http_error("start", response);
    co_return outcome;
  }
  outcome.status = status_of(response);
  bool signalled = false;
  while (!is_final_status(outcome.status)) {
    if (SteadyClock::now() >= run.deadline) {
      outcome.error = "not final before the run deadline (last status '" + outcome.status + "')";
      co_return outcome;
    }
    if (run.sends_delivered && !signalled && (!wait.empty() || outcome.status == "waiting")) {
      signalled = true;
      outcome.error = co_await confirm(connection, phase, path);
      if (!outcome.error.empty()) co_return outcome;
    }
    if (wait.empty()) {
      timer.expires_after(milliseconds(run.options.poll_ms));
      co_await timer.async_wait(asio::use_awaitable);
    }
    ++phase.requests.poll;
    response = co_await connection.request(bhttp::verb::get, poll_target, "");
    if (response.result_int() != 200) {
      outcome.error = http_error("poll", response);
      co_return outcome;
    }
    outcome.status = status_of(response);
  }
  outcome.finished = true;
  outcome.ok = outcome.status == "completed";
  outcome.latency_ms = elapsed_ms(started);
  if (!outcome.ok) outcome.error = "ended '" + outcome.status + "': " + clip(response.body());
  co_return outcome;
}

// One client: takes the phase's next workflow until none is left.
asio::awaitable<void> client(Run& run, Phase& phase) {
  const auto executor = co_await asio::this_coro::executor;
  Connection connection(executor, run.endpoint, milliseconds(run.options.request_timeout_ms));
  asio::steady_timer timer(executor);
  for (int index = phase.next++; index < phase.count; index = phase.next++) {
    Outcome& outcome = phase.outcomes[static_cast<std::size_t>(index)];
    if (SteadyClock::now() >= run.deadline) {
      outcome.error = "not started before the run deadline";
      continue;
    }
    try {
      outcome = co_await run_one(run, phase, connection, timer, index);
    } catch (const boost::system::system_error& e) {
      outcome.error = clip("request failed: " + e.code().message());  // what() adds source locations
    } catch (const std::exception& e) {
      outcome.error = clip(std::string("request failed: ") + e.what());
    }
  }
  if (--phase.clients_live == 0 && phase.backstop != nullptr) phase.backstop->cancel();
}

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Runs one phase to its end with `concurrency` clients; returns its wall time in seconds.
double drive(Run& run, Phase& phase, int concurrency) {
  phase.outcomes.assign(static_cast<std::size_t>(phase.count), Outcome{});
  asio::io_context context(1);
  // Every request ends within its own timeout after the deadline; this is the backstop if not.
  asio::steady_timer backstop(context,
                              run.deadline + milliseconds(run.options.request_timeout_ms * 2 + 1000));
  backstop.async_wait([&context](const beast::error_code& error) {
    if (!error) context.stop();
  });
  phase.clients_live = std::min(concurrency, phase.count);
  phase.backstop = &backstop;
  const auto started = SteadyClock::now();
  for (int i = 0; i < phase.clients_live; ++i) asio::co_spawn(context, client(run, phase), asio::detached);
  if (phase.clients_live == 0) backstop.cancel();
  context.run();
  const double seconds = elapsed_ms(started) / 1000.0;
  phase.backstop = nullptr;
  for (Outcome& outcome : phase.outcomes)
    if (!outcome.finished && outcome.error.empty()) outcome.error = "abandoned at the run deadline backstop";
  return seconds;
}

// Nearest-rank percentile of sorted values (the peers' definition).
double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0.0;
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

double round3(double value) { return std::round(value * 1000.0) / 1000.0; }

json report(const Run& run, const Phase& warmup, const Phase& measured, double seconds, double cpu_s) {
  std::vector<double> latencies;
  std::map<std::string, int> statuses;
  std::string first_error;
  int ok = 0;
  for (const Outcome& outcome : measured.outcomes) {
    if (outcome.ok) {
      ++ok;
      latencies.push_back(outcome.latency_ms);
    }
    ++statuses[outcome.finished ? outcome.status : "unfinished"];
    if (first_error.empty() && !outcome.error.empty()) first_error = outcome.error;
  }
  std::sort(latencies.begin(), latencies.end());
  const int warm_ok = static_cast<int>(
      std::count_if(warmup.outcomes.begin(), warmup.outcomes.end(), [](const Outcome& o) { return o.ok; }));
  const double total = static_cast<double>(std::max(1, measured.count));
  json result{{"workflow", run.options.workflow},
              {"url", run.options.url},
              {"concurrency", run.options.concurrency},
              {"workflows", measured.count},
              {"ok", ok},
              {"failed", measured.count - ok},
              {"seconds", round3(seconds)},
              {"throughput_per_s", round3(seconds > 0 ? ok / seconds : 0.0)},
              {"latency_ms",
               {{"p50", round3(percentile(latencies, 50))},
                {"p95", round3(percentile(latencies, 95))},
                {"p99", round3(percentile(latencies, 99))},
                {"max", round3(latencies.empty() ? 0.0 : latencies.back())}}},
              {"warmup", {{"workflows", warmup.count}, {"ok", warm_ok}}},
              {"statuses", statuses},
              {"requests",
               {{"start", measured.requests.start},
                {"poll", measured.requests.poll},
                {"signal", measured.requests.signal},
                {"polls_per_workflow", round3(static_cast<double>(measured.requests.poll) / total)}}},
              {"poll_ms", run.options.poll_ms},
              {"wait_ms", run.options.wait_ms},
              {"client_cpu_percent", round3(seconds > 0 ? 100.0 * cpu_s / seconds : 0.0)}};
  if (!first_error.empty()) result["first_error"] = first_error;
  return result;
}

void check_options(const BenchOptions& options) {
  if (options.workflow != "bench-5step" && options.workflow != "delivery")
    throw std::invalid_argument("--workflow must be bench-5step or delivery, got '" + options.workflow + "'");
  if (options.workflows < 1 || options.workflows > workflows_max)
    throw std::invalid_argument("--workflows must be 1.." + std::to_string(workflows_max));
  if (options.concurrency < 1 || options.concurrency > concurrency_max)
    throw std::invalid_argument("--concurrency must be 1.." + std::to_string(concurrency_max));
  if (options.warmup < 0 || options.warmup > workflows_max)
    throw std::invalid_argument("--warmup must be 0.." + std::to_string(workflows_max));
  if (!(options.timeout_s > 0) || options.timeout_s > 86'400)
    throw std::invalid_argument("--timeout-s must be greater than 0 and at most 86400");
  if (options.poll_ms < 1 || options.poll_ms > 10'000)
    throw std::invalid_argument("--poll-ms must be 1..10000");
  if (options.request_timeout_ms < 1 || options.request_timeout_ms > 600'000)
    throw std::invalid_argument("--request-timeout-ms must be 1..600000");
  if (options.wait_ms < 0 || options.wait_ms > 600'000)
    throw std::invalid_argument("--wait-ms must be 0..600000 (0: poll instead)");
}

std::string default_id_prefix() {
  const auto now =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch());
  std::ostringstream prefix;
  prefix << "bench-" << std::hex << now.count() << "-";
  return prefix.str();
}

}  // namespace

int bench_command(const BenchOptions& options, std::ostream& out, std::ostream& err) {
  std::optional<Run> run;
  try {
    check_options(options);
    run.emplace(Run{options, parse_url(options.url), read_input_template(options.input, options.workflow),
                    options.id_prefix.empty() ? default_id_prefix() : options.id_prefix + "-",
                    SteadyClock::now() + milliseconds(static_cast<std::int64_t>(options.timeout_s * 1000)),
                    options.workflow == "delivery"});
  } catch (const std::exception& e) {
    err << "flightplan bench: " << e.what() << "\n";
    return 2;
  }
  Phase warmup;
  warmup.tag = "w";
  warmup.count = options.warmup;
  Phase measured;
  measured.count = options.workflows;
  drive(*run, warmup, options.concurrency);
  const double cpu_before = cpu_seconds();
  const double seconds = drive(*run, measured, options.concurrency);
  const json result = report(*run, warmup, measured, seconds, cpu_seconds() - cpu_before);
  out << result.dump() << "\n";
  return result["failed"].get<int>() == 0 ? 0 : 1;
}

}  // namespace flightplan::cli

#include "flightplan/metrics/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <array>
#include <mutex>
#include <set>

namespace flightplan::metrics {
namespace {

// An activity takes milliseconds to a few minutes (a heartbeating one); an HTTP request
// milliseconds to the 30 s handler deadline.
const prometheus::Histogram::BucketBoundaries activity_buckets_s = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                                    1,     2.5,  5,     10,   30,  60,   300};
const prometheus::Histogram::BucketBoundaries http_buckets_s = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                                0.1,   0.25,   0.5,   1,    2.5,   10};

// Any method a client invents would otherwise become a new time series.
std::string method_label(std::string_view method) {
  constexpr std::array<std::string_view, 7> known = {"GET",   "HEAD",   "POST",   "PUT",
                                                     "PATCH", "DELETE", "OPTIONS"};
  return std::find(known.begin(), known.end(), method) != known.end() ? std::string(method) : "other";
}

}  // namespace

struct Metrics::Impl {
  prometheus::Registry registry;
  prometheus::Family<prometheus::Counter>& started = prometheus::BuildCounter()
                                                         .Name("flightplan_workflows_started_total")
                                                         .Help("Workflows started by this process")
                                                         .Register(registry);
  prometheus::Family<prometheus::Counter>& finished =
      prometheus::BuildCounter()
          .Name("flightplan_workflows_finished_total")
          .Help("Workflows this process saw reach a final status")
          .Register(registry);
  prometheus::Family<prometheus::Histogram>& activity_duration =
      prometheus::BuildHistogram()
          .Name("flightplan_activity_duration_seconds")
          .Help("Time an activity took on a worker of this process")
          .Register(registry);
  prometheus::Family<prometheus::Counter>& activity_outcomes =
      prometheus::BuildCounter()
          .Name("flightplan_activity_outcomes_total")
          .Help("Activity executions by outcome: completed, failed, lost, skipped, fenced, unknown")
          .Register(registry);
  prometheus::Family<prometheus::Gauge>& queue_depth =
      prometheus::BuildGauge()
          .Name("flightplan_queue_depth")
          .Help("Activity tasks waiting or in flight per queue (whole store)")
          .Register(registry);
  prometheus::Gauge& input_backlog = prometheus::BuildGauge()
                                         .Name("flightplan_input_backlog")
                                         .Help("Inputs waiting for an orchestrator (whole store)")
                                         .Register(registry)
                                         .Add({});
  prometheus::Gauge& timer_lag = prometheus::BuildGauge()
                                     .Name("flightplan_timer_lag_seconds")
                                     .Help("How late the earliest unfired timer is; 0 when none is late")
                                     .Register(registry)
                                     .Add({});
  prometheus::Family<prometheus::Counter>& http_requests =
      prometheus::BuildCounter()
          .Name("flightplan_http_requests_total")
          .Help("HTTP responses sent, by route pattern, method and status")
          .Register(registry);
  prometheus::Family<prometheus::Histogram>& http_duration =
      prometheus::BuildHistogram()
          .Name("flightplan_http_request_duration_seconds")
          .Help("From a request's first byte to its response's last, by route pattern")
          .Register(registry);

  std::mutex queues_mutex;
  std::set<std::string> queues_seen;
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}

Metrics::~Metrics() = default;

void Metrics::workflow_started(std::string_view workflow) {
  impl_->started.Add({{"workflow", std::string(workflow)}}).Increment();
}

void Metrics::workflow_finished(std::string_view workflow, engine::WorkflowStatus status) {
  impl_->finished
      .Add({{"workflow", std::string(workflow)}, {"status", std::string(engine::to_string(status))}})
      .Increment();
}

void Metrics::activity_observed(std::string_view activity, std::string_view outcome, double seconds) {
  impl_->activity_duration.Add({{"activity", std::string(activity)}}, activity_buckets_s)
      .Observe(std::max(seconds, 0.0));
  impl_->activity_outcomes.Add({{"activity", std::string(activity)}, {"outcome", std::string(outcome)}})
      .Increment();
}

void Metrics::http_request(std::string_view route, std::string_view method, int status, double seconds) {
  const std::string route_label = route.empty() ? "unmatched" : std::string(route);
  impl_->http_requests
      .Add({{"route", route_label}, {"method", method_label(method)}, {"status", std::to_string(status)}})
      .Increment();
  impl_->http_duration.Add({{"route", route_label}}, http_buckets_s).Observe(std::max(seconds, 0.0));
}

void Metrics::refresh_from_store(engine::WorkflowStore& store, std::int64_t now_ms) {
  // Read everything first, so a store failure halfway leaves the gauges as they were.
  const std::map<std::string, std::int64_t> depths = store.queue_depths();
  const std::int64_t backlog = store.input_backlog();
  const std::optional<std::int64_t> earliest_due_ms = store.earliest_timer_due_ms();
  {
    std::lock_guard lock(impl_->queues_mutex);
    for (const auto& [queue, depth] : depths) impl_->queues_seen.insert(queue);
    for (const std::string& queue : impl_->queues_seen) {
      const auto it = depths.find(queue);
      impl_->queue_depth.Add({{"queue", queue}})
          .Set(it == depths.end() ? 0.0 : static_cast<double>(it->second));
    }
  }
  impl_->input_backlog.Set(static_cast<double>(backlog));
  const std::int64_t lag_ms = earliest_due_ms ? std::max<std::int64_t>(now_ms - *earliest_due_ms, 0) : 0;
  impl_->timer_lag.Set(static_cast<double>(lag_ms) / 1000.0);
}

std::string Metrics::serialize() const {
  return prometheus::TextSerializer().Serialize(impl_->registry.Collect());
}

}  // namespace flightplan::metrics

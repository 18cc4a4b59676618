#pragma once
// Prometheus metrics of one process (GET /metrics). Counters and histograms are fed by the roles as
// things happen; the gauges that describe the shared store (queue depths, input backlog, timer lag)
// are read from the store when the metrics are scraped. prometheus-cpp stays behind this header.
//
// Label values are bounded: workflow and activity names come from loaded definitions, routes are
// router patterns ("unmatched" when none matched), methods outside the usual few become "other".
// Thread-safe.
#include "flightplan/engine/state.hpp"
#include "flightplan/engine/store.hpp"
#include "flightplan/runtime/observer.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace flightplan::metrics {

class Metrics final : public runtime::RuntimeObserver {
 public:
  Metrics();
  ~Metrics() override;
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // flightplan_workflows_started_total{workflow}
  void workflow_started(std::string_view workflow) override;
  // flightplan_workflows_finished_total{workflow,status}
  void workflow_finished(std::string_view workflow, engine::WorkflowStatus status) override;
  // flightplan_activity_duration_seconds{activity} and flightplan_activity_outcomes_total{activity,outcome};
  // `outcome` is completed, failed, lost, skipped, fenced or unknown (runtime::TaskOutcome).
  void activity_observed(std::string_view activity, std::string_view outcome, double seconds) override;
  // flightplan_http_requests_total{route,method,status} and flightplan_http_request_duration_seconds{route}.
  void http_request(std::string_view route, std::string_view method, int status, double seconds);

  // flightplan_queue_depth{queue}, flightplan_input_backlog and flightplan_timer_lag_seconds from the
  // store at `now_ms`. A queue seen before and now absent reads 0. Throws what the store throws; the
  // gauges then keep their previous values.
  void refresh_from_store(engine::WorkflowStore& store, std::int64_t now_ms);

  // Every metric in the Prometheus text exposition format (version 0.0.4).
  std::string serialize() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

inline constexpr std::string_view metrics_content_type = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace flightplan::metrics

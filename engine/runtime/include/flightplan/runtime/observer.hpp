#pragma once
// What the runtime roles report as things happen, for metrics. The runtime knows only this
// interface; api/metrics implements it with prometheus-cpp. Every method may be called from any
// thread; the default does nothing.
#include "flightplan/engine/state.hpp"

#include <string_view>

namespace flightplan::runtime {

class RuntimeObserver {
 public:
  virtual ~RuntimeObserver() = default;
  virtual void workflow_started(std::string_view workflow) { (void)workflow; }
  virtual void workflow_finished(std::string_view workflow, engine::WorkflowStatus status) {
    (void)workflow;
    (void)status;
  }
  // `outcome` is runtime::to_string(TaskOutcome): completed, failed, lost (an injected hang dropped the
  // reply), skipped (the lease was gone), fenced (a cancelled attempt) or unknown (not reported).
  virtual void activity_observed(std::string_view activity, std::string_view outcome, double seconds) {
    (void)activity;
    (void)outcome;
    (void)seconds;
  }
};

}  // namespace flightplan::runtime

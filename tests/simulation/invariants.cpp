#include "invariants.hpp"

#include "flightplan/engine/replay.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <set>

namespace flightplan::simulation {

using nlohmann::json;

namespace {

constexpr std::size_t scan_all = 10'000;

std::map<std::string, json> records(activities::ServiceStore& services, const std::string& service,
                                    const std::string& prefix) {
  std::map<std::string, json> out;
  for (const auto& [id, value] : services.scan(service, prefix, scan_all)) out[id] = json::parse(value);
  return out;
}

const std::vector<std::string> final_events = {
    "workflow_completed", "workflow_faulted",   "workflow_compensated", "workflow_compensation_failed",
    "workflow_cancelled", "workflow_timed_out", "workflow_terminated"};

bool has_event(const std::vector<engine::Event>& events, const std::string& type) {
  return std::any_of(events.begin(), events.end(), [&](const engine::Event& e) { return e.type == type; });
}

struct Checker {
  engine::WorkflowStore& disk;
  activities::ServiceStore& services;
  std::vector<std::string> problems;

  void fail(const std::string& workflow, const std::string& what) { problems.push_back(workflow + ": " + what); }

  // May this workflow, by its own history, leave an effect standing? An operator ended it without
  // compensation, a compensation failed, or it stopped waiting for an attempt that could still act.
  static bool may_leave_effects(engine::WorkflowStatus status, const std::vector<engine::Event>& events) {
    return status == engine::WorkflowStatus::terminated || status == engine::WorkflowStatus::compensation_failed ||
           has_event(events, "abandoned_attempts_released") || has_event(events, "attempt_not_tracked");
  }

  void check_replay(const WorkflowExpectation& w, const engine::StoredWorkflow& stored,
                    const std::vector<engine::Event>& events) {
    engine::History history;
    history.workflow_id = stored.state.id;
    history.workflow_name = stored.state.name;
    history.workflow_version = stored.state.version;
    history.digest = stored.state.digest;
    history.events = events;
    const engine::ReplayResult replayed = engine::replay(*w.definition, history);
    if (!replayed.ok()) {
      fail(w.id, "replay diverged at event " + std::to_string(replayed.divergence->index) + ": " +
                     replayed.divergence->message + "; recorded " + replayed.divergence->expected.dump() +
                     ", replayed " + replayed.divergence->actual.dump());
      return;
    }
    if (replayed.state.to_json() != stored.state.to_json()) fail(w.id, "the stored state is not the fold of its history");
    if (stored.version != static_cast<std::int64_t>(events.size()))
      fail(w.id, "version " + std::to_string(stored.version) + " but " + std::to_string(events.size()) + " events");
  }

  void check_end(const WorkflowExpectation& w, const engine::StoredWorkflow& stored,
                 const std::vector<engine::Event>& events) {
    const std::string expected = "workflow_" + std::string(engine::to_string(stored.state.status));
    std::string last_final;
    for (const engine::Event& e : events)
      if (std::find(final_events.begin(), final_events.end(), e.type) != final_events.end()) last_final = e.type;
    if (last_final != expected) fail(w.id, "status " + std::string(engine::to_string(stored.state.status)) +
                                               " but the last final event is '" + last_final + "'");
    if (stored.state.status == engine::WorkflowStatus::completed) {
      bool undoing = false;
      for (const engine::Event& e : events) {
        if (e.type == "workflow_compensating") undoing = true;
        if (!undoing && (e.type == "workflow_cancel_requested" || e.type == "fault_received"))
          fail(w.id, "completed although a " + e.type + " was accepted at event " + std::to_string(e.seq));
      }
    }
  }

  // Compensations run newest first (the order of the completions they undo, reversed), each once.
  void check_compensations(const WorkflowExpectation& w, const std::vector<engine::Event>& events) {
    std::set<std::string> compensable;
    for (const engine::Task* task : w.definition->tasks)
      if (task->compensate) compensable.insert(task->reference);
    std::vector<std::string> completed;  // compensable completions, in order
    bool first_phase = true;
    for (std::size_t i = 0; i < events.size(); ++i) {
      const engine::Event& e = events[i];
      if (e.type == "task_completed" && compensable.count(e.reference) != 0) completed.push_back(e.reference);
      if (e.type != "workflow_compensating") continue;
      std::vector<std::string> tasks;
      for (const json& ref : e.data.value("tasks", json::array())) tasks.push_back(ref.get<std::string>());
      if (first_phase) {
        std::vector<std::string> newest_first(completed.rbegin(), completed.rend());
        if (tasks != newest_first)
          fail(w.id, "compensating " + json(tasks).dump() + " but the completions, newest first, are " +
                         json(newest_first).dump());
        first_phase = false;
      }
      // The compensations of this phase, until the workflow ends or is retried.
      std::vector<std::string> started;
      std::size_t late = 0;
      for (std::size_t j = i + 1; j < events.size(); ++j) {
        const engine::Event& f = events[j];
        if (f.type == "workflow_retried" ||
            std::find(final_events.begin(), final_events.end(), f.type) != final_events.end())
          break;
        if (f.type == "compensation_started") started.push_back(f.reference);
        if (f.type == "activity_completed_late") ++late;
      }
      if (started.size() > tasks.size() + late)
        fail(w.id, std::to_string(started.size()) + " compensations started for " + std::to_string(tasks.size()) +
                       " completed tasks and " + std::to_string(late) + " late results");
      // The planned ones appear in the planned order (late results may come first).
      std::size_t next = 0;
      for (const std::string& ref : started) {
        auto at = std::find(tasks.begin() + static_cast<std::ptrdiff_t>(next), tasks.end(), ref);
        if (at != tasks.end()) next = static_cast<std::size_t>(at - tasks.begin()) + 1;
      }
      std::map<std::string, int> per_ref;
      for (const std::string& ref : started) ++per_ref[ref];
      std::map<std::string, int> allowed;
      for (const std::string& ref : tasks) ++allowed[ref];
      for (const auto& [ref, count] : per_ref)
        if (count > allowed[ref] + static_cast<int>(late))
          fail(w.id, "compensation of " + ref + " ran " + std::to_string(count) + " times");
    }
  }

  // Every result the workflow saw is the outcome the service recorded under the attempt's key: the
  // effect happened once, whatever the redeliveries.
  void check_effects(const WorkflowExpectation& w, const std::vector<engine::Event>& events) {
    std::map<std::int64_t, std::pair<std::string, std::string>> scheduled;  // activity id -> (name, key)
    for (const engine::Event& e : events)
      if (e.type == "activity_scheduled")
        scheduled[e.data.at("activity_id").get<std::int64_t>()] = {e.data.at("activity").get<std::string>(),
                                                                   e.data.at("idempotency_key").get<std::string>()};
    for (const engine::Event& e : events) {
      if (e.type != "activity_completed" && e.type != "activity_completed_late") continue;
      const auto it = scheduled.find(e.data.at("activity_id").get<std::int64_t>());
      if (it == scheduled.end()) {
        fail(w.id, e.type + " of an activity never scheduled (event " + std::to_string(e.seq) + ")");
        continue;
      }
      const auto& [name, key] = it->second;
      const std::string service = engine::queue_of(name);
      if (service == "bench") continue;  // stateless: nothing recorded
      const std::optional<std::string> recorded = services.recorded(service, key);
      if (!recorded) {
        fail(w.id, name + " " + key + ": the workflow saw a result the service never recorded");
        continue;
      }
      const json outcome = json::parse(*recorded);
      if (!outcome.value("ok", false) || outcome.at("output") != e.data.at("result"))
        fail(w.id, name + " " + key + ": the workflow saw " + e.data.at("result").dump() +
                       " but the service recorded " + outcome.dump());
    }
  }
};

}  // namespace

std::string fleet_problem_now(activities::ServiceStore& services) {
  std::map<std::string, std::string> drone_of;  // delivery -> drone
  for (const auto& [id, record] : records(services, "drone", "drone:")) {
    const std::string delivery = record.at("deliveryId").get<std::string>();
    const auto [it, inserted] = drone_of.emplace(delivery, id);
    if (!inserted) return "delivery " + delivery + " holds two drones: " + it->second + " and " + id;
  }
  return "";
}

std::vector<std::string> check_invariants(engine::WorkflowStore& disk, activities::ServiceStore& services,
                                          const std::vector<WorkflowExpectation>& workflows) {
  Checker checker{disk, services, {}};
  std::map<std::string, const WorkflowExpectation*> by_id;
  std::map<std::string, engine::WorkflowStatus> status_of;
  std::set<std::string> may_leave;
  // Each transport.book call (one idempotency key, however many attempts) may book at most once; an
  // operator's retry of the step is a new call with a new key.
  std::map<std::string, std::set<std::string>> booking_calls;  // delivery -> keys
  for (const WorkflowExpectation& w : workflows) {
    by_id[w.id] = &w;
    const std::optional<engine::StoredWorkflow> stored = disk.load(w.id);
    if (!stored) {
      checker.fail(w.id, "was never started (its start request never got through)");
      continue;
    }
    const std::vector<engine::Event> events = disk.history(w.id);
    status_of[w.id] = stored->state.status;
    for (const engine::Event& event : events)
      if (event.type == "activity_scheduled" && event.data.value("activity", "") == "transport.book")
        booking_calls[w.id].insert(event.data.value("idempotency_key", ""));
    if (!engine::is_final(stored->state.status)) {
      checker.fail(w.id, "did not end: still " + std::string(engine::to_string(stored->state.status)));
      continue;
    }
    if (Checker::may_leave_effects(stored->state.status, events)) may_leave.insert(w.id);
    checker.check_replay(w, *stored, events);
    checker.check_end(w, *stored, events);
    checker.check_compensations(w, events);
    checker.check_effects(w, events);
  }
  // The services' own records: nothing left standing that the workflows did not account for.
  for (const auto& [id, record] : records(services, "drone", "drone:")) {
    const std::string delivery = record.at("deliveryId").get<std::string>();
    if (may_leave.count(delivery) == 0)
      checker.fail(delivery, id + " is still assigned to it at the end (status " +
                                 (status_of.count(delivery) ? std::string(engine::to_string(status_of[delivery])) : "?") + ")");
  }
  std::map<std::string, std::vector<std::string>> bookings_of;  // delivery -> statuses
  for (const auto& [id, record] : records(services, "transport", "booking:"))
    bookings_of[record.at("deliveryId").get<std::string>()].push_back(record.at("status").get<std::string>());
  for (const auto& [delivery, statuses] : bookings_of) {
    if (by_id.count(delivery) == 0) {
      checker.fail(delivery, "a booking for a delivery nobody asked for");
      continue;
    }
    const long booked = std::count(statuses.begin(), statuses.end(), std::string("booked"));
    const bool completed = status_of[delivery] == engine::WorkflowStatus::completed;
    if (booked > (completed ? 1 : 0) && may_leave.count(delivery) == 0)
      checker.fail(delivery, std::to_string(booked) + " bookings still booked at the end (status " +
                                 std::string(engine::to_string(status_of[delivery])) + ")");
    if (statuses.size() > booking_calls[delivery].size())
      checker.fail(delivery, "the carrier was booked " + std::to_string(statuses.size()) + " times by " +
                                 std::to_string(booking_calls[delivery].size()) + " transport.book calls");
  }
  for (const auto& [id, w] : by_id) {
    if (w->kind != "carrier" || status_of.count(id) == 0) continue;
    if (status_of[id] == engine::WorkflowStatus::completed && bookings_of[id].empty())
      checker.fail(id, "completed without a booking");
  }
  if (const std::int64_t backlog = disk.input_backlog(); backlog != 0)
    checker.problems.push_back(std::to_string(backlog) + " inputs are still queued at the end");
  for (const auto& [queue, depth] : disk.queue_depths())
    if (depth != 0) checker.problems.push_back(std::to_string(depth) + " " + queue + " tasks are still queued at the end");
  if (const auto due = disk.earliest_timer_due_ms())
    checker.problems.push_back("a timer or delayed input is still set at the end (due " + std::to_string(*due) + ")");
  for (const engine::DeadLetter& letter : disk.list_dead_letters(1000))
    if (letter.reason.empty()) checker.problems.push_back("a dead letter without a reason: " + letter.to_json().dump());
  return checker.problems;
}

}  // namespace flightplan::simulation

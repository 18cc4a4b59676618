#include "flightplan/engine/replay.hpp"

#include <algorithm>

namespace flightplan::engine {

using nlohmann::json;

json History::to_json() const {
  json events_json = json::array();
  for (const Event& event : events) events_json.push_back(event.to_json());
  return json{{"format", "flightplan.history/v1"},
              {"workflow", {{"id", workflow_id}, {"name", workflow_name}, {"version", workflow_version},
                            {"digest", digest}}},
              {"events", std::move(events_json)}};
}

History History::from_json(const json& value) {
  auto invalid = [](const std::string& what) {
    return OperationError(ErrorCategory::invalid_argument, "invalid history: " + what);
  };
  if (!value.is_object()) throw invalid("expected a JSON object with 'workflow' and 'events'");
  if (value.value("format", "") != "flightplan.history/v1")
    throw invalid("'format' must be \"flightplan.history/v1\"");
  const json& workflow = value.value("workflow", json());
  if (!workflow.is_object() || !workflow.contains("id") || !workflow["id"].is_string())
    throw invalid("'workflow.id' must be a string");
  History history;
  history.workflow_id = workflow["id"].get<std::string>();
  history.workflow_name = workflow.value("name", "");
  history.workflow_version = workflow.value("version", "");
  history.digest = workflow.value("digest", "");
  const json& events = value.value("events", json());
  if (!events.is_array()) throw invalid("'events' must be an array");
  for (std::size_t i = 0; i < events.size(); ++i) {
    try {
      history.events.push_back(Event::from_json(events[i]));
    } catch (const json::exception& e) {
      throw invalid("event " + std::to_string(i) + ": " + e.what());
    }
    if (history.events.back().seq != static_cast<std::int64_t>(i + 1))
      throw invalid("event " + std::to_string(i) + " has seq " + std::to_string(history.events.back().seq) +
                    ", expected " + std::to_string(i + 1));
  }
  return history;
}

ReplayResult replay(const Definition& definition, const History& history, const EngineLimits& limits,
                    EvaluationControl* control) {
  ReplayResult result;
  std::vector<Event> produced;
  // Feed back exactly the inputs the history recorded, in order. Each accepted input's events are
  // compared with the recorded ones at the same positions.
  for (std::size_t index = 0; index < history.events.size(); ++index) {
    const Event& recorded = history.events[index];
    // An input event an earlier input produced is not fed back: it was compared already. (A resume
    // applies the inputs held during a pause, so their records follow workflow_resumed in its step.)
    if (!is_input_event(recorded.type) || index < produced.size()) continue;
    const std::size_t at = produced.size();
    if (at != index) {
      // The previous input produced fewer events than were recorded before this one.
      result.divergence = Divergence{at, history.events[at].to_json(), nullptr,
                                     "replay produced fewer events than recorded before input event " +
                                         std::to_string(recorded.seq)};
      return result;
    }
    Step step = apply(definition, result.state, input_from_event(recorded, history.workflow_id), limits, control);
    for (Event& event : step.events) produced.push_back(std::move(event));
    const std::size_t limit = std::min(produced.size(), history.events.size());
    for (std::size_t i = at; i < limit; ++i) {
      if (produced[i] == history.events[i]) continue;
      result.divergence = Divergence{i, history.events[i].to_json(), produced[i].to_json(),
                                     "event " + std::to_string(i + 1) + " differs"};
      return result;
    }
    if (produced.size() > history.events.size()) {
      const std::size_t i = history.events.size();
      result.divergence =
          Divergence{i, nullptr, produced[i].to_json(), "replay produced more events than were recorded"};
      return result;
    }
  }
  if (produced.size() < history.events.size()) {
    const std::size_t i = produced.size();
    result.divergence = Divergence{i, history.events[i].to_json(), nullptr,
                                   "replay produced fewer events than were recorded"};
  }
  return result;
}

WorkflowState fold(const Definition& definition, const History& history, const EngineLimits& limits,
                   EvaluationControl* control) {
  ReplayResult result = replay(definition, history, limits, control);
  if (!result.ok())
    throw OperationError(ErrorCategory::conflict, "history does not replay: " + result.divergence->message);
  return std::move(result.state);
}

}  // namespace flightplan::engine

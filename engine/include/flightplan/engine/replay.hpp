#pragma once
// Deterministic replay: re-run the inputs recorded in a history through the engine and compare every
// produced event with the recorded one. Used by `flightplan replay` and by every workflow test.
#include "flightplan/engine/definition.hpp"
#include "flightplan/engine/machine.hpp"
#include "flightplan/engine/state.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace flightplan::engine {

// The file format of a history (what `flightplan run --history-out` writes, the API exports and
// `flightplan replay` reads).
struct History {
  std::string workflow_id;
  std::string workflow_name;
  std::string workflow_version;
  std::string digest;
  std::vector<Event> events;

  nlohmann::json to_json() const;
  // Throws OperationError(invalid_argument) naming what is wrong.
  static History from_json(const nlohmann::json& value);
};

struct Divergence {
  std::size_t index = 0;  // position in the event list (0-based)
  nlohmann::json expected;  // the recorded event, null when the replay produced more events
  nlohmann::json actual;    // the produced event, null when the replay produced fewer
  std::string message;
};

struct ReplayResult {
  WorkflowState state;  // the state the replay rebuilt
  std::optional<Divergence> divergence;
  bool ok() const { return !divergence; }
};

// `control` is passed to every apply of the replay: a history whose step faulted on its time budget
// replays identically only when the same budget stops the same expression again (docs/engine.md,
// "Bounded expressions").
ReplayResult replay(const Definition& definition, const History& history, const EngineLimits& limits = {},
                    EvaluationControl* control = nullptr);

// Rebuilds the state from a history without comparing (the fold). Throws on divergence.
WorkflowState fold(const Definition& definition, const History& history, const EngineLimits& limits = {},
                   EvaluationControl* control = nullptr);

}  // namespace flightplan::engine

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

ReplayResult replay(const Definition& definition, const History& history, const EngineLimits& limits = {});

// Rebuilds the state from a history without comparing (the fold). Throws on divergence.
WorkflowState fold(const Definition& definition, const History& history, const EngineLimits& limits = {});

}  // namespace flightplan::engine

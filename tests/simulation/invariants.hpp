#pragma once
// What must hold after every simulated run (and, for the fleet, after every step). Each check reads
// the disk (the memory stores), never a process's memory: the services' own records, not the
// workflows' histories, tell whether an effect happened once.
#include "flightplan/activities/service_store.hpp"
#include "flightplan/engine/definition.hpp"
#include "flightplan/engine/store.hpp"

#include <string>
#include <vector>

namespace flightplan::simulation {

struct WorkflowExpectation {
  std::string id;
  std::string kind;  // "drone", "carrier" or "bench"
  engine::DefinitionPtr definition;
};

// A drone serving two deliveries, or a delivery holding two drones: "" when the fleet is sound.
std::string fleet_problem_now(activities::ServiceStore& services);

// Every workflow ended, its state is the fold of its history and replays identically, its final
// status matches its history, its compensations ran newest first and each once, every effect the
// workflow saw is the one the service recorded under its idempotency key, the services hold no
// effect the workflow did not account for, every drone is back (but for workflows that, by their
// own history, may leave one), no input is left in the queue and every dead letter says why.
std::vector<std::string> check_invariants(engine::WorkflowStore& disk, activities::ServiceStore& services,
                                          const std::vector<WorkflowExpectation>& workflows);

}  // namespace flightplan::simulation

#pragma once
// The failure kinds the simulated services report, in one place so every activity uses the same
// problem types, statuses and retry flags.
#include "flightplan/activities/activity.hpp"

#include <string>
#include <string_view>

namespace flightplan::activities::detail {

inline constexpr std::string_view validation_type =
    "https://serverlessworkflow.io/spec/1.0.0/errors/validation";
inline constexpr std::string_view not_found_type = "https://flightplan.dev/errors/not-found";
inline constexpr std::string_view conflict_type = "https://flightplan.dev/errors/conflict";
inline constexpr std::string_view unavailable_type = "https://flightplan.dev/errors/unavailable";
inline constexpr std::string_view internal_type = "https://flightplan.dev/errors/internal";
inline constexpr std::string_view cancelled_type = "https://flightplan.dev/errors/cancelled";

// Bad input: retrying the same arguments can never succeed.
inline ActivityResult validation_failure(std::string detail) {
  return ActivityResult::fail(std::string(validation_type), 400, "Invalid argument", std::move(detail),
                              false);
}

inline ActivityResult not_found(std::string detail) {
  return ActivityResult::fail(std::string(not_found_type), 404, "Not found", std::move(detail), false);
}

// The request contradicts the service's current state (e.g. cancelling a completed delivery).
inline ActivityResult conflict(std::string detail) {
  return ActivityResult::fail(std::string(conflict_type), 409, "Conflict", std::move(detail), false);
}

// A transient shortage (no free drone): a later attempt may succeed. A full store is not transient.
inline ActivityResult unavailable(std::string detail, bool retryable = true) {
  return ActivityResult::fail(std::string(unavailable_type), 503, "Service unavailable", std::move(detail),
                              retryable);
}

// What a fenced idempotency key answers (Activity::cancel): the activity was cancelled before it
// acted, and never will. 499 is "client closed request": the caller gave up, not the service.
inline ActivityResult cancelled_failure(std::string detail) {
  return ActivityResult::fail(std::string(cancelled_type), 499, "Cancelled", std::move(detail), false);
}

inline ActivityResult internal_failure(std::string detail) {
  return ActivityResult::fail(std::string(internal_type), 500, "Internal error", std::move(detail), false);
}

}  // namespace flightplan::activities::detail

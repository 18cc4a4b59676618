#pragma once
// Errors of two kinds live here:
//  * WorkflowError: an RFC 7807 problem raised *inside* a workflow (by `raise`, a failed activity, a
//    timeout, a bad expression). It is data: it is recorded in history and caught by `try`.
//  * OperationError: an operating error of flightplan itself, with a category that one function maps
//    to an HTTP status (later, in api/). Retry decisions look at the category, never at message text.
#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <string_view>

namespace flightplan::engine {

enum class ErrorCategory { invalid_argument, not_found, conflict, unavailable, timeout, internal };

std::string_view to_string(ErrorCategory category);

class OperationError : public std::runtime_error {
 public:
  OperationError(ErrorCategory category, const std::string& message)
      : std::runtime_error(message), category_(category) {}
  ErrorCategory category() const { return category_; }

 private:
  ErrorCategory category_;
};

// The standard error types of the Serverless Workflow DSL 1.0.
namespace error_types {
inline constexpr std::string_view configuration = "https://serverlessworkflow.io/spec/1.0.0/errors/configuration";
inline constexpr std::string_view validation = "https://serverlessworkflow.io/spec/1.0.0/errors/validation";
inline constexpr std::string_view expression = "https://serverlessworkflow.io/spec/1.0.0/errors/expression";
inline constexpr std::string_view authentication = "https://serverlessworkflow.io/spec/1.0.0/errors/authentication";
inline constexpr std::string_view authorization = "https://serverlessworkflow.io/spec/1.0.0/errors/authorization";
inline constexpr std::string_view timeout = "https://serverlessworkflow.io/spec/1.0.0/errors/timeout";
inline constexpr std::string_view communication = "https://serverlessworkflow.io/spec/1.0.0/errors/communication";
inline constexpr std::string_view runtime = "https://serverlessworkflow.io/spec/1.0.0/errors/runtime";
// flightplan's own: the workflow was cancelled by a caller.
inline constexpr std::string_view cancelled = "https://flightplan.dev/errors/cancelled";
}  // namespace error_types

// An RFC 7807 problem as the DSL defines it. `type` and `status` are always set.
struct WorkflowError {
  std::string type;
  int status = 500;
  std::string title;
  std::string detail;
  std::string instance;  // JSON pointer of the task the error originates from

  nlohmann::json to_json() const;
  static WorkflowError from_json(const nlohmann::json& value);
  friend bool operator==(const WorkflowError&, const WorkflowError&) = default;
};

WorkflowError make_error(std::string_view type, int status, std::string title, std::string detail = {},
                         std::string instance = {});

}  // namespace flightplan::engine

#pragma once
// Turns a SourceDocument into a validated Definition, or reports every problem with its position.
#include "flightplan/engine/definition.hpp"
#include "flightplan/engine/source.hpp"

#include <cstddef>
#include <functional>
#include <string_view>

namespace flightplan::engine {

struct CompileOptions {
  // Answers whether an activity name is registered. When empty, any name of the form
  // "<queue>.<operation>" is accepted.
  std::function<bool(std::string_view)> is_known_activity;
  std::size_t tasks_max = 10'000;      // tasks in one definition
  std::size_t depth_max = 32;          // nesting of task lists
  std::size_t expression_bytes_max = 16 * 1024;
};

// Validates and compiles. Throws DefinitionError with all diagnostics when the document is invalid.
DefinitionPtr compile_definition(const SourceDocument& document, const CompileOptions& options);

}  // namespace flightplan::engine

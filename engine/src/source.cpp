#include "flightplan/engine/source.hpp"

#include <utility>

namespace flightplan::engine {

namespace {

// what() of a DefinitionError: every diagnostic on its own line, so a CLI can print it unchanged.
std::string join_diagnostics(const std::vector<Diagnostic>& diagnostics) {
  std::string joined;
  for (const Diagnostic& diagnostic : diagnostics) {
    if (!joined.empty()) joined += '\n';
    joined += diagnostic.to_string();
  }
  return joined;
}

}  // namespace

SourcePosition SourceDocument::position_of(const std::string& pointer) const {
  // Walk up the pointer one "/segment" at a time. Nodes created by defaults or by a validator that
  // looks for a missing key have no position of their own, but their parent does.
  std::string current = pointer;
  while (true) {
    if (auto found = positions.find(current); found != positions.end()) return found->second;
    if (current.empty()) break;
    const std::size_t slash = current.rfind('/');
    current.resize(slash == std::string::npos ? 0 : slash);
  }
  // The root always exists in a document, so its start is the best answer when nothing is recorded.
  return SourcePosition{1, 1};
}

std::string Diagnostic::to_string() const {
  std::string text = file;
  if (position.line > 0) {
    text += ':' + std::to_string(position.line);
    if (position.column > 0) text += ':' + std::to_string(position.column);
  }
  text += ": ";
  text += message;
  return text;
}

DefinitionError::DefinitionError(std::vector<Diagnostic> diagnostics)
    : std::runtime_error(join_diagnostics(diagnostics)), diagnostics_(std::move(diagnostics)) {}

}  // namespace flightplan::engine

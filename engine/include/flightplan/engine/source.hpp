#pragma once
// A workflow document as the engine sees it: a JSON tree plus where each node came from in the
// source file. The YAML adapter produces it; the engine never sees YAML.
#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace flightplan::engine {

struct SourcePosition {
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown
};

struct SourceDocument {
  std::string file;    // the name errors are reported under, e.g. "workflows/delivery.yaml"
  nlohmann::json root;
  // JSON pointer (RFC 6901, "" for the root) -> position. For a mapping entry the position is that
  // of its key, so "unknown key" and "wrong type" messages point at the line a user reads.
  std::unordered_map<std::string, SourcePosition> positions;
  std::string text;    // the original text (kept with stored definitions; hashed for identity)

  // The position of `pointer`, or of its nearest ancestor that has one.
  SourcePosition position_of(const std::string& pointer) const;
};

struct Diagnostic {
  std::string file;
  SourcePosition position;
  std::string pointer;  // JSON pointer of the offending node
  std::string message;

  // "FILE:LINE:COLUMN: message"
  std::string to_string() const;
};

// Thrown when a document cannot be turned into a definition. Holds every problem found, in
// document order, not just the first.
class DefinitionError : public std::runtime_error {
 public:
  explicit DefinitionError(std::vector<Diagnostic> diagnostics);
  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }

 private:
  std::vector<Diagnostic> diagnostics_;
};

}  // namespace flightplan::engine

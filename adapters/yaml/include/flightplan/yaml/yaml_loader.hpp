#pragma once
// YAML text -> engine::SourceDocument (JSON tree + positions). The only code that touches yaml-cpp.
#include "flightplan/engine/source.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace flightplan::yaml {

struct LoadLimits {
  std::size_t bytes_max = 1024 * 1024;  // a definition larger than 1 MiB is rejected
  std::size_t depth_max = 64;           // nesting of mappings/sequences
  std::size_t nodes_max = 200'000;      // guards against alias ("billion laughs") expansion
};

// Parses `text` as one YAML document. Scalars keep YAML 1.2 core-schema types: quoted scalars are
// strings; plain `true/false`, `null/~`/empty, integers and floats become JSON booleans, null and
// numbers; everything else is a string. Throws engine::DefinitionError with FILE:LINE:COLUMN
// diagnostics on syntax errors, duplicate keys, non-string keys, limits exceeded or an empty document.
engine::SourceDocument load_yaml(std::string_view text, const std::string& file, const LoadLimits& limits = {});

// Reads and parses a file; a missing or unreadable file is a DefinitionError naming it.
engine::SourceDocument load_yaml_file(const std::string& path, const LoadLimits& limits = {});

}  // namespace flightplan::yaml

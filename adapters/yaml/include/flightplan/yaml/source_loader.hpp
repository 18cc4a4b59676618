#pragma once
// The runtime's SourceLoader port served by this adapter: definitions are YAML.
#include "flightplan/runtime/definitions.hpp"
#include "flightplan/yaml/yaml_loader.hpp"

namespace flightplan::yaml {

inline runtime::SourceLoader source_loader() {
  return runtime::SourceLoader{
      [](std::string_view text, const std::string& file) { return load_yaml(text, file); },
      [](const std::string& path) { return load_yaml_file(path); }};
}

}  // namespace flightplan::yaml

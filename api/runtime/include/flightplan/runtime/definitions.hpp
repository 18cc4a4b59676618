#pragma once
// The definitions a process can run, by name and version. Thread-safe; definitions are immutable
// and shared.
#include "flightplan/engine/compiler.hpp"
#include "flightplan/engine/definition.hpp"

#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace flightplan::runtime {

class DefinitionRegistry {
 public:
  // Adds a definition; a second one with the same name and version replaces nothing and is a
  // conflict unless its text is identical.
  void add(engine::DefinitionPtr definition);
  // `version` empty: the one added last for that name. Throws OperationError(not_found) naming
  // what is known.
  engine::DefinitionPtr find(const std::string& name, const std::string& version = "") const;
  std::vector<engine::DefinitionPtr> list() const;
  // Loads and compiles every *.yaml file of `directory`; throws DefinitionError with every problem.
  void load_directory(const std::string& directory, const engine::CompileOptions& options);

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::map<std::string, engine::DefinitionPtr>> by_name_;  // name -> version ->
  std::map<std::string, std::string> latest_;                                    // name -> version
};

}  // namespace flightplan::runtime

#include "flightplan/runtime/definitions.hpp"

#include "flightplan/engine/error.hpp"
#include "flightplan/yaml/yaml_loader.hpp"

#include <algorithm>
#include <filesystem>

namespace flightplan::runtime {

using engine::ErrorCategory;
using engine::OperationError;

void DefinitionRegistry::add(engine::DefinitionPtr definition) {
  std::lock_guard lock(mutex_);
  const auto& doc = definition->document;
  auto& versions = by_name_[doc.name];
  if (auto it = versions.find(doc.version); it != versions.end()) {
    if (it->second->digest == definition->digest) return;
    throw OperationError(ErrorCategory::conflict, "workflow '" + doc.name + "' version " + doc.version +
                                                      " exists with a different definition; give it a new version");
  }
  versions.emplace(doc.version, definition);
  latest_[doc.name] = doc.version;
}

engine::DefinitionPtr DefinitionRegistry::find(const std::string& name, const std::string& version) const {
  std::lock_guard lock(mutex_);
  auto it = by_name_.find(name);
  if (it == by_name_.end()) {
    std::string known;
    for (const auto& [n, versions] : by_name_) known += (known.empty() ? "" : ", ") + n;
    throw OperationError(ErrorCategory::not_found,
                         "no workflow definition named '" + name + "' (known: " + (known.empty() ? "none" : known) + ")");
  }
  const std::string& wanted = version.empty() ? latest_.at(name) : version;
  auto found = it->second.find(wanted);
  if (found == it->second.end())
    throw OperationError(ErrorCategory::not_found, "workflow '" + name + "' has no version '" + wanted + "'");
  return found->second;
}

std::vector<engine::DefinitionPtr> DefinitionRegistry::list() const {
  std::lock_guard lock(mutex_);
  std::vector<engine::DefinitionPtr> all;
  for (const auto& [name, versions] : by_name_)
    for (const auto& [version, definition] : versions) all.push_back(definition);
  return all;
}

void DefinitionRegistry::load_directory(const std::string& directory, const engine::CompileOptions& options) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(directory))
    if (entry.is_regular_file() && entry.path().extension() == ".yaml") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  std::vector<engine::Diagnostic> problems;
  for (const auto& file : files) {
    try {
      add(engine::compile_definition(yaml::load_yaml_file(file.string()), options));
    } catch (const engine::DefinitionError& e) {
      problems.insert(problems.end(), e.diagnostics().begin(), e.diagnostics().end());
    }
  }
  if (!problems.empty()) throw engine::DefinitionError(std::move(problems));
}

}  // namespace flightplan::runtime

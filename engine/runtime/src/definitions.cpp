#include "flightplan/runtime/definitions.hpp"

#include "flightplan/engine/error.hpp"
#include "flightplan/runtime/log.hpp"

#include <algorithm>
#include <filesystem>

namespace flightplan::runtime {

using engine::ErrorCategory;
using engine::OperationError;

namespace {

bool means_latest(const std::string& version) { return version.empty() || version == "latest"; }

std::string conflict_message(const engine::DocumentInfo& doc) {
  return "workflow '" + doc.name + "' version " + doc.version +
         " exists with a different definition; give it a new version";
}

}  // namespace

DefinitionRegistry::DefinitionRegistry(SourceLoader loader, const Clock& clock)
    : loader_(std::move(loader)), clock_(clock) {}

engine::DefinitionPtr DefinitionRegistry::compile_source(std::string_view text) const {
  return engine::compile_definition(loader_.parse(text, std::string(api_definition_file)), compile_options_);
}

std::string_view to_string(DefinitionOrigin origin) {
  return origin == DefinitionOrigin::api ? "api" : "file";
}

void DefinitionRegistry::add(engine::DefinitionPtr definition, DefinitionOrigin origin,
                             std::int64_t created_ms) {
  std::lock_guard lock(mutex_);
  add_locked(RegisteredDefinition{std::move(definition), origin, created_ms});
}

void DefinitionRegistry::add_locked(RegisteredDefinition entry) const {
  const auto& doc = entry.definition->document;
  Versions& versions = by_name_[doc.name];
  if (auto it = versions.by_version.find(doc.version); it != versions.by_version.end()) {
    if (it->second.definition->digest == entry.definition->digest) return;
    throw OperationError(ErrorCategory::conflict, conflict_message(doc));
  }
  if (count_ >= definitions_max) {
    throw OperationError(ErrorCategory::invalid_argument,
                         "the registry already holds " + std::to_string(definitions_max) + " definitions");
  }
  versions.order.push_back(doc.version);
  versions.by_version.emplace(doc.version, std::move(entry));
  ++count_;
}

const RegisteredDefinition* DefinitionRegistry::lookup(const std::string& name,
                                                       const std::string& version) const {
  const auto it = by_name_.find(name);
  if (it == by_name_.end() || it->second.order.empty()) return nullptr;
  const std::string& wanted = means_latest(version) ? it->second.order.back() : version;
  const auto found = it->second.by_version.find(wanted);
  return found == it->second.by_version.end() ? nullptr : &found->second;
}

void DefinitionRegistry::throw_not_found(const std::string& name, const std::string& version) const {
  std::lock_guard lock(mutex_);
  if (by_name_.count(name) != 0)
    throw OperationError(ErrorCategory::not_found,
                         "workflow '" + name + "' has no version '" + version + "'");
  std::string known;
  for (const auto& [n, versions] : by_name_) known += (known.empty() ? "" : ", ") + n;
  throw OperationError(ErrorCategory::not_found, "no workflow definition named '" + name +
                                                     "' (known: " + (known.empty() ? "none" : known) + ")");
}

bool DefinitionRegistry::claim_miss_refresh() const {
  const std::int64_t now_ms = clock_.now_ms();
  std::int64_t last_ms = last_miss_refresh_ms_.load();
  // One caller per interval wins the exchange; the others answer from what is known.
  const bool due = last_ms == INT64_MIN || now_ms - last_ms >= miss_refresh_interval_ms;
  return due && last_miss_refresh_ms_.compare_exchange_strong(last_ms, now_ms);
}

RegisteredDefinition DefinitionRegistry::find_entry(const std::string& name,
                                                    const std::string& version) const {
  {
    std::lock_guard lock(mutex_);
    if (const RegisteredDefinition* entry = lookup(name, version)) return *entry;
  }
  // Another process may have registered it since the last refresh. A latest lookup of a known name
  // is not a miss: the periodic refresh keeps "latest" fresh enough.
  if (store_ != nullptr && claim_miss_refresh()) {
    refresh();
    std::lock_guard lock(mutex_);
    if (const RegisteredDefinition* entry = lookup(name, version)) return *entry;
  }
  throw_not_found(name, version);
}

engine::DefinitionPtr DefinitionRegistry::find(const std::string& name, const std::string& version) const {
  return find_entry(name, version).definition;
}

std::vector<engine::DefinitionPtr> DefinitionRegistry::list() const {
  std::vector<engine::DefinitionPtr> all;
  for (RegisteredDefinition& entry : entries()) all.push_back(std::move(entry.definition));
  return all;
}

std::vector<RegisteredDefinition> DefinitionRegistry::entries() const {
  std::lock_guard lock(mutex_);
  std::vector<RegisteredDefinition> all;
  for (const auto& [name, versions] : by_name_)
    for (const std::string& version : versions.order) all.push_back(versions.by_version.at(version));
  return all;
}

std::string DefinitionRegistry::latest_version(const std::string& name) const {
  std::lock_guard lock(mutex_);
  const auto it = by_name_.find(name);
  return it == by_name_.end() || it->second.order.empty() ? "" : it->second.order.back();
}

void DefinitionRegistry::load_directory(const std::string& directory, const engine::CompileOptions& options) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(directory))
    if (entry.is_regular_file() && entry.path().extension() == ".yaml") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  std::vector<engine::Diagnostic> problems;
  for (const auto& file : files) {
    try {
      add(engine::compile_definition(loader_.read_file(file.string()), options));
    } catch (const engine::DefinitionError& e) {
      problems.insert(problems.end(), e.diagnostics().begin(), e.diagnostics().end());
    }
  }
  if (!problems.empty()) throw engine::DefinitionError(std::move(problems));
}

void DefinitionRegistry::attach_store(engine::WorkflowStore& store, engine::CompileOptions options) {
  store_ = &store;
  compile_options_ = std::move(options);
}

std::size_t DefinitionRegistry::refresh() const {
  if (store_ == nullptr) return 0;
  std::lock_guard refresh_lock(refresh_mutex_);
  std::size_t added = 0;
  for (const engine::StoredDefinition& stored : store_->list_definitions()) {
    if (!stored_seen_.emplace(stored.name, stored.version, stored.digest).second) continue;
    try {
      engine::DefinitionPtr definition = compile_source(stored.source);
      std::lock_guard lock(mutex_);
      add_locked(RegisteredDefinition{std::move(definition), DefinitionOrigin::api, stored.created_ms});
      ++added;
    } catch (const std::exception& e) {
      log(LogLevel::warn, "stored definition skipped",
          {{"workflow", stored.name}, {"version", stored.version}, {"error", e.what()}});
    }
  }
  return added;
}

RegisterResult DefinitionRegistry::register_source(std::string_view yaml_text, std::int64_t now_ms) {
  if (store_ == nullptr) throw OperationError(ErrorCategory::internal, "no store to register definitions in");
  engine::DefinitionPtr definition = compile_source(yaml_text);
  const engine::DocumentInfo& doc = definition->document;
  {
    std::lock_guard lock(mutex_);
    if (const RegisteredDefinition* existing = lookup(doc.name, doc.version)) {
      if (existing->definition->digest != definition->digest)
        throw OperationError(ErrorCategory::conflict, conflict_message(doc));
      return RegisterResult{*existing, false};
    }
    if (count_ >= definitions_max) {
      throw OperationError(ErrorCategory::invalid_argument,
                           "the registry already holds " + std::to_string(definitions_max) + " definitions");
    }
  }
  const engine::StoredDefinition stored{doc.name, doc.version, std::string(yaml_text), definition->digest,
                                        now_ms};
  const engine::PutDefinitionOutcome outcome = store_->put_definition(stored);
  if (outcome == engine::PutDefinitionOutcome::conflict)
    throw OperationError(ErrorCategory::conflict, conflict_message(doc));
  if (outcome == engine::PutDefinitionOutcome::unchanged) {
    // Another process stored the same text first; its creation time is the one to report.
    refresh();
    return RegisterResult{find_entry(doc.name, doc.version), false};
  }
  {
    std::lock_guard refresh_lock(refresh_mutex_);
    stored_seen_.emplace(doc.name, doc.version, definition->digest);
  }
  std::lock_guard lock(mutex_);
  add_locked(RegisteredDefinition{definition, DefinitionOrigin::api, now_ms});
  return RegisterResult{*lookup(doc.name, doc.version), true};
}

}  // namespace flightplan::runtime

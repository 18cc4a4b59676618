#pragma once
// The definitions a process can run, by name and version. Thread-safe; definitions are immutable
// and shared.
//
// Two origins: files of the workflows folder, loaded at start, and definitions registered at run time
// through the API, which live in the store (put_definition / list_definitions) so every process of a
// cluster learns them. With a store attached, find() looks in the store when it does not know a name
// or version, and the wiring layer calls refresh() periodically. A workflow keeps the version it
// started with: versions are only ever added, never replaced.
//
// "Latest" of a name is the version registered last: files first (in file name order), then stored
// definitions in the store's registration order. Every process therefore agrees on it.
#include "flightplan/engine/compiler.hpp"
#include "flightplan/engine/definition.hpp"
#include "flightplan/engine/source.hpp"
#include "flightplan/engine/store.hpp"
#include "flightplan/runtime/clock.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace flightplan::runtime {

enum class DefinitionOrigin { file, api };

std::string_view to_string(DefinitionOrigin origin);

struct RegisteredDefinition {
  engine::DefinitionPtr definition;
  DefinitionOrigin origin = DefinitionOrigin::file;
  std::int64_t created_ms = 0;  // api: when it was stored; file: 0
};

struct RegisterResult {
  RegisteredDefinition entry;
  bool created = false;  // false: the same name, version and content was already registered
};

// The file name under which definitions sent through the API are parsed, so their diagnostics read
// "definition.yaml:LINE:COLUMN: message".
inline constexpr std::string_view api_definition_file = "definition.yaml";

// How definition text becomes a source document. The runtime knows no YAML: the wiring layer passes
// the YAML adapter's loader. Both throw engine::DefinitionError naming the file on bad input.
struct SourceLoader {
  std::function<engine::SourceDocument(std::string_view text, const std::string& file)> parse;
  std::function<engine::SourceDocument(const std::string& path)> read_file;
};

class DefinitionRegistry {
 public:
  // Registered definitions (all versions of all names) the registry holds at most.
  static constexpr std::size_t definitions_max = 10'000;
  static constexpr std::int64_t miss_refresh_interval_ms = 50;

  // `clock` spaces the store lookups of misses; it must outlive the registry.
  DefinitionRegistry(SourceLoader loader, const Clock& clock);

  // Adds a definition; a second one with the same name and version replaces nothing and is a
  // conflict unless its text is identical.
  void add(engine::DefinitionPtr definition, DefinitionOrigin origin = DefinitionOrigin::file,
           std::int64_t created_ms = 0);
  // `version` empty or "latest": the one registered last for that name. When neither is known
  // and a store is attached, the store is asked first (refresh(), at most once per
  // miss_refresh_interval_ms). Throws OperationError(not_found) naming what is known.
  engine::DefinitionPtr find(const std::string& name, const std::string& version = "") const;
  // As find(), with the origin and creation time.
  RegisteredDefinition find_entry(const std::string& name, const std::string& version = "") const;
  std::vector<engine::DefinitionPtr> list() const;
  // Every definition, by name, each name's versions in registration order.
  std::vector<RegisteredDefinition> entries() const;
  // The latest version of `name`, or "" when the name is unknown.
  std::string latest_version(const std::string& name) const;
  // Loads and compiles every *.yaml file of `directory`; throws DefinitionError with every problem.
  void load_directory(const std::string& directory, const engine::CompileOptions& options);

  // Lets the registry learn stored definitions, compiling them with `options`. `store` must outlive
  // the registry. Call once, before the registry is shared between threads.
  void attach_store(engine::WorkflowStore& store, engine::CompileOptions options);
  // Learns the stored definitions this registry lacks; returns how many it added. One that cannot
  // be added (it no longer compiles here, or clashes with a file) is logged once and skipped.
  // Throws what the store throws. Without a store: 0.
  std::size_t refresh() const;
  // Validates `yaml_text` as `flightplan validate` does (parsed as "definition.yaml"), stores it and
  // adds it. Throws DefinitionError with every diagnostic when it is invalid; OperationError
  // conflict when its name and version are registered with other content, invalid_argument when
  // the registry is full, unavailable when the store cannot be reached. Needs attach_store().
  RegisterResult register_source(std::string_view yaml_text, std::int64_t now_ms);

 private:
  struct Versions {
    std::map<std::string, RegisteredDefinition> by_version;
    std::vector<std::string> order;  // registration order; back() is the latest
  };
  // True when this miss may ask the store (see last_miss_refresh_ns_).
  bool claim_miss_refresh() const;
  // Precondition: mutex_ held. nullptr when absent.
  const RegisteredDefinition* lookup(const std::string& name, const std::string& version) const;
  void add_locked(RegisteredDefinition entry) const;
  engine::DefinitionPtr compile_source(std::string_view text) const;
  [[noreturn]] void throw_not_found(const std::string& name, const std::string& version) const;

  // The maps are a cache of files and of the store: find() is const for its callers but may fill
  // them from the store, hence mutable (guarded by mutex_).
  mutable std::mutex mutex_;
  mutable std::map<std::string, Versions> by_name_;
  mutable std::size_t count_ = 0;

  engine::WorkflowStore* store_ = nullptr;
  engine::CompileOptions compile_options_;
  // Serialises refreshes; remembers the stored definitions already looked at (name, version, digest),
  // so each is compiled, and a bad one logged, once.
  mutable std::mutex refresh_mutex_;
  mutable std::set<std::tuple<std::string, std::string, std::string>> stored_seen_;
  SourceLoader loader_;
  const Clock& clock_;
  // When find() last asked the store because of a miss (clock_ time): misses refresh at most once
  // per miss_refresh_interval_ms, so requests naming unknown workflows cannot turn into a stream of
  // store reads. INT64_MIN: never.
  mutable std::atomic<std::int64_t> last_miss_refresh_ms_{INT64_MIN};
};

}  // namespace flightplan::runtime

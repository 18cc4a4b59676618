#include "flightplan/memory/memory_service_store.hpp"

#include <stdexcept>

namespace flightplan::memory {

using activities::ServiceRead;
using activities::ServiceWrite;

MemoryServiceStore::MemoryServiceStore(MemoryServiceStoreSettings settings) : settings_(settings) {
  if (settings_.outcomes_max == 0) throw std::invalid_argument("MemoryServiceStore: outcomes_max must be at least 1");
}

MemoryServiceStore::Keyspace& MemoryServiceStore::keyspace(std::string_view service) {
  const auto it = keyspaces_.find(service);
  if (it != keyspaces_.end()) return it->second;
  return keyspaces_.emplace(std::string(service), Keyspace{}).first->second;
}

void MemoryServiceStore::record_outcome(Keyspace& space, const std::string& key, const std::string& outcome) {
  if (space.outcome_keys_oldest_first.size() >= settings_.outcomes_max) {
    space.outcomes.erase(space.outcome_keys_oldest_first.front());
    space.outcome_keys_oldest_first.pop_front();
  }
  space.outcomes.emplace(key, outcome);
  space.outcome_keys_oldest_first.push_back(key);
}

std::vector<std::optional<std::string>> MemoryServiceStore::get(std::string_view service,
                                                                const std::vector<std::string>& ids) {
  activities::require_service_name(service);
  activities::require_batch_size(ids.size(), "ids in one get");
  const std::lock_guard lock(mutex_);
  const Keyspace& space = keyspace(service);
  std::vector<std::optional<std::string>> values;
  values.reserve(ids.size());
  for (const std::string& id : ids) {
    const auto it = space.records.find(id);
    values.push_back(it == space.records.end() ? std::nullopt : std::optional<std::string>(it->second));
  }
  return values;
}

std::size_t MemoryServiceStore::count(std::string_view service) {
  activities::require_service_name(service);
  const std::lock_guard lock(mutex_);
  return keyspace(service).records.size();
}

std::optional<std::string> MemoryServiceStore::recorded(std::string_view service, const std::string& key) {
  activities::require_service_name(service);
  activities::require_idempotency_key(key);
  const std::lock_guard lock(mutex_);
  const Keyspace& space = keyspace(service);
  const auto it = space.outcomes.find(key);
  if (it == space.outcomes.end()) return std::nullopt;
  return it->second;
}

bool MemoryServiceStore::commit(std::string_view service, const std::vector<ServiceRead>& reads,
                                const std::vector<ServiceWrite>& writes, const std::string& key,
                                const std::string& outcome) {
  activities::require_service_name(service);
  activities::require_batch_size(reads.size(), "reads in one commit");
  activities::require_batch_size(writes.size(), "writes in one commit");
  const std::lock_guard lock(mutex_);
  Keyspace& space = keyspace(service);
  if (!key.empty() && space.outcomes.contains(key)) return false;
  for (const ServiceRead& read : reads) {
    const auto it = space.records.find(read.id);
    const bool present = it != space.records.end();
    if (present != read.value.has_value() || (present && it->second != *read.value)) return false;
  }
  for (const ServiceWrite& write : writes) {
    if (write.value) {
      space.records.insert_or_assign(write.id, *write.value);
    } else {
      space.records.erase(write.id);
    }
  }
  if (!key.empty()) record_outcome(space, key, outcome);
  return true;
}

std::optional<std::string> MemoryServiceStore::fence(std::string_view service, const std::string& key,
                                                     const std::string& tombstone) {
  activities::require_service_name(service);
  activities::require_idempotency_key(key);
  const std::lock_guard lock(mutex_);
  Keyspace& space = keyspace(service);
  const auto it = space.outcomes.find(key);
  if (it != space.outcomes.end()) return it->second;
  record_outcome(space, key, tombstone);
  return std::nullopt;
}

std::vector<std::pair<std::string, std::string>> MemoryServiceStore::scan(std::string_view service,
                                                                          std::string_view prefix,
                                                                          std::size_t limit) {
  activities::require_service_name(service);
  activities::require_scan_limit(limit);
  const std::lock_guard lock(mutex_);
  const Keyspace& space = keyspace(service);
  std::vector<std::pair<std::string, std::string>> records;
  for (auto it = space.records.lower_bound(prefix);
       it != space.records.end() && it->first.starts_with(prefix) && records.size() < limit; ++it) {
    records.emplace_back(it->first, it->second);
  }
  return records;
}

}  // namespace flightplan::memory

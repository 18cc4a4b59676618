#include "service.hpp"

#include "failures.hpp"

#include <exception>

namespace flightplan::activities::detail {

namespace {

using nlohmann::json;

std::optional<json> parse_record(const std::optional<std::string>& value) {
  if (!value) return std::nullopt;
  return json::parse(*value);
}

// An outcome as the store records it: {"ok", "output", "signals"} or {"ok", "failure"}.
std::string encode_outcome(const ActivityResult& result) {
  if (!result.ok) {
    const ActivityFailure& failure = result.failure;
    return json{{"ok", false},
                {"failure",
                 {{"type", failure.type},
                  {"status", failure.status},
                  {"title", failure.title},
                  {"detail", failure.detail},
                  {"retryable", failure.retryable}}}}
        .dump();
  }
  json signals = json::array();
  for (const DelayedSignal& signal : result.signals) {
    signals.push_back({{"workflowId", signal.workflow_id},
                       {"name", signal.name},
                       {"payload", signal.payload},
                       {"dueMs", signal.due_ms},
                       {"id", signal.id}});
  }
  return json{{"ok", true}, {"output", result.output}, {"signals", std::move(signals)}}.dump();
}

// Throws (json errors) on a corrupt outcome; Service::run reports that as an internal failure.
ActivityResult decode_outcome(const std::string& text) {
  const json outcome = json::parse(text);
  if (!outcome.at("ok").get<bool>()) {
    const json& failure = outcome.at("failure");
    return ActivityResult::fail(failure.at("type").get<std::string>(), failure.at("status").get<int>(),
                                failure.at("title").get<std::string>(), failure.at("detail").get<std::string>(),
                                failure.at("retryable").get<bool>());
  }
  ActivityResult result = ActivityResult::success(outcome.at("output"));
  for (const json& signal : outcome.at("signals")) {
    result.signals.push_back(DelayedSignal{signal.at("workflowId").get<std::string>(),
                                           signal.at("name").get<std::string>(), signal.at("payload"),
                                           signal.at("dueMs").get<std::int64_t>(),
                                           signal.at("id").get<std::string>()});
  }
  return result;
}

// Runs the handler; a bad argument becomes a validation failure. Other exceptions (an unreachable
// store, a corrupt record) go up to Service::run.
ActivityResult invoke(const ActivityRequest& request, const Service::Handler& handler, Records& records) {
  std::vector<Signal> signals;
  ActivityResult result;
  try {
    Call call{request, Args(request.arguments), records, {}};
    result = handler(call);
    signals = std::move(call.signals);
  } catch (const ArgumentError& error) {
    return validation_failure(error.what());
  }
  // A failed call leaves no trace, so its signals are dropped.
  if (!result.ok) return result;
  const std::string& key = request.idempotency_key;
  for (std::size_t i = 0; i < signals.size(); ++i) {
    Signal& signal = signals[i];
    result.signals.push_back(DelayedSignal{std::move(signal.workflow_id), std::move(signal.name),
                                           std::move(signal.payload), signal.due_ms,
                                           key.empty() ? std::string() : key + "#" + std::to_string(i)});
  }
  return result;
}

}  // namespace

std::optional<json> Records::get(const std::string& id) { return get(std::vector<std::string>{id}).front(); }

std::vector<std::optional<json>> Records::get(const std::vector<std::string>& ids) {
  std::vector<std::string> missing;
  for (const std::string& id : ids)
    if (!writes_.contains(id) && !reads_.contains(id)) missing.push_back(id);
  if (!missing.empty()) {
    std::vector<std::optional<std::string>> values = store_.get(service_, missing);
    for (std::size_t i = 0; i < missing.size(); ++i) reads_.emplace(missing[i], std::move(values.at(i)));
  }
  std::vector<std::optional<json>> records;
  records.reserve(ids.size());
  for (const std::string& id : ids) {
    const auto written = writes_.find(id);
    records.push_back(parse_record(written != writes_.end() ? written->second : reads_.at(id)));
  }
  return records;
}

void Records::put(const std::string& id, const json& value) { writes_.insert_or_assign(id, value.dump()); }

void Records::erase(const std::string& id) { writes_.insert_or_assign(id, std::nullopt); }

std::vector<ServiceRead> Records::reads() const {
  std::vector<ServiceRead> reads;
  for (const auto& [id, value] : reads_) reads.push_back(ServiceRead{id, value});
  return reads;
}

std::vector<ServiceWrite> Records::writes() const {
  std::vector<ServiceWrite> writes;
  for (const auto& [id, value] : writes_) writes.push_back(ServiceWrite{id, value});
  return writes;
}

Service::Service(ServiceStore& store, std::string name) : store_(store), name_(std::move(name)) {
  require_service_name(name_);
}

ActivityResult Service::run(const ActivityRequest& request, const Handler& handler) {
  try {
    for (int round = 0; round < commit_rounds_max; ++round) {
      if (std::optional<ActivityResult> result = attempt(request, handler)) return std::move(*result);
    }
    return unavailable("the " + name_ + " records kept changing during " + std::to_string(commit_rounds_max) +
                       " attempts to commit");
  } catch (const ServiceStoreUnavailable& error) {
    // A commit may have landed before the reply was lost: whether the effect happened is unknown.
    ActivityResult failure = unavailable("the " + name_ + " service store is unavailable: " + error.what());
    failure.failure.outcome_unknown = true;
    return failure;
  } catch (const std::exception& error) {
    // Handlers validate their input, so this is a bug or a corrupt record; report it, never crash.
    return internal_failure(request.activity + ": " + error.what());
  }
}

// One round: the recorded outcome, or a fresh execution committed with its outcome; nullopt when the
// commit was refused and the round must start again.
std::optional<ActivityResult> Service::attempt(const ActivityRequest& request, const Handler& handler) {
  const std::string& key = request.idempotency_key;
  if (!key.empty()) {
    if (std::optional<std::string> recorded = store_.recorded(name_, key)) return decode_outcome(*recorded);
  }
  Records records(store_, name_);
  ActivityResult result = invoke(request, handler, records);
  const bool remembered = !key.empty() && (result.ok || result.failure.type == validation_type);
  const std::vector<ServiceWrite> writes = result.ok ? records.writes() : std::vector<ServiceWrite>{};
  if (!remembered && writes.empty()) {
    // Nothing to commit, so nothing checked that this key is still unanswered. The failure may come
    // from the effect of a concurrent execution of this very key (a redelivered task: "delivery d1
    // already has drone-001"); if that one recorded its outcome meanwhile, it is the answer.
    if (!key.empty()) {
      if (std::optional<std::string> recorded = store_.recorded(name_, key)) return decode_outcome(*recorded);
    }
    return result;
  }
  if (store_.commit(name_, records.reads(), writes, remembered ? key : std::string(),
                    remembered ? encode_outcome(result) : std::string())) {
    return result;
  }
  return std::nullopt;
}

std::optional<ActivityResult> Service::cancel(const ActivityRequest& request) {
  const std::string& key = request.idempotency_key;
  // Nothing is ever recorded for an empty key, so there is nothing to fence.
  if (key.empty()) return std::nullopt;
  const ActivityResult tombstone =
      cancelled_failure(request.activity + " with idempotency key '" + key + "' was cancelled before it ran");
  const std::optional<std::string> recorded = store_.fence(name_, key, encode_outcome(tombstone));
  if (!recorded) return std::nullopt;
  ActivityResult result = decode_outcome(*recorded);
  // Fenced before: the effect did not happen then either.
  if (!result.ok && result.failure.type == cancelled_type) return std::nullopt;
  return result;
}

}  // namespace flightplan::activities::detail

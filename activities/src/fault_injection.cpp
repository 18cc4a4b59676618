#include "flightplan/activities/fault_injection.hpp"

#include <charconv>
#include <cmath>
#include <vector>

namespace flightplan::activities {

namespace {

// An hour of injected latency is already far beyond any sensible activity timeout.
constexpr std::int64_t latency_ms_max = 3'600'000;

constexpr std::uint64_t fnv_offset = 14695981039346656037ULL;
constexpr std::uint64_t fnv_prime = 1099511628211ULL;

std::uint64_t fnv1a(std::uint64_t hash, std::string_view bytes) {
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= fnv_prime;
  }
  return hash;
}

std::uint64_t fnv1a(std::uint64_t hash, std::uint64_t value) {
  for (int i = 0; i < 8; ++i) {
    hash ^= (value >> (8 * i)) & 0xffU;
    hash *= fnv_prime;
  }
  return hash;
}

// FNV-1a alone mixes its last bytes poorly; splitmix64 spreads every input bit over the output.
std::uint64_t splitmix64(std::uint64_t& state) {
  state += 0x9e3779b97f4a7c15ULL;
  std::uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// The top 53 bits as a double in [0, 1).
double unit_interval(std::uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

std::optional<double> parse_rate(std::string_view text) {
  double value = 0.0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || !(value >= 0.0 && value <= 1.0)) {
    return std::nullopt;
  }
  return value;
}

std::optional<std::int64_t> parse_latency_ms(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < 0 || value > latency_ms_max) {
    return std::nullopt;
  }
  return value;
}

// Applies one "key=value" setting to `rule`, or returns what is wrong with it (without the prefix).
std::optional<std::string> apply_setting(std::string_view setting, FaultRule& rule) {
  const std::size_t equals = setting.find('=');
  if (equals == std::string_view::npos) return "expected <key>=<value>, got '" + std::string(setting) + "'";
  const std::string_view key = trim(setting.substr(0, equals));
  const std::string_view value = trim(setting.substr(equals + 1));
  if (key == "fail" || key == "hang") {
    const auto rate = parse_rate(value);
    if (!rate) return std::string(key) + " must be a number from 0 to 1, got '" + std::string(value) + "'";
    (key == "fail" ? rule.fail_rate : rule.hang_rate) = *rate;
    return std::nullopt;
  }
  if (key == "latency_ms") {
    const auto latency_ms = parse_latency_ms(value);
    if (!latency_ms) {
      return "latency_ms must be an integer from 0 to " + std::to_string(latency_ms_max) + ", got '" +
             std::string(value) + "'";
    }
    rule.latency_ms = *latency_ms;
    return std::nullopt;
  }
  return "unknown key '" + std::string(key) + "' (expected fail, hang, latency_ms)";
}

// Parses "<name>:<key>=<value>[,<key>=<value>]" into `name` and `rule`; returns the problem if any.
std::optional<std::string> parse_rule(std::string_view text, std::string& name, FaultRule& rule) {
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) return "expected <activity>:<key>=<value>[,<key>=<value>]";
  name = std::string(trim(text.substr(0, colon)));
  if (name.empty()) return "missing activity, queue or '*' before ':'";
  for (const std::string_view setting : split(text.substr(colon + 1), ',')) {
    if (auto problem = apply_setting(trim(setting), rule)) return problem;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> FaultInjector::parse_and_add(std::string_view spec) {
  // Parse every rule before adding any, so a bad spec leaves the injector unchanged.
  std::vector<std::pair<std::string, FaultRule>> parsed;
  for (const std::string_view part : split(spec, ';')) {
    const std::string_view text = trim(part);
    if (text.empty()) continue;  // Tolerates "a:fail=1;" and an empty spec.
    std::string name;
    FaultRule rule;
    if (auto problem = parse_rule(text, name, rule)) {
      return "fault spec '" + std::string(text) + "': " + *problem;
    }
    parsed.emplace_back(std::move(name), rule);
  }
  for (auto& [name, rule] : parsed) set_rule(std::move(name), rule);
  return std::nullopt;
}

void FaultInjector::set_rule(std::string activity_or_queue, FaultRule rule) {
  rules_.insert_or_assign(std::move(activity_or_queue), rule);
}

const FaultRule* FaultInjector::rule_for(std::string_view activity) const {
  const std::string_view queue = activity.substr(0, activity.find('.'));
  for (const std::string_view name : {activity, queue, std::string_view("*")}) {
    const auto it = rules_.find(name);
    if (it != rules_.end()) return &it->second;
  }
  return nullptr;
}

FaultDecision FaultInjector::decide(std::string_view activity, std::string_view idempotency_key,
                                    int attempt) const {
  const FaultRule* rule = rule_for(activity);
  if (rule == nullptr) return {};
  // The separators keep ("ab", "c") and ("a", "bc") apart.
  std::uint64_t state = fnv1a(fnv_offset, seed_);
  state = fnv1a(fnv1a(state, activity), std::string_view("\0", 1));
  state = fnv1a(fnv1a(state, idempotency_key), std::string_view("\0", 1));
  state = fnv1a(state, static_cast<std::uint64_t>(static_cast<std::int64_t>(attempt)));
  const double fail_draw = unit_interval(splitmix64(state));
  const double hang_draw = unit_interval(splitmix64(state));
  FaultDecision decision;
  decision.fail = fail_draw < rule->fail_rate;
  decision.hang = !decision.fail && hang_draw < rule->hang_rate;
  decision.latency_ms = rule->latency_ms;
  return decision;
}

}  // namespace flightplan::activities

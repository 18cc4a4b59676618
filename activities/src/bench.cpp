// bench.*: the five trivial steps of the cross-engine benchmark workload (the same step bodies the
// peer engines run, see /work/shared/peers/common/activities.mjs), plus bench.undo for compensations.
// They are pure functions of their arguments: no state, no lock, no idempotency cache (a repeated
// call returns the same result because there is nothing else it could return), so a benchmark
// measures the runtime around them and not the activities themselves.
#include "failures.hpp"
#include "json_args.hpp"

#include "flightplan/activities/activity.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

namespace flightplan::activities {

namespace {

using detail::Args;
using detail::ArgumentError;
using nlohmann::json;

// Drones in the simulated bench fleet: `seq` picks one round-robin, as the peers do.
constexpr std::int64_t bench_drone_count = 97;

// An optional non-negative integer field (default when absent or null).
std::int64_t optional_count(const json& arguments, const char* field, std::int64_t fallback) {
  if (!arguments.is_object()) return fallback;
  const auto it = arguments.find(field);
  if (it == arguments.end() || it->is_null()) return fallback;
  if (!it->is_number_integer() || it->get<std::int64_t>() < 0)
    throw ArgumentError(std::string("field '") + field + "' must be a non-negative integer");
  return it->get<std::int64_t>();
}

// An optional positive number field (default when absent or null).
double optional_positive(const json& arguments, const char* field, double fallback) {
  if (!arguments.is_object()) return fallback;
  const auto it = arguments.find(field);
  if (it == arguments.end() || it->is_null()) return fallback;
  if (!it->is_number() || !(it->get<double>() > 0.0))
    throw ArgumentError(std::string("field '") + field + "' must be a number greater than zero");
  return it->get<double>();
}

// Adapts a pure function of the arguments to Activity; a bad argument becomes the usual
// non-retryable validation failure naming the field.
class PureActivity final : public Activity {
 public:
  using Body = std::function<json(const json& arguments, const Args& args)>;
  explicit PureActivity(Body body) : body_(std::move(body)) {}

  ActivityResult execute(const ActivityRequest& request, ActivityHost&) override {
    try {
      const Args args(request.arguments);
      return ActivityResult::success(body_(request.arguments, args));
    } catch (const ArgumentError& e) {
      return detail::validation_failure(e.what());
    }
  }

 private:
  Body body_;
};

json check_account(const json&, const Args& args) {
  return {{"accountId", args.text("accountId")}, {"ok", true}, {"tier", "standard"}};
}

json create_package(const json& arguments, const Args& args) {
  return {{"packageId", "pkg-" + args.text("deliveryId")},
          {"size", args.optional_text("size").value_or("small")},
          {"weightKg", optional_positive(arguments, "weightKg", 1.2)}};
}

json check_third_party_transport(const json&, const Args& args) {
  return {{"deliveryId", args.text("deliveryId")}, {"thirdPartyRequired", false}};
}

json schedule_drone(const json& arguments, const Args& args) {
  const std::int64_t seq = optional_count(arguments, "seq", 0);
  return {{"droneId", "drone-" + std::to_string(seq % bench_drone_count)},
          {"packageId", args.text("packageId")},
          {"pickup", args.text("pickup")},
          {"dropoff", args.text("dropoff")}};
}

json create_delivery(const json&, const Args& args) {
  return {
      {"deliveryId", args.text("deliveryId")}, {"droneId", args.text("droneId")}, {"status", "scheduled"}};
}

// Undoes nothing (there is no state) but says what it was asked to undo, so a history shows it.
json undo(const json&, const Args& args) {
  return {{"undone", args.text("step")}, {"id", args.optional_text("id").value_or("")}};
}

}  // namespace

void register_bench_activities(ActivityRegistry& registry) {
  const std::pair<const char*, PureActivity::Body> bodies[] = {
      {"bench.checkAccount", check_account},
      {"bench.createPackage", create_package},
      {"bench.checkThirdPartyTransport", check_third_party_transport},
      {"bench.scheduleDrone", schedule_drone},
      {"bench.createDelivery", create_delivery},
      {"bench.undo", undo},
  };
  for (const auto& [name, body] : bodies) registry.add(name, std::make_shared<PureActivity>(body));
}

}  // namespace flightplan::activities

#include "rules.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace flightplan::activities::detail {

namespace {

// Shortest natural decimal form ("25.5", "31.2049"), for human-readable reasons.
std::string decimal(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", value);
  return buffer;
}

}  // namespace

PackageInfo read_package_info(const Args& args, std::string_view field) {
  const Args package = args.object(field);
  std::string size = package.one_of("size", {"small", "medium", "large"});
  return PackageInfo{std::move(size), package.positive_number("weight")};
}

std::optional<std::string> third_party_reason(const PackageInfo& package, double route_meters) {
  if (package.size == "large") return "large packages do not fit a drone";
  if (package.weight_kg > drone_payload_max_kg) {
    return "package weighs " + decimal(package.weight_kg) + " kg, above the drone payload limit of " +
           decimal(drone_payload_max_kg) + " kg";
  }
  if (route_meters > drone_route_max_meters) {
    return "route is " + decimal(route_meters / 1000.0) + " km, beyond the drone range of " +
           decimal(drone_route_max_meters / 1000.0) + " km";
  }
  return std::nullopt;
}

nlohmann::json applied_route_changes(const nlohmann::json& arguments,
                                     const std::vector<std::string>& ignored) {
  nlohmann::json changed = nlohmann::json::object();
  for (const char* field : {"pickupLocation", "pickupTime", "dropOffLocation"}) {
    const auto it = arguments.find(field);
    if (it == arguments.end() || it->is_null()) continue;
    if (std::find(ignored.begin(), ignored.end(), field) == ignored.end()) changed[field] = *it;
  }
  return changed;
}

std::int64_t travel_ms(double distance_meters, double speed_meters_per_second) {
  return std::llround(distance_meters / speed_meters_per_second * 1000.0);
}

}  // namespace flightplan::activities::detail

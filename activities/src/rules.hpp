#pragma once
// The delivery rules two services share: what a drone can carry and how far, so that
// transport.check and drone.schedule can never disagree.
#include "geo.hpp"
#include "json_args.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace flightplan::activities::detail {

inline constexpr double drone_payload_max_kg = 20.0;
inline constexpr double drone_route_max_meters = 30'000.0;

struct PackageInfo {
  std::string size;  // "small", "medium" or "large"
  double weight_kg = 0.0;
};

// Reads {size, weight} from the nested object `field`.
PackageInfo read_package_info(const Args& args, std::string_view field);

// Why a drone cannot take this package over this route (pickup to drop-off), or nullopt when it can.
// Checked in order: size, weight, route length; each limit itself is still within drone reach.
std::optional<std::string> third_party_reason(const PackageInfo& package, double route_meters);

// The route fields of a reschedule request (pickupLocation, pickupTime, dropOffLocation) that took
// effect, as the caller gave them, so that the workflow can update its copy of the request. Fields
// named in `ignored` and absent or null ones are left out.
nlohmann::json applied_route_changes(const nlohmann::json& arguments,
                                     const std::vector<std::string>& ignored);

// Travel time at a constant speed, rounded to the millisecond.
std::int64_t travel_ms(double distance_meters, double speed_meters_per_second);

}  // namespace flightplan::activities::detail

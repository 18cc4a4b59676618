#pragma once
// The delivery rules two services share: what a drone can carry and how far, so that
// transport.check and drone.schedule can never disagree.
#include "geo.hpp"
#include "json_args.hpp"

#include <cstdint>
#include <optional>
#include <string>

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

// Travel time at a constant speed, rounded to the millisecond.
std::int64_t travel_ms(double distance_meters, double speed_meters_per_second);

}  // namespace flightplan::activities::detail

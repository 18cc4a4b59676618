#pragma once
// Points on the Earth and the little geometry the simulation needs: great-circle distance and a
// position part-way between two points.
#include <nlohmann/json.hpp>

namespace flightplan::activities::detail {

struct GeoPoint {
  double latitude = 0.0;   // degrees, -90..90
  double longitude = 0.0;  // degrees, -180..180
  double altitude = 0.0;   // metres above ground
};

// Mean Earth radius (IUGG), the radius the haversine distance uses.
inline constexpr double earth_radius_meters = 6371000.0;

// Great-circle distance along the surface, ignoring altitude.
double haversine_meters(const GeoPoint& from, const GeoPoint& to);

// The point a `fraction` (clamped to 0..1) of the way from `from` to `to`, interpolated linearly in
// latitude, longitude and altitude. Over the tens of kilometres a drone flies this stays within metres
// of the great-circle path, and it keeps expected positions in tests easy to state.
GeoPoint interpolate(const GeoPoint& from, const GeoPoint& to, double fraction);

nlohmann::json to_json(const GeoPoint& point);

}  // namespace flightplan::activities::detail

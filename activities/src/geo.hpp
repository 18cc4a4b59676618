#pragma once
// The little geometry the simulation needs: great-circle distance and a position part-way between
// two points. GeoPoint itself is public (flight.hpp): the delivery API reports locations too.
#include "flightplan/activities/flight.hpp"

namespace flightplan::activities::detail {

// Mean Earth radius (IUGG), the radius the haversine distance uses.
inline constexpr double earth_radius_meters = 6371000.0;

// Great-circle distance along the surface, ignoring altitude.
double haversine_meters(const GeoPoint& from, const GeoPoint& to);

// The point a `fraction` (clamped to 0..1) of the way from `from` to `to`, interpolated linearly in
// latitude, longitude and altitude. Over the tens of kilometres a drone flies this stays within metres
// of the great-circle path, and it keeps expected positions in tests easy to state.
GeoPoint interpolate(const GeoPoint& from, const GeoPoint& to, double fraction);

}  // namespace flightplan::activities::detail

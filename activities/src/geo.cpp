#include "geo.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace flightplan::activities::detail {

namespace {

double radians(double degrees) { return degrees * std::numbers::pi / 180.0; }

}  // namespace

double haversine_meters(const GeoPoint& from, const GeoPoint& to) {
  const double lat_delta = radians(to.latitude - from.latitude);
  const double lon_delta = radians(to.longitude - from.longitude);
  const double sin_lat = std::sin(lat_delta / 2.0);
  const double sin_lon = std::sin(lon_delta / 2.0);
  const double a = sin_lat * sin_lat +
                   std::cos(radians(from.latitude)) * std::cos(radians(to.latitude)) * sin_lon * sin_lon;
  // Rounding can push `a` a hair above 1 for antipodal points; asin would then return NaN.
  return 2.0 * earth_radius_meters * std::asin(std::sqrt(std::min(1.0, a)));
}

GeoPoint interpolate(const GeoPoint& from, const GeoPoint& to, double fraction) {
  const double f = std::clamp(fraction, 0.0, 1.0);
  return GeoPoint{from.latitude + (to.latitude - from.latitude) * f,
                  from.longitude + (to.longitude - from.longitude) * f,
                  from.altitude + (to.altitude - from.altitude) * f};
}

}  // namespace flightplan::activities::detail

namespace flightplan::activities {

nlohmann::json to_json(const GeoPoint& point) {
  return {{"latitude", point.latitude}, {"longitude", point.longitude}, {"altitude", point.altitude}};
}

}  // namespace flightplan::activities

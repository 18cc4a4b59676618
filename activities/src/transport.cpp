// transport.*: the simulated third-party ground carrier, used when a drone cannot take a package.
// transport.check applies the drone limits (rules.hpp); transport.book schedules a van that picks up
// 15 minutes from now (or at the requested pickupTime, if later) and drives at 10 m/s; like a drone,
// it sends the workflow a `delivered` signal when it drops the package off.
#include "failures.hpp"
#include "rules.hpp"
#include "service.hpp"
#include "time_format.hpp"

#include <algorithm>
#include <cstdio>

namespace flightplan::activities::detail {

namespace {

constexpr double ground_speed_meters_per_second = 10.0;
constexpr std::int64_t pickup_lead_ms = 15 * 60 * 1000;
constexpr const char* carrier_name = "Fabrikam Ground";

struct Booking {
  std::string delivery_id;
  std::string status;  // "booked" or "cancelled"
};

class TransportService : public Service {
 public:
  ActivityResult check(Call& call) {
    const GeoPoint pickup = call.args.location("pickupLocation");
    const GeoPoint dropoff = call.args.location("dropOffLocation");
    const PackageInfo package = read_package_info(call.args, "packageInfo");
    call.args.flag("expedited", false);  // Validated for the contract; speed does not change who carries it.
    const auto reason = third_party_reason(package, haversine_meters(pickup, dropoff));
    return ActivityResult::success({{"thirdParty", reason.has_value()},
                                    {"reason", reason.value_or("within drone payload and range limits")}});
  }

  ActivityResult book(Call& call) {
    const std::string delivery_id = call.args.text("deliveryId");
    const GeoPoint pickup = call.args.location("pickupLocation");
    const GeoPoint dropoff = call.args.location("dropOffLocation");
    const auto requested_pickup_ms = call.args.optional_time_ms("pickupTime");
    if (bookings_.size() >= records_max) return unavailable("the booking store is full", false);

    const std::int64_t pickup_ms =
        std::max(call.request.now_ms + pickup_lead_ms, requested_pickup_ms.value_or(0));
    const std::int64_t delivery_ms =
        pickup_ms + travel_ms(haversine_meters(pickup, dropoff), ground_speed_meters_per_second);
    char booking_id[32];
    std::snprintf(booking_id, sizeof booking_id, "booking-%04zu", bookings_.size() + 1);
    bookings_.emplace(booking_id, Booking{delivery_id, "booked"});
    // The carrier reports the drop-off like a drone does, so the workflow waits the same way.
    const std::string workflow_id = call.args.optional_text("workflowId").value_or(call.request.workflow_id);
    if (!workflow_id.empty()) {
      call.signals.push_back(Signal{workflow_id,
                                    "delivered",
                                    {{"deliveryId", delivery_id},
                                     {"bookingId", booking_id},
                                     {"deliveredAt", format_rfc3339(delivery_ms)}},
                                    delivery_ms - call.request.now_ms});
    }
    return ActivityResult::success({{"bookingId", booking_id},
                                    {"carrier", carrier_name},
                                    {"pickupEta", format_rfc3339(pickup_ms)},
                                    {"deliveryEta", format_rfc3339(delivery_ms)}});
  }

  ActivityResult cancel(Call& call) {
    const std::string booking_id = call.args.text("bookingId");
    const auto it = bookings_.find(booking_id);
    if (it == bookings_.end()) return not_found("booking '" + booking_id + "' does not exist");
    it->second.status = "cancelled";
    return ActivityResult::success({{"bookingId", booking_id}, {"status", "cancelled"}});
  }

 private:
  // Bookings are never erased, so the store's size numbers the next booking.
  std::map<std::string, Booking, std::less<>> bookings_;
};

}  // namespace

void register_transport_activities(ActivityRegistry& registry) {
  const auto service = std::make_shared<TransportService>();
  add_service_activity(registry, "transport.check", service, &TransportService::check);
  add_service_activity(registry, "transport.book", service, &TransportService::book);
  add_service_activity(registry, "transport.cancel", service, &TransportService::cancel);
}

}  // namespace flightplan::activities::detail

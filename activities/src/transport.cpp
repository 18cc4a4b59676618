// transport.*: the simulated third-party ground carrier, used when a drone cannot take a package.
// transport.check applies the drone limits (rules.hpp); transport.book schedules a van that picks up
// 15 minutes from now (or at the requested pickupTime, if later) and drives at 10 m/s; like a drone,
// it sends the workflow a `delivered` signal when it drops the package off. The van's route is a
// flight plan on the ground (flight.hpp): it appears at the pickup, loads at once and drives
// straight to the drop-off. transport.reschedule books the van anew before the pickup and turns it
// towards the new drop-off after.
// Records: "booking:<bookingId>" -> {deliveryId, status ("booked"/"cancelled"), route (the van's plan
// with its bookingId)}; "counter:booking" -> {last} numbers the bookings, written in the same commit
// as the booking it numbers.
#include "failures.hpp"
#include "rules.hpp"
#include "service.hpp"
#include "time_format.hpp"

#include <algorithm>
#include <cstdio>

namespace flightplan::activities::detail {

namespace {

using nlohmann::json;

constexpr double ground_speed_meters_per_second = 10.0;
constexpr std::int64_t pickup_lead_ms = 15 * 60 * 1000;
constexpr const char* carrier_name = "Fabrikam Ground";

// The van's route: at the pickup at the later of now + lead time and the requested time.
FlightPlan van_route(const std::string& booking_id, const GeoPoint& pickup, const GeoPoint& dropoff,
                     std::optional<std::int64_t> pickup_time_ms, std::int64_t now_ms) {
  RouteSpec spec;
  spec.vehicle_id = booking_id;
  spec.origin = pickup;
  spec.pickup = pickup;
  spec.dropoff = dropoff;
  spec.pickup_not_before_ms = std::max(now_ms + pickup_lead_ms, pickup_time_ms.value_or(0));
  spec.speed_meters_per_second = ground_speed_meters_per_second;
  spec.handling_ms = 0;
  spec.cruise_altitude_meters = 0.0;
  FlightPlan plan = plan_route(spec, now_ms);
  plan.pickup_not_before_ms = pickup_time_ms;  // report what was asked for, not the lead time
  return plan;
}

nlohmann::json booking_output(const FlightPlan& plan) {
  nlohmann::json out{{"bookingId", plan.vehicle_id}, {"carrier", carrier_name}};
  out.update(to_json(plan));
  return out;
}

// The carrier reports the drop-off like a drone does, so the workflow waits the same way.
void signal_drop_off(Call& call, const std::string& delivery_id, const FlightPlan& plan) {
  const std::string workflow_id = call.args.optional_text("workflowId").value_or(call.request.workflow_id);
  if (workflow_id.empty()) return;
  call.signals.push_back(Signal{workflow_id,
                                "delivered",
                                {{"deliveryId", delivery_id},
                                 {"bookingId", plan.vehicle_id},
                                 {"plan", plan.number},
                                 {"deliveredAt", format_rfc3339(plan.delivery_eta_ms)}},
                                plan.delivery_eta_ms});
}

constexpr const char* booking_counter_id = "counter:booking";

std::string record_id(const std::string& booking_id) { return "booking:" + booking_id; }

json booking_record(const std::string& delivery_id, const std::string& status, const FlightPlan& plan) {
  return {{"deliveryId", delivery_id}, {"status", status}, {"route", booking_output(plan)}};
}

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
  const std::optional<json> counter = call.records.get(booking_counter_id);
  const std::int64_t number = (counter ? counter->at("last").get<std::int64_t>() : 0) + 1;
  if (static_cast<std::size_t>(number) > records_max) return unavailable("the booking store is full", false);

  char booking_id[32];
  std::snprintf(booking_id, sizeof booking_id, "booking-%04lld", static_cast<long long>(number));
  const FlightPlan plan = van_route(booking_id, pickup, dropoff, requested_pickup_ms, call.request.now_ms);
  call.records.put(booking_counter_id, {{"last", number}});
  call.records.put(record_id(booking_id), booking_record(delivery_id, "booked", plan));
  signal_drop_off(call, delivery_id, plan);
  return ActivityResult::success(booking_output(plan));
}

ActivityResult cancel(Call& call) {
  const std::string booking_id = call.args.text("bookingId");
  std::optional<json> booking = call.records.get(record_id(booking_id));
  if (!booking) return not_found("booking '" + booking_id + "' does not exist");
  (*booking)["status"] = "cancelled";
  call.records.put(record_id(booking_id), *booking);
  return ActivityResult::success({{"bookingId", booking_id}, {"status", "cancelled"}});
}

ActivityResult reschedule(Call& call) {
  const Args& args = call.args;
  const std::string booking_id = args.text("bookingId");
  const RouteChange change{args.optional_location("pickupLocation"), args.optional_time_ms("pickupTime"),
                           args.optional_location("dropOffLocation")};
  std::optional<json> booking = call.records.get(record_id(booking_id));
  if (!booking) return not_found("booking '" + booking_id + "' does not exist");
  const std::string status = booking->at("status").get<std::string>();
  if (status != "booked") return conflict("booking '" + booking_id + "' is " + status);
  const std::string delivery_id = booking->at("deliveryId").get<std::string>();
  const FlightPlan current = flight_plan_from_json(booking->at("route"));
  const std::int64_t now_ms = call.request.now_ms;
  Replan replan = replan_route(current, change, now_ms);
  if (replan.applied && now_ms < current.pickup_eta_ms && replan.plan.number != current.number) {
    // Before the pickup the carrier simply books the van again, with its usual lead time.
    FlightPlan fresh = van_route(booking_id, replan.plan.pickup, replan.plan.dropoff,
                                 replan.plan.pickup_not_before_ms, now_ms);
    fresh.number = replan.plan.number;
    replan.plan = std::move(fresh);
  }
  const bool replanned = replan.applied && replan.plan.number != current.number;
  const FlightPlan& plan = replanned ? replan.plan : current;
  if (replanned) {
    call.records.put(record_id(booking_id), booking_record(delivery_id, status, plan));
    signal_drop_off(call, delivery_id, plan);
  }
  return ActivityResult::success(
      {{"bookingId", booking_id},
       {"replanned", replanned},
       {"changed", replan.applied ? applied_route_changes(call.request.arguments, replan.ignored)
                                  : json::object()},
       {"ignored", replan.ignored},
       {"reason", replan.applied ? json(nullptr) : json(replan.reason)},
       {"route", booking_output(plan)}});
}

}  // namespace

void register_transport_activities(ActivityRegistry& registry, ServiceStore& store) {
  const auto service = std::make_shared<Service>(store, "transport");
  add_service_activity(registry, "transport.check", service, check);
  add_service_activity(registry, "transport.book", service, book);
  add_service_activity(registry, "transport.reschedule", service, reschedule);
  add_service_activity(registry, "transport.cancel", service, cancel);
}

}  // namespace flightplan::activities::detail

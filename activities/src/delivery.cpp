// delivery.*: the simulated delivery records. A delivery is created once (a second create of the
// same id is a conflict), then either completed or cancelled; both end states are final, and
// repeating the same end state is accepted so that compensations can run twice safely.
// Records: "delivery:<deliveryId>" -> what delivery.get answers, without the id.
#include "failures.hpp"
#include "service.hpp"
#include "time_format.hpp"

namespace flightplan::activities::detail {

namespace {

using nlohmann::json;

std::string record_id(const std::string& delivery_id) { return "delivery:" + delivery_id; }

json optional_time(const std::optional<std::int64_t>& epoch_ms) {
  return epoch_ms ? json(format_rfc3339(*epoch_ms)) : json(nullptr);
}

// The carrier fields common to create's answer and get's: exactly one of droneId/bookingId, if any.
void add_carrier(json& out, const json& record) {
  for (const char* field : {"droneId", "bookingId"})
    if (record.contains(field)) out[field] = record.at(field);
}

ActivityResult create(Call& call) {
  const Args& args = call.args;
  const std::string delivery_id = args.text("deliveryId");
  // Fields are read in this order, so the first bad one is the one reported.
  json record = json::object();
  record["ownerId"] = args.text("ownerId");
  record["pickupLocation"] = to_json(args.location("pickupLocation"));
  record["dropOffLocation"] = to_json(args.location("dropOffLocation"));
  record["deadline"] = optional_time(args.optional_time_ms("deadline"));
  record["expedited"] = args.flag("expedited", false);
  record["confirmationRequired"] = args.flag("confirmationRequired", false);
  const std::optional<std::string> drone_id = args.optional_text("droneId");
  const std::optional<std::string> booking_id = args.optional_text("bookingId");
  record["eta"] = optional_time(args.optional_time_ms("eta"));
  record["status"] = "created";
  if (drone_id && booking_id) {
    throw ArgumentError("fields 'droneId' and 'bookingId' exclude each other: a delivery has one carrier");
  }
  if (drone_id) record["droneId"] = *drone_id;
  if (booking_id) record["bookingId"] = *booking_id;
  if (call.records.get(record_id(delivery_id))) return conflict("delivery '" + delivery_id + "' already exists");
  if (call.records.count() >= records_max) return unavailable("the delivery store is full", false);

  call.records.put(record_id(delivery_id), record);
  json out{{"deliveryId", delivery_id}, {"status", "created"}};
  add_carrier(out, record);
  out["eta"] = record.at("eta");
  return ActivityResult::success(std::move(out));
}

ActivityResult finish(Call& call, const std::string& end_status) {
  const std::string delivery_id = call.args.text("deliveryId");
  std::optional<json> record = call.records.get(record_id(delivery_id));
  if (!record) return not_found("delivery '" + delivery_id + "' does not exist");
  const std::string status = record->at("status").get<std::string>();
  if (status != "created" && status != end_status) {
    return conflict("delivery '" + delivery_id + "' is already " + status);
  }
  if (status != end_status) {
    (*record)["status"] = end_status;
    call.records.put(record_id(delivery_id), *record);
  }
  return ActivityResult::success({{"deliveryId", delivery_id}, {"status", end_status}});
}

ActivityResult get(Call& call) {
  const std::string delivery_id = call.args.text("deliveryId");
  const std::optional<json> record = call.records.get(record_id(delivery_id));
  if (!record) return not_found("delivery '" + delivery_id + "' does not exist");
  json out = *record;
  out["deliveryId"] = delivery_id;
  return ActivityResult::success(std::move(out));
}

}  // namespace

void register_delivery_service_activities(ActivityRegistry& registry, ServiceStore& store) {
  const auto service = std::make_shared<Service>(store, "delivery");
  add_service_activity(registry, "delivery.create", service, create);
  add_service_activity(registry, "delivery.cancel", service,
                       [](Call& call) { return finish(call, "cancelled"); });
  add_service_activity(registry, "delivery.complete", service,
                       [](Call& call) { return finish(call, "completed"); });
  add_service_activity(registry, "delivery.get", service, get);
}

}  // namespace flightplan::activities::detail

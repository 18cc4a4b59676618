// delivery.*: the simulated delivery records. A delivery is created once (a second create of the
// same id is a conflict), then either completed or cancelled; both end states are final, and
// repeating the same end state is accepted so that compensations can run twice safely.
#include "failures.hpp"
#include "service.hpp"
#include "time_format.hpp"

namespace flightplan::activities::detail {

namespace {

struct Delivery {
  std::string owner_id;
  GeoPoint pickup;
  GeoPoint dropoff;
  std::optional<std::int64_t> deadline_ms;
  bool expedited = false;
  bool confirmation_required = false;
  std::optional<std::string> drone_id;
  std::optional<std::string> booking_id;
  std::optional<std::int64_t> eta_ms;
  std::string status;  // "created", "completed" or "cancelled"
};

nlohmann::json optional_time(const std::optional<std::int64_t>& epoch_ms) {
  return epoch_ms ? nlohmann::json(format_rfc3339(*epoch_ms)) : nlohmann::json(nullptr);
}

// The carrier fields common to create's answer and get's: exactly one of droneId/bookingId, if any.
void add_carrier(nlohmann::json& out, const Delivery& delivery) {
  if (delivery.drone_id) out["droneId"] = *delivery.drone_id;
  if (delivery.booking_id) out["bookingId"] = *delivery.booking_id;
}

class DeliveryService : public Service {
 public:
  ActivityResult create(Call& call);
  ActivityResult cancel(Call& call) { return finish(call, "cancelled"); }
  ActivityResult complete(Call& call) { return finish(call, "completed"); }
  ActivityResult get(Call& call);

 private:
  ActivityResult finish(Call& call, const std::string& end_status);

  std::map<std::string, Delivery, std::less<>> deliveries_;
};

ActivityResult DeliveryService::create(Call& call) {
  const Args& args = call.args;
  const std::string delivery_id = args.text("deliveryId");
  Delivery delivery{args.text("ownerId"),
                    args.location("pickupLocation"),
                    args.location("dropOffLocation"),
                    args.optional_time_ms("deadline"),
                    args.flag("expedited", false),
                    args.flag("confirmationRequired", false),
                    args.optional_text("droneId"),
                    args.optional_text("bookingId"),
                    args.optional_time_ms("eta"),
                    "created"};
  if (delivery.drone_id && delivery.booking_id) {
    throw ArgumentError("fields 'droneId' and 'bookingId' exclude each other: a delivery has one carrier");
  }
  if (deliveries_.contains(delivery_id)) return conflict("delivery '" + delivery_id + "' already exists");
  if (deliveries_.size() >= records_max) return unavailable("the delivery store is full", false);

  nlohmann::json out{{"deliveryId", delivery_id}, {"status", "created"}};
  add_carrier(out, delivery);
  out["eta"] = optional_time(delivery.eta_ms);
  deliveries_.emplace(delivery_id, std::move(delivery));
  return ActivityResult::success(std::move(out));
}

ActivityResult DeliveryService::finish(Call& call, const std::string& end_status) {
  const std::string delivery_id = call.args.text("deliveryId");
  const auto it = deliveries_.find(delivery_id);
  if (it == deliveries_.end()) return not_found("delivery '" + delivery_id + "' does not exist");
  std::string& status = it->second.status;
  if (status != "created" && status != end_status) {
    return conflict("delivery '" + delivery_id + "' is already " + status);
  }
  status = end_status;
  return ActivityResult::success({{"deliveryId", delivery_id}, {"status", end_status}});
}

ActivityResult DeliveryService::get(Call& call) {
  const std::string delivery_id = call.args.text("deliveryId");
  const auto it = deliveries_.find(delivery_id);
  if (it == deliveries_.end()) return not_found("delivery '" + delivery_id + "' does not exist");
  const Delivery& delivery = it->second;
  nlohmann::json out{{"deliveryId", delivery_id},
                     {"ownerId", delivery.owner_id},
                     {"pickupLocation", to_json(delivery.pickup)},
                     {"dropOffLocation", to_json(delivery.dropoff)},
                     {"deadline", optional_time(delivery.deadline_ms)},
                     {"expedited", delivery.expedited},
                     {"confirmationRequired", delivery.confirmation_required},
                     {"eta", optional_time(delivery.eta_ms)},
                     {"status", delivery.status}};
  add_carrier(out, delivery);
  return ActivityResult::success(std::move(out));
}

}  // namespace

void register_delivery_service_activities(ActivityRegistry& registry) {
  const auto service = std::make_shared<DeliveryService>();
  add_service_activity(registry, "delivery.create", service, &DeliveryService::create);
  add_service_activity(registry, "delivery.cancel", service, &DeliveryService::cancel);
  add_service_activity(registry, "delivery.complete", service, &DeliveryService::complete);
  add_service_activity(registry, "delivery.get", service, &DeliveryService::get);
}

}  // namespace flightplan::activities::detail

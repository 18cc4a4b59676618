#include "flightplan/rest/delivery_api.hpp"

#include "flightplan/activities/flight.hpp"
#include "flightplan/engine/duration.hpp"
#include "flightplan/http/problem.hpp"

#include <cmath>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string_view>

namespace flightplan::rest {
namespace {

using engine::ErrorCategory;
using engine::OperationError;
using engine::WorkflowState;
using engine::WorkflowStatus;
using nlohmann::json;

// The activities refuse longer identifiers (activities/README.md); saying so here names the field.
constexpr std::size_t text_length_max = 256;
constexpr std::size_t confirmation_blob_bytes_max = 64 * 1024;
constexpr double package_weight_kg_max = 10'000.0;

[[noreturn]] void bad_request(const std::string& detail) {
  throw OperationError(ErrorCategory::invalid_argument, detail);
}

std::string comma_list(std::initializer_list<std::string_view> names) {
  std::string text;
  for (std::string_view name : names) text += (text.empty() ? "" : ", ") + std::string(name);
  return text;
}

// `body` must be an object whose members are all in `allowed`; `where` prefixes nested names.
void check_members(const json& body, std::initializer_list<std::string_view> allowed,
                   const std::string& where) {
  if (!body.is_object()) {
    bad_request(where.empty() ? "the body must be a JSON object" : "field '" + where + "' must be an object");
  }
  for (const auto& [key, value] : body.items()) {
    bool known = false;
    for (std::string_view name : allowed) known = known || key == name;
    if (!known) {
      const std::string name = where.empty() ? key : where + "." + key;
      bad_request("unknown field '" + name + "' (expected " + comma_list(allowed) + ")");
    }
  }
}

const json* member(const json& body, const std::string& key, bool required, const std::string& name) {
  const auto it = body.find(key);
  if (it == body.end()) {
    if (required) bad_request("field '" + name + "' is required");
    return nullptr;
  }
  return &*it;
}

std::optional<std::string> text(const json& body, const std::string& key, bool required,
                                const std::string& name) {
  const json* value = member(body, key, required, name);
  if (value == nullptr) return std::nullopt;
  if (!value->is_string()) bad_request("field '" + name + "' must be a string");
  const std::string& string = value->get_ref<const std::string&>();
  if (string.empty()) bad_request("field '" + name + "' must not be empty");
  if (string.size() > text_length_max)
    bad_request("field '" + name + "' is longer than " + std::to_string(text_length_max) + " characters");
  return string;
}

std::optional<bool> boolean(const json& body, const std::string& key) {
  const json* value = member(body, key, false, key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_boolean()) bad_request("field '" + key + "' must be true or false");
  return value->get<bool>();
}

// A location as the activities read it: a "lat,lon" string is kept as given, an object is rebuilt
// as {latitude, longitude, altitude} (so nothing else rides along into the workflow).
std::optional<json> location(const json& body, const std::string& key, bool required) {
  const json* value = member(body, key, required, key);
  if (value == nullptr) return std::nullopt;
  try {
    const activities::GeoPoint point = activities::location_from_json(*value, key);
    return value->is_string() ? *value : activities::to_json(point);
  } catch (const std::invalid_argument& error) {
    bad_request(error.what());
  }
}

// An RFC 3339 date-time with a time zone, as epoch milliseconds.
std::optional<std::int64_t> timestamp_ms(const json& body, const std::string& key, bool required) {
  const json* value = member(body, key, required, key);
  if (value == nullptr) return std::nullopt;
  const std::string example = " (RFC 3339, e.g. \"2026-11-21T10:00:00Z\")";
  if (!value->is_string()) bad_request("field '" + key + "' must be a date-time string" + example);
  const std::string& string = value->get_ref<const std::string&>();
  const std::size_t size = string.size();
  const bool has_zone =
      size > 19 &&
      (string.back() == 'Z' || string.back() == 'z' ||
       (size >= 25 && string[size - 3] == ':' && (string[size - 6] == '+' || string[size - 6] == '-')));
  const auto parsed = size > 10 && (string[10] == 'T' || string[10] == 't') && has_zone
                          ? engine::parse_timestamp_ms(string)
                          : std::nullopt;
  if (!parsed || *parsed < 0) bad_request("field '" + key + "' is not a valid date-time" + example);
  return parsed;
}

// The workflow's deadline arithmetic reads whole seconds in UTC (jq's fromdateiso8601).
std::string deadline_text(std::int64_t epoch_ms) {
  return engine::format_timestamp(epoch_ms).substr(0, 19) + "Z";
}

// Copies the route fields of `body` into `out`, validated and normalised.
void add_route_fields(const json& body, json& out, bool locations_required) {
  if (auto pickup = location(body, "pickupLocation", locations_required)) out["pickupLocation"] = *pickup;
  if (auto time_ms = timestamp_ms(body, "pickupTime", false))
    out["pickupTime"] = engine::format_timestamp(*time_ms);
  if (auto dropoff = location(body, "dropOffLocation", locations_required)) out["dropOffLocation"] = *dropoff;
  if (auto deadline_ms = timestamp_ms(body, "deadline", false)) out["deadline"] = deadline_text(*deadline_ms);
}

json normalise_package(const json& body) {
  const json* package = member(body, "packageInfo", true, "packageInfo");
  check_members(*package, {"packageId", "size", "weight", "tag"}, "packageInfo");
  json out{{"packageId", *text(*package, "packageId", true, "packageInfo.packageId")}};
  const std::string size = *text(*package, "size", true, "packageInfo.size");
  if (size != "small" && size != "medium" && size != "large")
    bad_request("field 'packageInfo.size' must be one of small, medium, large (got '" + size + "')");
  out["size"] = size;
  const json* weight = member(*package, "weight", true, "packageInfo.weight");
  if (!weight->is_number() || !std::isfinite(weight->get<double>()) || weight->get<double>() <= 0.0 ||
      weight->get<double>() > package_weight_kg_max) {
    bad_request("field 'packageInfo.weight' must be a number of kilograms greater than 0 and at most 10000");
  }
  out["weight"] = *weight;
  if (auto tag = text(*package, "tag", false, "packageInfo.tag")) out["tag"] = *tag;
  return out;
}

// --- Reading a delivery workflow ---------------------------------------------------------------
// A workflow's input, context and output are whatever its tasks made of them; reading them never
// assumes a shape, so a delivery started through the generic workflow API cannot make a view fail.

json member_of(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? json(nullptr) : *it;
}

bool has_carrier(const WorkflowState& state) { return member_of(state.context, "carrier").is_object(); }

engine::StoredWorkflow load_delivery(const DeliveryApi& api, const std::string& id) {
  std::optional<engine::StoredWorkflow> stored = api.store.load(id);
  // Other workflows share the id space; to this API they do not exist.
  if (!stored || stored->state.name != api.workflow)
    throw OperationError(ErrorCategory::not_found, "no delivery with id '" + id + "'");
  return std::move(*stored);
}

bool is_cancelled(WorkflowStatus status) {
  return status != WorkflowStatus::completed &&
         (engine::is_final(status) || status == WorkflowStatus::compensating);
}

std::optional<activities::FlightPlan> carrier_plan(const WorkflowState& state) {
  const auto it = state.context.find("carrier");
  if (it == state.context.end() || it->is_null()) return std::nullopt;
  try {
    return activities::flight_plan_from_json(*it);
  } catch (const activities::FlightPlanError& error) {
    throw OperationError(ErrorCategory::internal, "delivery '" + state.id + "': " + error.what());
  }
}

// The current request: the start input with the fields reschedules changed laid over it.
json current_request(const WorkflowState& state) {
  json current = state.input.is_object() ? state.input : json::object();
  if (const auto route = state.context.find("route"); route != state.context.end() && route->is_object())
    for (const auto& [key, value] : route->items())
      if (!value.is_null()) current[key] = value;
  return current;
}

json location_view(const json& request, const char* key) {
  if (!request.contains(key)) return nullptr;
  try {
    return activities::to_json(activities::location_from_json(request.at(key), key));
  } catch (const std::invalid_argument&) {
    return nullptr;  // started through the generic workflow API with a location it could not use
  }
}

std::string lifecycle(const WorkflowState& state) {
  if (state.status == WorkflowStatus::completed) return "completed";
  if (is_cancelled(state.status)) return "cancelled";
  return has_carrier(state) ? "scheduled" : "created";
}

void add_carrier_ids(json& out, const WorkflowState& state) {
  const json carrier = member_of(state.context, "carrier");
  out["carrier"] = carrier.contains("droneId")     ? json("drone")
                   : carrier.contains("bookingId") ? json("thirdParty")
                                                   : json(nullptr);
  out["droneId"] = member_of(carrier, "droneId");
  out["bookingId"] = member_of(carrier, "bookingId");
  out["plan"] = member_of(carrier, "plan");
}

json status_of_open(const WorkflowState& state, const activities::FlightPlan& plan, std::int64_t now_ms) {
  const activities::FlightPosition position = activities::position_at(plan, now_ms);
  json out{{"stage", activities::to_string(position.stage)},
           {"lastKnownLocation", activities::to_json(position.location)},
           {"pickupETA", engine::format_timestamp(position.pickup_eta_ms)},
           {"deliveryETA", engine::format_timestamp(position.delivery_eta_ms)}};
  if (position.stage == activities::FlightStage::landed) {
    // Down at the drop-off, but the delivery is not complete until the workflow says so (the
    // landing is being recorded, or the recipient has yet to confirm).
    out["stage"] = activities::to_string(activities::FlightStage::headed_to_dropoff);
    out["awaitingConfirmation"] = member_of(state.input, "confirmationRequired") == true;
  }
  return out;
}

json status_of_completed(const WorkflowState& state, const std::optional<activities::FlightPlan>& plan) {
  // Handed over at `deliveredAt` (the landing, or an early confirmation); the close if unknown.
  const json delivered = member_of(state.output, "deliveredAt");
  const std::int64_t at_ms =
      (delivered.is_string() ? engine::parse_timestamp_ms(delivered.get<std::string>()) : std::nullopt)
          .value_or(state.closed_ms);
  json out{{"stage", "Completed"},
           {"lastKnownLocation", nullptr},
           {"pickupETA", nullptr},
           {"deliveryETA", engine::format_timestamp(at_ms)}};
  if (plan) {
    const activities::FlightPosition position = activities::position_at(*plan, at_ms);
    out["lastKnownLocation"] = activities::to_json(position.location);
    out["pickupETA"] = engine::format_timestamp(std::min(position.pickup_eta_ms, at_ms));
  }
  return out;
}

json status_of_cancelled(const WorkflowState& state, const std::optional<activities::FlightPlan>& plan,
                         std::int64_t now_ms) {
  // Frozen where the carrier was when the delivery stopped: the workflow's close, or its last update
  // while compensations run.
  const std::int64_t stopped_ms = std::min(now_ms, state.closed_ms != 0 ? state.closed_ms : state.updated_ms);
  json out{{"stage", "Cancelled"},
           {"lastKnownLocation", nullptr},
           {"pickupETA", nullptr},
           {"deliveryETA", nullptr}};
  if (plan)
    out["lastKnownLocation"] = activities::to_json(activities::position_at(*plan, stopped_ms).location);
  return out;
}

// Refuses a change to a delivery that is over, being undone, or (for a reschedule) already down.
void require_open(const WorkflowState& state, const std::string& action) {
  if (state.status == WorkflowStatus::compensating)
    throw OperationError(ErrorCategory::conflict,
                         "delivery '" + state.id + "' is being cancelled; cannot " + action);
  if (engine::is_final(state.status))
    throw OperationError(ErrorCategory::conflict, "delivery '" + state.id + "' is already " +
                                                      std::string(engine::to_string(state.status)) +
                                                      "; cannot " + action);
}

void check_reschedulable(const WorkflowState& state, const json& changes, std::int64_t now_ms) {
  require_open(state, "reschedule it");
  const auto plan = carrier_plan(state);
  if (!plan) return;  // not booked yet: the workflow applies the change once it is
  const activities::FlightPosition position = activities::position_at(*plan, now_ms);
  if (position.stage == activities::FlightStage::landed)
    throw OperationError(ErrorCategory::conflict, "delivery '" + state.id +
                                                      "' is already at its drop-off (since " +
                                                      engine::format_timestamp(plan->delivery_eta_ms) + ")");
  const bool moves_pickup = changes.contains("pickupLocation") || changes.contains("pickupTime");
  if (moves_pickup && position.stage == activities::FlightStage::headed_to_dropoff)
    throw OperationError(ErrorCategory::conflict, "the package of delivery '" + state.id +
                                                      "' was picked up at " +
                                                      engine::format_timestamp(position.pickup_eta_ms) +
                                                      "; pickupLocation and pickupTime can no longer change");
}

json request_body_or_empty(const http::Request& request) {
  return request.body.empty() ? json::object() : http::parse_json_body(request);
}

}  // namespace

json normalise_delivery_request(const json& body) {
  if (body.is_object() && body.contains("deliveryId"))
    bad_request("field 'deliveryId' is assigned by the server; leave it out");
  check_members(body,
                {"ownerId", "pickupLocation", "pickupTime", "deadline", "expedited", "confirmationRequired",
                 "dropOffLocation", "packageInfo"},
                "");
  json out{{"ownerId", *text(body, "ownerId", true, "ownerId")}};
  add_route_fields(body, out, true);
  out["expedited"] = boolean(body, "expedited").value_or(false);
  out["confirmationRequired"] = boolean(body, "confirmationRequired").value_or(false);
  out["packageInfo"] = normalise_package(body);
  return out;
}

json normalise_reschedule(const json& body) {
  check_members(body, {"pickupTime", "pickupLocation", "dropOffLocation", "deadline"}, "");
  if (body.empty())
    bad_request("the body must change at least one of pickupTime, pickupLocation, dropOffLocation, deadline");
  json out = json::object();
  add_route_fields(body, out, false);
  return out;
}

json normalise_confirmation(const json& body, std::int64_t now_ms) {
  check_members(body, {"dateTime", "confirmationType", "confirmationBlob"}, "");
  json out{{"dateTime", engine::format_timestamp(timestamp_ms(body, "dateTime", false).value_or(now_ms))}};
  if (const json* type = member(body, "confirmationType", false, "confirmationType")) {
    if (!type->is_string() || (*type != "None" && *type != "Picture" && *type != "Signature"))
      bad_request("field 'confirmationType' must be one of None, Picture, Signature");
    out["confirmationType"] = *type;
  }
  if (const json* blob = member(body, "confirmationBlob", false, "confirmationBlob")) {
    if (!blob->is_string()) bad_request("field 'confirmationBlob' must be a string");
    if (blob->get_ref<const std::string&>().size() > confirmation_blob_bytes_max)
      bad_request("field 'confirmationBlob' is longer than 65536 bytes");
    out["confirmationBlob"] = *blob;
  }
  return out;
}

json delivery_view(const WorkflowState& state) {
  const json request = current_request(state);
  const json output = state.output.is_object() ? state.output : json::object();
  json view{
      {"id", state.id},
      {"ownerId", request.value("ownerId", json(nullptr))},
      {"pickup", location_view(request, "pickupLocation")},
      {"pickupTime", request.value("pickupTime", json(nullptr))},
      {"dropoff", location_view(request, "dropOffLocation")},
      {"deadline", request.value("deadline", json(nullptr))},
      {"expedited", request.value("expedited", json(false))},
      {"confirmationRequired", request.value("confirmationRequired", json(false))},
      {"packageInfo", request.value("packageInfo", json(nullptr))},
      {"status", lifecycle(state)},
      {"workflowStatus", engine::to_string(state.status)},
      {"reschedules",
       member_of(state.context, "reschedules").is_null() ? json(0) : member_of(state.context, "reschedules")},
      {"deliveredAt", output.value("deliveredAt", json(nullptr))},
      {"confirmation", output.value("confirmation", json(nullptr))},
      {"error", state.error},
      {"requested", engine::format_timestamp(state.started_ms)},
      {"updated", engine::format_timestamp(state.updated_ms)},
      {"closed", state.closed_ms != 0 ? json(engine::format_timestamp(state.closed_ms)) : json(nullptr)}};
  add_carrier_ids(view, state);
  return view;
}

json delivery_status(const WorkflowState& state, std::int64_t now_ms) {
  const auto plan = carrier_plan(state);
  json status;
  if (state.status == WorkflowStatus::completed) {
    status = status_of_completed(state, plan);
  } else if (is_cancelled(state.status)) {
    status = status_of_cancelled(state, plan, now_ms);
  } else if (plan) {
    status = status_of_open(state, *plan, now_ms);
  } else {
    status = json{{"stage", "Created"},
                  {"lastKnownLocation", nullptr},
                  {"pickupETA", nullptr},
                  {"deliveryETA", nullptr}};
  }
  status["deliveryId"] = state.id;
  status["asOf"] = engine::format_timestamp(now_ms);
  add_carrier_ids(status, state);
  return status;
}

void add_delivery_routes(http::Router& router, const DeliveryApi& settings) {
  const auto api = std::make_shared<const DeliveryApi>(settings);
  router.add("POST", "/api/deliveryrequests", [api](const http::Request& request) {
    json input = normalise_delivery_request(http::parse_json_body(request));
    const std::string id = api->new_delivery_id();
    input["deliveryId"] = id;
    try {
      api->orchestrator.start(runtime::StartRequest{api->workflow, "", id, input, request.request_id});
    } catch (const OperationError& error) {
      if (error.category() != ErrorCategory::not_found) throw;
      throw OperationError(ErrorCategory::unavailable, "the '" + api->workflow + "' workflow is not loaded");
    }
    http::Response response = http::json_response(202, input);
    response.headers.set("Location", "/api/deliveries/" + id);
    return response;
  });
  router.add("DELETE", "/api/deliveryrequests/{id}", [api](const http::Request& request) {
    const engine::StoredWorkflow stored = load_delivery(*api, request.path_param("id"));
    require_open(stored.state, "cancel it");
    api->store.enqueue_input(stored.state.id,
                             engine::Input::cancel("delivery request cancelled", api->clock.now_ms()));
    return http::json_response(202, json{{"deliveryId", stored.state.id}, {"cancelRequested", true}});
  });
  router.add("PATCH", "/api/deliveryrequests/{id}", [api](const http::Request& request) {
    const json changes = normalise_reschedule(http::parse_json_body(request));
    const engine::StoredWorkflow stored = load_delivery(*api, request.path_param("id"));
    const std::int64_t now_ms = api->clock.now_ms();
    check_reschedulable(stored.state, changes, now_ms);
    api->store.enqueue_input(stored.state.id, engine::Input::signal("reschedule", changes, now_ms));
    return http::json_response(
        202, json{{"deliveryId", stored.state.id}, {"rescheduleRequested", true}, {"changes", changes}});
  });
  router.add("GET", "/api/deliveries/{id}", [api](const http::Request& request) {
    return http::json_response(200, delivery_view(load_delivery(*api, request.path_param("id")).state));
  });
  router.add("GET", "/api/deliveries/{id}/status", [api](const http::Request& request) {
    const engine::StoredWorkflow stored = load_delivery(*api, request.path_param("id"));
    return http::json_response(200, delivery_status(stored.state, api->clock.now_ms()));
  });
  router.add("POST", "/api/deliveries/{id}/confirmations", [api](const http::Request& request) {
    const std::int64_t now_ms = api->clock.now_ms();
    const json confirmation = normalise_confirmation(request_body_or_empty(request), now_ms);
    const engine::StoredWorkflow stored = load_delivery(*api, request.path_param("id"));
    require_open(stored.state, "confirm it");
    if (!has_carrier(stored.state))
      throw OperationError(ErrorCategory::conflict, "delivery '" + stored.state.id +
                                                        "' has no carrier yet; there is nothing to confirm");
    api->store.enqueue_input(stored.state.id, engine::Input::signal("confirmation", confirmation, now_ms));
    return http::json_response(202, json{{"deliveryId", stored.state.id},
                                         {"confirmationAccepted", true},
                                         {"confirmation", confirmation}});
  });
}

}  // namespace flightplan::rest

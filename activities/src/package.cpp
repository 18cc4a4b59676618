// package.*: the simulated package registry. A package is created by its first upsert with status
// "created"; later upserts change its details but never its status; cancel sets "cancelled".
// Records: "package:<packageId>" -> {ownerId, size, weight, tag, status}.
#include "failures.hpp"
#include "service.hpp"

namespace flightplan::activities::detail {

namespace {

using nlohmann::json;

std::string record_id(const std::string& package_id) { return "package:" + package_id; }

// The record is stored in the output's own shape, without the id.
json package_output(const std::string& package_id, const json& record) {
  json out{{"packageId", package_id}};
  for (const char* field : {"ownerId", "size", "weight", "tag", "status"}) out[field] = record.at(field);
  return out;
}

ActivityResult upsert(Call& call) {
  const std::string package_id = call.args.text("packageId");
  // Fields are read in this order, so the first bad one is the one reported.
  json update = json::object();
  update["ownerId"] = call.args.text("ownerId");
  update["size"] = call.args.one_of("size", {"small", "medium", "large"});
  update["weight"] = call.args.positive_number("weight");
  const std::optional<std::string> tag = call.args.optional_text("tag");
  update["tag"] = tag ? json(*tag) : json(nullptr);
  update["status"] = "created";
  const std::optional<json> existing = call.records.get(record_id(package_id));
  if (existing) {
    update["status"] = existing->at("status");
  } else if (call.records.count() >= records_max) {
    return unavailable("the package store is full", false);
  }
  call.records.put(record_id(package_id), update);
  return ActivityResult::success(package_output(package_id, update));
}

ActivityResult cancel(Call& call) {
  const std::string package_id = call.args.text("packageId");
  std::optional<json> package = call.records.get(record_id(package_id));
  if (!package) return not_found("package '" + package_id + "' does not exist");
  (*package)["status"] = "cancelled";
  call.records.put(record_id(package_id), *package);
  return ActivityResult::success({{"packageId", package_id}, {"status", "cancelled"}});
}

ActivityResult get(Call& call) {
  const std::string package_id = call.args.text("packageId");
  const std::optional<json> package = call.records.get(record_id(package_id));
  if (!package) return not_found("package '" + package_id + "' does not exist");
  return ActivityResult::success(package_output(package_id, *package));
}

}  // namespace

void register_package_activities(ActivityRegistry& registry, ServiceStore& store) {
  const auto service = std::make_shared<Service>(store, "package");
  add_service_activity(registry, "package.upsert", service, upsert);
  add_service_activity(registry, "package.cancel", service, cancel);
  add_service_activity(registry, "package.get", service, get);
}

}  // namespace flightplan::activities::detail

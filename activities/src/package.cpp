// package.*: the simulated package registry. A package is created by its first upsert with status
// "created"; later upserts change its details but never its status; cancel sets "cancelled".
#include "failures.hpp"
#include "service.hpp"

namespace flightplan::activities::detail {

namespace {

struct Package {
  std::string owner_id;
  std::string size;
  double weight_kg = 0.0;
  std::optional<std::string> tag;
  std::string status;
};

class PackageService : public Service {
 public:
  ActivityResult upsert(Call& call) {
    const std::string package_id = call.args.text("packageId");
    Package update{call.args.text("ownerId"), call.args.one_of("size", {"small", "medium", "large"}),
                   call.args.positive_number("weight"), call.args.optional_text("tag"), "created"};
    const auto it = packages_.find(package_id);
    if (it != packages_.end()) {
      update.status = it->second.status;
      it->second = std::move(update);
      return ActivityResult::success(to_json(package_id, it->second));
    }
    if (packages_.size() >= records_max) return unavailable("the package store is full", false);
    const auto inserted = packages_.emplace(package_id, std::move(update)).first;
    return ActivityResult::success(to_json(package_id, inserted->second));
  }

  ActivityResult cancel(Call& call) {
    const std::string package_id = call.args.text("packageId");
    const auto it = packages_.find(package_id);
    if (it == packages_.end()) return not_found("package '" + package_id + "' does not exist");
    it->second.status = "cancelled";
    return ActivityResult::success({{"packageId", package_id}, {"status", "cancelled"}});
  }

  ActivityResult get(Call& call) {
    const std::string package_id = call.args.text("packageId");
    const auto it = packages_.find(package_id);
    if (it == packages_.end()) return not_found("package '" + package_id + "' does not exist");
    return ActivityResult::success(to_json(package_id, it->second));
  }

 private:
  static nlohmann::json to_json(const std::string& package_id, const Package& package) {
    return {{"packageId", package_id},
            {"ownerId", package.owner_id},
            {"size", package.size},
            {"weight", package.weight_kg},
            {"tag", package.tag ? nlohmann::json(*package.tag) : nlohmann::json(nullptr)},
            {"status", package.status}};
  }

  std::map<std::string, Package, std::less<>> packages_;
};

}  // namespace

void register_package_activities(ActivityRegistry& registry) {
  const auto service = std::make_shared<PackageService>();
  add_service_activity(registry, "package.upsert", service, &PackageService::upsert);
  add_service_activity(registry, "package.cancel", service, &PackageService::cancel);
  add_service_activity(registry, "package.get", service, &PackageService::get);
}

}  // namespace flightplan::activities::detail

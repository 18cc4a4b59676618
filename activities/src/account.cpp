// account.check: the simulated customer-account service. Its rule is a naming convention so that
// workflows and tests can ask for each outcome without setting anything up first:
//   "unknown-*"  -> no such account (404),
//   "inactive-*" -> a registered but suspended business (active = false),
//   anything else -> a registered, active business.
// It keeps no records; like every service it records the outcome of each idempotency key.
#include "failures.hpp"
#include "service.hpp"

namespace flightplan::activities::detail {

namespace {

ActivityResult check(Call& call) {
  const std::string owner_id = call.args.text("ownerId");
  if (owner_id.starts_with("unknown-")) return not_found("account '" + owner_id + "' does not exist");
  const bool active = !owner_id.starts_with("inactive-");
  return ActivityResult::success({{"ownerId", owner_id}, {"active", active}, {"name", "Business " + owner_id}});
}

}  // namespace

void register_account_activities(ActivityRegistry& registry, ServiceStore& store) {
  const auto service = std::make_shared<Service>(store, "account");
  add_service_activity(registry, "account.check", service, check);
}

}  // namespace flightplan::activities::detail

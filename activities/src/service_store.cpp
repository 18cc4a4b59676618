#include "flightplan/activities/service_store.hpp"

namespace flightplan::activities {

void require_service_name(std::string_view service) {
  if (service.empty() || service.size() > service_name_length_max) {
    throw std::invalid_argument("service name must be 1 to " + std::to_string(service_name_length_max) +
                                " characters long");
  }
  for (const char c : service) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!allowed) {
      throw std::invalid_argument("service name '" + std::string(service) + "' may hold only a-z, 0-9, '_' and '-'");
    }
  }
}

void require_idempotency_key(const std::string& key) {
  if (key.empty()) throw std::invalid_argument("service store: an idempotency key must not be empty");
}

void require_batch_size(std::size_t size, std::string_view what) {
  if (size > service_store_batch_max) {
    throw std::invalid_argument("service store: more than " + std::to_string(service_store_batch_max) + " " +
                                std::string(what));
  }
}

void require_scan_limit(std::size_t limit) {
  if (limit < 1 || limit > service_store_scan_max) {
    throw std::invalid_argument("service store: scan limit must be between 1 and " +
                                std::to_string(service_store_scan_max));
  }
}

}  // namespace flightplan::activities

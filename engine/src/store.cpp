#include "flightplan/engine/store.hpp"

namespace flightplan::engine {

std::string queue_of(std::string_view activity) {
  return std::string(activity.substr(0, activity.find('.')));
}

}  // namespace flightplan::engine

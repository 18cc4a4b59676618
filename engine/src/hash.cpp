#include "flightplan/engine/hash.hpp"

#include <cstdio>

namespace flightplan::engine {

std::uint64_t fnv1a_64(std::string_view text) {
  std::uint64_t hash = 14695981039346656037ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return hash;
}

std::string fnv1a_64_hex(std::string_view text) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(fnv1a_64(text)));
  return buffer;
}

}  // namespace flightplan::engine

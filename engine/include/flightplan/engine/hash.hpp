#pragma once
// FNV-1a, 64 bit: the one stable, portable hash the engine uses for fingerprints (definition
// digests, start digests) and as the seed of deterministic jitter. Not for security.
#include <cstdint>
#include <string>
#include <string_view>

namespace flightplan::engine {

std::uint64_t fnv1a_64(std::string_view text);
// The hash as 16 lowercase hex digits.
std::string fnv1a_64_hex(std::string_view text);

}  // namespace flightplan::engine

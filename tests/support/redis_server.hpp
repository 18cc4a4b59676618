#pragma once
// Tests run their own private redis-server: the same ServerProcess `flightplan dev` uses, in a
// temporary directory, with DEBUG allowed so tests can provoke timeouts, and with the append-only
// file on, as `flightplan server` requires of the Redis it is given (docs/operations.md).
#include "flightplan/redis/server_process.hpp"

namespace flightplan::testing {

struct RedisServerOptions : redis::ServerOptions {
  RedisServerOptions() {
    debug_command = true;
    appendonly = true;
  }
};

class RedisServer : public redis::ServerProcess {
 public:
  explicit RedisServer(RedisServerOptions options = {}) : redis::ServerProcess(options) {}
};

}  // namespace flightplan::testing

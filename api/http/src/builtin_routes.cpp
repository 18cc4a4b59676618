#include "flightplan/http/problem.hpp"
#include "flightplan/http/server.hpp"

#include <algorithm>

namespace flightplan::http {

void add_builtin_routes(Router& router, std::function<bool()> readiness) {
  // Probes carry no credentials: both are public.
  router.add(
      "GET", "/healthz",
      [](const Request&) {
        return json_response(200, {{"status", "ok"}});
      },
      Access::public_);
  router.add(
      "GET", "/readyz",
      [readiness = std::move(readiness)](const Request& request) {
        bool ready = false;
        try {
          ready = readiness && readiness();
        } catch (...) {
          ready = false;  // A probe that cannot tell is not ready; the orchestrator will ask again.
        }
        if (ready) return json_response(200, {{"status", "ready"}});
        return problem_response(engine::ErrorCategory::unavailable,
                                "the server is not ready to take requests", request.path);
      },
      Access::public_);
}

bool is_sane_request_id(std::string_view value) {
  constexpr std::size_t request_id_bytes_max = 128;
  return !value.empty() && value.size() <= request_id_bytes_max &&
         std::all_of(value.begin(), value.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                  c == '_' || c == ':' || c == '-';
         });
}

}  // namespace flightplan::http

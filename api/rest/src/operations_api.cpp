#include "flightplan/rest/operations_api.hpp"

#include "embedded_files.hpp"
#include "flightplan/runtime/log.hpp"

#include <stdexcept>

namespace flightplan::rest {

std::string_view openapi_document() {
  for (const EmbeddedFile& file : embedded_files())
    if (file.name == "openapi.json") return file.content;
  // The build embeds it (api/rest/CMakeLists.txt); its absence is a broken build, not a request error.
  throw std::logic_error("openapi.json was not embedded into this binary");
}

void add_operations_routes(http::Router& router, const OperationsApi& api) {
  router.add("GET", "/metrics", [&api](const http::Request& request) {
    try {
      api.metrics.refresh_from_store(api.store, api.clock.now_ms());
    } catch (const std::exception& e) {
      // Counters are still worth scraping when the store is down; the store gauges keep their last values.
      runtime::log(runtime::LogLevel::warn, "metrics: store gauges not refreshed",
                   {{"error", e.what()}, {"request_id", request.request_id}});
    }
    http::Response response;
    response.content_type = std::string(metrics::metrics_content_type);
    response.body = api.metrics.serialize();
    return response;
  });
  router.add(
      "GET", "/api/v1/openapi.json",
      [](const http::Request&) {
        http::Response response;
        response.body = std::string(openapi_document());
        return response;
      },
      http::Access::public_);
}

}  // namespace flightplan::rest

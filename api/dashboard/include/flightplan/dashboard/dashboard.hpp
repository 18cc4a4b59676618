#pragma once
// The operator dashboard: a static single-page app (web/) embedded into the binary at build time and
// served from memory, so it needs no files at run time and works without any outside network.
#include "flightplan/http/message.hpp"
#include "flightplan/http/router.hpp"

#include <string_view>

namespace flightplan::dashboard {

// Registers the dashboard's routes, all GET and all http::Access::public_ (the page asks for a token
// itself when the API answers 401):
//   /            -> 302 to /dashboard
//   /dashboard/  -> 302 to /dashboard
//   /dashboard   -> index.html
//   /dashboard/{asset} -> that embedded file; 404 problem when there is none.
void add_dashboard_routes(http::Router& router);

// The response for the embedded file `name` (e.g. "app.js"), honouring the request's If-None-Match:
// 200 with the bytes, Content-Type by extension, Cache-Control and ETag; 304 when the ETag matches;
// 404 problem+json when no such file is embedded. Exposed for tests.
http::Response asset_response(std::string_view name, const http::Request& request);

}  // namespace flightplan::dashboard

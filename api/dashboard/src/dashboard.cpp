#include "flightplan/dashboard/dashboard.hpp"

#include "embedded_files.hpp"
#include "flightplan/http/problem.hpp"

#include <algorithm>
#include <string>

namespace flightplan::dashboard {
namespace {

constexpr std::string_view index_name = "index.html";
constexpr std::string_view home_path = "/dashboard";

std::string_view content_type_of(std::string_view name) {
  struct Kind {
    std::string_view extension;
    std::string_view content_type;
  };
  static constexpr Kind kinds[] = {
      {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},   {".svg", "image/svg+xml"},
      {".json", "application/json"},         {".png", "image/png"},
      {".txt", "text/plain; charset=utf-8"},
  };
  for (const Kind& kind : kinds)
    if (name.ends_with(kind.extension)) return kind.content_type;
  return "application/octet-stream";
}

const EmbeddedFile* find_file(std::string_view name) {
  const auto files = embedded_files();
  const auto it =
      std::find_if(files.begin(), files.end(), [name](const EmbeddedFile& f) { return f.name == name; });
  return it == files.end() ? nullptr : &*it;
}

// True when an If-None-Match value ("a", W/"a", "*" or a comma-separated list of them) names `etag`.
// Weak comparison (RFC 9110 section 13.1.2) is the right one for a GET.
bool etag_matches(std::string_view if_none_match, std::string_view etag) {
  while (!if_none_match.empty()) {
    const std::size_t comma = if_none_match.find(',');
    std::string_view item = if_none_match.substr(0, comma);
    if_none_match = comma == std::string_view::npos ? std::string_view{} : if_none_match.substr(comma + 1);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (item.starts_with("W/")) item.remove_prefix(2);
    if (item == "*" || item == etag) return true;
  }
  return false;
}

// Headers every dashboard file carries. The files are not fingerprinted in their names, so browsers
// must revalidate (no-cache) — cheap with the ETag. The policy allows nothing from outside the
// server, which also proves the page works offline: a stray CDN reference would be blocked.
void add_common_headers(http::Response& response, const std::string& etag) {
  response.headers.set("Cache-Control", "no-cache");
  response.headers.set("ETag", etag);
  response.headers.set("X-Content-Type-Options", "nosniff");
  response.headers.set("Referrer-Policy", "no-referrer");
  response.headers.set("Content-Security-Policy",
                       "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
                       "frame-ancestors 'none'");
}

http::Response redirect_home() {
  http::Response response;
  response.status = 302;
  response.content_type.clear();
  response.headers.set("Location", std::string(home_path));
  return response;
}

}  // namespace

http::Response asset_response(std::string_view name, const http::Request& request) {
  const EmbeddedFile* file = find_file(name);
  if (file == nullptr)
    return http::problem_response(engine::ErrorCategory::not_found,
                                  "the dashboard has no file '" + std::string(name) + "'", request.path);
  const std::string etag = "\"" + std::string(file->digest) + "\"";
  http::Response response;
  add_common_headers(response, etag);
  if (const auto condition = request.headers.find("If-None-Match");
      condition && etag_matches(*condition, etag)) {
    response.status = 304;
    response.content_type.clear();
    return response;
  }
  response.status = 200;
  response.content_type = std::string(content_type_of(file->name));
  response.body = std::string(file->content);
  return response;
}

void add_dashboard_routes(http::Router& router) {
  // Public: the page holds no data; it asks for a token itself when the API answers 401.
  constexpr http::Access access = http::Access::public_;
  router.add(
      "GET", "/", [](const http::Request&) { return redirect_home(); }, access);
  router.add(
      "GET", "/dashboard/", [](const http::Request&) { return redirect_home(); }, access);
  router.add(
      "GET", home_path, [](const http::Request& request) { return asset_response(index_name, request); },
      access);
  router.add(
      "GET", "/dashboard/{asset}",
      [](const http::Request& request) { return asset_response(request.path_param("asset"), request); },
      access);
}

}  // namespace flightplan::dashboard

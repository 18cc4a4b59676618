#define BOOST_TEST_MODULE dashboard
// The embedded dashboard: every file of api/dashboard/web is compiled in byte for byte and served
// with the right Content-Type, caching headers and ETag; GET / redirects; unknown assets are 404;
// and every file the page references (index.html links, JS imports) is one that is embedded.
#include "flightplan/dashboard/dashboard.hpp"
#include "flightplan/http/router.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace {

namespace fs = std::filesystem;
using flightplan::http::Request;
using flightplan::http::Response;
using flightplan::http::Router;

const fs::path web_dir = fs::path(FLIGHTPLAN_SOURCE_DIR) / "api" / "dashboard" / "web";

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  BOOST_REQUIRE_MESSAGE(in, "cannot open " << path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Response get(const Router& router, const std::string& target, const std::string& if_none_match = "") {
  Request request;
  request.method = "GET";
  request.target = target;
  if (!if_none_match.empty()) request.headers.add("If-None-Match", if_none_match);
  return flightplan::http::handle_request(router, request, {});
}

Router dashboard_router() {
  Router router;
  flightplan::dashboard::add_dashboard_routes(router);
  return router;
}

// The files the browser loads: everything in web/ except Node's package.json.
std::set<std::string> served_files() {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(web_dir))
    if (entry.is_regular_file() && entry.path().filename() != "package.json")
      names.insert(entry.path().filename());
  return names;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_web_file_is_embedded_byte_for_byte_with_its_content_type) {
  const Router router = dashboard_router();
  const std::set<std::string> names = served_files();
  BOOST_TEST(names.count("index.html") == 1);
  BOOST_TEST(names.count("app.js") == 1);
  for (const std::string& name : names) {
    BOOST_TEST_CONTEXT(name) {
      const Response response = get(router, "/dashboard/" + name);
      BOOST_REQUIRE_EQUAL(response.status, 200);  // a file missing from the CMake list fails here
      BOOST_TEST(response.body == read_file(web_dir / name));
      BOOST_TEST(response.headers.find("Cache-Control").value_or("") == "no-cache");
      BOOST_TEST(response.headers.find("X-Content-Type-Options").value_or("") == "nosniff");
      const std::string expected_type = name.ends_with(".js")     ? "text/javascript; charset=utf-8"
                                        : name.ends_with(".css")  ? "text/css; charset=utf-8"
                                        : name.ends_with(".html") ? "text/html; charset=utf-8"
                                        : name.ends_with(".svg")  ? "image/svg+xml"
                                                                  : "?";
      BOOST_TEST(response.content_type == expected_type);
    }
  }
}

BOOST_AUTO_TEST_CASE(dashboard_serves_index_and_root_redirects) {
  const Router router = dashboard_router();
  const Response index = get(router, "/dashboard");
  BOOST_TEST(index.status == 200);
  BOOST_TEST(index.body == read_file(web_dir / "index.html"));
  BOOST_TEST(index.content_type == "text/html; charset=utf-8");
  const std::string policy(index.headers.find("Content-Security-Policy").value_or(""));
  BOOST_TEST(policy.find("default-src 'self'") != std::string::npos);
  for (const std::string target : {"/", "/dashboard/"}) {
    const Response redirect = get(router, target);
    BOOST_TEST(redirect.status == 302);
    BOOST_TEST(redirect.headers.find("Location").value_or("") == "/dashboard");
    BOOST_TEST(redirect.body.empty());
  }
}

BOOST_AUTO_TEST_CASE(dashboard_routes_are_public_even_when_the_api_needs_a_token) {
  Router router = dashboard_router();
  // An authorizer that refuses everything it is asked about: public routes never reach it.
  router.set_authorizer([](Request&, flightplan::http::Access) -> std::optional<Response> {
    Response refused;
    refused.status = 401;
    return refused;
  });
  BOOST_TEST(get(router, "/").status == 302);
  BOOST_TEST(get(router, "/dashboard").status == 200);
  BOOST_TEST(get(router, "/dashboard/app.js").status == 200);
  BOOST_TEST(get(router, "/dashboard/nope.js").status == 404);
}

BOOST_AUTO_TEST_CASE(etag_revalidation_answers_304_without_a_body) {
  const Router router = dashboard_router();
  const Response first = get(router, "/dashboard/app.js");
  const std::string etag(first.headers.find("ETag").value_or(""));
  BOOST_REQUIRE_EQUAL(etag.size(), 18u);  // a quoted 16-digit digest
  BOOST_TEST(etag.front() == '"');
  for (const std::string& condition : {etag, "W/" + etag, "\"other\", " + etag, std::string("*")}) {
    const Response again = get(router, "/dashboard/app.js", condition);
    BOOST_TEST(again.status == 304);
    BOOST_TEST(again.body.empty());
    BOOST_TEST(again.headers.find("ETag").value_or("") == etag);
  }
  BOOST_TEST(get(router, "/dashboard/app.js", "\"stale\"").status == 200);
  // Different files have different tags.
  BOOST_TEST(get(router, "/dashboard/style.css").headers.find("ETag").value_or("") != etag);
}

BOOST_AUTO_TEST_CASE(unknown_or_malformed_assets_are_refused) {
  const Router router = dashboard_router();
  const Response missing = get(router, "/dashboard/nope.js");
  BOOST_TEST(missing.status == 404);
  BOOST_TEST(missing.content_type == "application/problem+json");
  BOOST_TEST(missing.body.find("nope.js") != std::string::npos);
  BOOST_TEST(get(router, "/dashboard/package.json").status == 404);  // Node's file is not embedded
  BOOST_TEST(get(router, "/dashboard/..%2fCMakeLists.txt").status == 400);
  BOOST_TEST(get(router, "/dashboard/web/app.js").status == 404);
}

BOOST_AUTO_TEST_CASE(everything_the_page_references_is_embedded) {
  const std::set<std::string> names = served_files();
  // index.html: src="/dashboard/x" and href="/dashboard/x".
  const std::string index = read_file(web_dir / "index.html");
  const std::regex link(R"re((?:src|href)="/dashboard/([^"]+)")re");
  int links = 0;
  for (std::sregex_iterator it(index.begin(), index.end(), link), end; it != end; ++it, ++links)
    BOOST_TEST(names.count((*it)[1].str()) == 1, "index.html links " << (*it)[1].str());
  BOOST_TEST(links >= 3);
  // JS modules: import ... from './x.js' (only relative imports: nothing comes from outside).
  const std::regex import_from(R"re(from\s+'([^']+)')re");
  for (const std::string& name : names) {
    if (!name.ends_with(".js")) continue;
    const std::string source = read_file(web_dir / name);
    for (std::sregex_iterator it(source.begin(), source.end(), import_from), end; it != end; ++it) {
      const std::string target = (*it)[1].str();
      BOOST_TEST_CONTEXT(name << " imports " << target) {
        BOOST_TEST(target.starts_with("./"));
        BOOST_TEST(names.count(target.substr(2)) == 1);
      }
    }
    // Data reaches the DOM as text only; no URL outside the server (the SVG namespace is a name).
    for (const std::string banned : {".innerHTML", ".outerHTML", "insertAdjacentHTML", "document.write"})
      BOOST_TEST(source.find(banned) == std::string::npos, name << " uses " << banned);
    const std::string without_namespace =
        std::regex_replace(source, std::regex("http://www.w3.org/2000/svg"), "");
    BOOST_TEST(without_namespace.find("http://") == std::string::npos, name << " reaches outside");
    BOOST_TEST(without_namespace.find("https://") == std::string::npos, name << " reaches outside");
  }
}

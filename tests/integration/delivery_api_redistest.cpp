#define BOOST_TEST_MODULE delivery_api
// The Fabrikam delivery API end to end over real loopback sockets: `flightplan dev --redis URL` on a
// private redis-server with its clock 20 times faster, so that a flight of a few virtual minutes
// takes seconds. A request is tracked from Created to Completed with a location that moves; a cancel
// compensates; a reschedule in flight lands at the new drop-off; a required confirmation completes
// the delivery; bad bodies are 400 naming the field; unknown ids are 404. Every wait is a bounded
// poll with a deadline.
#include "../support/cluster.hpp"
#include "../support/redis_server.hpp"

#include <cmath>
#include <filesystem>
#include <functional>
#include <set>

using namespace flightplan;
using nlohmann::json;
using testing::HttpResponse;

namespace {

constexpr double time_scale = 20.0;

// The dev process also loads bench-5step, so that a workflow which is not a delivery exists.
testing::ServerHandle start_dev(testing::Cluster& cluster) {
  std::filesystem::copy_file(testing::source_path("workflows/bench-5step.yaml"),
                             cluster.workflows_dir() + "/bench-5step.yaml");
  // 100 ms (real) per account check: a new request stays Created long enough to be seen.
  return cluster.start_dev("dev-1", {"--inject", "account.check:latency_ms=100"});
}

struct Api {
  testing::RedisServer redis;
  testing::Cluster cluster{redis.url(), time_scale};
  testing::ServerHandle dev = start_dev(cluster);
};

Api& api() {
  static std::unique_ptr<Api> instance;
  if (!instance) instance = std::make_unique<Api>();
  return *instance;
}

HttpResponse send(const std::string& method, const std::string& target, const std::string& body = "",
                  const std::string& content_type = "application/json") {
  return testing::http_request(api().dev.port,
                               testing::HttpRequest{method, target, body, content_type, 20'000});
}

HttpResponse get(const std::string& target) { return send("GET", target); }

// A route in Seattle: the hangar to the pickup is 1.7 km (114 s at 15 m/s), then 60 s of
// handling and about 1.15 km (77 s) to the drop-off: about 4 virtual minutes, 13 s real.
json request_body(bool confirmation_required = false) {
  return json{{"ownerId", "fabrikam-books"},
              {"pickupLocation", "47.6097,-122.3331"},
              {"dropOffLocation", {{"latitude", 47.6150}, {"longitude", -122.3200}}},
              {"deadline", "2099-01-01T00:00:00Z"},
              {"confirmationRequired", confirmation_required},
              {"packageInfo", {{"packageId", "p-1"}, {"size", "small"}, {"weight", 1.5}, {"tag", "books"}}}};
}

// POST /api/deliveryrequests; requires 202 and returns the delivery id.
std::string request_delivery(const json& body) {
  const HttpResponse response = send("POST", "/api/deliveryrequests", body.dump());
  BOOST_REQUIRE_MESSAGE(response.status == 202, response.status << " " << response.body);
  const std::string id = response.json().value("deliveryId", "");
  BOOST_REQUIRE(!id.empty());
  BOOST_TEST(response.header("location") == "/api/deliveries/" + id);
  return id;
}

json status(const std::string& id) {
  const HttpResponse response = get("/api/deliveries/" + id + "/status");
  BOOST_REQUIRE_MESSAGE(response.status == 200, "status of " << id << ": " << response.body);
  return response.json();
}

// Polls the status every 50 ms (at most `seconds_max`) until `done`; `seen` gets every status.
json await_status(const std::string& id, int seconds_max, const std::function<bool(const json&)>& done,
                  std::vector<json>* seen = nullptr) {
  json last;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds_max);
  while (std::chrono::steady_clock::now() < deadline) {
    last = status(id);
    if (seen != nullptr) seen->push_back(last);
    if (done(last)) return last;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  BOOST_FAIL("delivery " + id + " did not get there in " + std::to_string(seconds_max) + " s; last status " +
             last.dump() + "\n" + api().cluster.logs_tail());
  return last;
}

std::function<bool(const json&)> stage_is(const std::string& stage) {
  return [stage](const json& s) { return s.value("stage", "") == stage; };
}

std::string workflow_status(const std::string& id) {
  return get("/api/v1/workflows/" + id).json().value("status", "");
}

void expect_problem(const HttpResponse& response, int status, const std::string& detail_part) {
  BOOST_TEST(response.status == status,
             "expected " << status << ", got " << response.status << ": " << response.body);
  BOOST_TEST(response.header("content-type") == "application/problem+json");
  const std::string detail = response.json().value("detail", "");
  BOOST_TEST(detail.find(detail_part) != std::string::npos,
             "detail '" << detail << "' lacks '" << detail_part << "'");
}

void check_location(const json& location, double latitude, double longitude) {
  BOOST_TEST(location.at("latitude").get<double>() == latitude, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(location.at("longitude").get<double>() == longitude, boost::test_tools::tolerance(1e-9));
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_delivery_moves_from_created_to_completed) {
  const HttpResponse response = send("POST", "/api/deliveryrequests", request_body().dump());
  BOOST_REQUIRE_MESSAGE(response.status == 202, response.body);
  const json echoed = response.json();
  const std::string id = echoed.value("deliveryId", "");
  BOOST_TEST(echoed.at("ownerId") == "fabrikam-books");
  BOOST_TEST(echoed.at("packageInfo").at("weight") == 1.5);
  BOOST_TEST(echoed.at("confirmationRequired") == false);
  BOOST_TEST(response.header("location") == "/api/deliveries/" + id);
  BOOST_TEST(status(id).at("stage") == "Created");

  std::vector<json> seen;
  const json done = await_status(id, 60, stage_is("Completed"), &seen);
  // The stages came in order, and each of them was seen.
  const std::vector<std::string> order{"Created", "HeadedToPickup", "HeadedToDropoff", "Completed"};
  std::size_t at = 0;
  std::set<std::string> stages;
  std::set<std::string> locations_in_flight;
  for (const json& s : seen) {
    const std::string stage = s.at("stage");
    stages.insert(stage);
    while (at < order.size() && order[at] != stage) ++at;
    BOOST_TEST(at < order.size(), "stage " << stage << " came out of order");
    if (stage == "HeadedToDropoff" && s.at("lastKnownLocation").at("altitude") == 120.0)
      locations_in_flight.insert(s.at("lastKnownLocation").dump());
  }
  BOOST_TEST(stages.count("HeadedToPickup") == 1u);
  BOOST_TEST(stages.count("HeadedToDropoff") == 1u);
  BOOST_TEST(locations_in_flight.size() >= 3u, "the drone did not move between polls");
  check_location(done.at("lastKnownLocation"), 47.6150, -122.3200);
  BOOST_TEST(done.at("droneId").get<std::string>().rfind("drone-", 0) == 0u);

  const json delivery = get("/api/deliveries/" + id).json();
  BOOST_TEST(delivery.at("id") == id);
  BOOST_TEST(delivery.at("status") == "completed");
  BOOST_TEST(delivery.at("deliveredAt") == done.at("deliveryETA"));
  check_location(delivery.at("pickup"), 47.6097, -122.3331);
  BOOST_TEST(workflow_status(id) == "completed");
  api().cluster.check_replays(id);
}

BOOST_AUTO_TEST_CASE(cancel_compensates_and_the_stage_is_cancelled) {
  const std::string id = request_delivery(request_body());
  await_status(id, 30, stage_is("HeadedToPickup"));
  const HttpResponse cancel = send("DELETE", "/api/deliveryrequests/" + id);
  BOOST_TEST(cancel.status == 202, cancel.body);
  const json cancelled = await_status(id, 30, stage_is("Cancelled"));
  BOOST_TEST(cancelled.at("deliveryETA").is_null());
  BOOST_TEST(cancelled.at("lastKnownLocation").is_object());
  const auto finals = api().cluster.await_final({id}, 30);
  BOOST_TEST(finals.at(id).status == engine::WorkflowStatus::compensated, finals.at(id).error.dump());
  BOOST_TEST(get("/api/deliveries/" + id).json().at("status") == "cancelled");
  expect_problem(send("DELETE", "/api/deliveryrequests/" + id), 409, "is already compensated");
  expect_problem(send("PATCH", "/api/deliveryrequests/" + id, R"({"deadline": "2099-01-02T00:00:00Z"})"), 409,
                 "is already compensated");
  api().cluster.check_replays(id);
}

BOOST_AUTO_TEST_CASE(a_reschedule_in_flight_lands_at_the_new_drop_off) {
  const std::string id = request_delivery(request_body());
  const json before = await_status(id, 30, [](const json& s) {
    return s.value("stage", "") == "HeadedToDropoff" && s.at("lastKnownLocation").at("altitude") == 120.0;
  });
  expect_problem(send("PATCH", "/api/deliveryrequests/" + id, R"({"pickupLocation": "47.6,-122.3"})"), 409,
                 "pickupLocation and pickupTime can no longer change");
  const HttpResponse patch =
      send("PATCH", "/api/deliveryrequests/" + id, R"({"dropOffLocation": "47.6250,-122.3050"})");
  BOOST_TEST(patch.status == 202, patch.body);
  BOOST_TEST(patch.json().at("changes") == json({{"dropOffLocation", "47.6250,-122.3050"}}));
  const json replanned = await_status(id, 30, [](const json& s) { return s.value("plan", 0) == 2; });
  BOOST_TEST(replanned.at("deliveryETA") != before.at("deliveryETA"));
  const json done = await_status(id, 60, stage_is("Completed"));
  check_location(done.at("lastKnownLocation"), 47.6250, -122.3050);
  const json delivery = get("/api/deliveries/" + id).json();
  check_location(delivery.at("dropoff"), 47.6250, -122.3050);
  BOOST_TEST(delivery.at("reschedules") == 1);
  // It landed when the new plan said, later than the old plan's drop-off would have been.
  const json workflow = get("/api/v1/workflows/" + id).json();
  BOOST_TEST(delivery.at("deliveredAt") == workflow.at("context").at("carrier").at("deliveryEta"));
  BOOST_TEST(engine::parse_timestamp_ms(delivery.at("deliveredAt").get<std::string>()).value() >
             engine::parse_timestamp_ms(before.at("deliveryETA").get<std::string>()).value());
  expect_problem(send("PATCH", "/api/deliveryrequests/" + id, R"({"dropOffLocation": "47.6,-122.3"})"), 409,
                 "is already completed");
  api().cluster.check_replays(id);
}

BOOST_AUTO_TEST_CASE(a_required_confirmation_completes_the_delivery) {
  const std::string id = request_delivery(request_body(true));
  expect_problem(send("POST", "/api/deliveries/" + id + "/confirmations", "{}"), 409, "has no carrier yet");
  await_status(id, 60, [](const json& s) { return s.value("awaitingConfirmation", false); });
  // Landed, but not complete before the recipient confirms.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  BOOST_TEST(status(id).at("stage") == "HeadedToDropoff");
  const HttpResponse confirm = send("POST", "/api/deliveries/" + id + "/confirmations",
                                    R"({"confirmationType": "Signature", "confirmationBlob": "c2lnbmVk"})");
  BOOST_TEST(confirm.status == 202, confirm.body);
  await_status(id, 30, stage_is("Completed"));
  const json delivery = get("/api/deliveries/" + id).json();
  BOOST_TEST(delivery.at("confirmation").at("confirmationType") == "Signature");
  BOOST_TEST(delivery.at("confirmation").at("confirmationBlob") == "c2lnbmVk");
  api().cluster.check_replays(id);
}

BOOST_AUTO_TEST_CASE(bad_bodies_are_400_naming_the_field) {
  const auto post_with = [](const std::string& pointer, const json& value) {
    json body = request_body();
    body[json::json_pointer(pointer)] = value;
    return send("POST", "/api/deliveryrequests", body.dump());
  };
  expect_problem(post_with("/pickupLocation", "north"), 400, "field 'pickupLocation'");
  expect_problem(post_with("/dropOffLocation", json{{"latitude", 91}, {"longitude", 0}}), 400,
                 "field 'dropOffLocation' has a latitude outside -90..90");
  expect_problem(post_with("/deadline", "next tuesday"), 400, "field 'deadline' is not a valid date-time");
  expect_problem(post_with("/pickupTime", 12), 400, "field 'pickupTime' must be a date-time string");
  expect_problem(post_with("/expedited", "yes"), 400, "field 'expedited' must be true or false");
  expect_problem(post_with("/packageInfo/size", "huge"), 400, "field 'packageInfo.size' must be one of");
  expect_problem(post_with("/packageInfo/weight", 0), 400, "field 'packageInfo.weight'");
  expect_problem(post_with("/colour", "red"), 400, "unknown field 'colour'");
  expect_problem(post_with("/deliveryId", "mine"), 400, "field 'deliveryId' is assigned by the server");
  json no_owner = request_body();
  no_owner.erase("ownerId");
  expect_problem(send("POST", "/api/deliveryrequests", no_owner.dump()), 400, "field 'ownerId' is required");
  expect_problem(send("POST", "/api/deliveryrequests", "[1]"), 400, "must be a JSON object");
  expect_problem(send("POST", "/api/deliveryrequests", "{\"ownerId\": "), 400, "malformed JSON body");
  expect_problem(send("POST", "/api/deliveryrequests", request_body().dump(), "text/plain"), 415,
                 "application/json");

  const std::string id = request_delivery(request_body());
  expect_problem(send("PATCH", "/api/deliveryrequests/" + id, "{}"), 400, "must change at least one of");
  expect_problem(send("PATCH", "/api/deliveryrequests/" + id, R"({"ownerId": "x"})"), 400,
                 "unknown field 'ownerId'");
  expect_problem(send("PATCH", "/api/deliveryrequests/" + id, R"({"deadline": "soon"})"), 400,
                 "field 'deadline'");
  expect_problem(send("POST", "/api/deliveries/" + id + "/confirmations", R"({"confirmationType": "Smile"})"),
                 400, "field 'confirmationType' must be one of None, Picture, Signature");
  BOOST_TEST(send("DELETE", "/api/deliveryrequests/" + id).status == 202);
}

BOOST_AUTO_TEST_CASE(unknown_ids_and_other_workflows_are_404) {
  const json bench{
      {"workflow", "bench-5step"},
      {"id", "bench-1"},
      {"input",
       json::parse(testing::read_file(testing::source_path("tests/replay/inputs/bench-5step.json")))}};
  const HttpResponse started = send("POST", "/api/v1/workflows", bench.dump());
  BOOST_REQUIRE_MESSAGE(started.status == 201, started.body);
  for (const std::string id : {"no-such-delivery", "bench-1"}) {
    expect_problem(get("/api/deliveries/" + id), 404, "no delivery with id '" + id + "'");
    expect_problem(get("/api/deliveries/" + id + "/status"), 404, "no delivery with id");
    expect_problem(send("DELETE", "/api/deliveryrequests/" + id), 404, "no delivery with id");
    expect_problem(send("PATCH", "/api/deliveryrequests/" + id, R"({"deadline": "2099-01-01T00:00:00Z"})"),
                   404, "no delivery with id");
    expect_problem(send("POST", "/api/deliveries/" + id + "/confirmations", "{}"), 404,
                   "no delivery with id");
  }
}

BOOST_AUTO_TEST_CASE(a_third_party_delivery_reports_the_bookings_etas) {
  json body = request_body();
  body["packageInfo"]["size"] = "large";
  const std::string id = request_delivery(body);
  const json booked = await_status(id, 30, stage_is("HeadedToPickup"));
  BOOST_TEST(booked.at("carrier") == "thirdParty");
  BOOST_TEST(booked.at("bookingId").get<std::string>().rfind("booking-", 0) == 0u);
  // The van comes 15 virtual minutes after booking and waits on the ground at the pickup.
  const std::int64_t pickup_ms =
      engine::parse_timestamp_ms(booked.at("pickupETA").get<std::string>()).value();
  const std::int64_t as_of_ms = engine::parse_timestamp_ms(booked.at("asOf").get<std::string>()).value();
  BOOST_TEST(std::abs(pickup_ms - (as_of_ms + 15 * 60'000)) < 5'000, booked.dump());
  BOOST_TEST(booked.at("lastKnownLocation").at("altitude") == 0.0);
  check_location(booked.at("lastKnownLocation"), 47.6097, -122.3331);
  BOOST_TEST(send("DELETE", "/api/deliveryrequests/" + id).status == 202);
  await_status(id, 30, stage_is("Cancelled"));
}

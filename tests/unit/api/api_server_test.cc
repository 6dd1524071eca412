#include <catch2/catch.hpp>

#include "../http/http_test_client.h"
#include "api/api_server.h"
#include "fake_agent_commands.h"

using namespace std::chrono_literals;
using nlohmann::json;
using presence::Task;
using presence::api::ApiServer;
using presence::api::testing::FakeAgentCommands;
using presence::api::testing::Record;
namespace testing = presence::http::testing;

namespace {

struct Fixture {
  Fixture()
      : server(
            io, Options(), fake, [this] { return std::pair(ready, reason); },
            [] { return uint64_t{1714564800000ull}; }) {
    REQUIRE(server.Start().ok());
    endpoint = server.local_endpoint();
  }

  static presence::http::ServerOptions Options() {
    presence::http::ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.max_body_bytes = 1024;
    return options;
  }

  void Run(std::function<Task<void>()> body) {
    testing::RunTest(io, std::move(body), [this] { server.Stop(); });
  }

  presence::asio::io_context io;
  FakeAgentCommands fake;
  bool ready = true;
  std::string reason;
  ApiServer server;
  presence::asio::ip::tcp::endpoint endpoint;
};

}  // namespace

TEST_CASE("healthz, readyz and metrics answer over HTTP", "[api][server]") {
  Fixture f;
  f.Run([&]() -> Task<void> {
    auto health = co_await testing::Fetch(f.endpoint, testing::RawRequest("GET", "/healthz"));
    CHECK(health.status == 200);
    CHECK(json::parse(health.body)["status"] == "ok");

    auto ready = co_await testing::Fetch(f.endpoint, testing::RawRequest("GET", "/readyz"));
    CHECK(ready.status == 200);
    f.ready = false;
    f.reason = "redis 127.0.0.1:6379: connection refused";
    auto not_ready = co_await testing::Fetch(f.endpoint, testing::RawRequest("GET", "/readyz"));
    CHECK(not_ready.status == 503);
    CHECK(json::parse(not_ready.body)["error"]["message"] == f.reason);

    auto metrics = co_await testing::Fetch(f.endpoint, testing::RawRequest("GET", "/metrics"));
    CHECK(metrics.status == 200);
    CHECK(metrics.Header("Content-Type").rfind("text/plain", 0) == 0);
    CHECK(metrics.body.find("presence_http_requests_total{method=\"GET\",route=\"/readyz\","
                            "status=\"503\"} 1") != std::string::npos);
    CHECK(metrics.body.find("presence_http_connections 1") != std::string::npos);
  });
}

TEST_CASE("an agent is registered over HTTP with a percent-encoded id", "[api][server]") {
  Fixture f;
  f.fake.answer = json{{"ok", true}, {"changed", true}, {"created", true}, {"agent", Record(1)}};
  f.Run([&]() -> Task<void> {
    auto response = co_await testing::Fetch(
        f.endpoint,
        testing::RawRequest("PUT", "/v1/tenants/contoso/agents/alice%40contoso.com",
                            R"({"source":"push"})", "Content-Type: application/json\r\n"));
    CHECK(response.status == 201);
    CHECK(response.Header("ETag") == "\"1\"");
  });
  REQUIRE(f.fake.last_put.has_value());
  CHECK(f.fake.last_put->agent == "alice@contoso.com");
}

TEST_CASE("an oversized body gets a 413 JSON error and no store call", "[api][server]") {
  Fixture f;
  f.Run([&]() -> Task<void> {
    auto response = co_await testing::Fetch(
        f.endpoint,
        testing::RawRequest("PUT", "/v1/tenants/contoso/agents/alice",
                            R"({"source":"push","labels":{"k":")" + std::string(2000, 'v') + "\"}}",
                            "Content-Type: application/json\r\n"));
    CHECK(response.status == 413);
    CHECK(json::parse(response.body)["error"]["code"] == "payload_too_large");
  });
  CHECK(f.fake.calls.empty());
}

// Regression tests for faults found by the fuzz targets (tests/fuzz, docs/fuzzing.md). Each
// case names the target and the reproducer in tests/fuzz/regressions/.

#include <catch2/catch.hpp>

#include "../http/http_test_client.h"
#include "api/agent_routes.h"
#include "api/validation.h"
#include "fake_agent_commands.h"

using presence::Task;
using presence::api::AgentRoutes;
using presence::api::ParseJsonObject;
using presence::api::testing::FakeAgentCommands;
using presence::http::Request;
using presence::http::Response;
using presence::http::Router;
using presence::http::Verb;

// fuzz_json: regressions/json/number_out_of_range. nlohmann reports a number beyond the range
// of a double as out_of_range (406), not as a parse_error; it escaped ParseJsonObject.
TEST_CASE("a JSON number beyond the range of a double is bad_json, not an exception",
          "[api][validation][fuzz]") {
  for (const char* body : {R"({"seq":1e400})", R"({"a":-1e309})", R"([1e99999])"}) {
    INFO(body);
    auto parsed = ParseJsonObject(body);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.error().code == "bad_json");
  }
}

// fuzz_request: regressions/request/json_number_out_of_range. The exception reached the server,
// which answered 500 internal_error instead of 400.
TEST_CASE("a register whose body holds 1e400 is refused with 400 and never reaches the store",
          "[api][routes][fuzz]") {
  FakeAgentCommands fake;
  AgentRoutes routes(fake, [] { return uint64_t{1714564800000}; });
  Router router;
  routes.AddTo(router);

  Response response = presence::http::testing::RunTask<Response>([&]() -> Task<Response> {
    Request request;
    request.method = Verb::put;
    request.target = request.path = "/v1/tenants/contoso/agents/alice";
    request.headers.set("Content-Type", "application/json");
    request.body = R"({"source":"push","seq":1e400})";
    std::string pattern;
    co_return co_await router.Dispatch(request, pattern);
  });
  CHECK(response.status == 400);
  CHECK(nlohmann::json::parse(response.body)["error"]["code"] == "bad_json");
  CHECK(fake.calls.empty());
}

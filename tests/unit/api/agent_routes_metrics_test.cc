#include <catch2/catch.hpp>

#include "../http/http_test_client.h"
#include "api/agent_routes.h"
#include "fake_agent_commands.h"

using nlohmann::json;
using presence::Task;
using presence::api::AgentRoutes;
using presence::api::testing::FakeAgentCommands;
using presence::api::testing::Record;
using presence::http::MetricsRegistry;
using presence::http::Request;
using presence::http::Response;
using presence::http::Router;
using presence::http::Verb;

namespace {

struct Fixture {
  Fixture()
      : routes(
            fake, [] { return uint64_t{1714564800000ull}; }, &metrics) {
    routes.AddTo(router);
  }

  Response Put(std::string body) {
    return presence::http::testing::RunTask<Response>([&]() -> Task<Response> {
      Request request;
      request.method = Verb::put;
      request.path = "/v1/tenants/contoso/agents/alice";
      request.body = body;
      request.headers.set("Content-Type", "application/json");
      std::string pattern;
      co_return co_await router.Dispatch(request, pattern);
    });
  }

  double Applied(const char* changed) {
    return metrics.Value("presence_commands_applied_total",
                         {{"command", "register"}, {"changed", changed}});
  }
  double Refused(const char* reason) {
    return metrics.Value("presence_commands_refused_total",
                         {{"command", "register"}, {"reason", reason}});
  }

  FakeAgentCommands fake;
  MetricsRegistry metrics;
  AgentRoutes routes;
  Router router;
};

}  // namespace

TEST_CASE("commands are counted as applied, refused by reason, replayed", "[api][metrics]") {
  Fixture f;
  f.fake.answer = json{{"ok", true}, {"changed", true}, {"created", true}, {"agent", Record(1)}};
  CHECK(f.Put(R"({"source":"push"})").status == 201);
  f.fake.answer = json{{"ok", true}, {"changed", false}, {"created", false}, {"agent", Record(1)}};
  CHECK(f.Put(R"({"source":"push"})").status == 200);
  CHECK(f.Applied("true") == 1);
  CHECK(f.Applied("false") == 1);
  CHECK(f.metrics.Value("presence_events_appended_total", {{"origin", "api"}}) == 1);

  f.fake.answer =
      json{{"ok", false}, {"code", "stale_seq"}, {"message", "old"}, {"agent", Record(1, "5")}};
  CHECK(f.Put(R"({"source":"push","seq":"3"})").status == 409);
  CHECK(f.Refused("stale_seq") == 1);

  f.fake.answer = presence::MakeError("redis_unavailable", "redis 127.0.0.1:1: refused");
  CHECK(f.Put(R"({"source":"push"})").status == 503);
  CHECK(f.Refused("redis_unavailable") == 1);
  CHECK(f.metrics.Value("presence_redis_errors_total", {{"component", "api"}}) == 1);

  f.fake.answer = json{{"ok", true},
                       {"changed", true},
                       {"created", false},
                       {"replayed", true},
                       {"agent", Record(2)}};
  CHECK(f.Put(R"({"source":"push"})").headers["Idempotent-Replayed"] == "true");
  CHECK(f.metrics.Value("presence_commands_replayed_total", {{"command", "register"}}) == 1);
  CHECK(f.metrics.Value("presence_events_appended_total", {{"origin", "api"}}) == 1);

  CHECK(f.Put("not json").status == 400);
  CHECK(f.fake.calls.size() == 5);  // the invalid one never reached the store
  CHECK(f.Refused("bad_json") == 1);
}

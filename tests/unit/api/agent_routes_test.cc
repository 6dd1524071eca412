#include <catch2/catch.hpp>

#include "../http/http_test_client.h"
#include "api/agent_routes.h"
#include "fake_agent_commands.h"

using nlohmann::json;
using namespace presence::api;
using presence::Task;
using presence::api::testing::FakeAgentCommands;
using presence::api::testing::Record;
using presence::http::Request;
using presence::http::Response;
using presence::http::Router;
using presence::http::Verb;

namespace {

constexpr uint64_t kNow = 1714564800000ull;

struct Fixture {
  Fixture() : routes(fake, [] { return kNow; }) { routes.AddTo(router); }

  Response Send(Verb method, std::string path, std::string body = "", std::string query = "",
                std::string if_match = "") {
    return presence::http::testing::RunTask<Response>([&]() -> Task<Response> {
      Request request;
      request.method = method;
      request.path = path;
      request.query = query;
      request.body = body;
      if (!body.empty()) request.headers.set("Content-Type", "application/json");
      if (!if_match.empty()) request.headers.set("If-Match", if_match);
      std::string pattern;
      co_return co_await router.Dispatch(request, pattern);
    });
  }

  FakeAgentCommands fake;
  AgentRoutes routes;
  Router router;
};

json Body(const Response& response) { return json::parse(response.body); }

const char* kAgentPath = "/v1/tenants/contoso/agents/alice";

}  // namespace

TEST_CASE("a first registration answers 201 with the agent and its ETag", "[api][routes]") {
  Fixture f;
  f.fake.answer = json{{"ok", true}, {"changed", true}, {"created", true}, {"agent", Record(1)}};
  Response response = f.Send(Verb::put, kAgentPath, R"({"source":"push","labels":{"team":"x"}})");
  CHECK(response.status == 201);
  CHECK(std::string(response.headers["ETag"]) == "\"1\"");
  json body = Body(response);
  CHECK(body["changed"] == true);
  CHECK(body["version"] == 1);
  CHECK(body["labels"] == json{{"team", "x"}});
  CHECK(body["seq"].is_null());
  CHECK(body["created_at"] == "2024-05-01T12:00:00.000Z");
  CHECK(body["presence"]["availability"] == "PresenceUnknown");
  CHECK(body["presence"]["changed_at"].is_null());
  CHECK(body["presence"]["source"].is_null());
  CHECK(f.fake.last_put->labels_json == R"({"team":"x"})");
}

TEST_CASE("a repeated registration answers 200 with changed false", "[api][routes]") {
  Fixture f;
  f.fake.answer = json{{"ok", true}, {"changed", false}, {"created", false}, {"agent", Record(3)}};
  Response response = f.Send(Verb::put, kAgentPath, R"({"source":"push"})");
  CHECK(response.status == 200);
  CHECK(Body(response)["changed"] == false);
}

TEST_CASE("invalid input changes nothing: the store is never asked", "[api][routes]") {
  Fixture f;
  struct Case {
    Verb method;
    std::string path;
    std::string body;
    std::string query;
    unsigned status;
    std::string code;
  };
  std::vector<Case> cases = {
      {Verb::put, kAgentPath, R"({"source":"x"})", "", 400, "bad_source"},
      {Verb::put, kAgentPath, "", "", 415, "unsupported_media_type"},
      {Verb::put, "/v1/tenants/contoso/agents/bad%20id", R"({"source":"push"})", "", 400, "bad_id"},
      {Verb::delete_, kAgentPath, "", "seq=-1", 400, "bad_seq"},
      {Verb::get, kAgentPath, "", "x=1", 400, "unknown_parameter"},
      {Verb::get, "/v1/tenants/contoso/agents", "", "limit=5000", 400, "bad_limit"},
      {Verb::put, std::string(kAgentPath) + "/presence",
       R"({"availability":"x","activity":"Away"})", "", 400, "bad_availability"},
  };
  for (const auto& c : cases) {
    INFO(c.path << "?" << c.query << " " << c.body);
    Response response = f.Send(c.method, c.path, c.body, c.query);
    CHECK(response.status == c.status);
    json body = Body(response);
    CHECK(body["error"]["code"] == c.code);
    CHECK(body["error"]["message"].is_string());
    CHECK(body.size() == 1);
  }
  CHECK(f.fake.calls.empty());
}

TEST_CASE("store refusals map to 404, 409 and 412 with the current state", "[api][routes]") {
  Fixture f;
  f.fake.answer = json{{"ok", false},
                       {"code", "stale_seq"},
                       {"message", "seq 3 is not greater"},
                       {"agent", Record(5, "7")}};
  Response stale = f.Send(Verb::put, kAgentPath, R"({"source":"push","seq":3})");
  CHECK(stale.status == 409);
  CHECK(Body(stale)["error"]["code"] == "stale_seq");
  CHECK(Body(stale)["error"]["version"] == 5);
  CHECK(Body(stale)["error"]["seq"] == "7");

  f.fake.answer =
      json{{"ok", false}, {"code", "version_mismatch"}, {"message", "m"}, {"agent", Record(5)}};
  Response mismatch = f.Send(Verb::put, kAgentPath, R"({"source":"push"})", "", "\"4\"");
  CHECK(mismatch.status == 412);
  CHECK(Body(mismatch)["error"]["version"] == 5);
  CHECK(f.fake.last_put->if_match == "4");

  f.fake.answer = json{{"ok", false}, {"code", "not_found"}, {"message", "m"}, {"agent", nullptr}};
  Response missing = f.Send(Verb::get, kAgentPath);
  CHECK(missing.status == 404);
  CHECK_FALSE(Body(missing)["error"].contains("version"));

  json tomb = Record(6, "9");
  tomb["state"] = "deregistered";
  f.fake.answer = json{{"ok", false}, {"code", "not_found"}, {"message", "m"}, {"agent", tomb}};
  Response gone = f.Send(Verb::get, kAgentPath);
  CHECK(gone.status == 404);
  CHECK(Body(gone)["error"]["version"] == 6);

  f.fake.answer = json{{"ok", false}, {"code", "bad_cursor"}, {"message", "m"}};
  CHECK(f.Send(Verb::get, "/v1/tenants/contoso/agents", "", "cursor=zz").status == 400);

  f.fake.answer = json{{"ok", false}, {"code", "bad_argument"}, {"message", "m"}};
  CHECK(f.Send(Verb::get, kAgentPath).status == 500);
}

TEST_CASE("Redis being unreachable gives 503 with Retry-After", "[api][routes]") {
  Fixture f;
  f.fake.answer = presence::MakeError("redis_unavailable", "redis 127.0.0.1:1: connection refused");
  Response response = f.Send(Verb::delete_, kAgentPath);
  CHECK(response.status == 503);
  CHECK(std::string(response.headers["Retry-After"]) == "1");
  CHECK(Body(response)["error"]["code"] == "redis_unavailable");
}

TEST_CASE("deregistration answers changed and the version", "[api][routes]") {
  Fixture f;
  json tomb = Record(4);
  tomb["state"] = "deregistered";
  f.fake.answer = json{{"ok", true}, {"changed", true}, {"agent", tomb}};
  Response response = f.Send(Verb::delete_, kAgentPath, "", "seq=12");
  CHECK(response.status == 200);
  CHECK(Body(response) ==
        json{{"tenant", "contoso"}, {"agent", "alice"}, {"changed", true}, {"version", 4}});
  CHECK(f.fake.last_delete->seq == "12");

  f.fake.answer = json{{"ok", true}, {"changed", false}, {"agent", nullptr}};
  Response absent = f.Send(Verb::delete_, kAgentPath);
  CHECK(Body(absent)["changed"] == false);
  CHECK(Body(absent)["version"] == 0);
}

TEST_CASE("a read shows registration, version and presence", "[api][routes]") {
  Fixture f;
  json record = Record(9, "18446744073709551615");
  record["source"] = "graph";
  record["graph_user_id"] = "6e4c1a0b-2f7d-4c55-9d3b-0a1b2c3d4e5f";
  record["availability"] = "Busy";
  record["activity"] = "InACall";
  record["presence_at"] = kNow;
  record["observed_at"] = kNow - 1000;
  record["presence_source"] = "graph";
  f.fake.answer = json{{"ok", true}, {"agent", record}};
  Response response = f.Send(Verb::get, kAgentPath);
  CHECK(response.status == 200);
  CHECK(std::string(response.headers["ETag"]) == "\"9\"");
  json body = Body(response);
  CHECK(body["seq"] == "18446744073709551615");
  CHECK(body["graph_user_id"] == "6e4c1a0b-2f7d-4c55-9d3b-0a1b2c3d4e5f");
  CHECK(body["presence"] == json{{"availability", "Busy"},
                                 {"activity", "InACall"},
                                 {"observed_at", "2024-05-01T11:59:59.000Z"},
                                 {"changed_at", "2024-05-01T12:00:00.000Z"},
                                 {"source", "graph"}});
  CHECK_FALSE(body.contains("changed"));
}

TEST_CASE("a listing pages with next_cursor", "[api][routes]") {
  Fixture f;
  f.fake.answer = json{{"ok", true}, {"agents", {Record(1), Record(2)}}, {"next", "3:alice"}};
  Response response = f.Send(Verb::get, "/v1/tenants/contoso/agents", "", "limit=2");
  CHECK(response.status == 200);
  json body = Body(response);
  CHECK(body["agents"].size() == 2);
  CHECK(body["agents"][1]["version"] == 2);
  CHECK(body["next_cursor"] == "3:alice");
  CHECK(f.fake.last_limit == 2);

  f.fake.answer = json{{"ok", true}, {"agents", json::array()}, {"next", nullptr}};
  CHECK(Body(f.Send(Verb::get, "/v1/tenants/contoso/agents"))["next_cursor"].is_null());
  CHECK(f.fake.last_limit == 100);
}

TEST_CASE("pushed presence outcomes map to answers", "[api][routes]") {
  Fixture f;
  const std::string path = std::string(kAgentPath) + "/presence";
  const std::string body = R"({"availability":"busy","activity":"InACall"})";
  auto apply_answer = [](const char* outcome, json record) {
    return json{
        {"ok", true},
        {"results",
         {{{"tenant", "contoso"}, {"agent", "alice"}, {"outcome", outcome}, {"record", record}}}}};
  };

  json changed = Record(2);
  changed["availability"] = "Busy";
  f.fake.answer = apply_answer("changed", changed);
  Response ok = f.Send(Verb::put, path, body);
  CHECK(ok.status == 200);
  CHECK(Body(ok)["changed"] == true);
  CHECK(std::string(ok.headers["ETag"]) == "\"2\"");
  CHECK(f.fake.last_push->availability == "Busy");
  CHECK(f.fake.last_push->observed_at_ms == kNow);

  f.fake.answer = apply_answer("unchanged", changed);
  CHECK(Body(f.Send(Verb::put, path, body))["changed"] == false);

  f.fake.answer = apply_answer("missing", nullptr);
  Response missing = f.Send(Verb::put, path, body);
  CHECK(missing.status == 404);
  CHECK(Body(missing)["error"]["code"] == "not_found");

  f.fake.answer = apply_answer("wrong_source", Record(2));
  Response wrong = f.Send(Verb::put, path, body);
  CHECK(wrong.status == 409);
  CHECK(Body(wrong)["error"]["code"] == "wrong_source");

  f.fake.answer = apply_answer("stale_observation", Record(2));
  Response stale = f.Send(Verb::put, path, body);
  CHECK(stale.status == 409);
  CHECK(Body(stale)["error"]["code"] == "stale_observation");
}

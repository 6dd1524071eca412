#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "http/router.h"
#include "http_test_client.h"

using presence::Task;
using presence::http::Request;
using presence::http::Response;
using presence::http::Router;
using presence::http::Verb;
using presence::http::testing::RunTask;

namespace {

Router MakeRouter() {
  Router router;
  auto named = [](std::string name) {
    return [name](const Request& request) -> Task<Response> {
      Response response;
      response.body = name + ":" + request.Param("tenant") + ":" + request.Param("agent");
      co_return response;
    };
  };
  router.Add(Verb::put, "/v1/tenants/{tenant}/agents/{agent}", named("put"));
  router.Add(Verb::get, "/v1/tenants/{tenant}/agents/{agent}", named("get"));
  router.Add(Verb::delete_, "/v1/tenants/{tenant}/agents/{agent}", named("delete"));
  router.Add(Verb::get, "/v1/tenants/{tenant}/agents", named("list"));
  router.Add(Verb::get, "/healthz", named("health"));
  return router;
}

Response Dispatch(const Router& router, Verb method, const std::string& path,
                  std::string* pattern = nullptr) {
  return RunTask<Response>([&]() -> Task<Response> {
    Request request;
    request.method = method;
    request.path = path;
    std::string matched;
    Response response = co_await router.Dispatch(request, matched);
    if (pattern) *pattern = matched;
    co_return response;
  });
}

}  // namespace

TEST_CASE("routes match method and pattern and decode parameters", "[http][router]") {
  Router router = MakeRouter();
  std::string pattern;
  CHECK(Dispatch(router, Verb::get, "/v1/tenants/t1/agents/a%40b", &pattern).body == "get:t1:a@b");
  CHECK(pattern == "/v1/tenants/{tenant}/agents/{agent}");
  CHECK(Dispatch(router, Verb::put, "/v1/tenants/t1/agents/x").body == "put:t1:x");
  CHECK(Dispatch(router, Verb::get, "/v1/tenants/t1/agents").body == "list:t1:");
  CHECK(Dispatch(router, Verb::get, "/healthz").body == "health::");
}

TEST_CASE("unknown paths get 404 with a JSON error", "[http][router]") {
  Router router = MakeRouter();
  std::string pattern;
  for (const char* path : {"/", "/v2/tenants/t/agents/a", "/v1/tenants/t/agents/a/",
                           "/v1/tenants//agents/a", "/healthz/x"}) {
    Response response = Dispatch(router, Verb::get, path, &pattern);
    CHECK(response.status == 404);
    auto body = nlohmann::json::parse(response.body);
    CHECK(body["error"]["code"] == "not_found");
    CHECK(body["error"]["message"].get<std::string>().find(path) != std::string::npos);
    CHECK(pattern == "unmatched");
  }
}

TEST_CASE("a known path with another method gets 405 and Allow", "[http][router]") {
  Router router = MakeRouter();
  Response response = Dispatch(router, Verb::post, "/v1/tenants/t/agents/a");
  CHECK(response.status == 405);
  CHECK(std::string(response.headers["Allow"]) == "PUT, GET, DELETE");
  CHECK(nlohmann::json::parse(response.body)["error"]["code"] == "method_not_allowed");

  Response list = Dispatch(router, Verb::delete_, "/v1/tenants/t/agents");
  CHECK(list.status == 405);
  CHECK(std::string(list.headers["Allow"]) == "GET");
}

TEST_CASE("an undecodable path gets 400 bad_path", "[http][router]") {
  Router router = MakeRouter();
  Response response = Dispatch(router, Verb::get, "/v1/tenants/t%zz/agents/a");
  CHECK(response.status == 400);
  CHECK(nlohmann::json::parse(response.body)["error"]["code"] == "bad_path");
}

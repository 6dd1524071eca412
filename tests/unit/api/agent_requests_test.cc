#include <catch2/catch.hpp>

#include "api/agent_requests.h"

using namespace presence::api;
using presence::http::Request;
using presence::http::Verb;

namespace {

const char* kGuid = "6e4c1a0b-2f7d-4c55-9d3b-0a1b2c3d4e5f";

Request AgentRequest(Verb method, std::string body = "", std::string query = "") {
  Request request;
  request.method = method;
  request.params["tenant"] = "contoso";
  request.params["agent"] = "alice@contoso.com";
  request.body = std::move(body);
  request.query = std::move(query);
  request.headers.set("Content-Type", "application/json");
  return request;
}

std::string ErrorOf(const presence::Result<presence::store::PutAgentCommand>& result) {
  return result.ok() ? "" : result.error().code;
}

}  // namespace

TEST_CASE("a graph registration becomes a put command", "[api][requests]") {
  Request request = AgentRequest(
      Verb::put, R"({"source":"graph","graph_user_id":"6E4C1A0B-2F7D-4C55-9D3B-0A1B2C3D4E5F",)"
                 R"("seq":7,"labels":{"team":"x","a":"b"}})");
  request.headers.set("If-Match", "\"3\"");
  auto command = ParsePutAgentRequest(request);
  REQUIRE(command.ok());
  CHECK(command->tenant == "contoso");
  CHECK(command->agent == "alice@contoso.com");
  CHECK(command->source == "graph");
  CHECK(command->graph_user_id == kGuid);
  CHECK(command->seq == "7");
  CHECK(command->if_match == "3");
  CHECK(command->labels_json == R"({"a":"b","team":"x"})");
}

TEST_CASE("a push registration needs no GUID and may omit the rest", "[api][requests]") {
  auto command = ParsePutAgentRequest(AgentRequest(Verb::put, R"({"source":"push"})"));
  REQUIRE(command.ok());
  CHECK(command->graph_user_id.empty());
  CHECK_FALSE(command->seq.has_value());
  CHECK_FALSE(command->if_match.has_value());
  CHECK(command->labels_json == "{}");

  auto nulls = ParsePutAgentRequest(AgentRequest(
      Verb::put, R"({"source":"push","seq":null,"labels":null,"graph_user_id":null})"));
  CHECK(nulls.ok());
}

TEST_CASE("bad registrations are refused with the field's code", "[api][requests]") {
  auto put = [](std::string body) {
    return ErrorOf(ParsePutAgentRequest(AgentRequest(Verb::put, body)));
  };
  std::string guid = kGuid;
  CHECK(put("{}") == "bad_source");
  CHECK(put(R"({"source":"teams"})") == "bad_source");
  CHECK(put(R"({"source":"GRAPH","graph_user_id":")" + guid + "\"}") == "bad_source");
  CHECK(put(R"({"source":"graph"})") == "bad_graph_user_id");
  CHECK(put(R"({"source":"graph","graph_user_id":"nope"})") == "bad_graph_user_id");
  CHECK(put(R"({"source":"push","graph_user_id":")" + guid + "\"}") == "bad_graph_user_id");
  CHECK(put(R"({"source":"push","seq":-1})") == "bad_seq");
  CHECK(put(R"({"source":"push","seq":"01"})") == "bad_seq");
  CHECK(put(R"({"source":"push","labels":[]})") == "bad_labels");
  CHECK(put(R"({"source":"push","color":"red"})") == "unknown_field");
  CHECK(put(R"([])") == "bad_json");
  CHECK(put(R"({"source":)") == "bad_json");
}

TEST_CASE("registration checks headers, ids and query", "[api][requests]") {
  Request no_type = AgentRequest(Verb::put, R"({"source":"push"})");
  no_type.headers.erase("Content-Type");
  CHECK(ErrorOf(ParsePutAgentRequest(no_type)) == "unsupported_media_type");

  Request weak = AgentRequest(Verb::put, R"({"source":"push"})");
  weak.headers.set("If-Match", "W/\"3\"");
  CHECK(ErrorOf(ParsePutAgentRequest(weak)) == "bad_if_match");

  Request bad_id = AgentRequest(Verb::put, R"({"source":"push"})");
  bad_id.params["agent"] = "a/b";
  CHECK(ErrorOf(ParsePutAgentRequest(bad_id)) == "bad_id");
  bad_id.params["agent"] = std::string(129, 'a');
  CHECK(ErrorOf(ParsePutAgentRequest(bad_id)) == "bad_id");

  Request query = AgentRequest(Verb::put, R"({"source":"push"})", "seq=1");
  CHECK(ErrorOf(ParsePutAgentRequest(query)) == "unknown_parameter");

  Request key = AgentRequest(Verb::put, R"({"source":"push"})");
  key.headers.set("Idempotency-Key", std::string(256, 'k'));
  CHECK(ErrorOf(ParsePutAgentRequest(key)) == "bad_idempotency_key");
}

TEST_CASE("a deregistration takes seq from the query", "[api][requests]") {
  auto plain = ParseDeleteAgentRequest(AgentRequest(Verb::delete_));
  REQUIRE(plain.ok());
  CHECK_FALSE(plain->seq.has_value());

  Request with_seq = AgentRequest(Verb::delete_, "", "seq=18446744073709551615");
  with_seq.headers.set("If-Match", "4");
  auto command = ParseDeleteAgentRequest(with_seq);
  REQUIRE(command.ok());
  CHECK(command->seq == "18446744073709551615");
  CHECK(command->if_match == "4");

  CHECK(ParseDeleteAgentRequest(AgentRequest(Verb::delete_, "", "seq=18446744073709551616"))
            .error()
            .code == "bad_seq");
  CHECK(ParseDeleteAgentRequest(AgentRequest(Verb::delete_, "", "seq=")).error().code == "bad_seq");
  CHECK(ParseDeleteAgentRequest(AgentRequest(Verb::delete_, "", "seq=1&seq=2")).error().code ==
        "bad_query");
  CHECK(ParseDeleteAgentRequest(AgentRequest(Verb::delete_, "", "force=1")).error().code ==
        "unknown_parameter");
}

TEST_CASE("a listing takes cursor and limit", "[api][requests]") {
  Request request;
  request.params["tenant"] = "contoso";
  auto first = ParseListAgentsRequest(request);
  REQUIRE(first.ok());
  CHECK(first->cursor.empty());
  CHECK(first->limit == 100);

  request.query = "cursor=3%3Aalice&limit=1000";
  auto next = ParseListAgentsRequest(request);
  REQUIRE(next.ok());
  CHECK(next->cursor == "3:alice");
  CHECK(next->limit == 1000);

  request.query = "limit=0";
  CHECK(ParseListAgentsRequest(request).error().code == "bad_limit");
  request.query = "cursor=" + std::string(300, 'c');
  CHECK(ParseListAgentsRequest(request).error().code == "bad_cursor");
  request.query = "";
  request.params["tenant"] = "bad tenant";
  CHECK(ParseListAgentsRequest(request).error().code == "bad_id");
}

TEST_CASE("pushed presence is normalised", "[api][requests]") {
  const uint64_t now = 1714564800000ull;
  auto command = ParsePushPresenceRequest(
      AgentRequest(Verb::put, R"({"availability":"busy","activity":"inacall",)"
                              R"("observed_at":"2024-05-01T11:59:59.5Z"})"),
      now);
  REQUIRE(command.ok());
  CHECK(command->availability == "Busy");
  CHECK(command->activity == "InACall");
  CHECK(command->observed_at_ms == now - 500);

  auto defaulted = ParsePushPresenceRequest(
      AgentRequest(Verb::put, R"({"availability":"Away","activity":"Away"})"), now);
  CHECK(defaulted.value().observed_at_ms == now);

  auto push = [&](std::string body) {
    auto result = ParsePushPresenceRequest(AgentRequest(Verb::put, body), now);
    return result.ok() ? "" : result.error().code;
  };
  CHECK(push(R"({"activity":"Away"})") == "bad_availability");
  CHECK(push(R"({"availability":"Away"})") == "bad_activity");
  CHECK(push(R"({"availability":"Sleeping","activity":"Away"})") == "bad_availability");
  CHECK(push(R"({"availability":"Away","activity":"Away","observed_at":-5})") == "bad_observed_at");
  CHECK(push(R"({"availability":"Away","activity":"Away","mood":"ok"})") == "unknown_field");
}

TEST_CASE("If-Match on pushed presence is passed on, not ignored", "[api][requests]") {
  auto request = AgentRequest(Verb::put, R"({"availability":"Away","activity":"Away"})");
  request.headers.set("If-Match", "\"3\"");
  auto command = ParsePushPresenceRequest(request, 1714564800000ull);
  REQUIRE(command.ok());
  CHECK(command->if_match == std::optional<std::string>("3"));
  request.headers.set("If-Match", "zzz");
  CHECK(ParsePushPresenceRequest(request, 1714564800000ull).error().code == "bad_if_match");
}

TEST_CASE("the request limits reach every agent request", "[api][requests][limits]") {
  RequestLimits limits;
  limits.max_id_length = 5;  // "contoso" has 7 characters
  limits.max_json_depth = 2;
  limits.max_labels = 1;

  // Ids: every request checks them against max_id_length.
  CHECK(
      ParsePutAgentRequest(AgentRequest(Verb::put, R"({"source":"push"})"), limits).error().code ==
      "bad_id");
  CHECK(ParseDeleteAgentRequest(AgentRequest(Verb::delete_), limits).error().code == "bad_id");
  CHECK(ParseGetAgentRequest(AgentRequest(Verb::get), limits).error().code == "bad_id");
  CHECK(ParseListAgentsRequest(AgentRequest(Verb::get), limits).error().code == "bad_id");
  CHECK(ParsePushPresenceRequest(
            AgentRequest(Verb::put, R"({"availability":"Busy","activity":"Busy"})"), 0, limits)
            .error()
            .code == "bad_id");

  // With short ids: depth and labels.
  limits.max_id_length = 128;
  auto deep = ParsePutAgentRequest(
      AgentRequest(Verb::put, R"({"source":"push","labels":{"a":"b"},"seq":[[1]]})"), limits);
  CHECK(ErrorOf(deep) == "json_too_deep");
  auto labels = ParsePutAgentRequest(
      AgentRequest(Verb::put, R"({"source":"push","labels":{"a":"b","c":"d"}})"), limits);
  CHECK(ErrorOf(labels) == "bad_labels");
  auto fits = ParsePutAgentRequest(
      AgentRequest(Verb::put, R"({"source":"push","labels":{"a":"b"}})"), limits);
  CHECK(fits.ok());
  auto deep_push = ParsePushPresenceRequest(
      AgentRequest(Verb::put, R"({"availability":"Busy","activity":"Busy","x":[[]]})"), 0, limits);
  REQUIRE_FALSE(deep_push.ok());
  CHECK(deep_push.error().code == "json_too_deep");
}

TEST_CASE("dot-only ids in the path are refused", "[api][requests][limits]") {
  for (const char* dots : {".", ".."}) {
    Request agent = AgentRequest(Verb::get);
    agent.params["agent"] = dots;
    CHECK(ParseGetAgentRequest(agent).error().code == "bad_id");
    Request tenant = AgentRequest(Verb::get);
    tenant.params["tenant"] = dots;
    CHECK(ParseListAgentsRequest(tenant).error().code == "bad_id");
  }
}

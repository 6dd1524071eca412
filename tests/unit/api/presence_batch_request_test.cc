#include <string>

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include "api/presence_batch_request.h"

using namespace presence::api;
using presence::http::Request;
using presence::http::Verb;

namespace {

constexpr uint64_t kNow = 1714564800000ull;

Request BatchRequest(std::string body) {
  Request request;
  request.method = Verb::post;
  request.params["tenant"] = "contoso";
  request.body = std::move(body);
  request.headers.set("Content-Type", "application/json");
  return request;
}

// The error of a batch, "code: message", or "" when it parses.
std::string Refusal(const Request& request) {
  auto result = ParsePresenceBatchRequest(request, kNow);
  return result.ok() ? "" : result.error().code + ": " + result.error().message;
}

std::string Items(size_t count) {
  std::string items;
  for (size_t i = 0; i < count; ++i) {
    items += fmt::format(R"({}{{"agent":"a{}","availability":"Away","activity":"Away"}})",
                         i ? "," : "", i);
  }
  return R"({"items":[)" + items + "]}";
}

}  // namespace

TEST_CASE("a presence batch keeps its items in order, normalised", "[api][batch]") {
  auto command = ParsePresenceBatchRequest(
      BatchRequest(R"({"items":[{"agent":"alice","availability":"busy","activity":"inacall",)"
                   R"("observed_at":"2024-05-01T11:59:59.5Z"},)"
                   R"({"agent":"bob","availability":"Away","activity":"Away"}]})"),
      kNow);
  REQUIRE(command.ok());
  CHECK(command->tenant == "contoso");
  REQUIRE(command->items.size() == 2);
  CHECK(command->items[0].agent == "alice");
  CHECK(command->items[0].availability == "Busy");
  CHECK(command->items[0].activity == "InACall");
  CHECK(command->items[0].observed_at_ms == kNow - 500);
  CHECK(command->items[1].agent == "bob");
  CHECK(command->items[1].observed_at_ms == kNow);
}

TEST_CASE("a bad item refuses the whole batch and names the item", "[api][batch]") {
  CHECK(Refusal(BatchRequest(R"({"items":[{"agent":"a","availability":"Away","activity":"Away"},)"
                             R"({"agent":"b","availability":"Sleepy","activity":"Away"}]})"))
            .starts_with("bad_availability: items[1]."));
  CHECK(Refusal(BatchRequest(R"({"items":[{"agent":"a b","availability":"Away",)"
                             R"("activity":"Away"}]})"))
            .starts_with("bad_id: items[0]."));
  CHECK(Refusal(BatchRequest(R"({"items":[{"availability":"Away","activity":"Away"}]})"))
            .starts_with("bad_id: items[0]."));
  CHECK(Refusal(BatchRequest(R"({"items":[{"agent":"a","availability":"Away","activity":"Away",)"
                             R"("mood":"ok"}]})"))
            .starts_with("unknown_field: items[0]."));
  CHECK(Refusal(BatchRequest(R"({"items":[7]})")).starts_with("bad_json: items[0]."));
}

TEST_CASE("a batch has 1 to 1000 items and nothing else", "[api][batch]") {
  CHECK(Refusal(BatchRequest(Items(1000))).empty());
  CHECK(Refusal(BatchRequest(Items(1001))).starts_with("bad_items:"));
  CHECK(Refusal(BatchRequest(R"({"items":[]})")).starts_with("bad_items:"));
  CHECK(Refusal(BatchRequest(R"({"items":{}})")).starts_with("bad_items:"));
  CHECK(Refusal(BatchRequest(R"({})")).starts_with("bad_items:"));
  CHECK(Refusal(BatchRequest(R"({"items":[],"extra":1})")).starts_with("unknown_field:"));
  CHECK(Refusal(BatchRequest("[1]")).starts_with("bad_json:"));
  CHECK(Refusal(BatchRequest("{")).starts_with("bad_json:"));
}

TEST_CASE("a batch refuses a bad tenant, content type, query and Idempotency-Key", "[api][batch]") {
  Request request = BatchRequest(Items(1));
  request.params["tenant"] = "bad/tenant";
  CHECK(Refusal(request).starts_with("bad_id:"));

  request = BatchRequest(Items(1));
  request.headers.set("Content-Type", "text/plain");
  CHECK(ParsePresenceBatchRequest(request, kNow).error().code == "unsupported_media_type");

  request = BatchRequest(Items(1));
  request.query = "x=1";
  CHECK(Refusal(request).starts_with("unknown_parameter:"));

  request = BatchRequest(Items(1));
  request.headers.set("Idempotency-Key", "k1");
  CHECK(Refusal(request).starts_with("idempotency_unsupported:"));
}

#include "graph/presence_reader.h"

#include <catch2/catch.hpp>

namespace presence::graph {
namespace {

const std::vector<std::string> kAsked = {"a", "b", "c", "5f4b3a2e-1d0c-4b9a-8f7e-6d5c4b3a2f10",
                                         "0a1b2c3d-0000-4000-8000-000000000001"};

Result<PresenceBatch> Parse(std::string_view body) { return ParsePresenceResponse(body, kAsked); }

Error ParseError(std::string_view body, std::string_view code = "bad_shape") {
  auto batch = Parse(body);
  REQUIRE_FALSE(batch.ok());
  CHECK(batch.error().code == code);
  return batch.error();
}

// The reasons of the skipped items, in order.
std::vector<BadReason> SkippedReasons(const PresenceBatch& batch) {
  std::vector<BadReason> reasons;
  for (const auto& item : batch.skipped) reasons.push_back(item.reason);
  return reasons;
}

// The single skipped item's detail of a body whose only item is malformed.
std::string BadItem(std::string_view body) {
  auto batch = Parse(body);
  REQUIRE(batch.ok());
  CHECK(batch->users.empty());
  REQUIRE(batch->skipped.size() == 1);
  CHECK(batch->skipped[0].reason == BadReason::kBadItem);
  return batch->skipped[0].detail;
}

TEST_CASE("presence response: users are parsed, ids lower-cased, values normalised",
          "[graph][reader]") {
  auto batch = Parse(R"json({
    "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(presence)",
    "value": [
      {"id": "5F4B3A2E-1D0C-4B9A-8F7E-6D5C4B3A2F10", "availability": "busy",
       "activity": "INAMEETING", "statusMessage": null,
       "outOfOfficeSettings": {"isOutOfOffice": false}},
      {"id": "0a1b2c3d-0000-4000-8000-000000000001", "availability": "Available",
       "activity": "Available"}
    ]})json");
  REQUIRE(batch.ok());
  REQUIRE(batch->users.size() == 2);
  CHECK(batch->users[0].id == "5f4b3a2e-1d0c-4b9a-8f7e-6d5c4b3a2f10");
  CHECK(batch->users[0].availability == "Busy");
  CHECK(batch->users[0].activity == "InAMeeting");
  CHECK(batch->users[1].id == "0a1b2c3d-0000-4000-8000-000000000001");
  CHECK(batch->users[1].availability == "Available");
  CHECK(batch->users[1].activity == "Available");
}

TEST_CASE("presence response: an empty value is an empty batch", "[graph][reader]") {
  auto batch = Parse(R"({"value": []})");
  REQUIRE(batch.ok());
  CHECK(batch->users.empty());
}

TEST_CASE("presence response: unknown values become PresenceUnknown and are counted",
          "[graph][reader]") {
  auto batch = Parse(R"({"value": [
      {"id": "a", "availability": "Sleeping", "activity": "Lunch"},
      {"id": "b", "availability": "presenceunknown", "activity": "PresenceUnknown"}]})");
  REQUIRE(batch.ok());
  REQUIRE(batch->users.size() == 2);
  for (const auto& user : batch->users) {
    CHECK(user.availability == "PresenceUnknown");
    CHECK(user.activity == "PresenceUnknown");
  }
  CHECK(batch->unknown_values == 2);
  CHECK(batch->skipped.empty());
}

TEST_CASE("presence response: malformed JSON is a bad_response, not a crash", "[graph][reader]") {
  for (std::string_view body : {"", "{", "{\"value\": [", "not json", "{\"value\": [}]}",
                                "\xff\xfe", "{\"value\": []} trailing"}) {
    INFO(body);
    CHECK_THAT(ParseError(body, "not_json").message,
               Catch::StartsWith("response is not valid JSON"));
  }
}

TEST_CASE("presence response: wrong shapes name what was wrong", "[graph][reader]") {
  CHECK(ParseError("[]").message == "response is not a JSON object");
  CHECK(ParseError("42").message == "response is not a JSON object");
  CHECK(ParseError("{}").message == "response has no \"value\"");
  CHECK(ParseError(R"({"values": []})").message == "response has no \"value\"");
  CHECK(ParseError(R"({"value": {}})").message == "\"value\" is an object, expected an array");
  CHECK(ParseError(R"({"value": null})").message == "\"value\" is null, expected an array");
}

TEST_CASE("presence response: more items than ids asked fails the whole answer",
          "[graph][reader]") {
  std::string body = R"({"value": [)";
  for (int i = 0; i < 6; ++i) body += R"({"id": "a", "availability": "Busy", "activity": "Busy"},)";
  body.back() = ']';
  body += "}";
  CHECK(ParseError(body, "too_many_items").message == "\"value\" has 6 items for 5 ids asked");
}

TEST_CASE("presence response: malformed items are skipped, naming what was wrong",
          "[graph][reader]") {
  CHECK(BadItem(R"({"value": [7]})") == "value[0] is a number, expected an object");
  CHECK(BadItem(R"({"value": [{"availability": "Busy", "activity": "Busy"}]})") ==
        "value[0].id is missing or not a non-empty string");
  CHECK(BadItem(R"({"value": [{"id": 12, "availability": "Busy", "activity": "Busy"}]})") ==
        "value[0].id is missing or not a non-empty string");
  CHECK(BadItem(R"({"value": [{"id": null, "availability": "Busy", "activity": "Busy"}]})") ==
        "value[0].id is missing or not a non-empty string");
  CHECK(BadItem(R"({"value": [{"id": "", "availability": "Busy", "activity": "Busy"}]})") ==
        "value[0].id is missing or not a non-empty string");
  CHECK(BadItem(R"({"value": [{"id": "a", "availability": 3, "activity": "Busy"}]})") ==
        "value[0].availability is a number, expected a string");
  CHECK(BadItem(R"({"value": [{"id": "a", "availability": null, "activity": "Busy"}]})") ==
        "value[0].availability is null, expected a string");
  CHECK(BadItem(R"({"value": [{"id": "a", "activity": "Busy"}]})") ==
        "value[0].availability is missing");
  CHECK(BadItem(R"({"value": [{"id": "a", "availability": "Busy"}]})") ==
        "value[0].activity is missing");
  CHECK(BadItem(R"({"value": [{"id": "a", "availability": "Busy", "activity": ["Busy"]}]})") ==
        "value[0].activity is an array, expected a string");
  CHECK(BadItem(R"({"value": [{"id": "a", "availability": "Busy", "activity": {"x": 1}}]})") ==
        "value[0].activity is an object, expected a string");
  CHECK(BadItem(R"({"value": [{"id": "a", "availability": "Busy", "activity": true}]})") ==
        "value[0].activity is a boolean, expected a string");
}

TEST_CASE("presence response: overlong values make the item malformed", "[graph][reader]") {
  std::string body = R"({"value": [{"id": "a", "availability": ")" + std::string(1024 * 1024, 'B') +
                     R"(", "activity": "Busy"}]})";
  CHECK(BadItem(body) == "value[0].availability is a string of 1048576 bytes, at most 64");
}

TEST_CASE("presence response: good items are kept beside skipped ones", "[graph][reader]") {
  auto batch = Parse(R"({"value": [
      {"id": "a", "availability": 3, "activity": "Busy"},
      {"id": "B", "availability": "Away", "activity": "Away"}]})");
  REQUIRE(batch.ok());
  REQUIRE(batch->users.size() == 1);
  CHECK(batch->users[0].id == "b");
  CHECK(batch->users[0].availability == "Away");
  CHECK(SkippedReasons(*batch) == std::vector<BadReason>{BadReason::kBadItem});
}

TEST_CASE("presence response: ids not asked for are skipped", "[graph][reader]") {
  auto batch = ParsePresenceResponse(
      R"({"value": [{"id": "zzz", "availability": "Busy", "activity": "Busy"},
                    {"id": "A", "availability": "Busy", "activity": "Busy"}]})",
      {"a", "b"});
  REQUIRE(batch.ok());
  REQUIRE(batch->users.size() == 1);
  CHECK(batch->users[0].id == "a");
  CHECK(SkippedReasons(*batch) == std::vector<BadReason>{BadReason::kUnknownId});
  CHECK(batch->skipped[0].detail == "value[0].id was not asked for");
}

TEST_CASE("presence response: a duplicated id is used in none of its copies", "[graph][reader]") {
  auto batch = ParsePresenceResponse(
      R"({"value": [{"id": "a", "availability": "Busy", "activity": "Busy"},
                    {"id": "A", "availability": "Away", "activity": "Away"},
                    {"id": "b", "availability": "Busy", "activity": "Busy"}]})",
      {"a", "b", "c"});
  REQUIRE(batch.ok());
  REQUIRE(batch->users.size() == 1);
  CHECK(batch->users[0].id == "b");
  CHECK(SkippedReasons(*batch) == std::vector<BadReason>{BadReason::kDuplicateId});
  CHECK(batch->skipped[0].detail == "id a answered 2 times");
}

TEST_CASE("json media types", "[graph][reader]") {
  CHECK(IsJsonMediaType("application/json"));
  CHECK(IsJsonMediaType("application/json;odata.metadata=minimal;charset=utf-8"));
  CHECK(IsJsonMediaType("Application/JSON; charset=utf-8"));
  CHECK(IsJsonMediaType("application/problem+json"));
  CHECK_FALSE(IsJsonMediaType(""));
  CHECK_FALSE(IsJsonMediaType("text/html"));
  CHECK_FALSE(IsJsonMediaType("text/json+html"));
  CHECK_FALSE(IsJsonMediaType("application/+json"));
}

TEST_CASE("bad response counters render every reason per endpoint", "[graph][reader]") {
  BadResponses counts("presence");
  counts.Count(BadReason::kNotJson);
  counts.Count(BadReason::kBadItem, 3);
  http::MetricsRegistry metrics;
  counts.Register(metrics);
  CHECK(metrics.Value("presence_graph_bad_responses_total",
                      {{"endpoint", "presence"}, {"reason", "not_json"}}) == 1);
  CHECK(metrics.Value("presence_graph_bad_responses_total",
                      {{"endpoint", "presence"}, {"reason", "bad_item"}}) == 3);
  CHECK_THAT(metrics.Render(), Catch::Contains("presence_graph_bad_responses_total{endpoint=\""
                                               "presence\",reason=\"http_5xx\"} 0"));
  CHECK(counts.total() == 4);
  CHECK(BadReasonNamed("too_many_items") == BadReason::kTooManyItems);
  CHECK_FALSE(BadReasonNamed("nope"));
}

TEST_CASE("presence response: nesting deeper than Graph's is refused before parsing",
          "[graph][reader]") {
  // Parsed, 8 MiB of '[' cost nlohmann about 600 MB; refused, nothing.
  Error abyss = ParseError(std::string(8 * 1024 * 1024, '['), "too_deep");
  CHECK(abyss.message == "response nests arrays and objects deeper than 8 levels (at byte 8)");

  // Deep inside an otherwise good item: the whole answer is refused.
  std::string body = R"({"value": [{"id": "a", "availability": "Busy", "activity": "Busy",
                                   "extra": )" +
                     std::string(100000, '[') + std::string(100000, ']') + "}]}";
  ParseError(body, "too_deep");
  ParseError(R"({"value":[{"id":"a","x":[[[[[[1]]]]]]}]})", "too_deep");  // 9 levels
}

TEST_CASE("presence response: Graph's own nesting (statusMessage) is taken", "[graph][reader]") {
  auto batch = Parse(R"({"value": [{"id": "a", "availability": "Away", "activity": "Away",
      "statusMessage": {"message": {"content": "[[[[[[[[[[", "contentType": "text"},
                        "expiryDateTime": {"dateTime": "9999-12-30T23:59:59", "timeZone": "UTC"}},
      "outOfOfficeSettings": {"message": null, "isOutOfOffice": false}}]})");
  REQUIRE(batch.ok());
  REQUIRE(batch->users.size() == 1);
  CHECK(batch->users[0].availability == "Away");

  // 8 levels are parsed (this item lacks availability, so it is skipped).
  auto deepest = Parse(R"({"value":[{"id":"a","x":[[[[[1]]]]]}]})");
  REQUIRE(deepest.ok());
  CHECK(SkippedReasons(*deepest) == std::vector<BadReason>{BadReason::kBadItem});
}

TEST_CASE("a full Graph answer fits in kMaxPresenceAnswerBytes", "[graph][reader]") {
  // 650 items as Graph writes them, with a status message each, fit.
  std::string item =
      R"({"id":"5f4b3a2e-1d0c-4b9a-8f7e-6d5c4b3a2f10","availability":"Available",)"
      R"("activity":"Available","statusMessage":{"message":{"content":")" +
      std::string(280, 'm') +
      R"(","contentType":"text"},"publishedDateTime":"2024-05-01T12:00:00.0000000Z"},)"
      R"("outOfOfficeSettings":{"message":null,"isOutOfOffice":false}})";
  CHECK(kMaxIdsPerRead * (item.size() + 1) + 100 < kMaxPresenceAnswerBytes);
}

}  // namespace
}  // namespace presence::graph

#include "graph/presence_reader.h"

#include <catch2/catch.hpp>

namespace presence::graph {
namespace {

Error ParseError(std::string_view body) {
  auto batch = ParsePresenceResponse(body);
  REQUIRE_FALSE(batch.ok());
  CHECK(batch.error().code == "bad_response");
  return batch.error();
}

TEST_CASE("presence response: users are parsed, ids lower-cased, values normalised",
          "[graph][reader]") {
  auto batch = ParsePresenceResponse(R"json({
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
  auto batch = ParsePresenceResponse(R"({"value": []})");
  REQUIRE(batch.ok());
  CHECK(batch->users.empty());
}

TEST_CASE("presence response: unknown, missing or null values become PresenceUnknown",
          "[graph][reader]") {
  auto batch = ParsePresenceResponse(R"({"value": [
      {"id": "a", "availability": "Sleeping", "activity": "Lunch"},
      {"id": "b"},
      {"id": "c", "availability": null, "activity": null}]})");
  REQUIRE(batch.ok());
  REQUIRE(batch->users.size() == 3);
  for (const auto& user : batch->users) {
    CHECK(user.availability == "PresenceUnknown");
    CHECK(user.activity == "PresenceUnknown");
  }
}

TEST_CASE("presence response: malformed JSON is a bad_response, not a crash", "[graph][reader]") {
  for (std::string_view body : {"", "{", "{\"value\": [", "not json", "{\"value\": [}]}",
                                "\xff\xfe", "{\"value\": []} trailing"}) {
    INFO(body);
    CHECK_THAT(ParseError(body).message, Catch::StartsWith("response is not valid JSON"));
  }
}

TEST_CASE("presence response: wrong shapes name what was wrong", "[graph][reader]") {
  CHECK(ParseError("[]").message == "response is not a JSON object");
  CHECK(ParseError("42").message == "response is not a JSON object");
  CHECK(ParseError("{}").message == "response has no \"value\"");
  CHECK(ParseError(R"({"values": []})").message == "response has no \"value\"");
  CHECK(ParseError(R"({"value": {}})").message == "\"value\" is an object, expected an array");
  CHECK(ParseError(R"({"value": null})").message == "\"value\" is null, expected an array");
  CHECK(ParseError(R"({"value": [{"id": "a"}, 7]})").message ==
        "value[1] is a number, expected an object");
}

TEST_CASE("presence response: mistyped fields are a bad_response", "[graph][reader]") {
  CHECK(ParseError(R"({"value": [{"availability": "Busy"}]})").message ==
        "value[0].id is missing or not a non-empty string");
  CHECK(ParseError(R"({"value": [{"id": 12}]})").message ==
        "value[0].id is missing or not a non-empty string");
  CHECK(ParseError(R"({"value": [{"id": ""}]})").message ==
        "value[0].id is missing or not a non-empty string");
  CHECK(ParseError(R"({"value": [{"id": "a", "availability": 3}]})").message ==
        "value[0].availability is a number, expected a string");
  CHECK(ParseError(R"({"value": [{"id": "a", "activity": ["Busy"]}]})").message ==
        "value[0].activity is an array, expected a string");
  CHECK(ParseError(R"({"value": [{"id": "a", "activity": true}]})").message ==
        "value[0].activity is a boolean, expected a string");
}

TEST_CASE("presence response: deep nesting does not crash", "[graph][reader]") {
  std::string body = R"({"value": [{"id": "a", "extra": )" + std::string(100000, '[') +
                     std::string(100000, ']') + "}]}";
  auto batch = ParsePresenceResponse(body);
  REQUIRE(batch.ok());
  CHECK(batch->users.size() == 1);
}

}  // namespace
}  // namespace presence::graph

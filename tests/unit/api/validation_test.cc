#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "api/validation.h"

using nlohmann::json;
using namespace presence::api;

TEST_CASE("ids are 1 to 128 letters, digits and -_.@", "[api][validation]") {
  CHECK(ValidateId("tenant", "contoso").ok());
  CHECK(ValidateId("agent", "a.b-c_d@e.com").ok());
  CHECK(ValidateId("agent", std::string(128, 'x')).ok());

  auto too_long = ValidateId("agent", std::string(129, 'x'));
  REQUIRE_FALSE(too_long.ok());
  CHECK(too_long.error().code == "bad_id");
  CHECK(too_long.error().message.find("agent") != std::string::npos);
  for (const char* bad : {"", "a b", "a/b", "a+b", "ä", "a%40", "a\nb", "a:b"}) {
    INFO(bad);
    CHECK(ValidateId("tenant", bad).error().code == "bad_id");
  }
}

TEST_CASE("seq is an unsigned 64-bit decimal", "[api][validation][seq]") {
  // Decision: "01" is refused (one number, one spelling); JSON fractions and
  // negatives are refused; values past 2^64-1 are refused.
  CHECK(ParseSeqText("0").value() == "0");
  CHECK(ParseSeqText("18446744073709551615").value() == "18446744073709551615");
  for (const char* bad : {"18446744073709551616", "99999999999999999999", "184467440737095516150",
                          "-1", "+1", "01", "00", "1.5", "", " 1", "1 ", "0x10", "1e3"}) {
    INFO(bad);
    CHECK(ParseSeqText(bad).error().code == "bad_seq");
  }

  CHECK(ParseSeqJson(json::parse("0")).value() == "0");
  CHECK(ParseSeqJson(json::parse("18446744073709551615")).value() == "18446744073709551615");
  CHECK(ParseSeqJson(json::parse("\"42\"")).value() == "42");
  for (const char* bad :
       {"18446744073709551616", "-1", "1.5", "1.0", "1e3", "\"01\"", "true", "null", "[1]", "{}"}) {
    INFO(bad);
    CHECK(ParseSeqJson(json::parse(bad)).error().code == "bad_seq");
  }
}

TEST_CASE("If-Match takes one strong version, quoted or not", "[api][validation][if-match]") {
  CHECK_FALSE(ParseIfMatch(std::nullopt).value().has_value());
  CHECK(ParseIfMatch("\"5\"").value() == "5");
  CHECK(ParseIfMatch("5").value() == "5");
  CHECK(ParseIfMatch(" \"12\" ").value() == "12");
  CHECK(ParseIfMatch("\"0\"").value() == "0");
  for (const char* bad : {"W/\"5\"", "w/\"5\"", "*", "", "\"\"", "\"1\", \"2\"", "\"abc\"",
                          "\"-1\"", "\"05\"", "\"5", "18446744073709551616"}) {
    INFO(bad);
    CHECK(ParseIfMatch(std::string(bad)).error().code == "bad_if_match");
  }
}

TEST_CASE("Content-Type must be application/json", "[api][validation]") {
  CHECK(CheckJsonContentType("application/json").ok());
  CHECK(CheckJsonContentType("Application/JSON; charset=utf-8").ok());
  auto missing = CheckJsonContentType(std::nullopt);
  CHECK(missing.error().code == "unsupported_media_type");
  CHECK(ValidationStatus(missing.error()) == 415);
  CHECK(CheckJsonContentType("text/plain").error().code == "unsupported_media_type");
  CHECK(CheckJsonContentType("application/jsonx").error().code == "unsupported_media_type");
  CHECK(ValidationStatus(presence::MakeError("bad_seq", "")) == 400);
}

TEST_CASE("Idempotency-Key is 1 to 255 visible characters", "[api][validation]") {
  CHECK(ValidateIdempotencyKey(std::nullopt).ok());
  CHECK(ValidateIdempotencyKey("abc-123").ok());
  CHECK(ValidateIdempotencyKey(std::string(255, 'k')).ok());
  CHECK(ValidateIdempotencyKey(std::string(256, 'k')).error().code == "bad_idempotency_key");
  CHECK(ValidateIdempotencyKey("").error().code == "bad_idempotency_key");
  CHECK(ValidateIdempotencyKey("a b").error().code == "bad_idempotency_key");
}

TEST_CASE("RFC 3339 timestamps become ms since the epoch", "[api][validation][time]") {
  CHECK(ParseRfc3339Ms("1970-01-01T00:00:00Z").value() == 0);
  CHECK(ParseRfc3339Ms("2024-05-01T12:00:00Z").value() == 1714564800000ull);
  CHECK(ParseRfc3339Ms("2024-05-01T12:00:00.25Z").value() == 1714564800250ull);
  CHECK(ParseRfc3339Ms("2024-05-01T12:00:00.123999Z").value() == 1714564800123ull);
  CHECK(ParseRfc3339Ms("2024-05-01t12:00:00z").value() == 1714564800000ull);
  CHECK(ParseRfc3339Ms("2024-05-01T14:00:00+02:00").value() == 1714564800000ull);
  CHECK(ParseRfc3339Ms("2024-05-01T11:30:00-00:30").value() == 1714564800000ull);
  CHECK(ParseRfc3339Ms("2024-02-29T00:00:00Z").ok());
  for (const char* bad :
       {"2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z", "2024-05-01T24:00:00Z",
        "2024-05-01 12:00:00Z", "2024-05-01T12:00:00", "2024-05-01T12:00Z", "2024-05-01",
        "1969-12-31T23:59:59Z", "2024-05-01T12:00:00.Z", "2024-05-01T12:00:00+0200",
        "2024-05-01T12:00:00Zjunk", "", "yesterday"}) {
    INFO(bad);
    CHECK(ParseRfc3339Ms(bad).error().code == "bad_observed_at");
  }
  CHECK(FormatRfc3339Ms(0) == "1970-01-01T00:00:00.000Z");
  CHECK(FormatRfc3339Ms(1714564800250ull) == "2024-05-01T12:00:00.250Z");
  CHECK(FormatRfc3339Ms(951782400000ull) == "2000-02-29T00:00:00.000Z");
  CHECK(ParseRfc3339Ms(FormatRfc3339Ms(1234567890123ull)).value() == 1234567890123ull);
  CHECK(FormatRfc3339Ms(253402300799999ull) == "9999-12-31T23:59:59.999Z");
  CHECK(FormatRfc3339Ms(253402300800000ull) == "10000-01-01T00:00:00.000Z");
}

TEST_CASE("a formatted time parses back to the same ms across years", "[api][validation][time]") {
  // Steps of a prime number of ms reach every field's digits and leap days.
  for (uint64_t ms = 0; ms < 253402300800000ull; ms += 9876543210987ull / 7) {
    INFO(ms);
    CHECK(ParseRfc3339Ms(FormatRfc3339Ms(ms)).value() == ms);
  }
}

TEST_CASE("observed_at is a timestamp, integer ms or absent", "[api][validation][time]") {
  const uint64_t now = 1714564800000ull;
  CHECK(ParseObservedAt(nullptr, now).value() == now);
  json null_value = nullptr;
  CHECK(ParseObservedAt(&null_value, now).value() == now);
  json text = "2024-05-01T11:59:00Z";
  CHECK(ParseObservedAt(&text, now).value() == now - 60000);
  json number = now - 5;
  CHECK(ParseObservedAt(&number, now).value() == now - 5);
  json skew = now + 60000;
  CHECK(ParseObservedAt(&skew, now).value() == now + 60000);

  for (const char* bad : {"-1", "1.5", "true", "\"soon\"", "{}", "99999999999999999"}) {
    INFO(bad);
    json value = json::parse(bad);
    CHECK(ParseObservedAt(&value, now).error().code == "bad_observed_at");
  }
  json far = now + kMaxObservedAtAheadMs + 1;
  CHECK(ParseObservedAt(&far, now).error().message.find("future") != std::string::npos);
}

TEST_CASE("graph_user_id is a GUID, returned in lower case", "[api][validation]") {
  CHECK(ParseGraphUserId("6E4C1A0B-2F7D-4C55-9D3B-0A1B2C3D4E5F").value() ==
        "6e4c1a0b-2f7d-4c55-9d3b-0a1b2c3d4e5f");
  for (const char* bad : {"\"\"", "\"{6e4c1a0b-2f7d-4c55-9d3b-0a1b2c3d4e5f}\"",
                          "\"6e4c1a0b2f7d4c559d3b0a1b2c3d4e5f\"",
                          "\"6e4c1a0b-2f7d-4c55-9d3b-0a1b2c3d4e5g\"", "42", "null"}) {
    INFO(bad);
    CHECK(ParseGraphUserId(json::parse(bad)).error().code == "bad_graph_user_id");
  }
}

TEST_CASE("labels are a bounded object of strings in canonical form", "[api][validation]") {
  CHECK(ParseLabels(json::parse(R"({"team":"b","site":"a"})")).value() ==
        R"({"site":"a","team":"b"})");
  CHECK(ParseLabels(json::object()).value() == "{}");
  CHECK(ParseLabels(json{{std::string(64, 'k'), std::string(256, 'v')}}).ok());
  // Characters, not bytes: 256 two-byte characters are fine.
  std::string umlauts;
  for (int i = 0; i < 256; ++i) umlauts += "\xC3\xA4";
  CHECK(ParseLabels(json{{"k", umlauts}}).ok());

  json many = json::object();
  for (int i = 0; i < 65; ++i) many["k" + std::to_string(i)] = "v";
  CHECK(ParseLabels(many).error().code == "bad_labels");
  CHECK(ParseLabels(json{{std::string(65, 'k'), "v"}}).error().code == "bad_labels");
  CHECK(ParseLabels(json{{"", "v"}}).error().code == "bad_labels");
  CHECK(ParseLabels(json{{"k", std::string(257, 'v')}}).error().code == "bad_labels");
  CHECK(ParseLabels(json{{"k", 1}}).error().code == "bad_labels");
  CHECK(ParseLabels(json{{"k", "a\nb"}}).error().code == "bad_labels");
  CHECK(ParseLabels(json::array()).error().code == "bad_labels");
}

TEST_CASE("availability and activity are known values in canonical spelling", "[api][validation]") {
  CHECK(ParseAvailability("busy").value() == "Busy");
  CHECK(ParseAvailability("DONOTDISTURB").value() == "DoNotDisturb");
  CHECK(ParseAvailability("presenceunknown").value() == "PresenceUnknown");
  CHECK(ParseActivity("inameeting").value() == "InAMeeting");
  CHECK(ParseActivity("OutOfOffice").value() == "OutOfOffice");
  CHECK(ParseAvailability("InAMeeting").error().code == "bad_availability");
  CHECK(ParseAvailability("").error().code == "bad_availability");
  CHECK(ParseAvailability(1).error().code == "bad_availability");
  CHECK(ParseActivity("AvailableIdle").error().code == "bad_activity");
}

TEST_CASE("bodies must be JSON objects with known fields", "[api][validation]") {
  CHECK(ParseJsonObject(R"({"a":1})").ok());
  CHECK(ParseJsonObject("[1]").error().code == "bad_json");
  CHECK(ParseJsonObject("").error().code == "bad_json");
  CHECK(ParseJsonObject("{\"a\":").error().message.find("byte") != std::string::npos);
  CHECK(ParseJsonObject("{\"a\":\"\xFF\"}").error().code == "bad_json");  // invalid UTF-8

  auto unknown = CheckKnownFields(json::parse(R"({"a":1,"zz":2})"), {"a", "b"});
  CHECK(unknown.error().code == "unknown_field");
  CHECK(unknown.error().message.find("zz") != std::string::npos);
  CHECK(CheckKnownFields(json::parse(R"({"a":1})"), {"a", "b"}).ok());
}

TEST_CASE("limit is 1 to 1000, default 100", "[api][validation]") {
  CHECK(ParseLimit(std::nullopt).value() == 100);
  CHECK(ParseLimit("1").value() == 1);
  CHECK(ParseLimit("1000").value() == 1000);
  for (const char* bad : {"0", "1001", "-1", "+5", "", "10x", "4294967297"}) {
    INFO(bad);
    CHECK(ParseLimit(std::string(bad)).error().code == "bad_limit");
  }
}

TEST_CASE("ids made of dots only are refused: they are path steps", "[api][validation][limits]") {
  for (const char* dots : {".", "..", "..."}) {
    INFO(dots);
    auto refused = ValidateId("agent", dots);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == "bad_id");
    CHECK(refused.error().message.find("dots only") != std::string::npos);
  }
  CHECK(ValidateId("agent", ".a").ok());
  CHECK(ValidateId("agent", "a..b").ok());
  // A decoded %2F or %00 is not an id character.
  CHECK(ValidateId("agent", std::string("a/b")).error().code == "bad_id");
  CHECK(ValidateId("agent", std::string("a\0b", 3)).error().code == "bad_id");
}

TEST_CASE("max_id_length lowers the id maximum but never raises it", "[api][validation][limits]") {
  CHECK(ValidateId("agent", std::string(10, 'x'), 10).ok());
  auto refused = ValidateId("agent", std::string(11, 'x'), 10);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == "bad_id");
  CHECK(refused.error().message.find("1 to 10 characters") != std::string::npos);
  // DESIGN.md's 128 stays the ceiling whatever is asked for.
  CHECK(ValidateId("agent", std::string(129, 'x'), 1000).error().code == "bad_id");
}

TEST_CASE("labels obey max_labels and max_labels_bytes", "[api][validation][limits]") {
  RequestLimits limits;
  limits.max_labels = 2;
  limits.max_labels_bytes = 20;
  CHECK(ParseLabels(json{{"a", "1"}, {"b", "2"}}, limits).value() == R"({"a":"1","b":"2"})");

  auto too_many = ParseLabels(json{{"a", "1"}, {"b", "2"}, {"c", "3"}}, limits);
  REQUIRE_FALSE(too_many.ok());
  CHECK(too_many.error().code == "bad_labels");
  CHECK(too_many.error().message.find("at most 2") != std::string::npos);

  // {"a":"1234567890123"} is 21 bytes.
  auto too_big = ParseLabels(json{{"a", "1234567890123"}}, limits);
  REQUIRE_FALSE(too_big.ok());
  CHECK(too_big.error().code == "bad_labels");
  CHECK(too_big.error().message.find("21 bytes") != std::string::npos);
  CHECK(ParseLabels(json{{"a", "123456789012"}}, limits).ok());  // 20 bytes: fits

  // The defaults: 64 labels, 4096 bytes.
  json many = json::object();
  for (int i = 0; i < 64; ++i) many["k" + std::to_string(i)] = "v";
  CHECK(ParseLabels(many).ok());
  json big = json::object();
  for (int i = 0; i < 20; ++i) big["k" + std::to_string(i)] = std::string(250, 'v');
  CHECK(ParseLabels(big).error().code == "bad_labels");
}

TEST_CASE("JSON nesting is bounded before the body is parsed", "[api][validation][limits]") {
  CHECK(CheckJsonDepth(R"({"a":{"b":[1]}})", 3).ok());
  auto deep = CheckJsonDepth(R"({"a":{"b":[1]}})", 2);
  REQUIRE_FALSE(deep.ok());
  CHECK(deep.error().code == "json_too_deep");
  CHECK(deep.error().message.find("deeper than 2") != std::string::npos);
  // Brackets inside strings, escaped quotes included, do not count.
  CHECK(CheckJsonDepth(R"({"a":"[[[[{{{{","b":"\"[[[["})", 1).ok());
  CHECK(CheckJsonDepth(R"({"a\\":[[1]]})", 2).error().code == "json_too_deep");
  // Closing brackets never go below zero.
  CHECK(CheckJsonDepth("]]]]{}", 1).ok());

  // 100000 '[' are refused at once, without parsing (no stack, no memory).
  const std::string abyss(100000, '[');
  auto refused = ParseJsonObject(abyss);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == "json_too_deep");
  CHECK(
      ParseJsonObject("{\"a\":" + std::string(20, '[') + std::string(20, ']') + "}").error().code ==
      "json_too_deep");
  CHECK(ParseJsonObject(R"({"a":[[1]]})", 3).ok());
  CHECK(ParseJsonObject(R"({"a":[[1]]})", 2).error().code == "json_too_deep");
  // Within the depth, bad JSON is still bad_json.
  CHECK(ParseJsonObject("{\"a\":[}", 16).error().code == "bad_json");
}

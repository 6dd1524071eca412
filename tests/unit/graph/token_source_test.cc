#include "graph/token_source.h"

#include <catch2/catch.hpp>

namespace presence::graph {
namespace {

constexpr int64_t kNow = 1700000000000;

TEST_CASE("token response: access_token and expires_in give the expiry", "[graph][token]") {
  auto token = ParseTokenResponse(
      R"({"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0"})",
      kNow);
  REQUIRE(token.ok());
  CHECK(token->value == "eyJ0");
  CHECK(token->expires_at_ms == kNow + 3599000);
  CHECK(token->issued_at_ms == kNow);
}

TEST_CASE("token response: expires_in as a string is accepted", "[graph][token]") {
  auto token = ParseTokenResponse(R"({"expires_in":"60","access_token":"t"})", kNow);
  REQUIRE(token.ok());
  CHECK(token->expires_at_ms == kNow + 60000);
}

TEST_CASE("token response: each bad answer names its reason", "[graph][token]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "not_json"},
      {"nope", "not_json"},
      {"\xff\xfe{", "not_json"},
      {"[]", "bad_shape"},
      {"\"token\"", "bad_shape"},
      {R"({"expires_in":3600})", "bad_access_token"},
      {R"({"access_token":"","expires_in":3600})", "bad_access_token"},
      {R"({"access_token":5,"expires_in":3600})", "bad_access_token"},
      {R"({"access_token":null,"expires_in":3600})", "bad_access_token"},
      {R"({"access_token":{"v":"t"},"expires_in":3600})", "bad_access_token"},
      {R"({"access_token":"t"})", "bad_expires_in"},
      {R"({"access_token":"t","expires_in":0})", "bad_expires_in"},
      {R"({"access_token":"t","expires_in":"soon"})", "bad_expires_in"},
      {R"({"access_token":"t","expires_in":-5})", "bad_expires_in"},
      {R"({"access_token":"t","expires_in":null})", "bad_expires_in"},
      {R"({"access_token":"t","expires_in":[3600]})", "bad_expires_in"},
      {R"({"access_token":"t","expires_in":99999999999})", "bad_expires_in"},
      {R"({"access_token":"t","expires_in":"99999999999999999999999"})", "bad_expires_in"},
      // A cast of 1e300 to an integer is undefined behaviour: refused before it.
      {R"({"access_token":"t","expires_in":1e300})", "bad_expires_in"},
      {R"({"access_token":"t","expires_in":-1e300})", "bad_expires_in"},
  };
  for (const auto& [body, reason] : cases) {
    INFO(body);
    auto token = ParseTokenResponse(body, kNow);
    REQUIRE_FALSE(token.ok());
    CHECK(token.error().code == reason);
  }
}

TEST_CASE("token response: an overlong access_token is refused", "[graph][token]") {
  std::string body =
      R"({"expires_in":3600,"access_token":")" + std::string(1024 * 1024, 'x') + "\"}";
  auto token = ParseTokenResponse(body, kNow);
  REQUIRE_FALSE(token.ok());
  CHECK(token.error().code == "bad_access_token");
  CHECK(token.error().message == "token answer's access_token has 1048576 bytes, at most 16384");
  CHECK(token.error().message.find("xxxx") == std::string::npos);
}

TEST_CASE("token response: an access_token that could split a header is refused",
          "[graph][token]") {
  // As written in the JSON answer (escapes are decoded by the parser).
  const std::vector<std::string> tokens = {R"(eyJ0\r\nX-Injected: yes)",
                                           R"(eyJ0\nHost: evil)",
                                           R"(eyJ0\r)",
                                           "eyJ0 eyJ1",
                                           R"(eyJ0\tx)",
                                           R"(eyJ0\u0000)",
                                           R"(eyJ0\u00e9)",
                                           "eyJ0=x",
                                           "=",
                                           "eyJ0,x",
                                           "eyJ0;x",
                                           R"(\"eyJ0\")"};
  for (const std::string& value : tokens) {
    INFO(value);
    auto token = ParseTokenResponse(R"({"expires_in":3600,"access_token":")" + value + "\"}", kNow);
    REQUIRE_FALSE(token.ok());
    CHECK(token.error().code == "bad_access_token");
    CHECK(token.error().message.find("eyJ0") == std::string::npos);  // never the token
  }
}

TEST_CASE("bearer tokens are RFC 6750 b64token", "[graph][token]") {
  CHECK(IsBearerToken("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOi.c2lnbmF0dXJl"));
  CHECK(IsBearerToken("fake.AbC-_~+/09"));
  CHECK(IsBearerToken("dG9rZW4="));
  CHECK(IsBearerToken("dG9rZW4=="));
  CHECK_FALSE(IsBearerToken(""));
  CHECK_FALSE(IsBearerToken("=="));
  CHECK_FALSE(IsBearerToken("a=b"));
  CHECK_FALSE(IsBearerToken("a\r\nb"));
  CHECK_FALSE(IsBearerToken(std::string("a\0b", 3)));
  CHECK_FALSE(IsBearerToken("a b"));
  CHECK_FALSE(IsBearerToken("\xc3\xa9"));
}

TEST_CASE("token response: nesting is refused before parsing", "[graph][token]") {
  auto abyss = ParseTokenResponse(std::string(8 * 1024 * 1024, '['), kNow);
  REQUIRE_FALSE(abyss.ok());
  CHECK(abyss.error().code == "too_deep");
  auto nested = ParseTokenResponse(
      R"({"expires_in":3600,"access_token":"t","x":[[[[[[[[1]]]]]]]]})", kNow);  // 9 levels
  REQUIRE_FALSE(nested.ok());
  CHECK(nested.error().code == "too_deep");
  CHECK(ParseTokenResponse(R"({"expires_in":3600,"access_token":"t","x":[[[[[[[1]]]]]]]})", kNow)
            .ok());  // 8 levels
  CHECK(kMaxTokenAnswerBytes >= kMaxAccessTokenBytes + 1024);
}

TEST_CASE("a token is renewed when less than 5 minutes remain", "[graph][token]") {
  AccessToken token{"t", kNow + 3600000, kNow};
  CHECK(token.Fresh(kNow));
  CHECK(token.Fresh(kNow + 3600000 - 300001));
  CHECK_FALSE(token.Fresh(kNow + 3600000 - 300000));
  CHECK_FALSE(token.Fresh(kNow + 3600000 + 1));
}

TEST_CASE("a short test token is renewed when a fifth of its lifetime remains", "[graph][token]") {
  AccessToken token{"t", kNow + 10000, kNow};
  CHECK(token.Fresh(kNow + 7999));
  CHECK_FALSE(token.Fresh(kNow + 8000));
}

TEST_CASE("a token of unknown lifetime is taken as one hour long", "[graph][token]") {
  AccessToken token{"t", kNow + 600000, 0};
  CHECK(token.Fresh(kNow));
  CHECK_FALSE(token.Fresh(kNow + 300000));
}

TEST_CASE("form fields are percent-encoded", "[graph][token]") {
  CHECK(FormEncode({{"client_id", "abc-123"},
                    {"client_secret", "a+b/c= d&e~"},
                    {"scope", "https://graph.microsoft.com/.default"}}) ==
        "client_id=abc-123&client_secret=a%2Bb%2Fc%3D%20d%26e~"
        "&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default");
  CHECK(FormEncode({}).empty());
}

}  // namespace
}  // namespace presence::graph

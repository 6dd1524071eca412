#include <catch2/catch.hpp>

#include "http/url.h"

using presence::http::ParseQueryString;
using presence::http::PercentDecode;
using presence::http::SplitPath;

TEST_CASE("percent escapes are decoded, malformed ones refused", "[http][url]") {
  CHECK(PercentDecode("a%40b%2e").value() == "a@b.");
  CHECK(PercentDecode("plus+stays").value() == "plus+stays");
  CHECK_FALSE(PercentDecode("a%4").ok());
  CHECK_FALSE(PercentDecode("a%zz").ok());
  CHECK_FALSE(PercentDecode("%").ok());
}

TEST_CASE("a path splits before decoding", "[http][url]") {
  auto segments = SplitPath("/v1/tenants/t%2Fx/agents/a%40b");
  REQUIRE(segments.ok());
  CHECK(*segments == std::vector<std::string>{"v1", "tenants", "t/x", "agents", "a@b"});

  CHECK(SplitPath("/").value().empty());
  CHECK(SplitPath("/a/").value() == std::vector<std::string>{"a", ""});
  CHECK(SplitPath("//a").value() == std::vector<std::string>{"", "a"});
  CHECK(SplitPath("no-slash").error().code == "bad_path");
  CHECK(SplitPath("/a%2").error().code == "bad_path");
}

TEST_CASE("query strings are parsed strictly", "[http][url]") {
  auto params = ParseQueryString("limit=10&cursor=3%3Aabc");
  REQUIRE(params.ok());
  REQUIRE(params->size() == 2);
  CHECK((*params)[0] == std::pair<std::string, std::string>{"limit", "10"});
  CHECK((*params)[1] == std::pair<std::string, std::string>{"cursor", "3:abc"});

  CHECK(ParseQueryString("").value().empty());
  CHECK(ParseQueryString("cursor=").value()[0].second.empty());
  CHECK(ParseQueryString("limit").error().code == "bad_query");
  CHECK(ParseQueryString("=1").error().code == "bad_query");
  CHECK(ParseQueryString("a=1&&b=2").error().code == "bad_query");
  CHECK(ParseQueryString("a=1&").error().code == "bad_query");
  CHECK(ParseQueryString("a=1&a=2").error().code == "bad_query");
  CHECK(ParseQueryString("a=%G1").error().code == "bad_query");
}

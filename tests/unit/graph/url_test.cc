#include "graph/url.h"

#include <catch2/catch.hpp>

namespace presence::graph {
namespace {

TEST_CASE("base url: https without port gets 443 and no prefix", "[graph][url]") {
  auto url = ParseBaseUrl("https://graph.microsoft.com");
  REQUIRE(url.ok());
  CHECK(url->scheme == "https");
  CHECK(url->host == "graph.microsoft.com");
  CHECK(url->port == 443);
  CHECK(url->path_prefix.empty());
  CHECK(url->tls());
  CHECK(url->HostHeader() == "graph.microsoft.com");
  CHECK(url->Authority() == "graph.microsoft.com:443");
  CHECK(url->Target("/v1.0/me") == "/v1.0/me");
}

TEST_CASE("base url: http with port and path prefix", "[graph][url]") {
  auto url = ParseBaseUrl("http://127.0.0.1:8900/fake/graph/");
  REQUIRE(url.ok());
  CHECK(url->scheme == "http");
  CHECK_FALSE(url->tls());
  CHECK(url->host == "127.0.0.1");
  CHECK(url->port == 8900);
  CHECK(url->path_prefix == "/fake/graph");
  CHECK(url->HostHeader() == "127.0.0.1:8900");
  CHECK(url->Target("/v1.0/x") == "/fake/graph/v1.0/x");
  CHECK(url->ToString() == "http://127.0.0.1:8900/fake/graph");
}

TEST_CASE("base url: scheme and host are lower-cased, default port 80", "[graph][url]") {
  auto url = ParseBaseUrl("HTTP://Login.Example.COM/");
  REQUIRE(url.ok());
  CHECK(url->scheme == "http");
  CHECK(url->host == "login.example.com");
  CHECK(url->port == 80);
  CHECK(url->path_prefix.empty());
  CHECK(url->HostHeader() == "login.example.com");
}

TEST_CASE("base url: bracketed IPv6 host", "[graph][url]") {
  auto url = ParseBaseUrl("http://[::1]:9000");
  REQUIRE(url.ok());
  CHECK(url->host == "::1");
  CHECK(url->port == 9000);
  CHECK(url->Authority() == "[::1]:9000");
  CHECK(url->HostHeader() == "[::1]:9000");
}

TEST_CASE("base url: bad urls are refused naming the url and the reason", "[graph][url]") {
  struct Case {
    const char* text;
    const char* reason;
  };
  const Case cases[] = {
      {"", "is empty"},
      {"graph.microsoft.com", "has no scheme"},
      {"ftp://example.com", "scheme must be http or https"},
      {"https://", "has an empty host"},
      {"https://:443", "has an empty host"},
      {"http://host:0", "port must be a number from 1 to 65535"},
      {"http://host:65536", "port must be a number from 1 to 65535"},
      {"http://host:80x", "port must be a number from 1 to 65535"},
      {"http://host:", "has an empty port"},
      {"http://user:pw@host", "must not have user info"},
      {"http://host/a?b=c", "must not have a query or fragment"},
      {"http://host/a#frag", "must not have a query or fragment"},
      {"http://ho st", "contains a space or control character"},
      {"http://ho%st", "has an invalid character '%' in the host"},
      {"http://[::1", "has an unclosed '['"},
      {"http://[::1]x", "has text after the IPv6 address"},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    auto url = ParseBaseUrl(c.text);
    REQUIRE_FALSE(url.ok());
    CHECK(url.error().code == "bad_url");
    CHECK_THAT(url.error().message, Catch::StartsWith(std::string("url \"") + c.text + "\": "));
    CHECK_THAT(url.error().message, Catch::Contains(c.reason));
  }
}

}  // namespace
}  // namespace presence::graph

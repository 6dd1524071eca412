#include "graph/throttle.h"

#include <catch2/catch.hpp>

namespace presence::graph {
namespace {

TEST_CASE("Retry-After seconds become ms, capped at an hour", "[graph][throttle]") {
  CHECK(ParseRetryAfter("5") == std::optional<uint64_t>(5000));
  CHECK(ParseRetryAfter(" 0 ") == std::optional<uint64_t>(0));
  CHECK(ParseRetryAfter("999999999999") == std::optional<uint64_t>(3600000));
  CHECK_FALSE(ParseRetryAfter(""));
  CHECK_FALSE(ParseRetryAfter("-1"));
  CHECK_FALSE(ParseRetryAfter("1.5"));
  CHECK_FALSE(ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT"));
}

TEST_CASE("a throttled error carries the wait in its message", "[graph][throttle]") {
  Error error = ThrottledError("graph tenant contoso", 429, "7");
  CHECK(error.code == "throttled");
  CHECK(error.message == "graph tenant contoso: throttled (429), retry after 7000 ms");
  CHECK(RetryAfterMs(error) == std::optional<uint64_t>(7000));

  // Still found when more context is put in front.
  Error wrapped{"throttled", "graph token for tenant x: " + error.message};
  CHECK(RetryAfterMs(wrapped) == std::optional<uint64_t>(7000));
}

TEST_CASE("a throttled error without Retry-After has no wait", "[graph][throttle]") {
  Error error = ThrottledError("graph tenant contoso", 503, "");
  CHECK(error.code == "throttled");
  CHECK(error.message == "graph tenant contoso: throttled (503), no Retry-After");
  CHECK_FALSE(RetryAfterMs(error));
}

TEST_CASE("other errors have no retry wait", "[graph][throttle]") {
  CHECK_FALSE(RetryAfterMs(Error{"timeout", "graph x:1: retry after 5 ms"}));
}

}  // namespace
}  // namespace presence::graph

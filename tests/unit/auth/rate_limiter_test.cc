#include "auth/rate_limiter.h"

#include <catch2/catch.hpp>

namespace presence::auth {
namespace {

using namespace std::chrono_literals;
using Clock = TokenBucket::Clock;

TEST_CASE("a bucket lets the burst through, then the rate", "[auth][rate]") {
  const auto t0 = Clock::time_point{} + 1h;
  TokenBucket bucket(10, 5, t0);
  for (int i = 0; i < 5; ++i) CHECK(bucket.Take(t0) == Clock::duration::zero());
  const auto wait = bucket.Take(t0);
  CHECK(wait > Clock::duration::zero());
  CHECK(wait <= 100ms);

  // 10 per second: one token every 100 ms, never more than the burst.
  CHECK(bucket.Take(t0 + 100ms) == Clock::duration::zero());
  CHECK(bucket.Take(t0 + 100ms) > Clock::duration::zero());
  for (int i = 0; i < 5; ++i) CHECK(bucket.Take(t0 + 1h) == Clock::duration::zero());
  CHECK(bucket.Take(t0 + 1h) > Clock::duration::zero());
}

TEST_CASE("each key has its own bucket", "[auth][rate]") {
  const auto t0 = Clock::time_point{} + 1h;
  RateLimiter limiter(1, 2);
  CHECK(limiter.Take("a", t0) == Clock::duration::zero());
  CHECK(limiter.Take("a", t0) == Clock::duration::zero());
  CHECK(limiter.Take("a", t0) > Clock::duration::zero());
  CHECK(limiter.Take("b", t0) == Clock::duration::zero());
}

TEST_CASE("a bounded limiter forgets full buckets first", "[auth][rate]") {
  const auto t0 = Clock::time_point{} + 1h;
  RateLimiter limiter(1, 1, 2);
  CHECK(limiter.Take("a", t0) == Clock::duration::zero());
  CHECK(limiter.Take("b", t0 + 10s) == Clock::duration::zero());
  // "a" refilled (full), "b" did not: "a" is the one dropped for "c".
  CHECK(limiter.Take("c", t0 + 10s) == Clock::duration::zero());
  CHECK(limiter.Take("b", t0 + 10s) > Clock::duration::zero());
}

TEST_CASE("Retry-After is whole seconds, at least one", "[auth][rate]") {
  CHECK(RateLimiter::RetryAfterSeconds(1ms) == 1);
  CHECK(RateLimiter::RetryAfterSeconds(1000ms) == 1);
  CHECK(RateLimiter::RetryAfterSeconds(1001ms) == 2);
  CHECK(RateLimiter::RetryAfterSeconds(Clock::duration::zero()) == 1);
}

}  // namespace
}  // namespace presence::auth

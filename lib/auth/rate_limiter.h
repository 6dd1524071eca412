#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <unordered_map>

namespace presence::auth {

// A token bucket: holds at most `burst` tokens, refilled at `rate` per second; each request
// takes one. Starts full.
class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  TokenBucket(double rate, double burst, Clock::time_point now);

  // Takes one token and returns zero, or takes nothing and returns how long until one is
  // there.
  Clock::duration Take(Clock::time_point now);

  // True when the bucket is full at `now` (forgetting it loses nothing).
  bool Full(Clock::time_point now) const;

 private:
  double Level(Clock::time_point now) const;

  double rate_;
  double burst_;
  double tokens_;
  Clock::time_point updated_;
};

// One TokenBucket per API key id, per process: N instances allow N times the rate. Bounded:
// beyond `max_keys` buckets, full ones (which hold no state worth keeping) are dropped
// first, then all. Not thread-safe (the io_context's thread only).
class RateLimiter {
 public:
  using Clock = TokenBucket::Clock;

  RateLimiter(double requests_per_second, double burst, size_t max_keys = 10000);

  // Zero when the key may make a request now, else how long it should wait.
  Clock::duration Take(const std::string& key_id, Clock::time_point now);

  // Whole seconds for Retry-After: `wait` rounded up, at least 1.
  static long RetryAfterSeconds(Clock::duration wait);

 private:
  double rate_;
  double burst_;
  size_t max_keys_;
  std::unordered_map<std::string, TokenBucket> buckets_;
};

}  // namespace presence::auth

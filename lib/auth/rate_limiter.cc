#include "auth/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace presence::auth {

TokenBucket::TokenBucket(double rate, double burst, Clock::time_point now)
    : rate_(rate), burst_(std::max(1.0, burst)), tokens_(burst_), updated_(now) {}

double TokenBucket::Level(Clock::time_point now) const {
  const double elapsed = std::chrono::duration<double>(now - updated_).count();
  return std::min(burst_, tokens_ + std::max(0.0, elapsed) * rate_);
}

TokenBucket::Clock::duration TokenBucket::Take(Clock::time_point now) {
  tokens_ = Level(now);
  updated_ = std::max(updated_, now);
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    return Clock::duration::zero();
  }
  const double seconds = rate_ > 0 ? (1.0 - tokens_) / rate_ : 3600.0;
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

bool TokenBucket::Full(Clock::time_point now) const { return Level(now) >= burst_; }

RateLimiter::RateLimiter(double requests_per_second, double burst, size_t max_keys)
    : rate_(requests_per_second), burst_(burst), max_keys_(std::max<size_t>(1, max_keys)) {}

RateLimiter::Clock::duration RateLimiter::Take(const std::string& key_id, Clock::time_point now) {
  auto it = buckets_.find(key_id);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_) {
      std::erase_if(buckets_, [now](const auto& entry) { return entry.second.Full(now); });
      if (buckets_.size() >= max_keys_) buckets_.clear();
    }
    it = buckets_.emplace(key_id, TokenBucket(rate_, burst_, now)).first;
  }
  return it->second.Take(now);
}

long RateLimiter::RetryAfterSeconds(Clock::duration wait) {
  const double seconds = std::chrono::duration<double>(wait).count();
  return std::max(1L, static_cast<long>(std::ceil(seconds)));
}

}  // namespace presence::auth

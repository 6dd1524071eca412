#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "auth/access_policy.h"
#include "auth/api_key.h"
#include "auth/key_cache.h"
#include "auth/rate_limiter.h"
#include "http/message.h"
#include "http/metrics.h"
#include "store/redis_client.h"
#include "util/asio.h"
#include "util/result.h"

namespace presence::auth {

// The [auth] table of presenced.toml.
struct AuthOptions {
  bool enabled = true;
  std::chrono::milliseconds cache_ttl{1000};  // auth.cache_ms
  size_t cache_entries = 10000;
  double requests_per_second = 1000;  // per key and instance
  double burst = 2000;
  bool metrics_open = false;  // auth.metrics = "open"
};

// Checks the API key of every request (Authorization: Bearer pk_...). Keys are looked up
// with HGET presence:{ctl}:keys ID and cached (KeyCache), hashes compared in constant
// time, then the route's access (access_policy.h) and the key's rate (RateLimiter) are
// checked. Answers, in the API's error shape:
//   401 unauthorized   no key, a malformed, unknown or revoked one; WWW-Authenticate: Bearer
//   403 forbidden      a tenant key on another tenant's path or an admin-only route
//   429 rate_limited   over auth.requests_per_second (burst auth.burst); Retry-After
//   503 redis_unavailable / redis_error  the key is not cached and Redis cannot say
// Logs name the key id, never the key. Metrics: presence_auth_refused_total{reason},
// presence_auth_lookups_total (HGETs sent). Runs on the io_context thread; `redis` and
// `metrics` must outlive it.
class Authenticator {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  Authenticator(
      store::RedisClient& redis, AuthOptions options, http::MetricsRegistry* metrics = nullptr,
      Clock now = [] { return std::chrono::steady_clock::now(); });

  // nullopt when the request may go on to `pattern`'s handler (request.params filled),
  // else the answer to send instead. `pattern` is "" when no route matched.
  Task<std::optional<http::Response>> Check(const http::Request& request, std::string pattern);

 private:
  // The stored record of `id` (nullopt: no such key), from the cache or Redis.
  Task<Result<std::optional<KeyRecord>>> Find(std::string id);

  http::Response Refuse(unsigned status, const char* reason, std::string message);
  void Count(const char* reason);

  store::RedisClient& redis_;
  AuthOptions options_;
  http::MetricsRegistry* metrics_;
  Clock now_;
  KeyCache cache_;
  RateLimiter limiter_;
};

// The key of an "Authorization: Bearer KEY" header value (scheme case-insensitive), or
// nullopt.
std::optional<std::string_view> BearerToken(std::string_view authorization);

}  // namespace presence::auth

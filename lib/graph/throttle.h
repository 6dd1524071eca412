#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "store/redis_client.h"
#include "util/asio.h"
#include "util/result.h"

namespace presence::graph {

// The Graph request budget of a tenant, shared by all instances through the
// Function presence_graph_budget (docs/redis-layout.md): at most
// config.graph_requests_per_window requests per config.graph_window_s.
//
// Not thread-safe: use from the io_context's single thread. config and redis
// must outlive this object and every call in progress.
class GraphBudget {
 public:
  GraphBudget(const config::Config& config, store::RedisClient& redis);

  // Reserves cost requests for the tenant: 0 when they fit the current window
  // (and are now counted), else the ms to wait before asking again (nothing
  // counted). Errors: "bad_request" for cost 0 or above the whole window's
  // limit, "redis_unavailable" / "redis_error" from the store, "bad_response"
  // for an answer of another shape.
  Task<Result<uint64_t>> Reserve(const std::string& tenant, uint32_t cost = 1);

 private:
  const config::Config& config_;
  store::RedisClient& redis_;
};

// Retry-After in ms from its header value in seconds ("5" -> 5000), capped at
// one hour; nullopt when empty or not a number of seconds (HTTP dates are not
// supported).
std::optional<uint64_t> ParseRetryAfter(std::string_view header);

// The error for a throttled answer (429 or 503), code "throttled":
//   "<subject>: throttled (429), retry after 5000 ms"
//   "<subject>: throttled (503), no Retry-After"
Error ThrottledError(std::string_view subject, unsigned status, std::string_view retry_after);

// The wait of a "throttled" error made by ThrottledError (also after more
// text was put in front of its message); nullopt for other errors and when
// Graph sent no usable Retry-After (then back off exponentially).
std::optional<uint64_t> RetryAfterMs(const Error& error);

}  // namespace presence::graph

#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "config/config.h"
#include "graph/http_client.h"
#include "graph/url.h"
#include "store/redis_client.h"
#include "util/asio.h"
#include "util/result.h"

namespace presence::graph {

// An app-only Graph access token and when it stops being valid.
struct AccessToken {
  std::string value;
  int64_t expires_at_ms = 0;  // Unix time, ms
  int64_t issued_at_ms = 0;   // Unix time, ms; 0 when unknown

  // True when the token is still good for a while: more than 5 minutes, or
  // a fifth of its lifetime for short-lived (test) tokens, remain at now_ms.
  bool Fresh(int64_t now_ms) const;
};

// Fetches and caches app-only tokens per customer tenant (client credentials
// grant against {login_url}/{azure_tenant_id}/oauth2/v2.0/token).
//
// The cache is shared by all instances in Redis under keys::GraphToken(tenant)
// as JSON {"access_token","expires_at","issued_at"} (ms, Unix time) with a PX
// TTL that ends at expiry, and copied in process. Concurrent Token() calls for
// one tenant share one fetch. When Redis is unreachable tokens are still
// fetched and cached in process (logged at warn).
//
// Errors: "no_credentials" (no client id or secret configured for the
// tenant), "auth_failed" (the login endpoint refused: 400/401/403, with its
// error code and description), "throttled" (429/503), "bad_response"
// (unparsable token answer, other statuses), and the HttpClient's transport
// codes ("unavailable", "timeout"). Messages name the tenant:
//   "graph token for tenant contoso: login answered 401 invalid_client: ..."
//
// Not thread-safe: use from the io_context's single thread. config, http and
// redis must outlive this object and every call in progress.
class TokenSource {
 public:
  TokenSource(const config::Config& config, HttpClient& http, store::RedisClient& redis);
  ~TokenSource();

  TokenSource(const TokenSource&) = delete;
  TokenSource& operator=(const TokenSource&) = delete;

  // A token for the tenant (the service's tenant id, not the Azure directory id).
  Task<Result<std::string>> Token(const std::string& tenant);

  // Forgets the tenant's token after Graph refused it (401): the in-process
  // copy, and the Redis copy when it still holds the same token. With
  // rejected (the refused token) nothing is dropped when the cache already
  // holds a newer token.
  Task<void> Invalidate(const std::string& tenant, std::string rejected = std::string());

 private:
  struct Fetch;

  Task<Result<AccessToken>> LoadShared(const std::string& tenant);
  Task<void> StoreShared(const std::string& tenant, const AccessToken& token);
  Task<Result<AccessToken>> FetchFromLogin(const std::string& tenant);
  Task<Result<AccessToken>> Obtain(const std::string& tenant);

  const config::Config& config_;
  HttpClient& http_;
  store::RedisClient& redis_;
  Result<BaseUrl> login_url_;
  std::map<std::string, AccessToken> local_;
  std::map<std::string, std::shared_ptr<Fetch>> fetches_;
};

// Parses the login endpoint's answer: access_token and expires_in (a number
// or a numeric string, seconds). now_ms is the time the request was sent.
Result<AccessToken> ParseTokenResponse(std::string_view body, int64_t now_ms);

}  // namespace presence::graph

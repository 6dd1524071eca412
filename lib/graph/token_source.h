#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "config/config.h"
#include "graph/bad_responses.h"
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
// (unparsable token answer, not application/json, an access_token that is
// not IsBearerToken, other statuses), and the
// HttpClient's codes ("unavailable", "timeout", "too_large"). Every unusable
// answer is counted in bad_responses() and logged with the tenant, status,
// reason and byte count, never the token or the secret. Messages name the tenant:
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

  // Counters of unusable login answers (endpoint "token").
  const BadResponses& bad_responses() const { return bad_; }

 private:
  Error Bad(const std::string& tenant, BadReason reason, unsigned status, size_t bytes,
            const std::string& detail);

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
  BadResponses bad_{"token"};
};

// Longest access_token accepted (Entra ID tokens are a few KB).
inline constexpr size_t kMaxAccessTokenBytes = 16 * 1024;

// Largest answer of the login endpoint read; a larger one is refused
// ("too_large") as its bytes arrive. A token answer is an access_token of at
// most kMaxAccessTokenBytes and a few short fields; an OAuth error answer is
// a description of a few hundred bytes.
inline constexpr size_t kMaxTokenAnswerBytes = 64 * 1024;

// True when `token` can go into "Authorization: Bearer <token>" as it is: a
// non-empty RFC 6750 b64token, that is letters, digits and "-._~+/", then
// "=" only at the end. Anything else (CR, LF, space, control or non-ASCII
// bytes) could end or split the request header it is put in.
bool IsBearerToken(std::string_view token);

// Parses the login endpoint's answer: access_token and expires_in (a number
// or a numeric string, seconds, 1 to 366 days' worth). now_ms is the time the
// request was sent. Errors carry the reason's name (bad_responses.h) as code:
// "too_deep" (nesting deeper than kMaxGraphJsonDepth, checked before
// parsing), "not_json", "bad_shape" (not an object), "bad_access_token"
// (missing, not a non-empty string, over kMaxAccessTokenBytes, not
// IsBearerToken), "bad_expires_in" (missing, mistyped, not positive, over a
// year). Never throws; messages never hold the token.
Result<AccessToken> ParseTokenResponse(std::string_view body, int64_t now_ms);

}  // namespace presence::graph

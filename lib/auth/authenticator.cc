#include "auth/authenticator.h"

#include <fmt/format.h>

#include "util/log.h"
#include "util/strings.h"

namespace presence::auth {
namespace {

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::optional<std::string_view> BearerToken(std::string_view authorization) {
  const size_t space = authorization.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  if (!EqualsIgnoringCase(authorization.substr(0, space), "Bearer")) return std::nullopt;
  std::string_view token = authorization.substr(space + 1);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return std::nullopt;
  return token;
}

Authenticator::Authenticator(store::RedisClient& redis, AuthOptions options,
                             http::MetricsRegistry* metrics, Clock now)
    : redis_(redis),
      options_(options),
      metrics_(metrics),
      now_(std::move(now)),
      cache_(options.cache_ttl, options.cache_entries),
      limiter_(options.requests_per_second, options.burst) {
  if (metrics_ == nullptr) return;
  using Type = http::MetricsRegistry::Type;
  metrics_->Describe("presence_auth_refused_total", Type::kCounter,
                     "Requests refused by the API key check, by reason (missing, invalid, "
                     "forbidden, rate_limited, unavailable).");
  metrics_->Describe("presence_auth_lookups_total", Type::kCounter,
                     "API key lookups sent to Redis (cache misses).");
  metrics_->Increment("presence_auth_lookups_total", {}, 0);
}

Task<std::optional<http::Response>> Authenticator::Check(const http::Request& request,
                                                         std::string pattern) {
  const Access access = RequiredAccess(pattern, options_.metrics_open);
  if (!options_.enabled || access == Access::kOpen) co_return std::nullopt;

  // Authentication: a well-formed key whose hash Redis holds.
  const std::optional<std::string> header = request.Header("Authorization");
  const std::optional<std::string_view> key =
      header ? BearerToken(*header) : std::optional<std::string_view>();
  if (!key) {
    co_return Refuse(401, "missing", "this request needs an API key: Authorization: Bearer KEY");
  }
  const std::optional<std::string> id = KeyId(*key);
  if (!id) co_return Refuse(401, "invalid", "the API key is malformed");
  Result<std::optional<KeyRecord>> found = co_await Find(*id);
  if (!found) {
    Count("unavailable");
    const std::string code =
        found.error().code == "redis_unavailable" ? "redis_unavailable" : "redis_error";
    Logger("auth")->warn("api key {}: lookup failed: {}", *id, found.error().message);
    // The caller is not authenticated yet: the reason goes to the log, not
    // to it (it would name the Redis address).
    http::Response response =
        http::ErrorResponse(503, code, "cannot check the API key: the store is unavailable; retry");
    response.SetHeader("Retry-After", "1");
    co_return response;
  }
  if (!found->has_value() || !HashesEqual(HashKey(*key), (*found)->sha256)) {
    Logger("auth")->debug("api key {}: unknown or revoked", *id);
    co_return Refuse(401, "invalid", fmt::format("API key {} is unknown or revoked", *id));
  }
  const KeyRecord& record = **found;

  // The key's own rate, then what the route allows it.
  const auto wait = limiter_.Take(record.id, now_());
  if (wait > std::chrono::steady_clock::duration::zero()) {
    http::Response response =
        Refuse(429, "rate_limited",
               fmt::format("API key {} is over {} requests per second (burst {}) on this instance",
                           record.id, options_.requests_per_second, options_.burst));
    response.SetHeader("Retry-After", std::to_string(RateLimiter::RetryAfterSeconds(wait)));
    co_return response;
  }
  const std::string& tenant = request.Param("tenant");
  if (!Allows(record, access, tenant)) {
    std::string why = access == Access::kAdmin
                          ? fmt::format(
                                "API key {} is scoped to tenant {}; this route needs "
                                "an admin key",
                                record.id, record.tenant)
                          : fmt::format("API key {} is scoped to tenant {}, not {}", record.id,
                                        record.tenant, tenant);
    co_return Refuse(403, "forbidden", std::move(why));
  }
  co_return std::nullopt;
}

Task<Result<std::optional<KeyRecord>>> Authenticator::Find(std::string id) {
  KeyCache::Lookup cached = cache_.Find(id, now_());
  if (cached.known) co_return cached.record;

  if (metrics_ != nullptr) metrics_->Increment("presence_auth_lookups_total");
  std::vector<std::string> command = Strings("HGET", std::string(kKeysHash), id);
  Result<store::RedisReply> reply = co_await redis_.Command(std::move(command));
  if (!reply) co_return reply.error();
  if (reply->is_error()) {
    co_return MakeError("redis_error", fmt::format("HGET {} {}: {}", kKeysHash, id, reply->str));
  }

  // A record that cannot be read counts as no key: it must never let a request in.
  std::optional<KeyRecord> record;
  if (!reply->is_nil()) {
    Result<KeyRecord> parsed = ParseKeyRecord(id, reply->str);
    if (parsed) {
      record = std::move(*parsed);
    } else {
      Logger("auth")->error("{}", parsed.error().message);
    }
  }
  cache_.Store(id, record, now_());
  co_return record;
}

http::Response Authenticator::Refuse(unsigned status, const char* reason, std::string message) {
  Count(reason);
  const char* code = status == 401 ? "unauthorized" : reason;
  http::Response response = http::ErrorResponse(status, code, message);
  if (status == 401) response.SetHeader("WWW-Authenticate", "Bearer");
  return response;
}

void Authenticator::Count(const char* reason) {
  if (metrics_ != nullptr) metrics_->Increment("presence_auth_refused_total", {{"reason", reason}});
}

}  // namespace presence::auth

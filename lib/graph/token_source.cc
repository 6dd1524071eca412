#include "graph/token_source.h"

#include <algorithm>
#include <charconv>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "graph/throttle.h"
#include "store/keys.h"
#include "util/json_depth.h"
#include "util/log.h"

namespace presence::graph {
namespace {

using Json = nlohmann::json;

spdlog::logger& Log() {
  static const std::shared_ptr<spdlog::logger> logger = Logger("graph");
  return *logger;
}

constexpr int64_t kRenewMarginMs = 5 * 60 * 1000;
constexpr int64_t kAssumedLifetimeMs = 3600 * 1000;
constexpr size_t kMaxDescription = 300;
constexpr int64_t kMaxExpiresInS = 366 * 86400;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Shorten(std::string_view text) {
  if (text.size() <= kMaxDescription) return std::string(text);
  return std::string(text.substr(0, kMaxDescription)) + "...";
}

Error ForTenant(const std::string& tenant, const Error& error) {
  return MakeError(error.code, fmt::format("graph token for tenant {}: {}", tenant, error.message));
}

// "invalid_client: AADSTS7000215: Invalid client secret..." from an OAuth error body.
std::string OAuthErrorText(std::string_view body) {
  if (!CheckJsonDepth(body, kMaxGraphJsonDepth).ok()) return Shorten(body);
  Json json = Json::parse(body, nullptr, false);
  if (json.is_discarded() || !json.is_object()) return Shorten(body);
  std::string text;
  if (auto it = json.find("error"); it != json.end() && it->is_string()) text = *it;
  if (auto it = json.find("error_description"); it != json.end() && it->is_string()) {
    text += (text.empty() ? "" : ": ") + it->get<std::string>();
  }
  return Shorten(text.empty() ? body : text);
}

// An access token that may go into an Authorization header as it is: at most
// kMaxAccessTokenBytes of bearer-token characters. Both a fresh answer and the
// shared cache entry pass through here.
Status CheckAccessToken(std::string_view value) {
  if (value.size() > kMaxAccessTokenBytes) {
    return MakeError("bad_access_token",
                     fmt::format("token answer's access_token has {} bytes, at most {}",
                                 value.size(), kMaxAccessTokenBytes));
  }
  if (!IsBearerToken(value)) {
    return MakeError("bad_access_token",
                     "token answer's access_token has characters a bearer token cannot have "
                     "(only letters, digits, \"-._~+/\" and a trailing \"=\")");
  }
  return Ok{};
}

// The shared cache entry: {"access_token","expires_at","issued_at"}. Another
// instance (or an older version) wrote it: the token is checked as a fresh
// one is before it goes into a request header.
std::optional<AccessToken> ParseShared(std::string_view text) {
  if (!CheckJsonDepth(text, kMaxGraphJsonDepth).ok()) return std::nullopt;
  Json json = Json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_object()) return std::nullopt;
  auto token = json.find("access_token");
  auto expires = json.find("expires_at");
  if (token == json.end() || !token->is_string() || expires == json.end() ||
      !expires->is_number_integer()) {
    return std::nullopt;
  }
  if (!CheckAccessToken(token->get_ref<const std::string&>()).ok()) return std::nullopt;
  AccessToken out{token->get<std::string>(), expires->get<int64_t>(), 0};
  if (auto issued = json.find("issued_at"); issued != json.end() && issued->is_number_integer()) {
    out.issued_at_ms = issued->get<int64_t>();
  }
  return out;
}

}  // namespace

// One fetch in progress for a tenant; later callers wait for its result.
struct TokenSource::Fetch {
  explicit Fetch(const asio::any_io_executor& executor)
      : done(executor, asio::steady_timer::time_point::max()) {}

  asio::steady_timer done;  // cancelled when result is set
  std::optional<Result<AccessToken>> result;
};

bool AccessToken::Fresh(int64_t now_ms) const {
  int64_t lifetime = issued_at_ms > 0 ? expires_at_ms - issued_at_ms : kAssumedLifetimeMs;
  int64_t margin = std::min(kRenewMarginMs, lifetime / 5);
  return !value.empty() && expires_at_ms - now_ms > margin;
}

bool IsBearerToken(std::string_view token) {
  size_t end = token.size();
  while (end > 0 && token[end - 1] == '=') --end;  // padding, at the end only
  if (end == 0) return false;
  for (size_t i = 0; i < end; ++i) {
    const char c = token[i];
    bool allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
    if (!allowed) return false;
  }
  return true;
}

Result<AccessToken> ParseTokenResponse(std::string_view body, int64_t now_ms) {
  // Checked before parsing: nlohmann would build a value for each '['.
  if (auto depth = CheckJsonDepth(body, kMaxGraphJsonDepth, "token answer"); !depth.ok()) {
    return MakeError("too_deep", depth.error().message);
  }
  Json json = Json::parse(body, nullptr, false);
  if (json.is_discarded()) return MakeError("not_json", "token answer is not valid JSON");
  if (!json.is_object()) return MakeError("bad_shape", "token answer is not a JSON object");

  // access_token: a non-empty string of sane length (real ones have a few KB)
  // that can go into an Authorization header as it is.
  auto token = json.find("access_token");
  if (token == json.end() || !token->is_string() || token->get_ref<const std::string&>().empty()) {
    return MakeError("bad_access_token", "token answer has no access_token string");
  }
  if (auto usable = CheckAccessToken(token->get_ref<const std::string&>()); !usable.ok()) {
    return usable.error();
  }

  // expires_in: seconds, as a number or (older endpoints) a numeric string,
  // more than 0 and at most a year. (Range checked as a double first: a cast
  // of 1e300 to an integer is undefined.)
  auto expires = json.find("expires_in");
  int64_t seconds = -1;
  if (expires != json.end() && expires->is_number()) {
    double value = expires->get<double>();
    if (value >= 1 && value <= kMaxExpiresInS) seconds = static_cast<int64_t>(value);
  } else if (expires != json.end() && expires->is_string()) {
    const std::string& text = expires->get_ref<const std::string&>();
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (ec != std::errc() || end != text.data() + text.size()) seconds = -1;
  }
  if (seconds <= 0 || seconds > kMaxExpiresInS) {
    return MakeError("bad_expires_in", "token answer has no valid expires_in (seconds)");
  }
  return AccessToken{token->get<std::string>(), now_ms + seconds * 1000, now_ms};
}

TokenSource::TokenSource(const config::Config& config, HttpClient& http, store::RedisClient& redis)
    : config_(config), http_(http), redis_(redis), login_url_(ParseBaseUrl(config.login_url)) {}

TokenSource::~TokenSource() = default;

Task<Result<std::string>> TokenSource::Token(const std::string& tenant) {
  // The in-process copy.
  if (auto it = local_.find(tenant); it != local_.end() && it->second.Fresh(NowMs())) {
    co_return it->second.value;
  }

  // Another call is fetching already: wait for its result.
  if (auto it = fetches_.find(tenant); it != fetches_.end()) {
    std::shared_ptr<Fetch> fetch = it->second;
    boost::system::error_code ec;
    co_await fetch->done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!fetch->result) co_return MakeError("unavailable", "graph token fetch was abandoned");
    if (!fetch->result->ok()) co_return fetch->result->error();
    co_return fetch->result->value().value;
  }

  // Fetch, and let waiting calls share the result.
  auto fetch = std::make_shared<Fetch>(co_await asio::this_coro::executor);
  fetches_[tenant] = fetch;
  Result<AccessToken> token = co_await Obtain(tenant);
  fetch->result = token;
  fetches_.erase(tenant);
  fetch->done.cancel();
  if (!token.ok()) co_return token.error();
  local_[tenant] = token.value();
  co_return token.value().value;
}

Task<void> TokenSource::Invalidate(const std::string& tenant, std::string rejected) {
  // The in-process copy, unless it is already another token than the refused one.
  auto it = local_.find(tenant);
  if (it == local_.end()) co_return;
  if (!rejected.empty() && it->second.value != rejected) co_return;
  rejected = it->second.value;
  local_.erase(it);

  // The shared copy, when it is the same token.
  Result<AccessToken> shared = co_await LoadShared(tenant);
  if (!shared.ok() || shared->value != rejected) co_return;
  // (Arguments are built first: g++ 12 miscompiles braced lists inside co_await.)
  std::vector<std::string> del = {"DEL", store::keys::GraphToken(tenant)};
  Result<store::RedisReply> reply = co_await redis_.Command(std::move(del));
  if (!reply.ok()) {
    Log().warn("graph tenant {}: cannot drop the refused token: {}", tenant, reply.error().message);
    co_return;
  }
  Log().info("graph tenant {}: token refused by Graph, dropped from the shared cache", tenant);
}

Task<Result<AccessToken>> TokenSource::Obtain(const std::string& tenant) {
  Result<AccessToken> shared = co_await LoadShared(tenant);
  if (shared.ok() && shared->Fresh(NowMs())) co_return shared;

  Result<AccessToken> fetched = co_await FetchFromLogin(tenant);
  if (!fetched.ok()) co_return ForTenant(tenant, fetched.error());
  co_await StoreShared(tenant, fetched.value());
  Log().info("graph tenant {}: new token, valid for {} s", tenant,
             (fetched->expires_at_ms - fetched->issued_at_ms) / 1000);
  co_return fetched;
}

Task<Result<AccessToken>> TokenSource::LoadShared(const std::string& tenant) {
  std::vector<std::string> get = {"GET", store::keys::GraphToken(tenant)};
  Result<store::RedisReply> reply = co_await redis_.Command(std::move(get));
  if (!reply.ok()) {
    Log().warn("graph tenant {}: cannot read the shared token cache: {}", tenant,
               reply.error().message);
    co_return reply.error();
  }
  if (reply->type != store::RedisReply::Type::kString) {
    if (reply->is_error()) Log().warn("graph tenant {}: GET token: {}", tenant, reply->str);
    co_return MakeError("not_found", "no shared token");
  }
  std::optional<AccessToken> token = ParseShared(reply->str);
  if (!token) {
    Log().warn("graph tenant {}: ignoring a malformed shared token entry", tenant);
    co_return MakeError("not_found", "malformed shared token");
  }
  co_return *token;
}

Task<void> TokenSource::StoreShared(const std::string& tenant, const AccessToken& token) {
  int64_t ttl_ms = token.expires_at_ms - NowMs();
  if (ttl_ms <= 0) co_return;
  Json entry = {{"access_token", token.value},
                {"expires_at", token.expires_at_ms},
                {"issued_at", token.issued_at_ms}};
  std::vector<std::string> set = {"SET", store::keys::GraphToken(tenant), entry.dump(), "PX",
                                  std::to_string(ttl_ms)};
  Result<store::RedisReply> reply = co_await redis_.Command(std::move(set));
  if (!reply.ok()) {
    Log().warn("graph tenant {}: cannot share the token: {}", tenant, reply.error().message);
  } else if (reply->is_error()) {
    Log().warn("graph tenant {}: SET token: {}", tenant, reply->str);
  }
}

Task<Result<AccessToken>> TokenSource::FetchFromLogin(const std::string& tenant) {
  // Credentials and URL.
  config::GraphTenant scratch;
  const config::GraphTenant& credentials = config::GraphCredentials(config_, tenant, scratch);
  if (credentials.client_id.empty() || credentials.client_secret.empty()) {
    co_return MakeError("no_credentials", "no client_id and client_secret configured");
  }
  if (!login_url_.ok()) {
    co_return MakeError("no_credentials", "graph.login_url: " + login_url_.error().message);
  }
  const std::string& directory =
      credentials.azure_tenant_id.empty() ? tenant : credentials.azure_tenant_id;

  // The client credentials grant.
  HttpRequest request;
  request.method = "POST";
  request.url = login_url_.value();
  request.target = login_url_->Target("/" + directory + "/oauth2/v2.0/token");
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                     {"Accept", "application/json"}};
  request.body = FormEncode({{"client_id", credentials.client_id},
                             {"client_secret", credentials.client_secret},
                             {"scope", "https://graph.microsoft.com/.default"},
                             {"grant_type", "client_credentials"}});
  request.body_limit = kMaxTokenAnswerBytes;
  int64_t sent_at = NowMs();
  Result<HttpResponse> response = co_await http_.Send(std::move(request));
  if (!response.ok()) {
    if (auto reason = BadReasonOfHttpError(response.error().code)) {
      Bad(tenant, *reason, 0, 0, response.error().message);
    }
    co_return response.error();
  }

  // The answer.
  unsigned status = response->status;
  size_t bytes = response->body.size();
  if (status == 200) {
    if (!IsJsonMediaType(response->Header("Content-Type"))) {
      co_return Bad(tenant, BadReason::kContentType, status, bytes,
                    fmt::format("Content-Type is \"{}\", expected application/json",
                                Shorten(response->Header("Content-Type"))));
    }
    Result<AccessToken> token = ParseTokenResponse(response->body, sent_at);
    if (!token.ok()) {
      auto reason = BadReasonNamed(token.error().code).value_or(BadReason::kBadShape);
      co_return Bad(tenant, reason, status, bytes, token.error().message);
    }
    co_return token;
  }
  if (status == 429 || status == 503) {
    co_return ThrottledError("login", status, response->Header("Retry-After"));
  }
  std::string detail = OAuthErrorText(response->body);
  BadReason reason = status >= 500 ? BadReason::kHttp5xx : BadReason::kHttp4xx;
  if (status == 400 || status == 401 || status == 403) {
    bad_.Count(reason);
    Log().warn("graph tenant {}: token: login answered {} ({} bytes): {}", tenant, status, bytes,
               detail);
    co_return MakeError("auth_failed", fmt::format("login answered {} {}", status, detail));
  }
  co_return Bad(tenant, reason, status, bytes, fmt::format("login answered {} {}", status, detail));
}

// Counts one unusable token answer, logs it (never the token or the secret)
// and returns its "bad_response" error.
Error TokenSource::Bad(const std::string& tenant, BadReason reason, unsigned status, size_t bytes,
                       const std::string& detail) {
  bad_.Count(reason);
  std::string status_text = status == 0 ? "no answer" : std::to_string(status);
  Log().warn("graph tenant {}: token: {} ({}, {} bytes): {}", tenant, BadReasonName(reason),
             status_text, bytes, detail);
  return MakeError("bad_response", fmt::format("{} ({}, {} bytes): {}", BadReasonName(reason),
                                               status_text, bytes, detail));
}

}  // namespace presence::graph

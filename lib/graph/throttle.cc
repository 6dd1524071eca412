#include "graph/throttle.h"

#include <algorithm>
#include <charconv>
#include <vector>

#include <fmt/format.h>

#include "store/functions.h"
#include "store/keys.h"

namespace presence::graph {
namespace {

constexpr uint64_t kMaxRetryAfterMs = 3600 * 1000;
constexpr std::string_view kRetryAfterText = "retry after ";

std::optional<uint64_t> ParseUnsigned(std::string_view text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

GraphBudget::GraphBudget(const config::Config& config, store::RedisClient& redis)
    : config_(config), redis_(redis) {}

Task<Result<uint64_t>> GraphBudget::Reserve(const std::string& tenant, uint32_t cost) {
  const uint32_t limit = config_.graph_requests_per_window;
  if (cost == 0 || cost > limit) {
    co_return MakeError("bad_request", fmt::format("graph budget of tenant {}: cost {} must be "
                                                   "between 1 and the window's limit {}",
                                                   tenant, cost, limit));
  }

  // (Arguments are built first: g++ 12 miscompiles braced lists inside co_await.)
  std::vector<std::string> keys = {store::keys::GraphBudget(tenant)};
  std::vector<std::string> args = {std::to_string(limit),
                                   std::to_string(uint64_t{config_.graph_window_s} * 1000),
                                   std::to_string(cost)};
  Result<nlohmann::json> answer = co_await store::CallFunction(redis_, "presence_graph_budget",
                                                               std::move(keys), std::move(args));
  if (!answer.ok()) co_return answer.error();

  // {"ok":true} or {"ok":false,"code":"throttled","wait_ms":W}.
  const nlohmann::json& json = answer.value();
  auto ok = json.is_object() ? json.find("ok") : json.end();
  if (ok != json.end() && ok->is_boolean() && ok->get<bool>()) co_return uint64_t{0};
  if (ok != json.end() && ok->is_boolean() && json.value("code", "") == "throttled") {
    auto wait = json.find("wait_ms");
    if (wait != json.end() && wait->is_number() && wait->get<double>() >= 0) {
      co_return std::max<uint64_t>(1, wait->get<uint64_t>());
    }
  }
  co_return MakeError("bad_response", fmt::format("graph budget of tenant {}: unexpected answer {}",
                                                  tenant, json.dump()));
}

std::optional<uint64_t> ParseRetryAfter(std::string_view header) {
  while (!header.empty() && (header.front() == ' ' || header.front() == '\t')) {
    header.remove_prefix(1);
  }
  while (!header.empty() && (header.back() == ' ' || header.back() == '\t')) {
    header.remove_suffix(1);
  }
  std::optional<uint64_t> seconds = ParseUnsigned(header);
  if (!seconds) return std::nullopt;
  if (*seconds > kMaxRetryAfterMs / 1000) return kMaxRetryAfterMs;
  return *seconds * 1000;
}

Error ThrottledError(std::string_view subject, unsigned status, std::string_view retry_after) {
  std::optional<uint64_t> wait_ms = ParseRetryAfter(retry_after);
  if (!wait_ms) {
    return MakeError("throttled",
                     fmt::format("{}: throttled ({}), no Retry-After", subject, status));
  }
  return MakeError("throttled", fmt::format("{}: throttled ({}), {}{} ms", subject, status,
                                            kRetryAfterText, *wait_ms));
}

std::optional<uint64_t> RetryAfterMs(const Error& error) {
  if (error.code != "throttled") return std::nullopt;
  size_t start = error.message.rfind(kRetryAfterText);
  if (start == std::string::npos) return std::nullopt;
  std::string_view rest = std::string_view(error.message).substr(start + kRetryAfterText.size());
  size_t digits = rest.find(" ms");
  if (digits == std::string_view::npos) return std::nullopt;
  return ParseUnsigned(rest.substr(0, digits));
}

}  // namespace presence::graph

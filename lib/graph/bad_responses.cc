#include "graph/bad_responses.h"

#include "util/strings.h"

namespace presence::graph {
namespace {

constexpr std::array<std::string_view, kBadReasonCount> kNames = {
    "not_json",         "bad_shape",      "too_deep",       "bad_item",
    "unknown_id",       "duplicate_id",   "too_many_items", "unknown_value",
    "bad_access_token", "bad_expires_in", "content_type",   "too_large",
    "timeout",          "bad_http",       "http_4xx",       "http_5xx",
};

constexpr std::string_view kMetric = "presence_graph_bad_responses_total";

}  // namespace

std::string_view BadReasonName(BadReason reason) { return kNames[static_cast<size_t>(reason)]; }

std::optional<BadReason> BadReasonNamed(std::string_view name) {
  for (size_t i = 0; i < kBadReasonCount; ++i) {
    if (kNames[i] == name) return static_cast<BadReason>(i);
  }
  return std::nullopt;
}

std::optional<BadReason> BadReasonOfHttpError(std::string_view code) {
  if (code == "timeout") return BadReason::kTimeout;
  if (code == "too_large") return BadReason::kTooLarge;
  if (code == "bad_response") return BadReason::kBadHttp;
  return std::nullopt;
}

bool IsJsonMediaType(std::string_view content_type) {
  std::string_view media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  while (!media.empty() && media.front() == ' ') media.remove_prefix(1);
  if (EqualsIgnoreCase(media, "application/json")) return true;
  return media.size() > 17 && media.rfind("application/", 0) == 0 &&
         EqualsIgnoreCase(media.substr(media.size() - 5), "+json");
}

uint64_t BadResponses::total() const {
  uint64_t sum = 0;
  for (uint64_t count : counts_) sum += count;
  return sum;
}

void BadResponses::Register(http::MetricsRegistry& metrics) const {
  metrics.Describe(kMetric, http::MetricsRegistry::Type::kCounter,
                   "Answers of Graph (endpoint presence) or of the login endpoint (token) that "
                   "were not used, by reason; see docs/graph-input.md.");
  for (size_t i = 0; i < kBadReasonCount; ++i) {
    http::MetricsRegistry::Labels labels = {{"endpoint", endpoint_},
                                            {"reason", std::string(kNames[i])}};
    metrics.SetCallback(kMetric, labels, [this, i] { return static_cast<double>(counts_[i]); });
  }
}

}  // namespace presence::graph

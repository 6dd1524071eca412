#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http/metrics.h"

namespace presence::graph {

// Why an answer of Graph or of the login endpoint was not used. Each reason is
// one series of presence_graph_bad_responses_total{endpoint, reason}; see
// docs/graph-input.md for what presenced does in each case.
enum class BadReason {
  kNotJson,         // the 200 body is not JSON (garbage, invalid UTF-8, cut short)
  kBadShape,        // JSON, but not {"value": [...]} (presence) or not an object (token)
  kTooDeep,         // JSON nesting deeper than kMaxGraphJsonDepth (refused before parsing)
  kBadItem,         // presence: an item with a missing or mistyped id/availability/activity
  kUnknownId,       // presence: an item for an id that was not asked for
  kDuplicateId,     // presence: an id answered more than once
  kTooManyItems,    // presence: more items than ids asked for
  kUnknownValue,    // presence: an availability or activity not in DESIGN.md's list
  kBadAccessToken,  // token: access_token missing, mistyped, empty, overlong or not token68
  kBadExpiresIn,    // token: expires_in missing, mistyped, not positive or over a year
  kContentType,     // the 200 answer is not application/json
  kTooLarge,        // the body is over HttpClientOptions::body_limit
  kTimeout,         // no complete answer within graph.timeout_ms (hang, drip-fed body)
  kBadHttp,         // not a valid HTTP/1.1 response
  kHttp4xx,         // an unexpected 4xx (not 401-then-retry, not 429)
  kHttp5xx,         // a 5xx other than 503 (503 is throttling)
};

inline constexpr size_t kBadReasonCount = 16;

// "not_json", "bad_item", ...: the metric label of a reason.
std::string_view BadReasonName(BadReason reason);

// Deepest nesting of arrays and objects taken in an answer of Graph or of the
// login endpoint. Graph's deepest presence item (statusMessage.message inside
// an item of "value") is 5 levels deep and a token answer is 1; anything
// deeper is refused before nlohmann parses it (see util/json_depth.h).
inline constexpr size_t kMaxGraphJsonDepth = 8;

// The reason whose name is `name` (the parsers use the names as error codes).
std::optional<BadReason> BadReasonNamed(std::string_view name);

// The reason an HttpClient error code counts as ("timeout", "too_large",
// "bad_response"), or nullopt for failures that are not the answer's fault
// (connection refused, name resolution).
std::optional<BadReason> BadReasonOfHttpError(std::string_view code);

// True for "application/json" or "application/<x>+json", any case,
// parameters (";charset=utf-8") ignored.
bool IsJsonMediaType(std::string_view content_type);

// Counters of bad answers of one endpoint ("presence" or "token").
// Not thread-safe: use from the io_context's single thread.
class BadResponses {
 public:
  explicit BadResponses(std::string endpoint) : endpoint_(std::move(endpoint)) {}

  void Count(BadReason reason, uint64_t n = 1) { counts_[static_cast<size_t>(reason)] += n; }
  uint64_t count(BadReason reason) const { return counts_[static_cast<size_t>(reason)]; }
  uint64_t total() const;
  const std::string& endpoint() const { return endpoint_; }

  // Adds presence_graph_bad_responses_total{endpoint, reason} for every
  // reason (0 until counted) to the registry. This object must outlive it.
  void Register(http::MetricsRegistry& metrics) const;

 private:
  std::string endpoint_;
  std::array<uint64_t, kBadReasonCount> counts_{};
};

}  // namespace presence::graph

#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "util/json_depth.h"
#include "util/result.h"

// Checks of request input, done before any call to Redis (invariant 11).
// Every function is pure. Errors carry an API error code and a message that
// names the field and the reason; ValidationStatus() gives the HTTP status.
namespace presence::api {

inline constexpr size_t kMaxIdLength = 128;  // DESIGN.md; max_id_length may only lower it
inline constexpr size_t kMaxLabels = 64;
inline constexpr size_t kMaxLabelsBytes = 4096;  // the canonical JSON text of all labels
inline constexpr size_t kMaxJsonDepth = 16;
inline constexpr size_t kMaxLabelKeyLength = 64;     // characters (UTF-8 code points)
inline constexpr size_t kMaxLabelValueLength = 256;  // characters (UTF-8 code points)
inline constexpr size_t kMaxIdempotencyKeyLength = 255;
inline constexpr uint32_t kDefaultListLimit = 100;
inline constexpr uint32_t kMaxListLimit = 1000;
// A pushed observed_at may lie this far ahead of the instance clock (skew);
// further ahead it would make every later observation stale.
inline constexpr uint64_t kMaxObservedAtAheadMs = 5 * 60 * 1000;

// Limits on what one request may hold, from [api] of presenced.toml. The
// defaults are the shipped ones; presenced.toml(5) gives the ranges.
struct RequestLimits {
  // Nesting of arrays and objects in a JSON body (the body object itself is
  // depth 1, a labels object inside it 2). Deeper: 400 json_too_deep.
  size_t max_json_depth = kMaxJsonDepth;
  size_t max_labels = kMaxLabels;             // entries of labels; more: 400 bad_labels
  size_t max_labels_bytes = kMaxLabelsBytes;  // bytes of canonical labels JSON; 400 bad_labels
  size_t max_id_length = kMaxIdLength;        // tenant and agent ids, 1 to kMaxIdLength
};

// The HTTP status of a validation error: 415 for unsupported_media_type, else 400.
unsigned ValidationStatus(const Error& error);

// Tenant and agent ids: 1 to `max_length` (at most 128) characters of ASCII
// letters, digits and "-_.@", not dots only ("." and ".." are path steps that
// HTTP clients and proxies resolve away). `what` names the value in the
// message ("tenant"). Code "bad_id".
Status ValidateId(std::string_view what, std::string_view id, size_t max_length = kMaxIdLength);

// A caller seq given as text (query parameter, JSON string): decimal digits
// only, no sign, no leading zeros except "0" itself ("01" is refused, so that
// one number has one spelling), at most 18446744073709551615. Returns the text.
// Code "bad_seq".
Result<std::string> ParseSeqText(std::string_view text);

// A caller seq in JSON: an unsigned integer (0 .. 2^64-1) or a string as in
// ParseSeqText. Negative numbers, fractions (1.5, 1.0, 1e3) and integers
// beyond 2^64-1 (which JSON parsers read as floating point) are refused.
// Returns the decimal text. Code "bad_seq".
Result<std::string> ParseSeqJson(const nlohmann::json& value);

// The If-Match header: nullopt when absent; "5" or 5 gives "5". A weak tag
// (W/"5"), "*", a list ("1", "2"), an empty value or anything not a decimal
// version (0 .. 2^64-1, no leading zeros) is refused. "0" means "the agent
// must not exist". Code "bad_if_match".
Result<std::optional<std::string>> ParseIfMatch(const std::optional<std::string>& header);

// Content-Type must be application/json (parameters such as charset=utf-8
// allowed, any case). Code "unsupported_media_type" (415).
Status CheckJsonContentType(const std::optional<std::string>& header);

// The Idempotency-Key header when present: 1 to 255 visible ASCII characters.
// Code "bad_idempotency_key".
Status ValidateIdempotencyKey(const std::optional<std::string>& header);

// An RFC 3339 timestamp ("2024-05-01T12:00:00Z", "2024-05-01T14:00:00.250+02:00")
// as ms since the epoch (UTC); fractions beyond ms are truncated. Dates before
// 1970 are refused. Code "bad_observed_at".
Result<uint64_t> ParseRfc3339Ms(std::string_view text);

// observed_at of a pushed presence: absent or null gives now_ms; an RFC 3339
// string or an unsigned integer of ms since the epoch; at most
// kMaxObservedAtAheadMs after now_ms. Code "bad_observed_at".
Result<uint64_t> ParseObservedAt(const nlohmann::json* value, uint64_t now_ms);

// ms since the epoch as RFC 3339 UTC with milliseconds: "2024-05-01T12:00:00.250Z".
std::string FormatRfc3339Ms(uint64_t ms);

// A graph_user_id: a GUID string (8-4-4-4-12 hex digits), returned in lower
// case. Code "bad_graph_user_id".
Result<std::string> ParseGraphUserId(const nlohmann::json& value);

// labels: an object of at most limits.max_labels string values, keys 1 to 64
// characters, values at most 256 characters, no control characters, and at
// most limits.max_labels_bytes bytes as canonical JSON. Returns that canonical
// JSON text (keys sorted, "{}" when empty). Code "bad_labels".
Result<std::string> ParseLabels(const nlohmann::json& value, const RequestLimits& limits = {});

// availability / activity of a pushed presence: one of the values of
// DESIGN.md, any case, returned in canonical spelling ("busy" → "Busy").
// Unknown values are refused (code "bad_availability" / "bad_activity"),
// unlike Graph's answers, which map unknown values to PresenceUnknown.
Result<std::string> ParseAvailability(const nlohmann::json& value);
Result<std::string> ParseActivity(const nlohmann::json& value);

// The nesting check of JSON bodies lives in util/json_depth.h, shared with
// the Graph answers (lib/graph).
using presence::CheckJsonDepth;

// A JSON request body that must be an object nesting at most `max_depth`
// deep. Codes "json_too_deep" (see CheckJsonDepth) and "bad_json".
Result<nlohmann::json> ParseJsonObject(std::string_view body, size_t max_depth = kMaxJsonDepth);

// Refuses members of `object` not in `allowed`. Code "unknown_field".
Status CheckKnownFields(const nlohmann::json& object,
                        std::initializer_list<std::string_view> allowed);

// `limit` of a listing: absent gives 100; else decimal 1 .. 1000. Code "bad_limit".
Result<uint32_t> ParseLimit(const std::optional<std::string>& text);

}  // namespace presence::api

// Fuzz target: the JSON body checks of api/validation.h.
//
// The input is a request body. It goes through ParseJsonObject as the routes
// use it; then every value of the document (the root and its members, a few
// levels deep) goes through each field parser (seq, labels, observed_at,
// availability, activity, graph_user_id), and every string value through the
// text parsers (seq text, If-Match, limit, RFC 3339). Each accepted value is
// checked against the contract, not only for "no crash":
//   - a parsed seq is decimal u64 text that parses again to itself;
//   - labels come back as canonical JSON equal to the input object, within
//     the limits, and parsing that text again gives the same text;
//   - availability/activity are DESIGN.md values equal to the input ignoring
//     case, and every spelling of a DESIGN.md value is accepted;
//   - observed_at is at most 5 minutes ahead and survives Format -> Parse;
//   - a graph_user_id is a lower-case GUID;
//   - ParseJsonObject accepts exactly the objects nlohmann accepts within the
//     nesting limit, with the documented error codes.

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "api/validation.h"
#include "fuzz_check.h"
#include "graph/presence_values.h"
#include "known_values.h"
#include "util/strings.h"

namespace {

using nlohmann::json;
using presence::EqualsIgnoreCase;
using namespace presence::api;
namespace fuzz = presence::fuzz;

constexpr uint64_t kNowMs = 1714564800000ull;  // 2024-05-01T12:00:00Z
// FormatRfc3339Ms writes four-digit years up to here (10000-01-01T00:00:00Z).
constexpr uint64_t kYear10000Ms = 253402300800000ull;
// At most this many values of one document are checked (keeps runs linear).
constexpr size_t kMaxValuesChecked = 64;

// The independent oracle of a decimal u64: digits, no leading zero, fits.
bool IsDecimalU64(std::string_view text) {
  if (text.empty() || (text.size() > 1 && text[0] == '0')) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

void CheckSeq(const json& value) {
  auto seq = ParseSeqJson(value);
  if (!seq.ok()) {
    FUZZ_CHECK(seq.error().code == "bad_seq", seq.error().code);
    if (value.is_number_unsigned()) fuzz::Fail(__FILE__, __LINE__, "unsigned seq refused", "");
    return;
  }
  FUZZ_CHECK(IsDecimalU64(*seq), *seq);
  if (value.is_string()) FUZZ_CHECK(*seq == value.get_ref<const std::string&>(), *seq);
  if (value.is_number_unsigned()) {
    FUZZ_CHECK(*seq == std::to_string(value.get<uint64_t>()), *seq);
  }
  FUZZ_CHECK(value.is_string() || value.is_number_unsigned(), value.dump());
}

void CheckLabels(const json& value) {
  auto labels = ParseLabels(value);
  if (!labels.ok()) {
    FUZZ_CHECK(labels.error().code == "bad_labels", labels.error().code);
    return;
  }
  json parsed = json::parse(*labels, nullptr, false);
  FUZZ_CHECK(parsed.is_object() && parsed == value, *labels);
  FUZZ_CHECK(parsed.size() <= kMaxLabels, *labels);
  FUZZ_CHECK(labels->size() <= kMaxLabelsBytes, *labels);
  for (const auto& [key, label] : parsed.items()) {
    FUZZ_CHECK(!key.empty() && label.is_string(), *labels);
    for (unsigned char c : key + label.get<std::string>()) {
      FUZZ_CHECK(c >= 0x20 && c != 0x7F, *labels);
    }
  }
  auto again = ParseLabels(parsed);
  FUZZ_CHECK(again.ok() && *again == *labels, *labels);
}

// Availability or activity: accepted exactly when a DESIGN.md value matches.
template <size_t N>
void CheckPresenceValue(const json& value, presence::Result<std::string> (*parse)(const json&),
                        const std::array<std::string_view, N>& known, std::string_view code) {
  bool matches = false;
  if (value.is_string()) {
    for (std::string_view name : known) {
      matches = matches || EqualsIgnoreCase(value.get_ref<const std::string&>(), name);
    }
  }
  auto parsed = parse(value);
  FUZZ_CHECK(parsed.ok() == matches, value.dump());
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.error().code == code, parsed.error().code);
    return;
  }
  FUZZ_CHECK(EqualsIgnoreCase(*parsed, value.get_ref<const std::string&>()), *parsed);
  bool canonical = false;
  for (std::string_view name : known) canonical = canonical || *parsed == name;
  FUZZ_CHECK(canonical, *parsed);
}

void CheckObservedAt(const json& value) {
  auto ms = ParseObservedAt(&value, kNowMs);
  if (!ms.ok()) {
    FUZZ_CHECK(ms.error().code == "bad_observed_at", ms.error().code);
    return;
  }
  FUZZ_CHECK(*ms <= kNowMs + kMaxObservedAtAheadMs, std::to_string(*ms));
  if (value.is_null()) FUZZ_CHECK(*ms == kNowMs, std::to_string(*ms));
  if (value.is_number_unsigned()) FUZZ_CHECK(*ms == value.get<uint64_t>(), std::to_string(*ms));
  auto again = ParseRfc3339Ms(FormatRfc3339Ms(*ms));
  FUZZ_CHECK(again.ok() && *again == *ms, FormatRfc3339Ms(*ms));
}

void CheckGraphUserId(const json& value) {
  auto id = ParseGraphUserId(value);
  if (!id.ok()) {
    FUZZ_CHECK(id.error().code == "bad_graph_user_id", id.error().code);
    return;
  }
  FUZZ_CHECK(presence::graph::IsGuid(*id), *id);
  for (char c : *id) FUZZ_CHECK(!(c >= 'A' && c <= 'Z'), *id);
  FUZZ_CHECK(value.is_string() && EqualsIgnoreCase(value.get_ref<const std::string&>(), *id), *id);
}

// The parsers that take text (query parameters and headers) on one string.
void CheckText(const std::string& text) {
  auto seq = ParseSeqText(text);
  FUZZ_CHECK(seq.ok() == IsDecimalU64(text), text);
  if (seq.ok()) FUZZ_CHECK(*seq == text, *seq);

  auto if_match = ParseIfMatch(text);
  if (if_match.ok()) FUZZ_CHECK(*if_match && IsDecimalU64(**if_match), text);

  auto limit = ParseLimit(text);
  if (limit.ok()) {
    FUZZ_CHECK(*limit >= 1 && *limit <= kMaxListLimit, text);
    FUZZ_CHECK(IsDecimalU64(text) || text[0] == '0', text);
  }

  auto rfc3339 = ParseRfc3339Ms(text);
  if (rfc3339.ok() && *rfc3339 < kYear10000Ms) {
    auto again = ParseRfc3339Ms(FormatRfc3339Ms(*rfc3339));
    FUZZ_CHECK(again.ok() && *again == *rfc3339, text + " -> " + FormatRfc3339Ms(*rfc3339));
  }
}

void CheckValue(const json& value) {
  CheckSeq(value);
  CheckLabels(value);
  CheckPresenceValue(value, &ParseAvailability, fuzz::kAvailabilities, "bad_availability");
  CheckPresenceValue(value, &ParseActivity, fuzz::kActivities, "bad_activity");
  CheckObservedAt(value);
  CheckGraphUserId(value);
  if (value.is_string()) CheckText(value.get_ref<const std::string&>());
}

// Visits the root and its members breadth first, at most kMaxValuesChecked.
void CheckValues(const json& root) {
  std::vector<const json*> queue = {&root};
  for (size_t i = 0; i < queue.size() && i < kMaxValuesChecked; ++i) {
    CheckValue(*queue[i]);
    if (queue[i]->is_structured()) {
      for (const json& child : *queue[i]) queue.push_back(&child);
    }
  }
}

// ParseJsonObject against nlohmann's own verdict and the nesting limit.
void CheckBody(std::string_view body) {
  auto object = ParseJsonObject(body);
  const bool too_deep = !CheckJsonDepth(body, kMaxJsonDepth).ok();
  json reference = too_deep ? json(json::value_t::discarded) : json::parse(body, nullptr, false);
  const bool expect_ok = !too_deep && !reference.is_discarded() && reference.is_object();
  FUZZ_CHECK(object.ok() == expect_ok, object.ok() ? "accepted" : object.error().message);
  if (!object.ok()) {
    const std::string& code = object.error().code;
    FUZZ_CHECK(code == (too_deep ? "json_too_deep" : "bad_json"), code);
    return;
  }
  FUZZ_CHECK(*object == reference, std::string(body.substr(0, 200)));

  auto known = CheckKnownFields(*object, {"source", "graph_user_id", "seq", "labels"});
  bool all_known = true;
  for (const auto& [key, unused] : object->items()) {
    all_known =
        all_known && (key == "source" || key == "graph_user_id" || key == "seq" || key == "labels");
  }
  FUZZ_CHECK(known.ok() == all_known, object->dump());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = fuzz::AsText(data, size);
  CheckBody(text);
  CheckText(std::string(text));

  // Any JSON value, not only objects, goes through the field parsers; too deep
  // a document is left out as the routes leave it out.
  if (!CheckJsonDepth(text, kMaxJsonDepth).ok()) return 0;
  json document = json::parse(text, nullptr, false);
  if (!document.is_discarded()) CheckValues(document);
  return 0;
}

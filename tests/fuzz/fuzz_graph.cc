// Fuzz target: answers of Microsoft Graph and of the login endpoint as the
// Graph client parses them.
//
// The input is a response body (or header value). It goes through:
//   - ParsePresenceResponse, twice: for three fixed ids (those of the seed
//     answers) and for the ids the document itself names, so that both the
//     "not asked for" and the "asked for" paths run;
//   - ParseTokenResponse;
//   - ParseRetryAfter and the ThrottledError -> RetryAfterMs round trip;
//   - ParseBaseUrl (the configured graph_url / login_url) and its round trip.
// Invariants beyond "no crash": a parsed batch holds only asked ids, in lower
// case, once each, with DESIGN.md availability/activity values that match
// the answer's (or PresenceUnknown), and never more users than items; a token
// is the answer's access_token, a b64token, with a lifetime of 1 s to 366 days; a
// Retry-After is at most an hour and survives the error message; a base URL
// parses again from its own text to the same parts.

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "fuzz_check.h"
#include "graph/presence_reader.h"
#include "graph/presence_values.h"
#include "graph/throttle.h"
#include "graph/token_source.h"
#include "graph/url.h"
#include "known_values.h"
#include "util/json_depth.h"
#include "util/strings.h"

namespace {

using nlohmann::json;
using presence::EqualsIgnoreCase;
namespace fuzz = presence::fuzz;
namespace graph = presence::graph;

constexpr int64_t kNowMs = 1714564800000;
constexpr int64_t kMaxLifetimeMs = int64_t{366} * 86400 * 1000;

const std::vector<std::string> kFixedIds = {
    "11111111-1111-1111-1111-111111111111",
    "22222222-2222-2222-2222-222222222222",
    "AAAAAAAA-aaaa-AAAA-aaaa-AAAAAAAAAAAA",
};

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = presence::LowerAscii(c);
  return out;
}

// The "value" items of a document, or nullptr when it has none.
const json* Items(const json& document) {
  if (!document.is_object()) return nullptr;
  auto value = document.find("value");
  return value != document.end() && value->is_array() ? &*value : nullptr;
}

// The ids (strings) the items name, as asked ids.
std::vector<std::string> NamedIds(const json* items) {
  std::vector<std::string> ids;
  if (items == nullptr) return ids;
  for (const json& item : *items) {
    if (!item.is_object()) continue;
    auto id = item.find("id");
    if (id != item.end() && id->is_string()) ids.push_back(id->get<std::string>());
  }
  return ids;
}

// A field of an answered item equals the parsed value, or that is PresenceUnknown.
bool FieldMatches(const json& item, const char* name, const std::string& parsed) {
  if (parsed == graph::kPresenceUnknown) return true;
  auto field = item.find(name);
  return field != item.end() && field->is_string() &&
         EqualsIgnoreCase(field->get_ref<const std::string&>(), parsed);
}

// An item of the answer that the user's presence can have come from.
bool HasSourceItem(const json& items, const graph::UserPresence& user) {
  for (const json& item : items) {
    auto id = item.is_object() ? item.find("id") : item.end();
    if (id == item.end() || !id->is_string() || Lower(id->get<std::string>()) != user.id) {
      continue;
    }
    if (FieldMatches(item, "availability", user.availability) &&
        FieldMatches(item, "activity", user.activity)) {
      return true;
    }
  }
  return false;
}

void CheckPresence(std::string_view body, const json& document,
                   const std::vector<std::string>& asked) {
  auto batch = graph::ParsePresenceResponse(body, asked);
  const json* items = Items(document);
  if (!batch.ok()) {
    const std::string& code = batch.error().code;
    const bool too_deep = !presence::CheckJsonDepth(body, graph::kMaxGraphJsonDepth).ok();
    FUZZ_CHECK((code == "too_deep") == too_deep, code);
    if (too_deep) return;
    FUZZ_CHECK(code == "not_json" || code == "bad_shape" || code == "too_many_items", code);
    if (code == "too_many_items") FUZZ_CHECK(items && items->size() > asked.size(), code);
    if (code == "bad_shape") FUZZ_CHECK(!document.is_discarded() && items == nullptr, code);
    return;
  }
  FUZZ_CHECK(items != nullptr, "a batch from a document without a value array");
  FUZZ_CHECK(items->size() <= asked.size(), "more items than ids asked for");
  FUZZ_CHECK(batch->users.size() + batch->skipped.size() <= items->size(),
             "more users and skipped items than items");
  FUZZ_CHECK(batch->unknown_values <= 2 * items->size(), "more unknown values than values");

  std::set<std::string> wanted;
  for (const std::string& id : asked) wanted.insert(Lower(id));
  std::set<std::string> seen;
  for (const graph::UserPresence& user : batch->users) {
    FUZZ_CHECK(user.id == Lower(user.id), user.id);
    FUZZ_CHECK(wanted.count(user.id) == 1, "not asked for: " + user.id);
    FUZZ_CHECK(seen.insert(user.id).second, "twice: " + user.id);
    FUZZ_CHECK(fuzz::IsKnownAvailability(user.availability), user.availability);
    FUZZ_CHECK(fuzz::IsKnownActivity(user.activity), user.activity);

    FUZZ_CHECK(HasSourceItem(*items, user),
               "no item answers " + user.id + " " + user.availability + "/" + user.activity);
  }
}

void CheckToken(std::string_view body, const json& document) {
  auto token = graph::ParseTokenResponse(body, kNowMs);
  if (!token.ok()) {
    FUZZ_CHECK(!token.error().code.empty() && !token.error().message.empty(), "empty error");
    return;
  }
  FUZZ_CHECK(document.is_object(), "a token from a document that is not an object");
  auto access_token = document.find("access_token");
  FUZZ_CHECK(access_token != document.end() && access_token->is_string() &&
                 access_token->get_ref<const std::string&>() == token->value,
             token->value);
  FUZZ_CHECK(!token->value.empty(), "empty token");
  FUZZ_CHECK(graph::IsBearerToken(token->value), "a token that is not a b64token");
  FUZZ_CHECK(token->issued_at_ms == kNowMs, std::to_string(token->issued_at_ms));
  const int64_t lifetime = token->expires_at_ms - token->issued_at_ms;
  FUZZ_CHECK(lifetime >= 1000 && lifetime <= kMaxLifetimeMs, std::to_string(lifetime));
  FUZZ_CHECK(token->Fresh(kNowMs), "a new token is not fresh");
  FUZZ_CHECK(!token->Fresh(token->expires_at_ms), "an expired token is fresh");
}

void CheckRetryAfter(std::string_view header) {
  std::optional<uint64_t> wait = graph::ParseRetryAfter(header);
  if (wait) FUZZ_CHECK(*wait <= 3600 * 1000 && *wait % 1000 == 0, std::to_string(*wait));

  presence::Error error = graph::ThrottledError("graph tenant fuzz", 429, header);
  FUZZ_CHECK(error.code == "throttled", error.code);
  FUZZ_CHECK(graph::RetryAfterMs(error) == wait, error.message);
  error.message = "poll of partition 3: " + error.message;
  FUZZ_CHECK(graph::RetryAfterMs(error) == wait, error.message);
}

void CheckBaseUrl(std::string_view text) {
  auto url = graph::ParseBaseUrl(text);
  if (!url.ok()) {
    FUZZ_CHECK(url.error().code == "bad_url", url.error().code);
    return;
  }
  FUZZ_CHECK(url->scheme == "http" || url->scheme == "https", url->scheme);
  FUZZ_CHECK(!url->host.empty() && url->port != 0, url->ToString());
  FUZZ_CHECK(url->path_prefix.empty() ||
                 (url->path_prefix.front() == '/' && url->path_prefix.back() != '/'),
             url->path_prefix);
  FUZZ_CHECK(url->Target("/v1.0/x") == url->path_prefix + "/v1.0/x", url->ToString());

  auto again = graph::ParseBaseUrl(url->ToString());
  FUZZ_CHECK(again.ok(), url->ToString() + ": " + again.error().message);
  FUZZ_CHECK(again->scheme == url->scheme && again->host == url->host && again->port == url->port &&
                 again->path_prefix == url->path_prefix,
             url->ToString() + " -> " + again->ToString());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body = fuzz::AsText(data, size);
  const json document = json::parse(body, nullptr, false);

  CheckPresence(body, document, kFixedIds);
  CheckPresence(body, document, NamedIds(Items(document)));
  CheckToken(body, document);
  CheckRetryAfter(body);
  CheckBaseUrl(body);
  return 0;
}

#include "graph/presence_reader.h"

#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "graph/presence_values.h"
#include "util/json_depth.h"
#include "util/log.h"
#include "util/strings.h"

namespace presence::graph {
namespace {

using Json = nlohmann::json;

spdlog::logger& Log() {
  static const std::shared_ptr<spdlog::logger> logger = Logger("graph");
  return *logger;
}

constexpr size_t kMaxErrorText = 300;

Error BadResponse(std::string message) { return MakeError("bad_response", std::move(message)); }

// "a number", "an array", "null": a JSON value's type for messages.
std::string Described(const Json& json) {
  if (json.is_null()) return "null";
  std::string_view name = json.type_name();
  bool vowel = name.front() == 'a' || name.front() == 'o';
  return fmt::format("{} {}", vowel ? "an" : "a", name);
}

std::string ToLowerAscii(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

// A presence field: a string of at most kMaxValueBytes, else an error detail.
// Unknown strings are PresenceUnknown and counted.
Result<std::string> PresenceField(const Json& item, size_t index, const char* name,
                                  const std::string& (*normalize)(std::string_view),
                                  size_t& unknown_values) {
  auto it = item.find(name);
  if (it == item.end()) return BadResponse(fmt::format("value[{}].{} is missing", index, name));
  if (!it->is_string()) {
    return BadResponse(
        fmt::format("value[{}].{} is {}, expected a string", index, name, Described(*it)));
  }
  const std::string& text = it->get_ref<const std::string&>();
  if (text.size() > kMaxValueBytes) {
    return BadResponse(fmt::format("value[{}].{} is a string of {} bytes, at most {}", index, name,
                                   text.size(), kMaxValueBytes));
  }
  const std::string& normalized = normalize(text);
  if (normalized == kPresenceUnknown && !EqualsIgnoreCase(text, kPresenceUnknown)) {
    ++unknown_values;
  }
  return normalized;
}

// One item to a UserPresence, or the detail of why it is malformed.
Result<UserPresence> ParseItem(const Json& item, size_t i, size_t& unknown_values) {
  if (!item.is_object()) {
    return BadResponse(fmt::format("value[{}] is {}, expected an object", i, Described(item)));
  }
  auto id = item.find("id");
  if (id == item.end() || !id->is_string() || id->get_ref<const std::string&>().empty()) {
    return BadResponse(fmt::format("value[{}].id is missing or not a non-empty string", i));
  }
  Result<std::string> availability =
      PresenceField(item, i, "availability", &NormalizeAvailability, unknown_values);
  if (!availability.ok()) return availability.error();
  Result<std::string> activity =
      PresenceField(item, i, "activity", &NormalizeActivity, unknown_values);
  if (!activity.ok()) return activity.error();
  return UserPresence{id->get<std::string>(), std::move(availability).value(),
                      std::move(activity).value()};
}

// Text from an answer, cut for a log line.
std::string Shortened(std::string_view text) {
  if (text.size() <= kMaxErrorText) return std::string(text);
  return std::string(text.substr(0, kMaxErrorText)) + "...";
}

// "Request_BadRequest: ..." from a Graph error body {"error":{"code","message"}}.
std::string GraphErrorText(std::string_view body) {
  if (!CheckJsonDepth(body, kMaxGraphJsonDepth).ok()) return Shortened(body);
  Json json = Json::parse(body, nullptr, false);
  std::string text;
  if (!json.is_discarded() && json.is_object()) {
    auto error = json.find("error");
    if (error != json.end() && error->is_object()) {
      if (auto code = error->find("code"); code != error->end() && code->is_string()) {
        text = code->get<std::string>();
      }
      if (auto message = error->find("message"); message != error->end() && message->is_string()) {
        text += (text.empty() ? "" : ": ") + message->get<std::string>();
      }
    }
  }
  if (text.empty()) text = std::string(body);
  return Shortened(text);
}

}  // namespace

Result<PresenceBatch> ParsePresenceResponse(std::string_view body,
                                            const std::vector<std::string>& asked) {
  // The document, no deeper than Graph ever nests it: nlohmann would build a
  // value for each of millions of '[' before failing. (Parse errors are
  // caught here and never leave.)
  if (auto depth = CheckJsonDepth(body, kMaxGraphJsonDepth, "response"); !depth.ok()) {
    return MakeError("too_deep", depth.error().message);
  }
  Json json;
  try {
    json = Json::parse(body);
  } catch (const Json::exception& e) {
    return MakeError("not_json", fmt::format("response is not valid JSON: {}", e.what()));
  }
  if (!json.is_object()) return MakeError("bad_shape", "response is not a JSON object");
  auto value = json.find("value");
  if (value == json.end()) return MakeError("bad_shape", "response has no \"value\"");
  if (!value->is_array()) {
    return MakeError("bad_shape",
                     fmt::format("\"value\" is {}, expected an array", Described(*value)));
  }
  if (value->size() > asked.size()) {
    return MakeError("too_many_items", fmt::format("\"value\" has {} items for {} ids asked",
                                                   value->size(), asked.size()));
  }

  // Each element: {"id": string, "availability": string, "activity": string, ...};
  // malformed ones and ids not asked for are skipped.
  std::map<std::string, size_t> wanted;  // lower-case id -> times answered
  for (const std::string& id : asked) wanted.emplace(ToLowerAscii(id), 0);
  PresenceBatch parsed;
  for (size_t i = 0; i < value->size(); ++i) {
    Result<UserPresence> user = ParseItem((*value)[i], i, parsed.unknown_values);
    if (!user.ok()) {
      parsed.skipped.push_back(SkippedItem{BadReason::kBadItem, user.error().message});
      continue;
    }
    auto it = wanted.find(ToLowerAscii(user->id));
    if (it == wanted.end()) {
      parsed.skipped.push_back(
          SkippedItem{BadReason::kUnknownId, fmt::format("value[{}].id was not asked for", i)});
      continue;
    }
    user->id = it->first;
    ++it->second;
    parsed.users.push_back(std::move(user).value());
  }

  // An id answered more than once: none of its copies is used.
  PresenceBatch batch;
  batch.skipped = std::move(parsed.skipped);
  batch.unknown_values = parsed.unknown_values;
  for (auto& user : parsed.users) {
    if (wanted[user.id] == 1) {
      batch.users.push_back(std::move(user));
    } else if (wanted[user.id] > 1) {
      batch.skipped.push_back(
          SkippedItem{BadReason::kDuplicateId,
                      fmt::format("id {} answered {} times", user.id, wanted[user.id])});
      wanted[user.id] = 0;  // one entry per duplicated id
    }
  }
  return batch;
}

PresenceReader::PresenceReader(const config::Config& config, HttpClient& http, TokenSource& tokens)
    : graph_url_(ParseBaseUrl(config.graph_url)), http_(http), tokens_(tokens) {}

Task<Result<PresenceBatch>> PresenceReader::Read(const std::string& tenant,
                                                 std::vector<std::string> ids) {
  const std::string subject = fmt::format("graph tenant {}", tenant);
  if (ids.size() > kMaxIdsPerRead) {
    co_return MakeError("too_many_ids", fmt::format("{}: {} ids in one read, at most {}", subject,
                                                    ids.size(), kMaxIdsPerRead));
  }
  if (ids.empty()) co_return PresenceBatch{};
  if (!graph_url_.ok()) {
    co_return MakeError("bad_url", "graph.url: " + graph_url_.error().message);
  }
  const std::string body = Json{{"ids", ids}}.dump();

  // Once, and once more with a new token when Graph refuses the first one.
  for (int attempt = 0;; ++attempt) {
    Result<std::string> token = co_await tokens_.Token(tenant);
    if (!token.ok()) co_return token.error();

    HttpRequest request;
    request.method = "POST";
    request.url = graph_url_.value();
    request.target = graph_url_->Target("/v1.0/communications/getPresencesByUserId");
    request.headers = {{"Authorization", "Bearer " + token.value()},
                       {"Content-Type", "application/json"},
                       {"Accept", "application/json"}};
    request.body = body;
    request.body_limit = kMaxPresenceAnswerBytes;
    Result<HttpResponse> response = co_await http_.Send(std::move(request));
    if (!response.ok()) {
      std::string message = fmt::format("{} (tenant {})", response.error().message, tenant);
      if (auto reason = BadReasonOfHttpError(response.error().code)) {
        Bad(tenant, *reason, 0, 0, response.error().message);
      }
      co_return MakeError(response.error().code, std::move(message));
    }

    const unsigned status = response->status;
    const size_t bytes = response->body.size();
    if (status == 200) {
      if (!IsJsonMediaType(response->Header("Content-Type"))) {
        co_return Bad(tenant, BadReason::kContentType, status, bytes,
                      fmt::format("Content-Type is \"{}\", expected application/json",
                                  Shortened(response->Header("Content-Type"))));
      }
      Result<PresenceBatch> batch = ParsePresenceResponse(response->body, ids);
      if (!batch.ok()) {
        auto reason = BadReasonNamed(batch.error().code).value_or(BadReason::kBadShape);
        co_return Bad(tenant, reason, status, bytes, batch.error().message);
      }
      NoteSkipped(tenant, batch.value(), bytes);
      co_return batch;
    }
    if (status == 401 && attempt == 0) {
      Log().info("{}: token refused (401), retrying with a new one", subject);
      co_await tokens_.Invalidate(tenant, token.value());
      continue;
    }
    if (status == 401) {
      co_return MakeError("unauthorized", fmt::format("{}: 401 again with a new token: {}", subject,
                                                      GraphErrorText(response->body)));
    }
    if (status == 429 || status == 503) {
      co_return ThrottledError(subject, status, response->Header("Retry-After"));
    }
    Error error = Bad(tenant, status >= 500 ? BadReason::kHttp5xx : BadReason::kHttp4xx, status,
                      bytes, GraphErrorText(response->body));
    co_return MakeError("graph_error", std::move(error.message));
  }
}

// Counts one unusable answer, logs it and returns its "bad_response" error.
Error PresenceReader::Bad(const std::string& tenant, BadReason reason, unsigned status,
                          size_t bytes, const std::string& detail) {
  bad_.Count(reason);
  std::string status_text = status == 0 ? "no answer" : std::to_string(status);
  std::string message = fmt::format("graph tenant {}: getPresencesByUserId: {} ({}, {} bytes): {}",
                                    tenant, BadReasonName(reason), status_text, bytes, detail);
  Log().warn("{}; nobody's presence changed", message);
  return MakeError("bad_response", std::move(message));
}

// Counts the items of a usable answer that were skipped, and logs them once.
void PresenceReader::NoteSkipped(const std::string& tenant, const PresenceBatch& batch,
                                 size_t bytes) {
  if (batch.unknown_values > 0) {
    bad_.Count(BadReason::kUnknownValue, batch.unknown_values);
    Log().info(
        "graph tenant {}: getPresencesByUserId: {} unknown availability or activity "
        "values taken as PresenceUnknown (200, {} bytes)",
        tenant, batch.unknown_values, bytes);
  }
  if (batch.skipped.empty()) return;
  std::map<BadReason, size_t> by_reason;
  for (const SkippedItem& item : batch.skipped) {
    bad_.Count(item.reason);
    ++by_reason[item.reason];
  }
  std::string reasons;
  for (const auto& [reason, count] : by_reason) {
    reasons += fmt::format("{}{} {}", reasons.empty() ? "" : ", ", BadReasonName(reason), count);
  }
  Log().warn(
      "graph tenant {}: getPresencesByUserId: {} items skipped ({}; first: {}) of {} "
      "used (200, {} bytes); the skipped ones changed nothing",
      tenant, batch.skipped.size(), reasons, batch.skipped.front().detail, batch.users.size(),
      bytes);
}

}  // namespace presence::graph

#include "graph/presence_reader.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "graph/presence_values.h"
#include "util/log.h"

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

// A presence field: a string, or missing / null (unknown). Other types fail.
Result<std::string> PresenceField(const Json& item, size_t index, const char* name,
                                  const std::string& (*normalize)(std::string_view)) {
  auto it = item.find(name);
  if (it == item.end() || it->is_null()) return std::string(kPresenceUnknown);
  if (!it->is_string()) {
    return BadResponse(
        fmt::format("value[{}].{} is {}, expected a string", index, name, Described(*it)));
  }
  return normalize(it->get_ref<const std::string&>());
}

// "Request_BadRequest: ..." from a Graph error body {"error":{"code","message"}}.
std::string GraphErrorText(std::string_view body) {
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
  if (text.size() > kMaxErrorText) text = text.substr(0, kMaxErrorText) + "...";
  return text;
}

}  // namespace

Result<PresenceBatch> ParsePresenceResponse(std::string_view body) {
  // The document. (Parse errors are caught here and never leave.)
  Json json;
  try {
    json = Json::parse(body);
  } catch (const Json::exception& e) {
    return BadResponse(fmt::format("response is not valid JSON: {}", e.what()));
  }
  if (!json.is_object()) return BadResponse("response is not a JSON object");
  auto value = json.find("value");
  if (value == json.end()) return BadResponse("response has no \"value\"");
  if (!value->is_array()) {
    return BadResponse(fmt::format("\"value\" is {}, expected an array", Described(*value)));
  }

  // Each element: {"id": string, "availability": string, "activity": string, ...}.
  PresenceBatch batch;
  batch.users.reserve(value->size());
  for (size_t i = 0; i < value->size(); ++i) {
    const Json& item = (*value)[i];
    if (!item.is_object()) {
      return BadResponse(fmt::format("value[{}] is {}, expected an object", i, Described(item)));
    }
    auto id = item.find("id");
    if (id == item.end() || !id->is_string() || id->get_ref<const std::string&>().empty()) {
      return BadResponse(fmt::format("value[{}].id is missing or not a non-empty string", i));
    }
    Result<std::string> availability =
        PresenceField(item, i, "availability", &NormalizeAvailability);
    if (!availability.ok()) return availability.error();
    Result<std::string> activity = PresenceField(item, i, "activity", &NormalizeActivity);
    if (!activity.ok()) return activity.error();
    batch.users.push_back(UserPresence{ToLowerAscii(id->get<std::string>()),
                                       std::move(availability).value(),
                                       std::move(activity).value()});
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
    Result<HttpResponse> response = co_await http_.Send(std::move(request));
    if (!response.ok()) {
      co_return MakeError(response.error().code,
                          fmt::format("{} (tenant {})", response.error().message, tenant));
    }

    const unsigned status = response->status;
    if (status == 200) {
      Result<PresenceBatch> batch = ParsePresenceResponse(response->body);
      if (!batch.ok()) {
        co_return BadResponse(
            fmt::format("{}: getPresencesByUserId: {}", subject, batch.error().message));
      }
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
    co_return MakeError("graph_error",
                        fmt::format("{}: getPresencesByUserId answered {}: {}", subject, status,
                                    GraphErrorText(response->body)));
  }
}

}  // namespace presence::graph

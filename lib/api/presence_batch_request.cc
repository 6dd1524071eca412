#include "api/presence_batch_request.h"

#include <fmt/format.h>

#include "api/pushed_presence.h"
#include "api/validation.h"
#include "http/url.h"

namespace presence::api {

namespace {

// Prefixes an item's error with its position.
Error AtItem(size_t index, const Error& error) {
  return Error{error.code, fmt::format("items[{}].{}", index, error.message)};
}

const nlohmann::json* Member(const nlohmann::json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

Result<store::PresenceBatchItem> ParseItem(const nlohmann::json& item, uint64_t now_ms,
                                           const RequestLimits& limits) {
  if (!item.is_object()) return MakeError("bad_json", "must be an object");
  if (auto ok = CheckKnownFields(item, {"agent", "availability", "activity", "observed_at"});
      !ok.ok()) {
    return ok.error();
  }
  const nlohmann::json* agent = Member(item, "agent");
  if (agent == nullptr || !agent->is_string()) {
    return MakeError("bad_id", "agent is required and must be a string");
  }
  store::PresenceBatchItem parsed;
  parsed.agent = agent->get<std::string>();
  if (auto ok = ValidateId("agent", parsed.agent, limits.max_id_length); !ok.ok()) {
    return ok.error();
  }

  auto pushed = ParsePushedPresence(item, now_ms);
  if (!pushed.ok()) return pushed.error();
  parsed.availability = std::move(pushed->availability);
  parsed.activity = std::move(pushed->activity);
  parsed.observed_at_ms = pushed->observed_at_ms;
  return parsed;
}

}  // namespace

Result<store::PresenceBatchCommand> ParsePresenceBatchRequest(const http::Request& request,
                                                              uint64_t now_ms,
                                                              const RequestLimits& limits) {
  store::PresenceBatchCommand command;
  command.tenant = request.Param("tenant");
  if (auto ok = ValidateId("tenant", command.tenant, limits.max_id_length); !ok.ok()) {
    return ok.error();
  }
  if (auto ok = CheckJsonContentType(request.Header("Content-Type")); !ok.ok()) return ok.error();
  if (request.Header("Idempotency-Key")) {
    return MakeError("idempotency_unsupported",
                     "a presence batch takes no Idempotency-Key: it is declarative, so resend "
                     "it as it is (applied items then answer \"unchanged\")");
  }
  if (!request.query.empty()) {
    return MakeError("unknown_parameter", "a presence batch takes no query parameters");
  }
  auto body = ParseJsonObject(request.body, limits.max_json_depth);
  if (!body.ok()) return body.error();
  if (auto ok = CheckKnownFields(*body, {"items"}); !ok.ok()) return ok.error();

  const nlohmann::json* items = Member(*body, "items");
  if (items == nullptr || !items->is_array() || items->empty()) {
    return MakeError("bad_items", "items is required: an array of 1 to 1000 items");
  }
  if (items->size() > kMaxBatchItems) {
    return MakeError("bad_items", fmt::format("items has {} items; at most {} are allowed",
                                              items->size(), kMaxBatchItems));
  }
  command.items.reserve(items->size());
  for (size_t i = 0; i < items->size(); ++i) {
    auto item = ParseItem((*items)[i], now_ms, limits);
    if (!item.ok()) return AtItem(i, item.error());
    command.items.push_back(std::move(*item));
  }
  return command;
}

}  // namespace presence::api

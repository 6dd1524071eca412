#include "api/agent_requests.h"

#include <fmt/format.h>
#include <xxhash.h>

#include "api/pushed_presence.h"
#include "api/validation.h"
#include "http/url.h"

namespace presence::api {

namespace {

// The tenant and agent path parameters, validated.
Result<AgentKey> PathIds(const http::Request& request, bool with_agent,
                         const RequestLimits& limits) {
  AgentKey key{request.Param("tenant"), with_agent ? request.Param("agent") : ""};
  if (auto ok = ValidateId("tenant", key.tenant, limits.max_id_length); !ok.ok()) {
    return ok.error();
  }
  if (with_agent) {
    if (auto ok = ValidateId("agent", key.agent, limits.max_id_length); !ok.ok()) {
      return ok.error();
    }
  }
  return key;
}

// The query parameters, refusing any not in `allowed`.
Result<http::QueryParams> Query(const http::Request& request,
                                std::initializer_list<std::string_view> allowed) {
  auto params = http::ParseQueryString(request.query);
  if (!params.ok()) return params.error();
  for (const auto& [name, value] : *params) {
    bool known = false;
    for (std::string_view want : allowed) known = known || name == want;
    if (!known) {
      return MakeError("unknown_parameter",
                       fmt::format("unknown query parameter \"{}\"", name.substr(0, 80)));
    }
  }
  return params;
}

std::optional<std::string> QueryValue(const http::QueryParams& params, std::string_view name) {
  for (const auto& [key, value] : params) {
    if (key == name) return value;
  }
  return std::nullopt;
}

// The member `name` of a body, or nullptr when absent or null.
const nlohmann::json* Member(const nlohmann::json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

// The checks every JSON command shares: Content-Type, Idempotency-Key, the
// absence of query parameters, and a body that is a JSON object.
Result<nlohmann::json> JsonCommandBody(const http::Request& request, const RequestLimits& limits) {
  if (auto ok = CheckJsonContentType(request.Header("Content-Type")); !ok.ok()) return ok.error();
  if (auto ok = ValidateIdempotencyKey(request.Header("Idempotency-Key")); !ok.ok()) {
    return ok.error();
  }
  if (auto query = Query(request, {}); !query.ok()) return query.error();
  return ParseJsonObject(request.body, limits.max_json_depth);
}

// The Idempotency-Key of a command and the fingerprint of everything that
// makes the request what it is: method, target, If-Match and body. A retry
// must repeat all of them to be replayed.
std::optional<store::Idempotency> IdempotencyOf(const http::Request& request) {
  auto key = request.Header("Idempotency-Key");
  if (!key) return std::nullopt;
  std::string material = std::string(boost::beast::http::to_string(request.method));
  material.append("\n").append(request.target);
  material.append("\n").append(request.Header("If-Match").value_or(""));
  material.append("\n").append(request.body);
  auto hash = XXH3_128bits(material.data(), material.size());
  return store::Idempotency{*key, fmt::format("{:016x}{:016x}", hash.high64, hash.low64)};
}

}  // namespace

Result<store::PutAgentCommand> ParsePutAgentRequest(const http::Request& request,
                                                    const RequestLimits& limits) {
  auto ids = PathIds(request, true, limits);
  if (!ids.ok()) return ids.error();
  auto if_match = ParseIfMatch(request.Header("If-Match"));
  if (!if_match.ok()) return if_match.error();
  auto body = JsonCommandBody(request, limits);
  if (!body.ok()) return body.error();
  if (auto ok = CheckKnownFields(*body, {"source", "graph_user_id", "seq", "labels"}); !ok.ok()) {
    return ok.error();
  }

  store::PutAgentCommand command;
  command.tenant = ids->tenant;
  command.agent = ids->agent;
  command.if_match = *if_match;
  command.labels_json = "{}";

  // source decides whether graph_user_id is required or forbidden.
  const nlohmann::json* source = Member(*body, "source");
  if (source == nullptr || !source->is_string() || (*source != "graph" && *source != "push")) {
    return MakeError("bad_source", "source is required and must be \"graph\" or \"push\"");
  }
  command.source = source->get<std::string>();
  const nlohmann::json* graph_user_id = Member(*body, "graph_user_id");
  if (command.source == "graph") {
    if (graph_user_id == nullptr) {
      return MakeError("bad_graph_user_id", "graph_user_id is required when source is \"graph\"");
    }
    auto guid = ParseGraphUserId(*graph_user_id);
    if (!guid.ok()) return guid.error();
    command.graph_user_id = *guid;
  } else if (graph_user_id != nullptr) {
    return MakeError("bad_graph_user_id",
                     "graph_user_id must not be given when source is \"push\"");
  }

  if (const nlohmann::json* seq = Member(*body, "seq")) {
    auto parsed = ParseSeqJson(*seq);
    if (!parsed.ok()) return parsed.error();
    command.seq = *parsed;
  }
  if (const nlohmann::json* labels = Member(*body, "labels")) {
    auto parsed = ParseLabels(*labels, limits);
    if (!parsed.ok()) return parsed.error();
    command.labels_json = *parsed;
  }
  command.idempotency = IdempotencyOf(request);
  return command;
}

Result<store::DeleteAgentCommand> ParseDeleteAgentRequest(const http::Request& request,
                                                          const RequestLimits& limits) {
  auto ids = PathIds(request, true, limits);
  if (!ids.ok()) return ids.error();
  auto if_match = ParseIfMatch(request.Header("If-Match"));
  if (!if_match.ok()) return if_match.error();
  if (auto ok = ValidateIdempotencyKey(request.Header("Idempotency-Key")); !ok.ok()) {
    return ok.error();
  }
  auto query = Query(request, {"seq"});
  if (!query.ok()) return query.error();
  // A body would be ignored, and a caller who put its seq there would lose
  // the tombstone's protection without knowing: refuse it.
  if (!request.body.empty()) {
    return MakeError("unexpected_body",
                     "DELETE takes no body; give seq as a query parameter (?seq=N)");
  }

  store::DeleteAgentCommand command;
  command.tenant = ids->tenant;
  command.agent = ids->agent;
  command.if_match = *if_match;
  if (auto seq = QueryValue(*query, "seq")) {
    auto parsed = ParseSeqText(*seq);
    if (!parsed.ok()) return parsed.error();
    command.seq = *parsed;
  }
  command.idempotency = IdempotencyOf(request);
  return command;
}

Result<AgentKey> ParseGetAgentRequest(const http::Request& request, const RequestLimits& limits) {
  auto ids = PathIds(request, true, limits);
  if (!ids.ok()) return ids.error();
  if (auto query = Query(request, {}); !query.ok()) return query.error();
  return ids;
}

Result<ListAgentsQuery> ParseListAgentsRequest(const http::Request& request,
                                               const RequestLimits& limits) {
  auto ids = PathIds(request, false, limits);
  if (!ids.ok()) return ids.error();
  auto query = Query(request, {"cursor", "limit"});
  if (!query.ok()) return query.error();

  ListAgentsQuery list;
  list.tenant = ids->tenant;
  list.cursor = QueryValue(*query, "cursor").value_or("");
  if (list.cursor.size() > kMaxCursorLength) {
    return MakeError("bad_cursor", fmt::format("cursor is longer than {} characters; pass the "
                                               "next_cursor of the previous page unchanged",
                                               kMaxCursorLength));
  }
  auto limit = ParseLimit(QueryValue(*query, "limit"));
  if (!limit.ok()) return limit.error();
  list.limit = *limit;
  return list;
}

Result<store::PushPresenceCommand> ParsePushPresenceRequest(const http::Request& request,
                                                            uint64_t now_ms,
                                                            const RequestLimits& limits) {
  auto ids = PathIds(request, true, limits);
  if (!ids.ok()) return ids.error();
  auto if_match = ParseIfMatch(request.Header("If-Match"));
  if (!if_match.ok()) return if_match.error();
  auto body = JsonCommandBody(request, limits);
  if (!body.ok()) return body.error();
  if (auto ok = CheckKnownFields(*body, {"availability", "activity", "observed_at"}); !ok.ok()) {
    return ok.error();
  }

  store::PushPresenceCommand command;
  command.tenant = ids->tenant;
  command.agent = ids->agent;
  auto pushed = ParsePushedPresence(*body, now_ms);
  if (!pushed.ok()) return pushed.error();
  command.availability = std::move(pushed->availability);
  command.activity = std::move(pushed->activity);
  command.observed_at_ms = pushed->observed_at_ms;
  command.if_match = *if_match;
  command.idempotency = IdempotencyOf(request);
  return command;
}

}  // namespace presence::api

#include "api/agent_routes.h"

#include <chrono>

#include <fmt/format.h>

#include "api/agent_requests.h"
#include "api/agent_view.h"
#include "api/presence_batch_request.h"
#include "api/validation.h"
#include "util/json_fields.h"
#include "util/log.h"

namespace presence::api {

namespace {

using http::Response;

Response Invalid(const Error& error) {
  return http::ErrorResponse(ValidationStatus(error), error.code, error.message);
}

unsigned RefusalStatus(const std::string& code) {
  if (code == "not_found") return 404;
  if (code == "stale_seq" || code == "wrong_source" || code == "stale_observation") return 409;
  if (code == "version_mismatch") return 412;
  if (code == "idempotency_key_reused") return 422;
  if (code == "bad_cursor") return 400;
  return 500;  // bad_argument and the like: a bug on our side, not the caller's
}

// Marks an answer that presence_once replayed from a stored first outcome.
Response MarkReplayed(Response response, const nlohmann::json& answer) {
  auto replayed = answer.find("replayed");
  if (replayed != answer.end() && replayed->is_boolean() && replayed->get<bool>()) {
    response.SetHeader("Idempotent-Replayed", "true");
  }
  return response;
}

// A success answer with the agent, "changed" and its ETag.
Response AgentResponse(unsigned status, const nlohmann::json& record, bool changed) {
  nlohmann::json body = AgentView(record);
  body["changed"] = changed;
  Response response = http::JsonResponse(status, body);
  response.SetHeader("ETag", ETagOf(RecordVersion(record)));
  response.changed = changed;
  return response;
}

// The "agent" object of a store answer (an empty object when it has none), not copied.
const nlohmann::json& AgentOf(const nlohmann::json& answer) {
  static const nlohmann::json kNone = nlohmann::json::object();
  auto agent = answer.find("agent");
  return agent != answer.end() && agent->is_object() ? *agent : kNone;
}

bool IsOk(const nlohmann::json& answer) {
  return answer.is_object() && answer.value("ok", false) == true;
}

}  // namespace

uint64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

AgentRoutes::AgentRoutes(AgentCommands& commands, Clock now_ms, http::MetricsRegistry* metrics)
    : commands_(commands), now_ms_(std::move(now_ms)), metrics_(metrics) {
  DescribeMetrics();
}

void AgentRoutes::AddTo(http::Router& router) {
  using http::Verb;
  constexpr std::string_view kAgent = "/v1/tenants/{tenant}/agents/{agent}";
  router.Add(Verb::put, kAgent,
             [this](const http::Request& r) { return Counted("register", PutAgent(r)); });
  router.Add(Verb::delete_, kAgent,
             [this](const http::Request& r) { return Counted("deregister", DeleteAgent(r)); });
  router.Add(Verb::get, kAgent, [this](const http::Request& r) { return GetAgent(r); });
  router.Add(Verb::get, "/v1/tenants/{tenant}/agents",
             [this](const http::Request& r) { return ListAgents(r); });
  router.Add(Verb::put, "/v1/tenants/{tenant}/agents/{agent}/presence",
             [this](const http::Request& r) { return Counted("push_presence", PushPresence(r)); });
  router.Add(Verb::post, "/v1/tenants/{tenant}/presence",
             [this](const http::Request& r) { return PushBatch(r); });
}

void AgentRoutes::DescribeMetrics() {
  if (metrics_ == nullptr) return;
  using Type = http::MetricsRegistry::Type;
  metrics_->Describe("presence_commands_applied_total", Type::kCounter,
                     "Commands (register, deregister, push_presence) applied, by whether they "
                     "changed anything.");
  metrics_->Describe("presence_commands_refused_total", Type::kCounter,
                     "Commands refused, by the error code of the answer.");
  metrics_->Describe("presence_commands_replayed_total", Type::kCounter,
                     "Commands answered from a stored first outcome (Idempotency-Key).");
  metrics_->Describe("presence_events_appended_total", Type::kCounter,
                     "Events appended to the partition streams, by origin (api: commands "
                     "answered with changed true; graph_poll: presence read from Graph).");
  metrics_->Describe("presence_redis_errors_total", Type::kCounter,
                     "Redis calls that failed (unreachable, timeout or error reply), by "
                     "component.");
}

Task<Response> AgentRoutes::Counted(const char* command, Task<Response> answer) {
  Response response = co_await std::move(answer);
  Count(command, response);
  co_return response;
}

void AgentRoutes::Count(const char* command, const Response& response) {
  static const std::string kUnknown = "unknown";
  if (metrics_ == nullptr) return;
  auto replayed = response.headers.find("Idempotent-Replayed");
  if (replayed != response.headers.end()) {
    metrics_->Increment("presence_commands_replayed_total", {{"command", command}});
    return;
  }
  if (response.status >= 200 && response.status < 300) {
    metrics_->Increment("presence_commands_applied_total",
                        {{"command", command}, {"changed", response.changed ? "true" : "false"}});
    if (response.changed)
      metrics_->Increment("presence_events_appended_total", {{"origin", "api"}});
    return;
  }
  const std::string& reason = response.error_code.empty() ? kUnknown : response.error_code;
  metrics_->Increment("presence_commands_refused_total",
                      {{"command", command}, {"reason", reason}});
  if (reason == "redis_unavailable" || reason == "redis_error" || reason == "outcome_unknown") {
    metrics_->Increment("presence_redis_errors_total", {{"component", "api"}});
  }
}

Response AgentRoutes::Refusal(const nlohmann::json& answer) {
  std::string code = FieldString(answer, "code", "internal_error");
  std::string message = FieldString(answer, "message", "the store refused the command");
  unsigned status = RefusalStatus(code);
  if (status == 500) {
    Logger("api")->error("unexpected store refusal {}: {}", code, message);
    code = "internal_error";
  }

  // The current state, so that the caller can recover without another read.
  nlohmann::json body = http::ErrorBody(code, message);
  auto agent = answer.find("agent");
  if (agent != answer.end() && agent->is_object()) {
    body["error"]["version"] = RecordVersion(*agent);
    std::string seq = FieldString(*agent, "seq");
    body["error"]["seq"] = seq.empty() ? nlohmann::json(nullptr) : nlohmann::json(seq);
  }
  return http::JsonResponse(status, body);
}

Response AgentRoutes::StoreFailure(const Error& error) {
  Logger("api")->warn("store call failed: {}", error.message);
  Response response;
  if (error.code == "redis_outcome_unknown") {
    // The command reached Redis and no answer came back: it may have been
    // applied. Commands are declarative, so sending it again is safe.
    response =
        http::ErrorResponse(503, "outcome_unknown",
                            error.message +
                                "; send the command again (with the same Idempotency-Key, if any) "
                                "to learn its outcome");
  } else {
    std::string code = error.code == "redis_unavailable" ? error.code : "redis_error";
    response = http::ErrorResponse(503, code, error.message);
  }
  response.SetHeader("Retry-After", "1");
  return response;
}

Task<Response> AgentRoutes::PutAgent(const http::Request& request) {
  auto command = ParsePutAgentRequest(request, limits_);
  if (!command.ok()) co_return Invalid(command.error());

  auto answer = co_await commands_.Put(*command);
  if (!answer.ok()) co_return StoreFailure(answer.error());
  if (!IsOk(*answer)) co_return MarkReplayed(Refusal(*answer), *answer);

  bool changed = answer->value("changed", false);
  bool created = answer->value("created", false);
  co_return MarkReplayed(AgentResponse(created ? 201 : 200, AgentOf(*answer), changed), *answer);
}

Task<Response> AgentRoutes::DeleteAgent(const http::Request& request) {
  auto command = ParseDeleteAgentRequest(request, limits_);
  if (!command.ok()) co_return Invalid(command.error());

  auto answer = co_await commands_.Delete(*command);
  if (!answer.ok()) co_return StoreFailure(answer.error());
  if (!IsOk(*answer)) co_return MarkReplayed(Refusal(*answer), *answer);

  // An agent that never existed has version 0 (as If-Match sees it).
  uint64_t version = RecordVersion(answer->value("agent", nlohmann::json()));
  const bool changed = answer->value("changed", false);
  nlohmann::json body = {{"tenant", command->tenant},
                         {"agent", command->agent},
                         {"changed", changed},
                         {"version", version}};
  Response response = http::JsonResponse(200, body);
  response.SetHeader("ETag", ETagOf(version));
  response.changed = changed;
  co_return MarkReplayed(response, *answer);
}

Task<Response> AgentRoutes::GetAgent(const http::Request& request) {
  auto key = ParseGetAgentRequest(request, limits_);
  if (!key.ok()) co_return Invalid(key.error());

  auto answer = co_await commands_.Get(key->tenant, key->agent);
  if (!answer.ok()) co_return StoreFailure(answer.error());
  if (!IsOk(*answer)) co_return Refusal(*answer);

  const nlohmann::json& record = AgentOf(*answer);
  Response response = http::JsonResponse(200, AgentView(record));
  response.SetHeader("ETag", ETagOf(RecordVersion(record)));
  co_return response;
}

Task<Response> AgentRoutes::ListAgents(const http::Request& request) {
  auto query = ParseListAgentsRequest(request, limits_);
  if (!query.ok()) co_return Invalid(query.error());

  auto answer = co_await commands_.List(query->tenant, query->cursor, query->limit);
  if (!answer.ok()) co_return StoreFailure(answer.error());
  if (!IsOk(*answer)) co_return Refusal(*answer);

  nlohmann::json agents = nlohmann::json::array();
  auto records = answer->find("agents");
  if (records != answer->end() && records->is_array()) {
    for (const auto& record : *records) agents.push_back(AgentView(record));
  }
  auto next = answer->find("next");
  nlohmann::json next_cursor =
      next != answer->end() && next->is_string() ? *next : nlohmann::json(nullptr);
  co_return http::JsonResponse(200, {{"agents", std::move(agents)}, {"next_cursor", next_cursor}});
}

Task<Response> AgentRoutes::PushPresence(const http::Request& request) {
  auto command = ParsePushPresenceRequest(request, now_ms_(), limits_);
  if (!command.ok()) co_return Invalid(command.error());

  auto answer = co_await commands_.PushPresence(*command);
  if (!answer.ok()) co_return StoreFailure(answer.error());
  if (!IsOk(*answer)) co_return MarkReplayed(Refusal(*answer), *answer);

  // One item was sent: its outcome decides the answer.
  auto results = answer->find("results");
  if (results == answer->end() || !results->is_array() || results->size() != 1) {
    Logger("api")->error("presence_apply answered without one result: {}", http::DumpJson(*answer));
    co_return MarkReplayed(
        http::ErrorResponse(500, "internal_error", "the store gave an unexpected answer"), *answer);
  }
  const nlohmann::json& result = (*results)[0];
  std::string outcome = FieldString(result, "outcome");
  nlohmann::json record = result.value("record", nlohmann::json());
  std::string name = command->tenant + "/" + command->agent;

  if (outcome == "changed" || outcome == "unchanged") {
    co_return MarkReplayed(AgentResponse(200, record, outcome == "changed"), *answer);
  }
  nlohmann::json refusal = {{"ok", false}, {"agent", record}};
  if (outcome == "missing") {
    refusal["code"] = "not_found";
    refusal["message"] = fmt::format("agent {} is not registered", name);
  } else if (outcome == "wrong_source") {
    refusal["code"] = "wrong_source";
    refusal["message"] =
        fmt::format("agent {} has source \"{}\"; presence can only be pushed for source \"push\"",
                    name, FieldString(record, "source"));
  } else if (outcome == "unreadable") {
    refusal["code"] = "corrupt_record";
    refusal["message"] =
        fmt::format("agent record {} cannot be read; run presencectl rebuild --repair", name);
  } else if (outcome == "stale_observation") {
    refusal["code"] = "stale_observation";
    refusal["message"] =
        fmt::format("observed_at {} is older than the current presence of agent {}, observed at {}",
                    FormatRfc3339Ms(command->observed_at_ms), name,
                    FormatRfc3339Ms(FieldUint(record, "observed_at", 0)));
  } else {
    refusal["code"] = outcome.empty() ? "internal_error" : outcome;
    refusal["message"] = fmt::format("unexpected outcome \"{}\" for agent {}", outcome, name);
  }
  co_return MarkReplayed(Refusal(refusal), *answer);
}

Task<Response> AgentRoutes::PushBatch(const http::Request& request) {
  auto command = ParsePresenceBatchRequest(request, now_ms_(), limits_);
  if (!command.ok()) co_return Invalid(command.error());
  const size_t items = command->items.size();

  auto answer = co_await commands_.PushBatch(std::move(*command));
  if (!answer.ok()) co_return StoreFailure(answer.error());
  if (!IsOk(*answer)) co_return Refusal(*answer);

  // Per item outcomes; the API's names for the store's (missing → not_found).
  nlohmann::json body = *answer;
  body.erase("ok");
  body["not_found"] = body.value("missing", uint64_t{0});
  body.erase("missing");
  for (auto& result : body["results"]) {
    if (result.value("outcome", "") == "missing") result["outcome"] = "not_found";
  }
  if (metrics_ != nullptr) {
    const uint64_t changed = body.value("changed", uint64_t{0});
    metrics_->Increment("presence_commands_applied_total",
                        {{"command", "push_presence_batch"}, {"changed", "true"}},
                        static_cast<double>(changed));
    metrics_->Increment("presence_events_appended_total", {{"origin", "api"}},
                        static_cast<double>(changed));
    Logger("api")->debug("presence batch of {} items: {} changed", items, changed);
  }
  co_return http::JsonResponse(200, body);
}

}  // namespace presence::api

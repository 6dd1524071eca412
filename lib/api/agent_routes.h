#pragma once

#include <cstdint>
#include <functional>

#include <nlohmann/json.hpp>

#include "api/agent_commands.h"
#include "api/validation.h"
#include "http/message.h"
#include "http/metrics.h"
#include "http/router.h"
#include "util/asio.h"
#include "util/result.h"

namespace presence::api {

// The agent routes of REST API v1. Each handler validates the whole request
// first (api/agent_requests.h), makes at most one store call, and maps the
// answer:
//   success          200 (PUT that created: 201), agent JSON (api/agent_view.h)
//                    with "changed", header ETag: "<version>"
//   not_found        404, error.version/seq when a tombstone is left
//   stale_seq        409, error.version and error.seq of the current record
//   version_mismatch 412, error.version of the current record
//   wrong_source, stale_observation  409
//   bad_cursor       400
//   store failure    503 redis_unavailable (or redis_error), Retry-After: 1
//
// Metrics (when a registry is given), for the three commands register,
// deregister and push_presence:
//   presence_commands_applied_total{command,changed}  2xx answers, changed
//                                                      "true" or "false"
//   presence_commands_refused_total{command,reason}   4xx/5xx answers by
//                                                      error code (validation,
//                                                      store refusal or failure)
//   presence_commands_replayed_total{command}         Idempotent-Replayed answers
//   presence_events_appended_total{origin="api"}      changed:true answers
//   presence_redis_errors_total{component="api"}      store calls that failed
// Handlers run on the io_context thread; `commands` and `metrics` must
// outlive the routes. Logs go to Logger("api").
class AgentRoutes {
 public:
  using Clock = std::function<uint64_t()>;  // ms since the epoch

  AgentRoutes(AgentCommands& commands, Clock now_ms, http::MetricsRegistry* metrics = nullptr);

  // Adds the five agent routes to `router`; the routes must outlive it.
  void AddTo(http::Router& router);

  // The limits on ids, JSON nesting and labels ([api] of presenced.toml);
  // RequestLimits{} until set.
  void SetLimits(const RequestLimits& limits) { limits_ = limits; }

  Task<http::Response> PutAgent(const http::Request& request);
  Task<http::Response> DeleteAgent(const http::Request& request);
  Task<http::Response> GetAgent(const http::Request& request);
  Task<http::Response> ListAgents(const http::Request& request);
  Task<http::Response> PushPresence(const http::Request& request);
  Task<http::Response> PushBatch(const http::Request& request);

  // The response to a store refusal ({"ok":false,"code":...}).
  static http::Response Refusal(const nlohmann::json& answer);
  // The response to a failed store call.
  static http::Response StoreFailure(const Error& error);

 private:
  // Awaits a command's answer and counts it in the metrics.
  Task<http::Response> Counted(const char* command, Task<http::Response> answer);
  void Count(const char* command, const http::Response& response);
  void DescribeMetrics();

  AgentCommands& commands_;
  Clock now_ms_;
  http::MetricsRegistry* metrics_;
  RequestLimits limits_;
};

// The system clock in ms since the epoch.
uint64_t SystemNowMs();

}  // namespace presence::api

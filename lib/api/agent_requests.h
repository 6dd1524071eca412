#pragma once

#include <cstdint>
#include <string>

#include "api/validation.h"
#include "http/message.h"
#include "store/agent_store.h"
#include "util/result.h"

// Turns the agent requests of REST API v1 into store commands. Pure: every
// check of invariant 11 happens here, before Redis is asked. Errors carry the
// API error code; ValidationStatus() (api/validation.h) gives the HTTP status.
// `limits` bound ids, JSON nesting and labels (api/validation.h).
namespace presence::api {

// PUT /v1/tenants/{tenant}/agents/{agent}
//   Content-Type application/json; body {"source": "graph"|"push",
//   "graph_user_id": GUID (graph only, required there), "seq": u64 or decimal
//   string (optional), "labels": {string: string} (optional)}; null counts as
//   absent for the optional fields. Unknown fields are refused. Header If-Match.
Result<store::PutAgentCommand> ParsePutAgentRequest(const http::Request& request,
                                                    const RequestLimits& limits = {});

// DELETE /v1/tenants/{tenant}/agents/{agent}[?seq=N]; header If-Match.
Result<store::DeleteAgentCommand> ParseDeleteAgentRequest(const http::Request& request,
                                                          const RequestLimits& limits = {});

// GET /v1/tenants/{tenant}/agents/{agent} (no query parameters).
struct AgentKey {
  std::string tenant;
  std::string agent;
};
Result<AgentKey> ParseGetAgentRequest(const http::Request& request,
                                      const RequestLimits& limits = {});

// GET /v1/tenants/{tenant}/agents?cursor=&limit=
struct ListAgentsQuery {
  std::string tenant;
  std::string cursor;  // "" for the first page
  uint32_t limit = 100;
};
inline constexpr size_t kMaxCursorLength = 256;
Result<ListAgentsQuery> ParseListAgentsRequest(const http::Request& request,
                                               const RequestLimits& limits = {});

// PUT /v1/tenants/{tenant}/agents/{agent}/presence
//   Content-Type application/json; body {"availability", "activity",
//   "observed_at" (optional: RFC 3339 string or integer ms; default now_ms)}.
Result<store::PushPresenceCommand> ParsePushPresenceRequest(const http::Request& request,
                                                            uint64_t now_ms,
                                                            const RequestLimits& limits = {});

}  // namespace presence::api

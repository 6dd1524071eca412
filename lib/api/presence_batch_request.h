#pragma once

#include <cstddef>
#include <cstdint>

#include "api/validation.h"
#include "http/message.h"
#include "store/agent_store.h"
#include "util/result.h"

namespace presence::api {

// Items of one POST /v1/tenants/{tenant}/presence. The body limit
// (http.max_body_bytes, 64 KiB by default) usually binds first: an item
// takes about 90 bytes.
inline constexpr size_t kMaxBatchItems = 1000;

// POST /v1/tenants/{tenant}/presence with {"items":[{"agent","availability",
// "activity","observed_at"?}, ...]}: pushed presence for many agents of one
// tenant. Every item is checked as PUT .../presence checks its body; an error
// names the item ("items[3].availability: ..."). A batch is declarative (a
// resent batch finds its observations applied and answers "unchanged"), so
// an Idempotency-Key is refused rather than silently ignored. `limits` bound
// ids and JSON nesting (api/validation.h).
Result<store::PresenceBatchCommand> ParsePresenceBatchRequest(const http::Request& request,
                                                              uint64_t now_ms,
                                                              const RequestLimits& limits = {});

}  // namespace presence::api

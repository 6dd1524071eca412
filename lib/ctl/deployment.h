#pragma once

#include <cstdint>
#include <optional>

#include "ctl/function_client.h"
#include "ctl/redis_connection.h"
#include "util/result.h"

namespace presence::ctl {

// The partition count P stored in presence:{ctl}:meta, or nullopt when the
// deployment has not been initialised yet.
Result<std::optional<uint32_t>> ReadPartitionCount(RedisConnection& redis);

// P, or the error "deployment not initialised: start presenced first".
Result<uint32_t> RequirePartitionCount(RedisConnection& redis);

// P when stored; otherwise stores `requested` through presence_init. When
// `requested_explicitly` and the stored P differs, that is an error.
Result<uint32_t> EnsurePartitionCount(FunctionClient& functions, uint32_t requested,
                                      bool requested_explicitly);

}  // namespace presence::ctl

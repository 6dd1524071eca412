#pragma once

#include <cstdint>
#include <string>

#include "store/redis_client.h"
#include "util/asio.h"
#include "util/result.h"

namespace presence::partition {

// Who asks for a lease: the instance id (for people) and the token drawn at
// this start of the process (for the store), so that a restarted instance
// never continues its previous life's leases.
struct Holder {
  std::string instance_id;
  std::string token;
};

struct LeaseGrant {
  uint64_t epoch = 0;
  uint64_t expires_at_ms = 0;  // Redis time
};

// Thin wrappers over the lease Functions (docs/redis-layout.md) for one lease
// key, a partition's or the leader's. A refusal is an error with code "held"
// (acquire) or "lost" (renew); a failed call has code "redis_unavailable".
Task<Result<LeaseGrant>> AcquireLease(store::RedisClient& redis, std::string key, Holder holder,
                                      uint32_t ttl_ms);
Task<Result<LeaseGrant>> RenewLease(store::RedisClient& redis, std::string key, Holder holder,
                                    uint64_t epoch, uint32_t ttl_ms);
Task<Status> ReleaseLease(store::RedisClient& redis, std::string key, Holder holder,
                          uint64_t epoch);

// Draws a random token (128 bits, hex) for Holder::token.
std::string NewToken();

}  // namespace presence::partition

#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ctl/redis_connection.h"
#include "util/result.h"

// What presencectl shows of partition ownership, read straight from the keys
// of docs/redis-layout.md (leases, job hashes, agents, the assignment).
namespace presence::ctl {

struct PartitionStatus {
  uint32_t partition = 0;
  std::string owner;         // instance holding an unexpired lease, empty when none
  std::string lease_holder;  // instance named in the lease hash, even if it expired
  int64_t epoch = 0;
  std::optional<int64_t> lease_expires_in_ms;  // negative when expired; none without a lease
  int64_t agents = 0;                          // registered: HLEN agents minus ZCARD tombs
  std::optional<int64_t> last_poll_age_ms;
  int64_t last_poll_agents = 0;
  std::string target;  // owner in presence:{ctl}:assignment, empty when none
};

struct ClusterStatus {
  int64_t now_ms = 0;  // Redis TIME
  int64_t assignment_generation = 0;
  std::vector<PartitionStatus> partitions;
};

// Reads every partition (pipelined, a window of partitions at a time).
Result<ClusterStatus> ReadClusterStatus(RedisConnection& redis, uint32_t partitions);

// Partitions per current owner; unowned ones are counted under "".
std::map<std::string, int> OwnerCounts(const ClusterStatus& status);

// "owners: a=22 b=21 c=21, unowned=0"
std::string FormatOwnerSummary(const ClusterStatus& status);

// Redis TIME in ms.
Result<int64_t> RedisTimeMs(RedisConnection& redis);

}  // namespace presence::ctl

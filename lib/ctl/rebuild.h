#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctl/function_client.h"
#include "ctl/redis_connection.h"
#include "util/result.h"

// `presencectl rebuild`: recomputes every agent's record from the events of
// the partition streams and compares it with the agents hashes.
//
// The events determine: state, version, source, graph_user_id, labels,
// created_at, updated_at (registered agents), availability, activity,
// presence_at, observed_at, presence_source. They do not determine seq (a
// repeated command records a greater seq without an event) nor a tombstone's
// expires_at (a configuration of presenced), so those are never compared.
// A stream trimmed by MAXLEN lost its oldest events: an agent without an
// event left is then not verifiable, and an agent whose registration event
// is gone is compared on the fields its remaining events set.
namespace presence::ctl {

struct FieldDifference {
  std::string field;
  nlohmann::json stored;    // null when the record is absent
  nlohmann::json expected;  // from the events
};

struct AgentDifference {
  std::string kind;  // "missing", "extra" or "mismatch"
  uint32_t partition = 0;
  std::string tenant;
  std::string agent;
  std::vector<FieldDifference> fields;
  // What --repair writes: the record (null: remove the agent); absent when it
  // cannot be rebuilt (registration older than the stream's first entry).
  bool repairable = false;
  nlohmann::json repaired;
};

struct PartitionHistory {
  uint32_t partition = 0;
  uint64_t events = 0;
  bool trimmed = false;       // entries were added that are no longer there
  std::string first_id;       // the oldest entry left ("" when empty)
  uint64_t unverifiable = 0;  // registered agents without any event left
};

struct RebuildReport {
  uint64_t events = 0;
  uint64_t agents = 0;  // agents known from Redis or the events
  uint64_t unverifiable = 0;
  std::vector<PartitionHistory> partitions;
  std::vector<AgentDifference> differences;
};

struct RebuildOptions {
  uint32_t partitions = 0;
  uint64_t tombstone_ms = 24ull * 3600 * 1000;  // expires_at of a rebuilt tombstone
};

Result<RebuildReport> Rebuild(RedisConnection& redis, const RebuildOptions& options);

// Writes one difference's repaired record through presence_repair.
Status Repair(FunctionClient& functions, const AgentDifference& difference);

nlohmann::json ToJson(const AgentDifference& difference);
// "mismatch  acme/alice  p3  version: stored 3, events 4; ..."
std::string ToLine(const AgentDifference& difference);

}  // namespace presence::ctl

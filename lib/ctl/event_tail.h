#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctl/redis_connection.h"
#include "util/result.h"

// Reading the partition event streams (presence:{pN}:events) for
// `presencectl events tail`: the last N across partitions merged by id, or
// everything from an id on, then optionally following new entries.
namespace presence::ctl {

// A stream entry id "MS-SEQ".
struct StreamId {
  uint64_t ms = 0;
  uint64_t seq = 0;

  // "MS-SEQ" or "MS" (sequence 0); nullopt when malformed.
  static std::optional<StreamId> Parse(std::string_view text);
  std::string ToString() const;
  // The id just before this one (for an exclusive XREAD start); 0-0 stays 0-0.
  StreamId Previous() const;

  auto operator<=>(const StreamId&) const = default;
};

struct Event {
  StreamId id;
  uint32_t partition = 0;
  std::string type;
  std::string tenant;
  std::string agent;
  std::string version;
  std::string at;
  std::string data;  // JSON text

  // One object: id, partition, type, tenant, agent, version, at (numbers),
  // data (the parsed object, or the text when it is not JSON).
  nlohmann::json ToJson() const;
  // "ID  pN  TYPE  TENANT/AGENT  vVERSION  DATA"
  std::string ToLine() const;
};

struct EventQuery {
  uint32_t partitions = 0;
  size_t count = 10;
  std::string tenant;  // only events of this tenant when not empty
};

// The last `count` events across all partitions (oldest first). `last_ids`
// receives, per partition, the newest id present (0-0 for an empty stream),
// the place to follow from without a gap.
Result<std::vector<Event>> ReadLastEvents(RedisConnection& redis, const EventQuery& query,
                                          std::vector<StreamId>& last_ids);

// The first `count` events with id >= `from` across all partitions.
Result<std::vector<Event>> ReadEventsFrom(RedisConnection& redis, const EventQuery& query,
                                          StreamId from);

// Blocks on XREAD over every partition stream, after `after[p]` for
// partition p, and calls `sink` for each new event in id order within each
// batch. Returns only on a Redis failure or when `sink` returns false.
Status FollowEvents(RedisConnection& redis, const EventQuery& query, std::vector<StreamId> after,
                    const std::function<bool(const Event&)>& sink);

}  // namespace presence::ctl

#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ctl/event_tail.h"
#include "ctl/redis_connection.h"
#include "util/result.h"

// `presencectl events replay`: delivering a slice of the partition streams
// again, either by placing a consumer group before it on every partition
// stream, or by copying it into another stream.
namespace presence::ctl {

// A position typed by the operator: a stream id "MS-SEQ", or a time as
// milliseconds since the epoch ("MS", the same as the stream id MS-0) or
// RFC 3339 ("2024-05-01T12:00:00Z", "2024-05-01T14:00:00.250+02:00").
// `end` makes a bare time inclusive of its whole millisecond (MS-max).
std::optional<StreamId> ParsePosition(std::string_view text, bool end);

struct GroupReplay {
  uint32_t partitions = 0;
  uint64_t created = 0;    // groups created (XGROUP CREATE ... MKSTREAM)
  uint64_t reset = 0;      // existing groups moved (XGROUP SETID)
  uint64_t delivered = 0;  // entries from the position on, what the group will deliver
};

// Creates or moves the consumer group `group` on every partition stream so
// that its next delivery is the first entry with id >= from.
Result<GroupReplay> ReplayIntoGroup(RedisConnection& redis, uint32_t partitions,
                                    const std::string& group, StreamId from);

struct CopyRange {
  StreamId from;
  std::optional<StreamId> to;  // inclusive
  std::string tenant;          // every tenant when empty
};

struct CopyReplay {
  uint64_t scanned = 0;
  uint64_t copied = 0;
  std::vector<uint64_t> per_partition;
};

// Whether `stream` may be the target of ReplayIntoStream: a key of the
// service's own (any under "presence:" but "presence:replay:...") is refused,
// so that a copy can never overwrite state the Functions rely on; so are an
// empty name and one with control characters or spaces.
Status CheckReplayTarget(const std::string& stream);

// Copies the selected events into `stream` in id order across partitions
// (XADD with a new id), each with its fields plus `source_id` (the original
// id) and `partition`.
Result<CopyReplay> ReplayIntoStream(RedisConnection& redis, uint32_t partitions,
                                    const CopyRange& range, const std::string& stream);

}  // namespace presence::ctl

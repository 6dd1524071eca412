#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "graph/presence_reader.h"
#include "graph/throttle.h"
#include "partition/ownership.h"
#include "presence/roster.h"
#include "store/redis_client.h"
#include "util/asio.h"

namespace presence::jobs {

struct PollOptions {
  uint32_t partitions = 64;
  std::chrono::milliseconds interval{5000};
  uint32_t batch_size = 650;  // ids per getPresencesByUserId, at most 650
  uint64_t events_maxlen = 1000000;
  std::chrono::milliseconds sweep_interval{60000};  // tombstone clean-up
  uint32_t roster_page = 1000;  // records per presence_roster call (HSCAN COUNT)
  size_t apply_chunk = 500;     // changes per presence_apply call
};

// Counters of the poll job since start, for logs and metrics.
struct PollStats {
  uint64_t rounds = 0;
  uint64_t graph_requests = 0;   // getPresencesByUserId requests sent
  uint64_t graph_errors = 0;     // of those, the ones that failed (throttled included)
  uint64_t graph_throttled = 0;  // of those, the ones answered 429 or 503
  uint64_t budget_waits = 0;     // requests not sent: the shared tenant budget was used up
  uint64_t changes_applied = 0;  // presence changes written (events appended)
  uint64_t stale_writes = 0;     // writes refused because the lease moved on
  uint64_t redis_errors = 0;     // roster, budget, write and sweep calls that failed
};

// The presence job of every partition this instance owns. Each round it
//   1. re-reads the roster of owned partitions whose revision moved,
//   2. asks Graph for the presence of all their agents, tenant by tenant,
//      in batches of at most batch_size ids that span partitions,
//   3. writes only real changes through presence_apply, per tenant as soon
//      as it answered and per partition, fenced by the partition's lease
//      epoch; then each partition's poll report.
// A tenant answered 429/503 is left alone until its Retry-After has passed.
class PollJob {
 public:
  PollJob(store::RedisClient& redis, partition::Ownership& ownership, graph::PresenceReader& reader,
          graph::GraphBudget& budget, PollOptions options);

  Task<void> Run();
  void Stop();

  const PollStats& stats() const { return stats_; }

 private:
  // Where a Graph user id is tracked: partition and index in its roster.
  struct Slot {
    uint32_t partition;
    uint32_t index;
  };
  // One agent of a tenant to poll, by its Graph user; a round sorts them by
  // user, so the agents one user backs are neighbours.
  struct UserSlot {
    GuidBytes user;
    Slot slot;
  };
  struct Change {
    Slot slot;
    const std::string* availability;  // interned (roster.h)
    const std::string* activity;
  };

  Task<void> Round();
  Task<void> RefreshRosters(const std::map<uint32_t, uint64_t>& owned);
  Task<Result<PartitionRoster>> ReadRoster(uint32_t partition);
  Task<size_t> PollAndApply(std::string tenant, std::vector<UserSlot> users,
                            std::map<uint32_t, uint64_t> owned);
  Task<std::vector<Change>> PollTenant(std::string tenant, std::vector<UserSlot> users);
  Task<void> Apply(uint32_t partition, uint64_t epoch, std::vector<Change> changes);
  Task<bool> ApplyChunk(uint32_t partition, uint64_t epoch, std::vector<Change> changes);
  Task<void> Sweep(const std::map<uint32_t, uint64_t>& owned);

  store::RedisClient& redis_;
  partition::Ownership& ownership_;
  graph::PresenceReader& reader_;
  graph::GraphBudget& budget_;
  PollOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  bool stopping_ = false;

  std::map<uint32_t, PartitionRoster> rosters_;
  std::map<std::string, std::chrono::steady_clock::time_point> blocked_until_;
  std::map<std::string, std::chrono::milliseconds> backoff_;  // throttled without Retry-After
  std::chrono::steady_clock::time_point last_sweep_{};
  PollStats stats_;
};

}  // namespace presence::jobs

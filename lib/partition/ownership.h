#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "partition/lease.h"
#include "partition/options.h"
#include "store/redis_client.h"
#include "util/asio.h"

namespace presence::partition {

// The partitions this instance works on. Every tick it reads the target
// assignment and
//   - releases the leases of partitions no longer targeted to it (after
//     forgetting them locally, so its jobs stop before the lease goes),
//   - renews the others every renew_ms,
//   - acquires the partitions targeted to it whose lease is free.
// A lease whose renewal does not succeed before its local monotonic
// deadline (before the lease can expire in Redis) is dropped at once.
// Runs on the io_context thread; the accessors may be called from any
// coroutine on that thread.
class Ownership {
 public:
  // Counters since start, for logs and metrics.
  struct Stats {
    uint64_t acquisitions = 0;  // leases acquired
    uint64_t renewals = 0;      // leases renewed
    uint64_t releases = 0;      // leases given back (reassigned or handoff)
    uint64_t lost = 0;          // renewal refused: the lease was taken or expired in Redis
    uint64_t expired = 0;       // renewal not confirmed before the local deadline
    uint64_t stale = 0;         // a job's write was refused as stale (Forget)
    uint64_t redis_errors = 0;  // lease calls that failed (Redis unreachable, timeout)
  };

  struct Owned {
    uint64_t epoch = 0;
    std::chrono::steady_clock::time_point renewed_at;  // when the last renewal was sent
    std::chrono::steady_clock::time_point deadline;    // stop working after this
  };

  Ownership(store::RedisClient& redis, Holder holder, CoordinationOptions options,
            std::function<bool()> may_acquire);

  Task<void> Run();
  void Stop();

  // Stops every job and releases every lease at once (SIGTERM handoff).
  Task<void> ReleaseAll();

  // The epoch this instance holds partition p at, if it owns p and its
  // deadline has not passed.
  std::optional<uint64_t> EpochOf(uint32_t partition) const;

  // Owned partitions and epochs, for the jobs.
  std::map<uint32_t, uint64_t> Snapshot() const;

  // Called by a job whose write was refused as stale: the lease is gone.
  void Forget(uint32_t partition);

  uint32_t owned_count() const { return static_cast<uint32_t>(owned_.size()); }
  const Holder& holder() const { return holder_; }
  const Stats& stats() const { return stats_; }

  // True once a tick read an assignment naming any owner and, after it, this
  // instance owned every partition the assignment gives it (possibly none).
  // Stays true afterwards: readiness, not a health signal of every tick.
  bool settled() const { return settled_; }

 private:
  Task<void> Tick();
  Task<void> Release(const std::vector<uint32_t>& partitions);
  Task<void> Renew(const std::vector<uint32_t>& partitions);
  Task<void> Acquire(const std::vector<uint32_t>& partitions);
  void DropExpired();
  bool OwnsAll(const std::vector<bool>& mine) const;

  store::RedisClient& redis_;
  Holder holder_;
  CoordinationOptions options_;
  std::function<bool()> may_acquire_;
  std::shared_ptr<spdlog::logger> log_;
  bool stopping_ = false;
  bool settled_ = false;
  std::map<uint32_t, Owned> owned_;
  Stats stats_;
};

}  // namespace presence::partition

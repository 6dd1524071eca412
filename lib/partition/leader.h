#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "partition/assignment.h"
#include "partition/lease.h"
#include "partition/options.h"
#include "store/redis_client.h"
#include "util/asio.h"

namespace presence::partition {

// The leader is the one instance holding the leader lease. It alone writes
// the target assignment (with a generation number), fenced by its lease
// epoch: when the live members change it computes a balanced assignment that
// moves as few partitions as possible. A member that disappears is handled at
// once; new members are taken in only after the set has been stable for
// stabilization_ms, so a burst of joins moves partitions once.
class Leader {
 public:
  Leader(store::RedisClient& redis, Holder holder, CoordinationOptions options);

  // Competes for leadership and leads until Stop(); returns then.
  Task<void> Run();
  void Stop();

  // Gives up the leader lease so that another instance takes over at once.
  Task<void> Resign();

  bool leading() const { return epoch_.has_value(); }

 private:
  Task<void> Tick();
  Task<void> HoldLease();
  Task<void> Reconcile();
  Task<Status> Write(const std::vector<std::string>& members, const Assignment& previous);

  store::RedisClient& redis_;
  Holder holder_;
  CoordinationOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  bool stopping_ = false;

  std::optional<uint64_t> epoch_;
  std::chrono::steady_clock::time_point renewed_at_{};
  std::chrono::steady_clock::time_point deadline_{};

  // The member set seen last and since when, for the stabilisation window.
  std::vector<std::string> seen_members_;
  std::chrono::steady_clock::time_point seen_since_{};
};

}  // namespace presence::partition

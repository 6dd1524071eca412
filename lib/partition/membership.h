#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include <spdlog/logger.h>

#include "partition/lease.h"
#include "partition/options.h"
#include "store/redis_client.h"
#include "util/asio.h"

namespace presence::partition {

// This instance's membership: a heartbeat in Redis every heartbeat_ms, with
// an expiry in Redis time (DESIGN.md invariant 8). Runs on the io_context
// thread.
class Membership {
 public:
  Membership(store::RedisClient& redis, Holder holder, std::string address,
             CoordinationOptions options, std::function<uint32_t()> owned_count);

  // Heartbeats until Stop(); returns then.
  Task<void> Run();
  void Stop();

  // Leaves at once so that the leader reassigns without waiting for expiry.
  Task<void> Leave();

  // True once a heartbeat has been accepted and until one fails.
  bool joined() const { return joined_; }

 private:
  Task<void> Beat();

  store::RedisClient& redis_;
  Holder holder_;
  std::string address_;
  CoordinationOptions options_;
  std::function<uint32_t()> owned_count_;
  std::shared_ptr<spdlog::logger> log_;
  bool joined_ = false;
  bool stopping_ = false;
  std::string last_problem_;
};

}  // namespace presence::partition

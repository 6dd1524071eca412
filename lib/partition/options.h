#pragma once

#include <chrono>
#include <cstdint>

namespace presence::partition {

// Timings of membership, leadership and partition leases; see
// conf/presenced.toml for what each means and its default.
struct CoordinationOptions {
  uint32_t partitions = 64;
  uint32_t lease_ms = 2000;
  uint32_t renew_ms = 500;
  uint32_t heartbeat_ms = 500;
  uint32_t member_ttl_ms = 2000;
  uint32_t stabilization_ms = 1000;
  std::chrono::milliseconds tick{100};  // how often assignment and leases are looked at

  // How long before a lease's nominal end its holder stops working: covers
  // clock-rate differences between this host and Redis.
  std::chrono::milliseconds SafetyMargin() const {
    return std::chrono::milliseconds(std::max<uint32_t>(100, lease_ms / 10));
  }
};

}  // namespace presence::partition

#include "partition/ownership.h"

#include <cctype>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "store/keys.h"
#include "util/log.h"
#include "util/sleep.h"
#include "util/strings.h"
#include "util/when_all.h"

namespace presence::partition {

namespace {

using Clock = std::chrono::steady_clock;

// A lease call that failed in the store rather than being refused.
bool IsStoreFailure(const Error& error) { return error.code != "held" && error.code != "lost"; }

}  // namespace

Ownership::Ownership(store::RedisClient& redis, Holder holder, CoordinationOptions options,
                     std::function<bool()> may_acquire)
    : redis_(redis),
      holder_(std::move(holder)),
      options_(options),
      may_acquire_(std::move(may_acquire)),
      log_(Logger("lease")) {}

Task<void> Ownership::Run() {
  while (!stopping_) {
    co_await Tick();
    co_await SleepFor(options_.tick);
  }
}

void Ownership::Stop() { stopping_ = true; }

Task<void> Ownership::Tick() {
  DropExpired();
  auto assignment = co_await redis_.Command(Strings("HGETALL", store::keys::Assignment()));
  if (!assignment || assignment->is_error() || stopping_) co_return;

  // Which partitions the leader wants here.
  std::vector<bool> mine(options_.partitions, false);
  bool assigned = false;  // the assignment names an owner for some partition
  const auto& fields = assignment->elements;
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    const auto& name = fields[i].str;
    if (name.size() < 2 || name[0] != 'p' || !std::isdigit(static_cast<unsigned char>(name[1])))
      continue;
    assigned = true;
    if (fields[i + 1].str != holder_.instance_id) continue;
    auto p = std::strtoul(name.c_str() + 1, nullptr, 10);
    if (p < options_.partitions) mine[p] = true;
  }

  std::vector<uint32_t> to_release, to_renew, to_acquire;
  auto now = Clock::now();
  for (const auto& [p, owned] : owned_) {
    if (!mine[p]) {
      to_release.push_back(p);
    } else if (now - owned.renewed_at >= std::chrono::milliseconds(options_.renew_ms)) {
      to_renew.push_back(p);
    }
  }
  if (may_acquire_()) {
    for (uint32_t p = 0; p < options_.partitions; ++p) {
      if (mine[p] && !owned_.count(p)) to_acquire.push_back(p);
    }
  }
  co_await Release(to_release);
  co_await Renew(to_renew);
  co_await Acquire(to_acquire);
  if (!settled_ && assigned && !stopping_) settled_ = OwnsAll(mine);
}

bool Ownership::OwnsAll(const std::vector<bool>& mine) const {
  for (uint32_t p = 0; p < mine.size(); ++p) {
    if (mine[p] && !owned_.count(p)) return false;
  }
  return true;
}

void Ownership::DropExpired() {
  auto now = Clock::now();
  std::vector<uint32_t> dropped;
  for (auto it = owned_.begin(); it != owned_.end();) {
    if (now >= it->second.deadline) {
      dropped.push_back(it->first);
      it = owned_.erase(it);
    } else {
      ++it;
    }
  }
  stats_.expired += dropped.size();
  if (!dropped.empty()) {
    log_->warn(
        "stopped partitions {}: lease not renewed before its local deadline, now owning "
        "{}/{}",
        fmt::join(dropped, ","), owned_.size(), options_.partitions);
  }
}

Task<void> Ownership::Release(const std::vector<uint32_t>& partitions) {
  if (partitions.empty()) co_return;
  // Forget first: jobs check ownership before every write, so they stop here.
  std::vector<Task<Status>> calls;
  for (auto p : partitions) {
    auto epoch = owned_[p].epoch;
    owned_.erase(p);
    calls.push_back(ReleaseLease(redis_, store::keys::Lease(p), holder_, epoch));
  }
  auto results = co_await WhenAll(std::move(calls));
  stats_.releases += partitions.size();
  for (const auto& result : results) {
    if (!result && IsStoreFailure(result.error())) ++stats_.redis_errors;
  }
  log_->info("released partitions {}, now owning {}/{}", fmt::join(partitions, ","), owned_.size(),
             options_.partitions);
}

Task<void> Ownership::Renew(const std::vector<uint32_t>& partitions) {
  if (partitions.empty()) co_return;
  auto sent = Clock::now();
  std::vector<Task<Result<LeaseGrant>>> calls;
  for (auto p : partitions) {
    calls.push_back(
        RenewLease(redis_, store::keys::Lease(p), holder_, owned_[p].epoch, options_.lease_ms));
  }
  auto results = co_await WhenAll(std::move(calls));

  std::vector<uint32_t> lost;
  for (size_t i = 0; i < partitions.size(); ++i) {
    auto it = owned_.find(partitions[i]);
    if (it == owned_.end()) continue;
    if (results[i]) {
      ++stats_.renewals;
      it->second.renewed_at = sent;
      it->second.deadline =
          sent + std::chrono::milliseconds(options_.lease_ms) - options_.SafetyMargin();
    } else if (results[i].error().code == "lost") {
      lost.push_back(partitions[i]);
      owned_.erase(it);
    } else if (IsStoreFailure(results[i].error())) {
      ++stats_.redis_errors;
    }
    // Redis unreachable: keep working until the local deadline, then stop.
  }
  stats_.lost += lost.size();
  if (!lost.empty()) {
    log_->warn("lost partitions {} (lease taken or expired), now owning {}/{}",
               fmt::join(lost, ","), owned_.size(), options_.partitions);
  }
}

Task<void> Ownership::Acquire(const std::vector<uint32_t>& partitions) {
  if (partitions.empty()) co_return;
  auto sent = Clock::now();
  std::vector<Task<Result<LeaseGrant>>> calls;
  for (auto p : partitions) {
    calls.push_back(AcquireLease(redis_, store::keys::Lease(p), holder_, options_.lease_ms));
  }
  auto results = co_await WhenAll(std::move(calls));
  for (const auto& result : results) {
    if (!result && IsStoreFailure(result.error())) ++stats_.redis_errors;
  }
  if (stopping_) co_return;  // a handoff started meanwhile; the leases expire on their own

  std::vector<std::string> acquired;
  for (size_t i = 0; i < partitions.size(); ++i) {
    if (!results[i]) continue;  // still held by the previous owner: try again next tick
    ++stats_.acquisitions;
    auto deadline = sent + std::chrono::milliseconds(options_.lease_ms) - options_.SafetyMargin();
    owned_[partitions[i]] = Owned{results[i]->epoch, sent, deadline};
    acquired.push_back(fmt::format("{}@{}", partitions[i], results[i]->epoch));
  }
  if (!acquired.empty()) {
    log_->info("acquired partitions {} (partition@epoch), now owning {}/{}",
               fmt::join(acquired, ","), owned_.size(), options_.partitions);
  }
}

Task<void> Ownership::ReleaseAll() {
  stopping_ = true;
  std::vector<uint32_t> all;
  for (const auto& [p, owned] : owned_) all.push_back(p);
  co_await Release(all);
}

std::optional<uint64_t> Ownership::EpochOf(uint32_t partition) const {
  auto it = owned_.find(partition);
  if (it == owned_.end() || Clock::now() >= it->second.deadline) return std::nullopt;
  return it->second.epoch;
}

std::map<uint32_t, uint64_t> Ownership::Snapshot() const {
  std::map<uint32_t, uint64_t> snapshot;
  auto now = Clock::now();
  for (const auto& [p, owned] : owned_) {
    if (now < owned.deadline) snapshot[p] = owned.epoch;
  }
  return snapshot;
}

void Ownership::Forget(uint32_t partition) {
  if (owned_.erase(partition)) {
    ++stats_.stale;
    log_->warn("partition {} refused a write as stale, stopped, now owning {}/{}", partition,
               owned_.size(), options_.partitions);
  }
}

}  // namespace presence::partition

#include "partition/leader.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "store/functions.h"
#include "store/keys.h"
#include "util/json_fields.h"
#include "util/log.h"
#include "util/sleep.h"
#include "util/strings.h"

namespace presence::partition {

namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> SplitCsv(const std::string& text) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start < text.size()) {
    auto comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    if (comma > start) parts.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return parts;
}

bool Includes(const std::vector<std::string>& big, const std::vector<std::string>& small) {
  return std::includes(big.begin(), big.end(), small.begin(), small.end());
}

// Tells `presencectl rebalance` which generation answered its request: the
// one just written (only this leader writes, fenced by the same epoch).
Task<void> AcknowledgeRebalance(store::RedisClient& redis, const Holder& holder, uint64_t epoch,
                                const std::string& request, spdlog::logger& log) {
  auto generation =
      co_await redis.Command(Strings("HGET", store::keys::Assignment(), "generation"));
  if (!generation || generation->is_error()) co_return;
  auto answer = co_await store::CallFunction(
      redis, "presence_rebalance_ack", Strings(store::keys::Rebalance(), store::keys::Leader()),
      Strings(holder.token, std::to_string(epoch), request, generation->str));
  if (!answer || !answer->value("ok", false)) {
    log.warn("rebalance request {} not acknowledged: {}", request,
             answer ? answer->dump() : answer.error().message);
    co_return;
  }
  log.info("rebalance request {} answered with generation {}", request, generation->str);
}

}  // namespace

Leader::Leader(store::RedisClient& redis, Holder holder, CoordinationOptions options)
    : redis_(redis), holder_(std::move(holder)), options_(options), log_(Logger("leader")) {}

Task<void> Leader::Run() {
  while (!stopping_) {
    co_await Tick();
    co_await SleepFor(options_.tick);
  }
}

void Leader::Stop() { stopping_ = true; }

Task<void> Leader::Tick() {
  co_await HoldLease();
  if (epoch_ && !stopping_) co_await Reconcile();
}

// Acquires the leader lease, or renews it every renew_ms; a leader whose
// local deadline passes stops leading before the lease can expire in Redis.
Task<void> Leader::HoldLease() {
  auto now = Clock::now();
  if (epoch_ && now >= deadline_) {
    log_->warn("leader lease not renewed in time (epoch {}), stepping down", *epoch_);
    epoch_.reset();
  }
  if (epoch_ && now - renewed_at_ < std::chrono::milliseconds(options_.renew_ms)) co_return;

  auto sent = Clock::now();
  // Two statements, not a conditional expression with a co_await in each
  // arm: g++ 12 destroys the result twice in that form.
  Result<LeaseGrant> grant = MakeError("unset", "");
  if (epoch_) {
    grant = co_await RenewLease(redis_, store::keys::Leader(), holder_, *epoch_, options_.lease_ms);
  } else {
    grant = co_await AcquireLease(redis_, store::keys::Leader(), holder_, options_.lease_ms);
  }
  if (!grant) {
    if (epoch_) log_->warn("lost leadership: {}", grant.error().message);
    epoch_.reset();
    co_return;
  }
  if (!epoch_) {
    log_->info("leading (epoch {})", grant->epoch);
    seen_members_.clear();
  }
  epoch_ = grant->epoch;
  renewed_at_ = sent;
  deadline_ = sent + std::chrono::milliseconds(options_.lease_ms) - options_.SafetyMargin();
}

// Compares the live members with the current assignment and writes a new
// one when they differ (at once for departures, after the window for joins).
Task<void> Leader::Reconcile() {
  auto members_answer = co_await store::CallFunction(redis_, "presence_members",
                                                     Strings(store::keys::Members()), Strings());
  auto current = co_await redis_.Command(Strings("HGETALL", store::keys::Assignment()));
  if (!members_answer || !current || current->is_error()) co_return;

  std::vector<std::string> alive;
  for (const auto& m : (*members_answer)["members"]) {
    if (FieldString(m, "alive") == "1" && FieldString(m, "draining", "0") != "1") {
      alive.push_back(FieldString(m, "id"));
    }
  }
  std::sort(alive.begin(), alive.end());

  Assignment previous(options_.partitions);
  std::vector<std::string> assigned_members;
  const auto& fields = current->elements;
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    const auto& name = fields[i].str;
    if (name == "members") assigned_members = SplitCsv(fields[i + 1].str);
    if (name.size() > 1 && name[0] == 'p') {
      auto p = static_cast<uint32_t>(std::strtoul(name.c_str() + 1, nullptr, 10));
      if (p < options_.partitions) previous[p] = fields[i + 1].str;
    }
  }
  std::sort(assigned_members.begin(), assigned_members.end());

  // An operator's `presencectl rebalance` is acted on at once, whatever the
  // member set and the stabilisation window.
  std::string rebalance = FieldString(*members_answer, "rebalance_request");

  // Track how long this member set has been seen unchanged.
  auto now = Clock::now();
  if (alive != seen_members_) {
    seen_members_ = alive;
    seen_since_ = now;
  }
  if (alive == assigned_members && rebalance.empty()) co_return;
  bool only_departures = Includes(assigned_members, alive) && !assigned_members.empty();
  bool stable = now - seen_since_ >= std::chrono::milliseconds(options_.stabilization_ms);
  if (!only_departures && !stable && rebalance.empty()) co_return;

  auto written = co_await Write(alive, previous);
  if (!written) {
    log_->warn("assignment not written: {}", written.error().message);
    co_return;
  }
  if (!rebalance.empty() && epoch_) {
    co_await AcknowledgeRebalance(redis_, holder_, *epoch_, rebalance, *log_);
  }
}

Task<Status> Leader::Write(const std::vector<std::string>& members, const Assignment& previous) {
  auto next = ComputeAssignment(options_.partitions, members, previous);
  std::vector<std::string> args = {holder_.token, std::to_string(*epoch_),
                                   fmt::format("{}", fmt::join(members, ","))};
  for (uint32_t p = 0; p < next.size(); ++p) {
    args.push_back(std::to_string(p));
    args.push_back(next[p]);
  }
  auto answer = co_await store::CallFunction(
      redis_, "presence_assignment_write",
      Strings(store::keys::Assignment(), store::keys::Leader(), store::keys::Members()),
      std::move(args));
  if (!answer) co_return answer.error();
  if (!answer->value("ok", false)) {
    epoch_.reset();
    co_return MakeError(answer->value("code", std::string("refused")),
                        "leader lease no longer held");
  }
  log_->info("assignment generation {}: members {} ({}), {} partitions moved",
             FieldUint(*answer, "generation"), members.size(), fmt::join(members, ","),
             CountMoves(previous, next));
  co_return Ok{};
}

Task<void> Leader::Resign() {
  stopping_ = true;
  if (!epoch_) co_return;
  auto epoch = *epoch_;
  epoch_.reset();
  auto released = co_await ReleaseLease(redis_, store::keys::Leader(), holder_, epoch);
  if (released) log_->info("resigned leadership (epoch {})", epoch);
}

}  // namespace presence::partition

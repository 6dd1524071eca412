#include "partition/membership.h"

#include "store/functions.h"
#include "store/keys.h"
#include "util/log.h"
#include "util/sleep.h"
#include "util/strings.h"

namespace presence::partition {

Membership::Membership(store::RedisClient& redis, Holder holder, std::string address,
                       CoordinationOptions options, std::function<uint32_t()> owned_count)
    : redis_(redis),
      holder_(std::move(holder)),
      address_(std::move(address)),
      options_(options),
      owned_count_(std::move(owned_count)),
      log_(Logger("member")) {}

Task<void> Membership::Run() {
  while (!stopping_) {
    co_await Beat();
    co_await SleepFor(std::chrono::milliseconds(options_.heartbeat_ms));
  }
}

void Membership::Stop() { stopping_ = true; }

Task<void> Membership::Beat() {
  auto answer = co_await store::CallFunction(
      redis_, "presence_member_heartbeat",
      Strings(store::keys::Members(), store::keys::Member(holder_.instance_id)),
      Strings(holder_.instance_id, holder_.token, std::to_string(options_.member_ttl_ms), address_,
              std::to_string(owned_count_())));

  // Log only transitions, not every beat.
  std::string problem;
  if (!answer) {
    problem = answer.error().message;
  } else if (!answer->value("ok", false)) {
    problem = "instance id '" + holder_.instance_id + "' is in use by another live process";
  }
  bool was_joined = joined_;
  joined_ = problem.empty();
  if (joined_ && !was_joined) {
    log_->info("joined as {} (heartbeat every {} ms, expiry {} ms)", holder_.instance_id,
               options_.heartbeat_ms, options_.member_ttl_ms);
  } else if (!joined_ && problem != last_problem_) {
    log_->warn("heartbeat failed: {}", problem);
  }
  last_problem_ = problem;
}

Task<void> Membership::Leave() {
  stopping_ = true;
  auto answer = co_await store::CallFunction(
      redis_, "presence_member_leave",
      Strings(store::keys::Members(), store::keys::Member(holder_.instance_id)),
      Strings(holder_.instance_id, holder_.token));
  joined_ = false;
  if (!answer) {
    log_->warn("leave failed, membership will expire in {} ms: {}", options_.member_ttl_ms,
               answer.error().message);
  } else {
    log_->info("left the membership");
  }
}

}  // namespace presence::partition

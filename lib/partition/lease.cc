#include "partition/lease.h"
#include "util/strings.h"

#include <openssl/rand.h>

#include <fmt/format.h>

#include "store/functions.h"
#include "util/json_fields.h"

namespace presence::partition {

namespace {

Result<LeaseGrant> ToGrant(const Result<nlohmann::json>& answer, const std::string& key) {
  if (!answer) return answer.error();
  const auto& json = *answer;
  if (!json.value("ok", false)) {
    auto code = json.value("code", std::string("refused"));
    return MakeError(code,
                     fmt::format("lease {}: {} (held by {} at epoch {})", key, code,
                                 FieldString(json, "instance", "?"), FieldUint(json, "epoch")));
  }
  return LeaseGrant{FieldUint(json, "epoch"), FieldUint(json, "expires_at")};
}

}  // namespace

Task<Result<LeaseGrant>> AcquireLease(store::RedisClient& redis, std::string key, Holder holder,
                                      uint32_t ttl_ms) {
  auto answer = co_await store::CallFunction(
      redis, "presence_lease_acquire", Strings(key),
      Strings(holder.token, holder.instance_id, std::to_string(ttl_ms)));
  co_return ToGrant(answer, key);
}

Task<Result<LeaseGrant>> RenewLease(store::RedisClient& redis, std::string key, Holder holder,
                                    uint64_t epoch, uint32_t ttl_ms) {
  auto answer = co_await store::CallFunction(
      redis, "presence_lease_renew", Strings(key),
      Strings(holder.token, std::to_string(epoch), std::to_string(ttl_ms)));
  co_return ToGrant(answer, key);
}

Task<Status> ReleaseLease(store::RedisClient& redis, std::string key, Holder holder,
                          uint64_t epoch) {
  auto answer = co_await store::CallFunction(redis, "presence_lease_release", Strings(key),
                                             Strings(holder.token, std::to_string(epoch)));
  if (!answer) co_return answer.error();
  co_return Ok{};
}

std::string NewToken() {
  unsigned char bytes[16];
  RAND_bytes(bytes, sizeof(bytes));
  std::string token;
  for (auto b : bytes) token += fmt::format("{:02x}", b);
  return token;
}

}  // namespace presence::partition

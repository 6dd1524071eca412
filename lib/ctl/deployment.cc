#include "ctl/deployment.h"

#include <charconv>

#include <fmt/format.h>

#include "store/keys.h"

namespace presence::ctl {
namespace {

Result<uint32_t> ParsePartitionCount(const RedisEndpoint& endpoint, const std::string& text) {
  uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value == 0) {
    return MakeError("bad_deployment",
                     fmt::format("redis {}: {} field partitions '{}' is not a positive number",
                                 endpoint.ToString(), store::keys::Meta(), text));
  }
  return value;
}

}  // namespace

Result<std::optional<uint32_t>> ReadPartitionCount(RedisConnection& redis) {
  Result<store::RedisReply> reply = redis.Command({"HGET", store::keys::Meta(), "partitions"});
  if (!reply) return reply.error();
  if (reply->is_error()) {
    return MakeError("redis_error",
                     fmt::format("redis {}: HGET {}: {}", redis.endpoint().ToString(),
                                 store::keys::Meta(), reply->str));
  }
  if (reply->is_nil()) return std::optional<uint32_t>();
  Result<uint32_t> count = ParsePartitionCount(redis.endpoint(), reply->str);
  if (!count) return count.error();
  return std::optional<uint32_t>(*count);
}

Result<uint32_t> RequirePartitionCount(RedisConnection& redis) {
  Result<std::optional<uint32_t>> stored = ReadPartitionCount(redis);
  if (!stored) return stored.error();
  if (!stored->has_value()) {
    return MakeError("not_initialised", "deployment not initialised: start presenced first");
  }
  return **stored;
}

Result<uint32_t> EnsurePartitionCount(FunctionClient& functions, uint32_t requested,
                                      bool requested_explicitly) {
  Result<std::optional<uint32_t>> stored = ReadPartitionCount(functions.redis());
  if (!stored) return stored.error();
  uint32_t count = stored->value_or(0);

  // First use of this Redis: store P the same way presenced does.
  if (!stored->has_value()) {
    Result<nlohmann::json> answer = functions.Call(
        {"presence_init", {store::keys::Meta()}, {std::to_string(requested)}, false});
    if (!answer) return answer.error();
    const nlohmann::json& partitions = answer->value("partitions", nlohmann::json());
    Result<uint32_t> parsed =
        partitions.is_number_unsigned()
            ? Result<uint32_t>(partitions.get<uint32_t>())
            : ParsePartitionCount(functions.redis().endpoint(),
                                  partitions.is_string() ? partitions.get<std::string>() : "");
    if (!answer->value("ok", false) || !parsed) {
      return MakeError("refused", fmt::format("presence_init refused: {}", answer->dump()));
    }
    count = *parsed;
  }

  if (requested_explicitly && count != requested) {
    return MakeError(
        "partitions_mismatch",
        fmt::format("deployment has {} partitions, --partitions {} given", count, requested));
  }
  return count;
}

}  // namespace presence::ctl

#include "store/functions.h"
#include "util/strings.h"

#include <fmt/format.h>

#include "store/functions_source.h"

namespace presence::store {

namespace {

constexpr std::string_view kVersionMarker = "local LIBRARY_VERSION = \"";

bool IsMissingFunction(const RedisReply& reply) {
  return reply.is_error() && reply.str.find("Function not found") != std::string::npos;
}

Task<Result<RedisReply>> Fcall(RedisClient& redis, std::string_view name,
                               const std::vector<std::string>& keys,
                               const std::vector<std::string>& args) {
  std::vector<std::string> command;
  command.reserve(3 + keys.size() + args.size());
  command.emplace_back("FCALL");
  command.emplace_back(name);
  command.push_back(std::to_string(keys.size()));
  command.insert(command.end(), keys.begin(), keys.end());
  command.insert(command.end(), args.begin(), args.end());
  co_return co_await redis.Command(std::move(command));
}

}  // namespace

std::string FunctionsVersion() {
  auto source = FunctionsSource();
  auto start = source.find(kVersionMarker);
  if (start == std::string_view::npos) return "unknown";
  start += kVersionMarker.size();
  auto end = source.find('"', start);
  return std::string(source.substr(start, end - start));
}

Task<Status> EnsureFunctions(RedisClient& redis) {
  // Ask the loaded library for its version; a missing library is an error reply.
  auto current = co_await redis.Command(Strings("FCALL_RO", "presence_version", "0"));
  if (!current) co_return current.error();
  if (current->type == RedisReply::Type::kString && current->str == FunctionsVersion()) {
    co_return Ok{};
  }

  auto loaded = co_await redis.Command(
      Strings("FUNCTION", "LOAD", "REPLACE", std::string(FunctionsSource())));
  if (!loaded) co_return loaded.error();
  if (loaded->is_error()) {
    co_return MakeError("redis_error",
                        fmt::format("redis {}: FUNCTION LOAD of presence v{}: {}",
                                    redis.address().ToString(), FunctionsVersion(), loaded->str));
  }
  co_return Ok{};
}

Task<Result<nlohmann::json>> CallFunction(RedisClient& redis, std::string_view name,
                                          std::vector<std::string> keys,
                                          std::vector<std::string> args) {
  auto reply = co_await Fcall(redis, name, keys, args);
  if (reply && IsMissingFunction(*reply)) {
    // Redis lost the library (restart without AOF, FUNCTION FLUSH): load it again.
    auto loaded = co_await EnsureFunctions(redis);
    if (!loaded) co_return loaded.error();
    reply = co_await Fcall(redis, name, keys, args);
  }
  if (!reply) co_return reply.error();
  if (reply->is_error()) {
    co_return MakeError("redis_error", fmt::format("redis {}: {}: {}", redis.address().ToString(),
                                                   name, reply->str));
  }
  if (reply->type != RedisReply::Type::kString) {
    co_return MakeError("redis_error", fmt::format("redis {}: {}: answer is not a string",
                                                   redis.address().ToString(), name));
  }
  auto parsed = nlohmann::json::parse(reply->str, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    co_return MakeError("redis_error", fmt::format("redis {}: {}: answer is not JSON",
                                                   redis.address().ToString(), name));
  }
  co_return parsed;
}

}  // namespace presence::store

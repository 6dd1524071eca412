#include "store/functions.h"
#include "util/strings.h"

#include <fmt/format.h>

#include "store/functions_source.h"
#include "store/library_version.h"

namespace presence::store {

namespace {

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
  std::string version = LibraryVersionOf(FunctionsSource());
  return version.empty() ? "unknown" : version;
}

Task<Result<std::string>> EnsureFunctions(RedisClient& redis) {
  // Ask the loaded library for its version; a missing library is an error reply.
  auto current = co_await redis.Command(Strings("FCALL_RO", "presence_version", "0"));
  if (!current) co_return current.error();
  std::optional<std::string_view> loaded;
  if (current->type == RedisReply::Type::kString) {
    loaded = current->str;
  } else if (current->is_error() && !IsMissingFunction(*current)) {
    co_return MakeError("redis_error", fmt::format("redis {}: presence_version: {}",
                                                   redis.address().ToString(), current->str));
  }
  if (DecideLibrary(loaded, FunctionsVersion()) != LibraryDecision::kLoad) {
    co_return std::string(*loaded);
  }

  auto replaced = co_await redis.Command(
      Strings("FUNCTION", "LOAD", "REPLACE", std::string(FunctionsSource())));
  if (!replaced) co_return replaced.error();
  if (replaced->is_error()) {
    co_return MakeError("redis_error",
                        fmt::format("redis {}: FUNCTION LOAD of presence v{}: {}",
                                    redis.address().ToString(), FunctionsVersion(), replaced->str));
  }
  co_return FunctionsVersion();
}

Task<Result<nlohmann::json>> CallFunction(RedisClient& redis, std::string_view name,
                                          std::vector<std::string> keys,
                                          std::vector<std::string> args) {
  auto reply = co_await Fcall(redis, name, keys, args);
  if (reply && IsMissingFunction(*reply)) {
    // Redis lost the library (restart without AOF, FUNCTION FLUSH): load it again.
    auto ensured = co_await EnsureFunctions(redis);
    if (!ensured) co_return ensured.error();
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

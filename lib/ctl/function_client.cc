#include "ctl/function_client.h"

#include <fmt/format.h>

#include "store/functions_source.h"
#include "store/library_version.h"

namespace presence::ctl {
namespace {

// Redis 7 answers FCALL of an unknown function with "ERR Function not found".
bool IsFunctionMissing(const store::RedisReply& reply) {
  return reply.is_error() && reply.str.find("Function not found") != std::string::npos;
}

}  // namespace

std::vector<std::string> FunctionCommand(const FunctionCall& call) {
  std::vector<std::string> command;
  command.reserve(3 + call.keys.size() + call.args.size());
  command.push_back(call.read_only ? "FCALL_RO" : "FCALL");
  command.push_back(call.name);
  command.push_back(std::to_string(call.keys.size()));
  command.insert(command.end(), call.keys.begin(), call.keys.end());
  command.insert(command.end(), call.args.begin(), call.args.end());
  return command;
}

FunctionClient::FunctionClient(RedisConnection& redis) : redis_(redis) {}

Status FunctionClient::EnsureLibrary() {
  if (library_checked_) return Ok{};

  Result<store::RedisReply> reply = redis_.Command({"FCALL_RO", "presence_version", "0"});
  if (!reply) return reply.error();
  if (reply->is_error() && !IsFunctionMissing(*reply)) {
    return MakeError("redis_error", fmt::format("redis {}: presence_version: {}",
                                                redis_.endpoint().ToString(), reply->str));
  }
  std::optional<std::string_view> loaded;
  if (!reply->is_error()) loaded = reply->str;
  const std::string ours = store::LibraryVersionOf(store::FunctionsSource());
  switch (store::DecideLibrary(loaded, ours)) {
    case store::LibraryDecision::kUse:
      break;
    case store::LibraryDecision::kNewerLoaded:
      // A newer presenced loaded it; replacing it would break those
      // instances, and it answers this version's calls (docs/redis-layout.md).
      break;
    case store::LibraryDecision::kLoad:
      if (Status replaced = LoadLibrary(); !replaced) return replaced;
      break;
  }
  library_checked_ = true;
  return Ok{};
}

Status FunctionClient::LoadLibrary() {
  Result<store::RedisReply> reply =
      redis_.Command({"FUNCTION", "LOAD", "REPLACE", std::string(store::FunctionsSource())});
  if (!reply) return reply.error();
  if (reply->is_error()) {
    return MakeError("redis_error",
                     fmt::format("redis {}: FUNCTION LOAD of the presence library refused: {}",
                                 redis_.endpoint().ToString(), reply->str));
  }
  return Ok{};
}

Result<nlohmann::json> FunctionClient::Call(const FunctionCall& call) {
  if (Status ensured = EnsureLibrary(); !ensured) return ensured.error();
  Result<store::RedisReply> reply = redis_.Command(FunctionCommand(call));
  if (!reply) return reply.error();

  // The library went away (FUNCTION FLUSH, restart without persistence): load
  // it and ask once more.
  if (IsFunctionMissing(*reply)) {
    if (Status loaded = LoadLibrary(); !loaded) return loaded.error();
    reply = redis_.Command(FunctionCommand(call));
    if (!reply) return reply.error();
  }
  return ParseAnswer(call, *reply);
}

Status FunctionClient::Append(const FunctionCall& call) {
  return redis_.Append(FunctionCommand(call));
}

Result<nlohmann::json> FunctionClient::ReadAnswer(const FunctionCall& call) {
  Result<store::RedisReply> reply = redis_.ReadReply();
  if (!reply) return reply.error();
  if (IsFunctionMissing(*reply)) {
    return MakeError(kFunctionMissing, fmt::format("redis {}: {}: {}", redis_.endpoint().ToString(),
                                                   call.name, reply->str));
  }
  return ParseAnswer(call, *reply);
}

Result<nlohmann::json> FunctionClient::ParseAnswer(const FunctionCall& call,
                                                   const store::RedisReply& reply) {
  if (reply.is_error()) {
    return MakeError("redis_error", fmt::format("redis {}: {}: {}", redis_.endpoint().ToString(),
                                                call.name, reply.str));
  }
  nlohmann::json answer = nlohmann::json::parse(reply.str, nullptr, /*allow_exceptions=*/false);
  if (answer.is_discarded() || !answer.is_object()) {
    return MakeError("redis_error", fmt::format("redis {}: {}: answer is not a JSON object: {}",
                                                redis_.endpoint().ToString(), call.name,
                                                reply.str.substr(0, 200)));
  }
  return answer;
}

}  // namespace presence::ctl

#include "ctl/api_keys.h"

#include <algorithm>

#include <fmt/format.h>

namespace presence::ctl {
namespace {

const std::string kHash(auth::kKeysHash);

Error RedisRefused(const std::string& command, const std::string& reply) {
  return MakeError("redis_error", fmt::format("{} {}: {}", command, kHash, reply));
}

// Redis server time in ms, so that created_at agrees with every other stored time.
Result<uint64_t> RedisTimeMs(RedisConnection& redis) {
  Result<store::RedisReply> reply = redis.Command({"TIME"});
  if (!reply) return reply.error();
  if (reply->type != store::RedisReply::Type::kArray || reply->elements.size() != 2) {
    return MakeError("redis_error", "TIME: " + (reply->is_error() ? reply->str : "bad reply"));
  }
  return std::stoull(reply->elements[0].str) * 1000 + std::stoull(reply->elements[1].str) / 1000;
}

}  // namespace

Result<CreatedKey> CreateApiKey(RedisConnection& redis, const KeyRequest& request) {
  Result<auth::NewKey> drawn = auth::GenerateKey();
  if (!drawn) return drawn.error();
  Result<uint64_t> now = RedisTimeMs(redis);
  if (!now) return now.error();

  CreatedKey created;
  created.key = drawn->key;
  created.record.id = drawn->id;
  created.record.scope = request.scope;
  created.record.tenant = request.scope == "tenant" ? request.tenant : "";
  created.record.sha256 = auth::HashKey(drawn->key);
  created.record.name = request.name;
  created.record.created_at = *now;

  // HSETNX: a 48-bit id drawn twice must never replace another key.
  Result<store::RedisReply> reply =
      redis.Command({"HSETNX", kHash, created.record.id, auth::ToJson(created.record).dump()});
  if (!reply) return reply.error();
  if (reply->is_error()) return RedisRefused("HSETNX", reply->str);
  if (reply->integer != 1) {
    return MakeError("key_id_taken", fmt::format("api key id {} is already in use; run the "
                                                 "command again",
                                                 created.record.id));
  }
  return created;
}

Result<std::vector<auth::KeyRecord>> ListApiKeys(RedisConnection& redis,
                                                 const std::string& tenant) {
  Result<store::RedisReply> reply = redis.Command({"HGETALL", kHash});
  if (!reply) return reply.error();
  if (reply->is_error()) return RedisRefused("HGETALL", reply->str);

  std::vector<auth::KeyRecord> records;
  for (size_t i = 0; i + 1 < reply->elements.size(); i += 2) {
    Result<auth::KeyRecord> record =
        auth::ParseKeyRecord(reply->elements[i].str, reply->elements[i + 1].str);
    if (!record) return record.error();
    if (!tenant.empty() && (record->admin() || record->tenant != tenant)) continue;
    records.push_back(std::move(*record));
  }
  std::sort(records.begin(), records.end(), [](const auth::KeyRecord& a, const auth::KeyRecord& b) {
    return std::tie(a.created_at, a.id) < std::tie(b.created_at, b.id);
  });
  return records;
}

Result<bool> RevokeApiKey(RedisConnection& redis, const std::string& id) {
  Result<store::RedisReply> reply = redis.Command({"HDEL", kHash, id});
  if (!reply) return reply.error();
  if (reply->is_error()) return RedisRefused("HDEL", reply->str);
  return reply->integer == 1;
}

}  // namespace presence::ctl

#pragma once

#include <string>
#include <vector>

#include "auth/api_key.h"
#include "ctl/redis_connection.h"
#include "util/result.h"

namespace presence::ctl {

// What `presencectl keys create` asks for.
struct KeyRequest {
  std::string scope;   // "admin" or "tenant"
  std::string tenant;  // tenant scope only
  std::string name;
};

// A key just created: its stored record and the key itself, to be shown once.
struct CreatedKey {
  auth::KeyRecord record;
  std::string key;
};

// Draws a key, stores its record (HSET presence:{ctl}:keys ID JSON, created_at from Redis
// TIME) and returns both. Only the hash is stored. Errors name Redis or the request.
Result<CreatedKey> CreateApiKey(RedisConnection& redis, const KeyRequest& request);

// Every stored key (HGETALL), ordered by creation time then id; with `tenant` only that
// tenant's keys. Records that cannot be read are an error naming the id.
Result<std::vector<auth::KeyRecord>> ListApiKeys(RedisConnection& redis,
                                                 const std::string& tenant = "");

// Deletes the key (HDEL); false when no key had this id. A presenced that cached the key
// refuses it after at most auth.cache_ms.
Result<bool> RevokeApiKey(RedisConnection& redis, const std::string& id);

}  // namespace presence::ctl

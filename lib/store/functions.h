#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/redis_client.h"
#include "util/asio.h"
#include "util/result.h"

namespace presence::store {

// The version of lib/store/functions.lua that this binary carries.
std::string FunctionsVersion();

// Loads the library when Redis does not have this version (FUNCTION LOAD
// REPLACE). Returns the error when Redis refuses it.
Task<Status> EnsureFunctions(RedisClient& redis);

// Calls one Function of the library and parses its JSON answer. When Redis
// has lost the library (restart without persistence, FUNCTION FLUSH), loads
// it and calls once more. A refusal ({"ok":false,...}) is a value; a failed
// Result means Redis could not be asked (code "redis_unavailable") or
// answered with an error (code "redis_error").
Task<Result<nlohmann::json>> CallFunction(RedisClient& redis, std::string_view name,
                                          std::vector<std::string> keys,
                                          std::vector<std::string> args);

}  // namespace presence::store

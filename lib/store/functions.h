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

// Loads this binary's library when Redis has none or an older version
// (FUNCTION LOAD REPLACE), never over a newer one (store/library_version.h):
// a newer library answers the calls of the previous version's binaries, so
// an instance not yet upgraded goes on with it. Returns the version now in
// use, or the error when Redis could not be asked or refused the library.
Task<Result<std::string>> EnsureFunctions(RedisClient& redis);

// Calls one Function of the library and parses its JSON answer. When Redis
// has lost the library (restart without persistence, FUNCTION FLUSH), loads
// it and calls once more. A refusal ({"ok":false,...}) is a value; a failed
// Result means Redis could not be asked (code "redis_unavailable") or
// answered with an error (code "redis_error").
Task<Result<nlohmann::json>> CallFunction(RedisClient& redis, std::string_view name,
                                          std::vector<std::string> keys,
                                          std::vector<std::string> args);

}  // namespace presence::store

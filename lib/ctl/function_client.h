#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctl/redis_connection.h"
#include "util/result.h"

namespace presence::ctl {

// The error code of ReadAnswer when Redis does not know the Function.
inline constexpr char kFunctionMissing[] = "function_missing";

// One Function call, ready to be sent.
struct FunctionCall {
  std::string name;
  std::vector<std::string> keys;
  std::vector<std::string> args;
  bool read_only = false;  // FCALL_RO instead of FCALL
};

// Calls the Functions of the `presence` library (docs/redis-layout.md) over a
// synchronous connection and loads the library this binary carries
// (FUNCTION LOAD REPLACE) when Redis has none or another version.
class FunctionClient {
 public:
  explicit FunctionClient(RedisConnection& redis);

  // Asks presence_version once and loads the library when it is missing or
  // differs. Later calls return at once.
  Status EnsureLibrary();

  // Calls one Function and parses its JSON answer. A refusal ({"ok":false})
  // is a value; a failed Result means Redis could not be asked
  // ("redis_unavailable") or answered with an error ("redis_error").
  Result<nlohmann::json> Call(const FunctionCall& call);

  // Pipelining: queue many calls with Append, then read their answers in the
  // same order with ReadAnswer. Call EnsureLibrary first. When the library
  // was lost in between, ReadAnswer fails with code kFunctionMissing: read
  // the rest of the window, then repeat that call with Call (which loads it).
  Status Append(const FunctionCall& call);
  Result<nlohmann::json> ReadAnswer(const FunctionCall& call);

  RedisConnection& redis() { return redis_; }

 private:
  Status LoadLibrary();
  Result<nlohmann::json> ParseAnswer(const FunctionCall& call, const store::RedisReply& reply);

  RedisConnection& redis_;
  bool library_checked_ = false;
};

// The command line of one call: FCALL name numkeys keys... args...
std::vector<std::string> FunctionCommand(const FunctionCall& call);

}  // namespace presence::ctl

#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/redis_reply.h"
#include "util/result.h"

struct redisContext;

namespace presence::ctl {

// Where presencectl finds Redis: "host:port", "[v6addr]:port" or "host".
struct RedisEndpoint {
  std::string host = "127.0.0.1";
  int port = 6379;

  std::string ToString() const;
};

// Who presencectl is to Redis: AUTH [username] password right after connecting. An
// empty password and username send no AUTH.
struct RedisLogin {
  std::string username;
  std::string password;
};

// Parses "host:port" (port defaults to 6379); the error names the text.
Result<RedisEndpoint> ParseRedisEndpoint(std::string_view text);

// One synchronous hiredis connection. Commands either go one at a time
// (Command) or pipelined: any number of Append calls, then as many ReadReply
// calls, in order. A Redis error reply is a value (RedisReply::kError); a
// failed Result means the connection is broken or timed out, and the
// connection is unusable afterwards. Not thread-safe.
class RedisConnection {
 public:
  // Connects within `timeout` and authenticates with `login`; the same timeout applies to
  // every reply. A refused AUTH is an error (code "redis_auth") naming the address and the
  // user, never the password.
  static Result<std::unique_ptr<RedisConnection>> Connect(const RedisEndpoint& endpoint,
                                                          std::chrono::milliseconds timeout,
                                                          const RedisLogin& login = {});
  ~RedisConnection();

  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  Result<store::RedisReply> Command(const std::vector<std::string>& args);

  // Queues one command in the output buffer; nothing is sent until ReadReply.
  Status Append(const std::vector<std::string>& args);
  // Sends what is queued (first call) and reads the next reply.
  Result<store::RedisReply> ReadReply();

  // Changes the reply timeout (e.g. longer than an XREAD BLOCK).
  Status SetTimeout(std::chrono::milliseconds timeout);

  const RedisEndpoint& endpoint() const { return endpoint_; }

 private:
  RedisConnection(RedisEndpoint endpoint, redisContext* context);
  Status Authenticate(const RedisLogin& login);
  Error ConnectionError() const;

  RedisEndpoint endpoint_;
  redisContext* context_;
};

}  // namespace presence::ctl

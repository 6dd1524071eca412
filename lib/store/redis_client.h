#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "store/redis_reply.h"
#include "util/asio.h"
#include "util/result.h"

namespace presence::store {

struct RedisAddress {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;

  std::string ToString() const;
};

// Who the client is to Redis: AUTH username password on every connection, before any
// other command. An empty password sends no AUTH (the default user without a password);
// an empty username with a password authenticates the default user.
struct RedisCredentials {
  std::string username;
  std::string password;
};

// Parses "host:port" (port defaults to 6379).
Result<RedisAddress> ParseRedisAddress(std::string_view text);

// One pipelined, asynchronous connection to Redis on an io_context. Commands
// from any number of coroutines are written back to back and their replies
// matched in order, so concurrent requests share round trips.
//
// The client connects lazily and again after a failure; while Redis is
// unreachable every command fails at once with code "redis_unavailable" and a
// message naming the address and the reason. With credentials, AUTH goes first
// on each connection; a refused AUTH fails the connection the same way (the
// message names the address and the user, never the password) and is logged
// as an error once per distinct reason. Not thread-safe: use it from the
// io_context's single thread only.
class RedisClient {
 public:
  RedisClient(asio::io_context& io, RedisAddress address,
              std::chrono::milliseconds timeout = std::chrono::milliseconds(2000),
              RedisCredentials credentials = {});
  ~RedisClient();

  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Sends one command and waits for its reply. A Redis error reply is a value
  // (type kError), not a failed Result; a failed Result means the connection
  // failed or the reply did not arrive within the timeout.
  Task<Result<RedisReply>> Command(std::vector<std::string> args);

  // True while a connection is up and authenticated (as far as the client knows).
  bool connected() const;

  const RedisAddress& address() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace presence::store

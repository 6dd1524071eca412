#include "auth/authenticator.h"

#include <catch2/catch.hpp>

#include "support/redis_process.h"
#include "util/strings.h"

namespace presence::auth {
namespace {

using namespace std::chrono_literals;

// Runs `task` on `io` until it finished (other work, such as a connection's read, may stay).
template <typename T>
T RunTask(asio::io_context& io, Task<T> task) {
  std::optional<T> out;
  auto wrapper = [](Task<T> inner, std::optional<T>& result) -> Task<void> {
    result.emplace(co_await std::move(inner));
  };
  asio::co_spawn(io, wrapper(std::move(task), out), asio::detached);
  io.restart();
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!out && std::chrono::steady_clock::now() < deadline) io.run_one_for(100ms);
  REQUIRE(out.has_value());
  return std::move(*out);
}

// One Authenticator on a private Redis, with a clock the test moves.
struct Fixture {
  testing::RedisProcess server;
  asio::io_context io;
  store::RedisClient redis{io, store::RedisAddress{"127.0.0.1", server.port()}};
  http::MetricsRegistry metrics;
  std::chrono::steady_clock::time_point now = std::chrono::steady_clock::time_point{} + 1h;
  Authenticator authenticator;

  explicit Fixture(AuthOptions options = {})
      : authenticator(redis, options, &metrics, [this] { return now; }) {}

  template <typename T>
  T Run(Task<T> task) {
    return RunTask(io, std::move(task));
  }

  // Stores a new key of `scope` and returns it.
  std::string AddKey(const std::string& scope, const std::string& tenant = "") {
    Result<NewKey> key = GenerateKey();
    REQUIRE(key.ok());
    KeyRecord record{key->id, scope, tenant, HashKey(key->key), "test", 1};
    auto reply =
        Run(redis.Command(Strings("HSET", std::string(kKeysHash), key->id, ToJson(record).dump())));
    REQUIRE(reply.ok());
    return key->key;
  }

  std::optional<http::Response> Check(const std::string& key, const std::string& pattern,
                                      const std::string& tenant = "") {
    http::Request request;
    if (!key.empty()) request.headers.set("Authorization", "Bearer " + key);
    if (!tenant.empty()) request.params["tenant"] = tenant;
    return Run(authenticator.Check(request, pattern));
  }

  double Lookups() const { return metrics.Value("presence_auth_lookups_total"); }
};

const std::string kAgentRoute = "/v1/tenants/{tenant}/agents/{agent}";

TEST_CASE("keys are checked against Redis and the route", "[auth][authenticator]") {
  Fixture f;
  const std::string admin = f.AddKey("admin");
  const std::string acme = f.AddKey("tenant", "acme");

  CHECK_FALSE(f.Check("", "/healthz"));
  REQUIRE(f.Check("", kAgentRoute, "acme"));
  CHECK(f.Check("", kAgentRoute, "acme")->status == 401);
  CHECK(f.Check("", kAgentRoute, "acme")->headers["WWW-Authenticate"] == "Bearer");
  CHECK(f.Check("pk_nonsense", kAgentRoute, "acme")->status == 401);
  std::string wrong_secret = acme;
  wrong_secret.back() = wrong_secret.back() == 'A' ? 'B' : 'A';
  REQUIRE(f.Check(wrong_secret, kAgentRoute, "acme"));
  CHECK(f.Check(wrong_secret, kAgentRoute, "acme")->status == 401);

  CHECK_FALSE(f.Check(acme, kAgentRoute, "acme"));
  CHECK(f.Check(acme, kAgentRoute, "globex")->status == 403);
  CHECK(f.Check(acme, "/metrics")->status == 403);
  CHECK_FALSE(f.Check(acme, ""));
  CHECK_FALSE(f.Check(admin, kAgentRoute, "globex"));
  CHECK_FALSE(f.Check(admin, "/metrics"));
}

TEST_CASE("lookups are cached, revocation shows after the TTL", "[auth][authenticator]") {
  Fixture f;
  const std::string key = f.AddKey("admin");
  for (int i = 0; i < 50; ++i) REQUIRE_FALSE(f.Check(key, "/metrics"));
  CHECK(f.Lookups() == 1);

  const std::string id = *KeyId(key);
  REQUIRE(f.Run(f.redis.Command(Strings("HDEL", std::string(kKeysHash), id))).ok());
  CHECK_FALSE(f.Check(key, "/metrics"));  // still cached
  f.now += 1001ms;
  CHECK(f.Check(key, "/metrics")->status == 401);
  CHECK(f.Check(key, "/metrics")->status == 401);  // the absence is cached too
  CHECK(f.Lookups() == 2);
}

TEST_CASE("over the rate a key gets 429 with Retry-After", "[auth][authenticator]") {
  AuthOptions options;
  options.requests_per_second = 1;
  options.burst = 2;
  Fixture f(options);
  const std::string key = f.AddKey("tenant", "acme");
  CHECK_FALSE(f.Check(key, kAgentRoute, "acme"));
  CHECK_FALSE(f.Check(key, kAgentRoute, "acme"));
  std::optional<http::Response> refused = f.Check(key, kAgentRoute, "acme");
  REQUIRE(refused);
  CHECK(refused->status == 429);
  CHECK(refused->headers["Retry-After"] == "1");
  CHECK(refused->body.find("rate_limited") != std::string::npos);
  f.now += 1s;
  CHECK_FALSE(f.Check(key, kAgentRoute, "acme"));
}

TEST_CASE("an uncached key while Redis is down gets 503", "[auth][authenticator]") {
  asio::io_context io;
  store::RedisClient redis(io, store::RedisAddress{"127.0.0.1", 1});
  Authenticator authenticator(redis, AuthOptions{});
  http::Request request;
  request.headers.set("Authorization", "Bearer pk_0123456789ab_" + std::string(43, 'A'));
  std::optional<http::Response> out = RunTask(io, authenticator.Check(request, "/metrics"));
  REQUIRE(out);
  CHECK(out->status == 503);
  CHECK(out->headers["Retry-After"] == "1");
}

TEST_CASE("redis AUTH goes first; a refusal names the user, not the password", "[auth][redis]") {
  testing::RedisProcess server;
  asio::io_context io;
  auto run = [&io](Task<Result<store::RedisReply>> task) { return RunTask(io, std::move(task)); };
  store::RedisClient admin(io, store::RedisAddress{"127.0.0.1", server.port()});
  REQUIRE(run(admin.Command(Strings("ACL", "SETUSER", "svc", "on", ">s3cret-pw", "~*", "+ping")))
              ->str == "OK");

  store::RedisClient good(io, store::RedisAddress{"127.0.0.1", server.port()}, 2s,
                          store::RedisCredentials{"svc", "s3cret-pw"});
  auto pong = run(good.Command(Strings("PING")));
  REQUIRE(pong.ok());
  CHECK(pong->str == "PONG");
  CHECK(good.connected());
  CHECK(run(good.Command(Strings("GET", "x")))->is_error());  // the user may only PING

  store::RedisClient bad(io, store::RedisAddress{"127.0.0.1", server.port()}, 2s,
                         store::RedisCredentials{"svc", "wrong-pw"});
  auto refused = run(bad.Command(Strings("PING")));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == "redis_unavailable");
  CHECK(refused.error().message.find("authentication as user svc refused") != std::string::npos);
  CHECK(refused.error().message.find("wrong-pw") == std::string::npos);
  CHECK_FALSE(bad.connected());
}

}  // namespace
}  // namespace presence::auth

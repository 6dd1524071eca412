#pragma once

#include <chrono>
#include <memory>

#include "api/agent_commands.h"
#include "api/agent_routes.h"
#include "api/ops_routes.h"
#include "auth/authenticator.h"
#include "http/metrics.h"
#include "http/router.h"
#include "http/server.h"
#include "store/agent_store.h"
#include "util/asio.h"
#include "util/result.h"

namespace presence::api {

// REST API v1 on one HTTP server: the agent routes, /healthz, /readyz and
// /metrics, with their metrics registry (add the daemon's gauges to
// metrics()). Lives on the io_context's thread; see http::Server for Stop()
// and Drain().
//
// API keys: after EnableAuth() every request passes the auth::Authenticator first (see
// auth/authenticator.h and auth/access_policy.h); without it every request is let in (unit
// tests of the routes).
//
// Shutdown: Stop(), co_await Drain(timeout), then destroy.
class ApiServer {
 public:
  // Serves the agent routes from `store`, which must outlive the server.
  ApiServer(asio::io_context& io, http::ServerOptions options, store::AgentStore& store,
            ReadinessCheck readiness);
  // Serves the agent routes from any AgentCommands (tests use a fake).
  ApiServer(asio::io_context& io, http::ServerOptions options, AgentCommands& commands,
            ReadinessCheck readiness, AgentRoutes::Clock now_ms = SystemNowMs);

  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Checks the API key of every request, looking keys up through `redis` (which must outlive
  // the server). Call before Start(). With options.enabled false, nothing is checked.
  void EnableAuth(store::RedisClient& redis, auth::AuthOptions options);

  Status Start() { return server_.Start(); }
  void Stop() { server_.Stop(); }
  Task<void> Drain(std::chrono::milliseconds timeout) { return server_.Drain(timeout); }

  // The limits on ids, JSON nesting and labels of agent requests (api/validation.h).
  void SetRequestLimits(const RequestLimits& limits) { agent_routes_.SetLimits(limits); }

  http::MetricsRegistry& metrics() { return metrics_; }
  size_t connections() const { return server_.connections(); }
  asio::ip::tcp::endpoint local_endpoint() const { return server_.local_endpoint(); }

 private:
  std::unique_ptr<StoreAgentCommands> store_commands_;  // set by the AgentStore constructor
  http::MetricsRegistry metrics_;
  http::Router router_;
  AgentRoutes agent_routes_;
  OpsRoutes ops_routes_;
  std::unique_ptr<auth::Authenticator> authenticator_;  // set by EnableAuth()
  http::Server server_;  // last: destroyed first, while the rest still exists
};

}  // namespace presence::api

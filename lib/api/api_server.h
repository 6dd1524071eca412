#pragma once

#include <chrono>
#include <memory>

#include "api/agent_commands.h"
#include "api/agent_routes.h"
#include "api/ops_routes.h"
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

  Status Start() { return server_.Start(); }
  void Stop() { server_.Stop(); }
  Task<void> Drain(std::chrono::milliseconds timeout) { return server_.Drain(timeout); }

  http::MetricsRegistry& metrics() { return metrics_; }
  size_t connections() const { return server_.connections(); }
  asio::ip::tcp::endpoint local_endpoint() const { return server_.local_endpoint(); }

 private:
  std::unique_ptr<StoreAgentCommands> store_commands_;  // set by the AgentStore constructor
  http::MetricsRegistry metrics_;
  http::Router router_;
  AgentRoutes agent_routes_;
  OpsRoutes ops_routes_;
  http::Server server_;  // last: destroyed first, while the rest still exists
};

}  // namespace presence::api

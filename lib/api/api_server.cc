#include "api/api_server.h"

namespace presence::api {

ApiServer::ApiServer(asio::io_context& io, http::ServerOptions options, store::AgentStore& store,
                     ReadinessCheck readiness)
    : store_commands_(std::make_unique<StoreAgentCommands>(store)),
      agent_routes_(*store_commands_, SystemNowMs, &metrics_),
      ops_routes_(std::move(readiness), metrics_),
      server_(io, std::move(options), router_, &metrics_) {
  agent_routes_.AddTo(router_);
  ops_routes_.AddTo(router_);
}

ApiServer::ApiServer(asio::io_context& io, http::ServerOptions options, AgentCommands& commands,
                     ReadinessCheck readiness, AgentRoutes::Clock now_ms)
    : agent_routes_(commands, std::move(now_ms), &metrics_),
      ops_routes_(std::move(readiness), metrics_),
      server_(io, std::move(options), router_, &metrics_) {
  agent_routes_.AddTo(router_);
  ops_routes_.AddTo(router_);
}

}  // namespace presence::api

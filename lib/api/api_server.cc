#include "api/api_server.h"

#include "util/log.h"

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

void ApiServer::EnableAuth(store::RedisClient& redis, auth::AuthOptions options) {
  if (!options.enabled) {
    Logger("auth")->warn("auth.enabled = false: the API answers every request without a key");
    return;
  }
  authenticator_ = std::make_unique<auth::Authenticator>(redis, options, &metrics_);
  auth::Authenticator* authenticator = authenticator_.get();
  router_.SetGuard([authenticator](const http::Request& request, std::string pattern) {
    return authenticator->Check(request, std::move(pattern));
  });
}

}  // namespace presence::api

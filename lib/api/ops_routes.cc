#include "api/ops_routes.h"

namespace presence::api {

OpsRoutes::OpsRoutes(ReadinessCheck readiness, const http::MetricsRegistry& metrics)
    : readiness_(std::move(readiness)), metrics_(metrics) {}

void OpsRoutes::AddTo(http::Router& router) {
  using http::Verb;
  router.Add(Verb::get, "/healthz",
             [this](const http::Request&) -> Task<http::Response> { co_return Health(); });
  router.Add(Verb::get, "/readyz",
             [this](const http::Request&) -> Task<http::Response> { co_return Ready(); });
  router.Add(Verb::get, "/metrics",
             [this](const http::Request&) -> Task<http::Response> { co_return Metrics(); });
}

http::Response OpsRoutes::Health() const { return http::JsonResponse(200, {{"status", "ok"}}); }

http::Response OpsRoutes::Ready() const {
  auto [ready, reason] = readiness_ ? readiness_() : std::pair<bool, std::string>(true, "");
  if (ready) return http::JsonResponse(200, {{"status", "ready"}});
  http::Response response =
      http::ErrorResponse(503, "not_ready", reason.empty() ? "not ready" : reason);
  response.SetHeader("Retry-After", "1");
  return response;
}

http::Response OpsRoutes::Metrics() const {
  http::Response response;
  response.SetHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  response.body = metrics_.Render();
  return response;
}

}  // namespace presence::api

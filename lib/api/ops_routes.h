#pragma once

#include <functional>
#include <string>
#include <utility>

#include "http/message.h"
#include "http/metrics.h"
#include "http/router.h"

namespace presence::api {

// Readiness as the daemon sees it: (ready, reason when not ready). Called on
// the io_context thread for every GET /readyz; it must not block.
using ReadinessCheck = std::function<std::pair<bool, std::string>()>;

// GET /healthz  200 {"status":"ok"} while the process serves.
// GET /readyz   200 {"status":"ready"}, or 503 not_ready with the reason.
// GET /metrics  the registry in Prometheus text format.
class OpsRoutes {
 public:
  OpsRoutes(ReadinessCheck readiness, const http::MetricsRegistry& metrics);

  // Adds the three routes; the OpsRoutes must outlive the router.
  void AddTo(http::Router& router);

  http::Response Health() const;
  http::Response Ready() const;
  http::Response Metrics() const;

 private:
  ReadinessCheck readiness_;
  const http::MetricsRegistry& metrics_;
};

}  // namespace presence::api

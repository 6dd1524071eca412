#include <catch2/catch.hpp>

#include "http/metrics.h"

using presence::http::MetricsRegistry;

TEST_CASE("metrics render in Prometheus text format", "[http][metrics]") {
  MetricsRegistry metrics;
  metrics.Describe("presence_http_requests_total", MetricsRegistry::Type::kCounter,
                   "HTTP requests.");
  metrics.Increment("presence_http_requests_total", {{"route", "/a"}, {"status", "200"}});
  metrics.Increment("presence_http_requests_total", {{"route", "/a"}, {"status", "200"}}, 2);
  metrics.Increment("presence_http_requests_total", {{"route", "x\"y\\z\n"}, {"status", "404"}});
  int open = 7;
  metrics.SetCallback("presence_http_connections", {}, [&open] { return double(open); });
  metrics.Set("presence_owned_partitions", {}, 1.5);

  CHECK(metrics.Value("presence_http_requests_total", {{"route", "/a"}, {"status", "200"}}) == 3);
  CHECK(metrics.Value("presence_http_connections") == 7);
  CHECK(metrics.Value("absent") == 0);

  std::string text = metrics.Render();
  CHECK(text ==
        "# TYPE presence_http_connections gauge\n"
        "presence_http_connections 7\n"
        "# HELP presence_http_requests_total HTTP requests.\n"
        "# TYPE presence_http_requests_total counter\n"
        "presence_http_requests_total{route=\"/a\",status=\"200\"} 3\n"
        "presence_http_requests_total{route=\"x\\\"y\\\\z\\n\",status=\"404\"} 1\n"
        "# TYPE presence_owned_partitions gauge\n"
        "presence_owned_partitions 1.5\n");

  open = 2;
  CHECK(metrics.Render().find("presence_http_connections 2\n") != std::string::npos);
}

#include <catch2/catch.hpp>

#include "http/metrics.h"

using presence::http::MetricsRegistry;

TEST_CASE("a histogram renders cumulative buckets, +Inf, sum and count", "[http][metrics]") {
  MetricsRegistry metrics;
  metrics.DescribeHistogram("req_seconds", "Request time.", {0.25, 1});
  metrics.Observe("req_seconds", {{"route", "/a"}}, 0.125);
  metrics.Observe("req_seconds", {{"route", "/a"}}, 0.25);  // on the bound: le="0.25"
  metrics.Observe("req_seconds", {{"route", "/a"}}, 0.5);
  metrics.Observe("req_seconds", {{"route", "/a"}}, 3);
  metrics.Observe("req_seconds", {}, 0.5);

  CHECK(metrics.HistogramCount("req_seconds", {{"route", "/a"}}).first == 4);
  CHECK(metrics.HistogramCount("req_seconds", {{"route", "/a"}}).second == 3.875);
  CHECK(metrics.HistogramCount("absent").first == 0);

  CHECK(metrics.Render() ==
        "# HELP req_seconds Request time.\n"
        "# TYPE req_seconds histogram\n"
        "req_seconds_bucket{le=\"0.25\"} 0\n"
        "req_seconds_bucket{le=\"1\"} 1\n"
        "req_seconds_bucket{le=\"+Inf\"} 1\n"
        "req_seconds_sum 0.5\n"
        "req_seconds_count 1\n"
        "req_seconds_bucket{route=\"/a\",le=\"0.25\"} 2\n"
        "req_seconds_bucket{route=\"/a\",le=\"1\"} 3\n"
        "req_seconds_bucket{route=\"/a\",le=\"+Inf\"} 4\n"
        "req_seconds_sum{route=\"/a\"} 3.875\n"
        "req_seconds_count{route=\"/a\"} 4\n");
}

TEST_CASE("an undeclared histogram uses the latency buckets", "[http][metrics]") {
  MetricsRegistry metrics;
  metrics.Observe("latency_seconds", {}, 0.003);
  std::string text = metrics.Render();
  CHECK(text.rfind("# TYPE latency_seconds histogram\n", 0) == 0);
  CHECK(text.find("latency_seconds_bucket{le=\"0.001\"} 0\n") != std::string::npos);
  CHECK(text.find("latency_seconds_bucket{le=\"0.005\"} 1\n") != std::string::npos);
  CHECK(text.find("latency_seconds_bucket{le=\"10\"} 1\n") != std::string::npos);
  CHECK(text.find("latency_seconds_count 1\n") != std::string::npos);
  CHECK(MetricsRegistry::LatencyBuckets().size() == 13);
}

TEST_CASE("a callback series of a family described as a counter renders as a counter",
          "[http][metrics]") {
  MetricsRegistry metrics;
  metrics.Describe("leases_total", MetricsRegistry::Type::kCounter, "Leases.");
  uint64_t count = 5;
  metrics.SetCallback("leases_total", {{"reason", "lost"}}, [&count] { return double(count); });
  CHECK(metrics.Render() ==
        "# HELP leases_total Leases.\n"
        "# TYPE leases_total counter\n"
        "leases_total{reason=\"lost\"} 5\n");
}

#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace presence::http {

// A small Prometheus registry: counters, gauges and histograms with labels,
// and counters or gauges read from a callback when the page is rendered.
// Families render in name order, series in label order. Not thread-safe: use
// it from the io_context thread only (callbacks run there too, inside
// Render()).
class MetricsRegistry {
 public:
  enum class Type { kCounter, kGauge, kHistogram };
  using Labels = std::vector<std::pair<std::string, std::string>>;

  // Latency buckets in seconds, from 1 ms to 10 s.
  static const std::vector<double>& LatencyBuckets();

  // Declares a family with its type and help text; declaring it again only
  // updates the help. Names must match [a-zA-Z_:][a-zA-Z0-9_:]*.
  void Describe(std::string_view name, Type type, std::string_view help);

  // Adds `delta` to a counter series (declared as a counter if it was not).
  void Increment(std::string_view name, const Labels& labels = {}, double delta = 1);

  // Sets a gauge series (declared as a gauge if it was not).
  void Set(std::string_view name, const Labels& labels, double value);

  // Makes a series whose value is read when rendering; replaces a previous
  // callback of the same series. The family is a gauge unless it was
  // described as a counter first (Describe(name, Type::kCounter, ...)). The
  // callback must stay valid until it is replaced or the registry is
  // destroyed.
  void SetCallback(std::string_view name, const Labels& labels, std::function<double()> read);

  // Declares a histogram with its help text and upper bounds (ascending; the
  // +Inf bucket is implicit). Declaring it again only updates the help.
  void DescribeHistogram(std::string_view name, std::string_view help, std::vector<double> bounds);

  // Records one observation in a histogram series: name_bucket{...,le="B"}
  // for every bound B >= value and le="+Inf", name_sum and name_count. A
  // histogram not declared uses LatencyBuckets().
  void Observe(std::string_view name, const Labels& labels, double value);

  // The observations and their sum of a histogram series; {0, 0} when unknown.
  std::pair<uint64_t, double> HistogramCount(std::string_view name,
                                             const Labels& labels = {}) const;

  // The current value of a series (a callback is called); 0 when unknown.
  double Value(std::string_view name, const Labels& labels = {}) const;

  // The text exposition format (version 0.0.4).
  std::string Render() const;

 private:
  struct Series {
    double value = 0;  // counters and gauges; a histogram's sum
    std::function<double()> read;
    std::vector<uint64_t> buckets;  // histograms: per bound, not cumulative
    uint64_t count = 0;             // histograms: observations
  };
  struct Family {
    Type type = Type::kGauge;
    std::string help;
    std::vector<double> bounds;            // histograms only
    std::map<std::string, Series> series;  // key: rendered label set, "" for none
  };

  Family& Get(std::string_view name, Type type_if_new);
  static std::string RenderLabels(const Labels& labels);
  static void RenderHistogram(const std::string& name, const Family& family, std::string& out);

  std::map<std::string, Family, std::less<>> families_;
};

}  // namespace presence::http

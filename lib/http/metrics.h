#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace presence::http {

// A small Prometheus registry: counters and gauges with labels, and gauges
// read from a callback when the page is rendered. Families render in name
// order, series in label order. Not thread-safe: use it from the io_context
// thread only (callbacks run there too, inside Render()).
class MetricsRegistry {
 public:
  enum class Type { kCounter, kGauge };
  using Labels = std::vector<std::pair<std::string, std::string>>;

  // Declares a family with its type and help text; declaring it again only
  // updates the help. Names must match [a-zA-Z_:][a-zA-Z0-9_:]*.
  void Describe(std::string_view name, Type type, std::string_view help);

  // Adds `delta` to a counter series (declared as a counter if it was not).
  void Increment(std::string_view name, const Labels& labels = {}, double delta = 1);

  // Sets a gauge series (declared as a gauge if it was not).
  void Set(std::string_view name, const Labels& labels, double value);

  // Makes a gauge series whose value is read when rendering; replaces a
  // previous callback of the same series. The callback must stay valid until
  // it is replaced or the registry is destroyed.
  void SetCallback(std::string_view name, const Labels& labels, std::function<double()> read);

  // The current value of a series (a callback is called); 0 when unknown.
  double Value(std::string_view name, const Labels& labels = {}) const;

  // The text exposition format (version 0.0.4).
  std::string Render() const;

 private:
  struct Series {
    double value = 0;
    std::function<double()> read;
  };
  struct Family {
    Type type = Type::kGauge;
    std::string help;
    std::map<std::string, Series> series;  // key: rendered label set, "" for none
  };

  Family& Get(std::string_view name, Type type_if_new);
  static std::string RenderLabels(const Labels& labels);

  std::map<std::string, Family, std::less<>> families_;
};

}  // namespace presence::http

#include "http/metrics.h"

#include <cmath>

#include <fmt/format.h>

namespace presence::http {

namespace {

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return fmt::format("{}", static_cast<long long>(value));
  }
  return fmt::format("{}", value);
}

// The label set of a histogram bucket: the series' labels plus le.
std::string WithLe(const std::string& labels, std::string_view le) {
  if (labels.empty()) return fmt::format("{{le=\"{}\"}}", le);
  return fmt::format("{},le=\"{}\"}}", std::string_view(labels).substr(0, labels.size() - 1), le);
}

const char* TypeName(MetricsRegistry::Type type) {
  switch (type) {
    case MetricsRegistry::Type::kCounter:
      return "counter";
    case MetricsRegistry::Type::kHistogram:
      return "histogram";
    default:
      return "gauge";
  }
}

}  // namespace

const std::vector<double>& MetricsRegistry::LatencyBuckets() {
  static const std::vector<double> buckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                              0.25,  0.5,    1,     2.5,  5,     10};
  return buckets;
}

std::string MetricsRegistry::RenderLabels(const Labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out += ',';
    out += labels[i].first;
    out += "=\"";
    out += EscapeLabelValue(labels[i].second);
    out += '"';
  }
  out += '}';
  return out;
}

MetricsRegistry::Family& MetricsRegistry::Get(std::string_view name, Type type_if_new) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{}).first;
    it->second.type = type_if_new;
  }
  return it->second;
}

void MetricsRegistry::Describe(std::string_view name, Type type, std::string_view help) {
  Family& family = Get(name, type);
  family.type = type;
  family.help = std::string(help);
}

void MetricsRegistry::Increment(std::string_view name, const Labels& labels, double delta) {
  Get(name, Type::kCounter).series[RenderLabels(labels)].value += delta;
}

void MetricsRegistry::Set(std::string_view name, const Labels& labels, double value) {
  Get(name, Type::kGauge).series[RenderLabels(labels)].value = value;
}

void MetricsRegistry::SetCallback(std::string_view name, const Labels& labels,
                                  std::function<double()> read) {
  Get(name, Type::kGauge).series[RenderLabels(labels)].read = std::move(read);
}

void MetricsRegistry::DescribeHistogram(std::string_view name, std::string_view help,
                                        std::vector<double> bounds) {
  Family& family = Get(name, Type::kHistogram);
  family.help = std::string(help);
  if (family.type != Type::kHistogram || family.bounds.empty()) {
    family.type = Type::kHistogram;
    family.bounds = std::move(bounds);
  }
}

void MetricsRegistry::Observe(std::string_view name, const Labels& labels, double value) {
  Family& family = Get(name, Type::kHistogram);
  if (family.bounds.empty()) family.bounds = LatencyBuckets();
  Series& series = family.series[RenderLabels(labels)];
  if (series.buckets.size() != family.bounds.size()) series.buckets.resize(family.bounds.size());
  for (size_t i = 0; i < family.bounds.size(); ++i) {
    if (value <= family.bounds[i]) {
      ++series.buckets[i];
      break;
    }
  }
  series.value += value;
  ++series.count;
}

std::pair<uint64_t, double> MetricsRegistry::HistogramCount(std::string_view name,
                                                            const Labels& labels) const {
  auto family = families_.find(name);
  if (family == families_.end()) return {0, 0};
  auto series = family->second.series.find(RenderLabels(labels));
  if (series == family->second.series.end()) return {0, 0};
  return {series->second.count, series->second.value};
}

double MetricsRegistry::Value(std::string_view name, const Labels& labels) const {
  auto family = families_.find(name);
  if (family == families_.end()) return 0;
  auto series = family->second.series.find(RenderLabels(labels));
  if (series == family->second.series.end()) return 0;
  return series->second.read ? series->second.read() : series->second.value;
}

void MetricsRegistry::RenderHistogram(const std::string& name, const Family& family,
                                      std::string& out) {
  for (const auto& [labels, series] : family.series) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i < family.bounds.size(); ++i) {
      if (i < series.buckets.size()) cumulative += series.buckets[i];
      out += fmt::format("{}_bucket{} {}\n", name, WithLe(labels, FormatValue(family.bounds[i])),
                         cumulative);
    }
    out += fmt::format("{}_bucket{} {}\n", name, WithLe(labels, "+Inf"), series.count);
    out += fmt::format("{}_sum{} {}\n", name, labels, FormatValue(series.value));
    out += fmt::format("{}_count{} {}\n", name, labels, series.count);
  }
}

std::string MetricsRegistry::Render() const {
  std::string out;
  for (const auto& [name, family] : families_) {
    if (!family.help.empty()) out += fmt::format("# HELP {} {}\n", name, EscapeHelp(family.help));
    out += fmt::format("# TYPE {} {}\n", name, TypeName(family.type));
    if (family.type == Type::kHistogram) {
      RenderHistogram(name, family, out);
      continue;
    }
    for (const auto& [labels, series] : family.series) {
      double value = series.read ? series.read() : series.value;
      out += fmt::format("{}{} {}\n", name, labels, FormatValue(value));
    }
  }
  return out;
}

}  // namespace presence::http

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

}  // namespace

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

double MetricsRegistry::Value(std::string_view name, const Labels& labels) const {
  auto family = families_.find(name);
  if (family == families_.end()) return 0;
  auto series = family->second.series.find(RenderLabels(labels));
  if (series == family->second.series.end()) return 0;
  return series->second.read ? series->second.read() : series->second.value;
}

std::string MetricsRegistry::Render() const {
  std::string out;
  for (const auto& [name, family] : families_) {
    if (!family.help.empty()) out += fmt::format("# HELP {} {}\n", name, EscapeHelp(family.help));
    out += fmt::format("# TYPE {} {}\n", name, family.type == Type::kCounter ? "counter" : "gauge");
    for (const auto& [labels, series] : family.series) {
      double value = series.read ? series.read() : series.value;
      out += fmt::format("{}{} {}\n", name, labels, FormatValue(value));
    }
  }
  return out;
}

}  // namespace presence::http

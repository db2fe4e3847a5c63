#include "signet/server/metrics.h"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <cmath>
#include <string_view>
#include <utility>

#include "signet/log/json_log.h"

namespace signet::server {
namespace {

enum MetricType { kCounter = 0, kGauge = 1, kHistogram = 2 };

const char* TypeName(int type) {
  switch (type) {
    case kCounter:
      return "counter";
    case kGauge:
      return "gauge";
    default:
      return "histogram";
  }
}

bool ValidName(std::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':');
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

bool ValidLabels(const MetricLabels& labels) {
  return std::all_of(labels.begin(), labels.end(), [](const auto& entry) {
    return ValidName(entry.first, false) && entry.first.rfind("__", 0) != 0 && entry.first != "le";
  });
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

// Escapes a HELP text (backslash, newline) or a label value (also '"').
std::string Escape(std::string_view text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

// Renders {a="x",b="y"} plus an optional extra label (for "le"); "" when empty.
std::string RenderLabels(const MetricLabels& labels, const std::string& extra_name = "",
                         const std::string& extra_value = "") {
  if (labels.empty() && extra_name.empty()) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out += ',';
    first = false;
    out += name + "=\"" + Escape(value, true) + "\"";
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name + "=\"" + extra_value + "\"";
  }
  out += '}';
  return out;
}

void AtomicAdd(std::atomic<double>& target, double amount) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + amount, std::memory_order_relaxed)) {
  }
}

std::vector<double> NormalizedBounds(std::vector<double> bounds) {
  bounds.erase(std::remove_if(bounds.begin(), bounds.end(),
                              [](double b) { return std::isnan(b) || std::isinf(b); }),
               bounds.end());
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  return bounds;
}

// The metric for `labels` in one family's map, created on first use.
template <typename Metric, typename... Args>
Metric& InstanceFor(std::map<MetricLabels, std::unique_ptr<Metric>>& instances,
                    const std::string& name, const MetricLabels& labels, Args&&... args) {
  if (!ValidLabels(labels)) {
    log::LogEvent(
        spdlog::level::err,
        {{"event", "metric_rejected"}, {"metric", name}, {"error", "a label name is invalid"}});
  }
  auto& slot = instances[labels];
  if (!slot) slot = std::make_unique<Metric>(std::forward<Args>(args)...);
  return *slot;
}

}  // namespace

void Counter::Increment(double amount) {
  if (amount > 0) AtomicAdd(value_, amount);
}
double Counter::Value() const { return value_.load(std::memory_order_relaxed); }

void Gauge::Set(double value) { value_.store(value, std::memory_order_relaxed); }
void Gauge::Increment(double amount) { AtomicAdd(value_, amount); }
void Gauge::Decrement(double amount) { AtomicAdd(value_, -amount); }
double Gauge::Value() const { return value_.load(std::memory_order_relaxed); }

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(NormalizedBounds(std::move(upper_bounds))),
      counts_(upper_bounds_.size() + 1, 0) {}

void Histogram::Observe(double value) {
  const auto bucket = static_cast<std::size_t>(
      std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) - upper_bounds_.begin());
  std::lock_guard<std::mutex> lock(mutex_);
  ++counts_[bucket];
  sum_ += value;
  ++count_;
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot snapshot;
  snapshot.upper_bounds = upper_bounds_;
  std::lock_guard<std::mutex> lock(mutex_);
  std::uint64_t running = 0;
  for (const std::uint64_t n : counts_) {
    running += n;
    snapshot.cumulative_counts.push_back(running);
  }
  snapshot.sum = sum_;
  snapshot.count = count_;
  return snapshot;
}

std::vector<double> Histogram::DefaultLatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

struct MetricsRegistry::Family {
  std::string name;
  std::string help;
  int type = kCounter;
  std::vector<double> upper_bounds;
  std::map<MetricLabels, std::unique_ptr<Counter>> counters;
  std::map<MetricLabels, std::unique_ptr<Gauge>> gauges;
  std::map<MetricLabels, std::unique_ptr<Histogram>> histograms;
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

MetricsRegistry::Family& MetricsRegistry::FamilyFor(const std::string& name,
                                                    const std::string& help, int type,
                                                    const std::vector<double>* upper_bounds,
                                                    bool* conflict) {
  *conflict = false;
  const auto it = families_.find(name);
  if (it != families_.end()) {
    Family& family = *it->second;
    const bool same_buckets = upper_bounds == nullptr || family.upper_bounds == *upper_bounds;
    if (family.type == type && same_buckets) return family;
    log::LogEvent(spdlog::level::err,
                  {{"event", "metric_rejected"},
                   {"metric", name},
                   {"error", std::string("requested as ") + TypeName(type) + " but registered as " +
                                 TypeName(family.type) + "; the new one is not exported"}});
  } else if (ValidName(name, true)) {
    auto family = std::make_unique<Family>();
    family->name = name;
    family->help = help;
    family->type = type;
    if (upper_bounds != nullptr) family->upper_bounds = *upper_bounds;
    return *families_.emplace(name, std::move(family)).first->second;
  } else {
    log::LogEvent(spdlog::level::err,
                  {{"event", "metric_rejected"},
                   {"metric", name},
                   {"error", "invalid metric name; the metric is not exported"}});
  }
  *conflict = true;
  conflicting_.push_back(std::make_unique<Family>());
  conflicting_.back()->type = type;
  return *conflicting_.back();
}

Counter& MetricsRegistry::GetCounter(const std::string& name, const std::string& help,
                                     const MetricLabels& labels) {
  std::lock_guard<std::mutex> lock(mutex_);
  bool conflict = false;
  return InstanceFor(FamilyFor(name, help, kCounter, nullptr, &conflict).counters, name, labels);
}

Gauge& MetricsRegistry::GetGauge(const std::string& name, const std::string& help,
                                 const MetricLabels& labels) {
  std::lock_guard<std::mutex> lock(mutex_);
  bool conflict = false;
  return InstanceFor(FamilyFor(name, help, kGauge, nullptr, &conflict).gauges, name, labels);
}

Histogram& MetricsRegistry::GetHistogram(const std::string& name, const std::string& help,
                                         std::vector<double> upper_bounds,
                                         const MetricLabels& labels) {
  upper_bounds = NormalizedBounds(std::move(upper_bounds));
  std::lock_guard<std::mutex> lock(mutex_);
  bool conflict = false;
  Family& family = FamilyFor(name, help, kHistogram, &upper_bounds, &conflict);
  return InstanceFor(family.histograms, name, labels, upper_bounds);
}

std::string MetricsRegistry::Render() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out;
  for (const auto& [name, family] : families_) {
    out += "# HELP " + name + " " + Escape(family->help, false) + "\n";
    out += "# TYPE " + name + " " + TypeName(family->type) + "\n";
    for (const auto& [labels, counter] : family->counters) {
      out += name + RenderLabels(labels) + " " + FormatValue(counter->Value()) + "\n";
    }
    for (const auto& [labels, gauge] : family->gauges) {
      out += name + RenderLabels(labels) + " " + FormatValue(gauge->Value()) + "\n";
    }
    for (const auto& [labels, histogram] : family->histograms) {
      const Histogram::Snapshot snap = histogram->Read();
      for (std::size_t i = 0; i < snap.cumulative_counts.size(); ++i) {
        const std::string le =
            i < snap.upper_bounds.size() ? FormatValue(snap.upper_bounds[i]) : "+Inf";
        out += name + "_bucket" + RenderLabels(labels, "le", le) + " " +
               std::to_string(snap.cumulative_counts[i]) + "\n";
      }
      out += name + "_sum" + RenderLabels(labels) + " " + FormatValue(snap.sum) + "\n";
      out += name + "_count" + RenderLabels(labels) + " " + std::to_string(snap.count) + "\n";
    }
  }
  return out;
}

}  // namespace signet::server

// Prometheus metrics: counters, gauges and histograms kept in a registry that
// renders the text exposition format, version 0.0.4.
//
// A metric is identified by its name and its label set. GetCounter/GetGauge/
// GetHistogram return the existing instance or create it; the returned
// reference stays valid for the registry's lifetime, so callers look metrics
// up once and keep the reference. Every method of every class here is
// thread-safe. Names and label names must match the Prometheus grammar
// ([a-zA-Z_:][a-zA-Z0-9_:]* and [a-zA-Z_][a-zA-Z0-9_]*); label values are
// escaped when rendered. Asking for a name that already exists with another
// type (or other histogram buckets) is a programming error: it is logged and
// the caller gets a working metric that is not rendered.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace signet::server {

using MetricLabels = std::map<std::string, std::string>;

// A monotonically increasing value.
class Counter {
 public:
  void Increment(double amount = 1.0);  // negative amounts are ignored
  double Value() const;

 private:
  std::atomic<double> value_{0.0};
};

// A value that goes up and down.
class Gauge {
 public:
  void Set(double value);
  void Increment(double amount = 1.0);
  void Decrement(double amount = 1.0);
  double Value() const;

 private:
  std::atomic<double> value_{0.0};
};

// Counts observations into cumulative buckets (upper bounds, "le"), plus
// their sum and count. The +Inf bucket is implicit.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);

  void Observe(double value);

  struct Snapshot {
    std::vector<double> upper_bounds;
    std::vector<std::uint64_t> cumulative_counts;  // one per bound, then +Inf
    double sum = 0.0;
    std::uint64_t count = 0;
  };
  Snapshot Read() const;

  // Latency buckets in seconds, 1 ms to 10 s.
  static std::vector<double> DefaultLatencyBuckets();

 private:
  std::vector<double> upper_bounds_;  // sorted, unique
  mutable std::mutex mutex_;
  std::vector<std::uint64_t> counts_;  // per bucket (not cumulative), last is +Inf
  double sum_ = 0.0;
  std::uint64_t count_ = 0;
};

class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  Counter& GetCounter(const std::string& name, const std::string& help,
                      const MetricLabels& labels = {});
  Gauge& GetGauge(const std::string& name, const std::string& help,
                  const MetricLabels& labels = {});
  Histogram& GetHistogram(const std::string& name, const std::string& help,
                          std::vector<double> upper_bounds, const MetricLabels& labels = {});

  // The whole registry in text format 0.0.4: for each metric family a
  // "# HELP" and "# TYPE" line, then its samples, families sorted by name.
  std::string Render() const;

  // Content-Type of Render()'s output.
  static constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  struct Family;
  Family& FamilyFor(const std::string& name, const std::string& help, int type,
                    const std::vector<double>* upper_bounds, bool* conflict);

  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Family>> families_;
  std::vector<std::unique_ptr<Family>> conflicting_;  // not rendered
};

}  // namespace signet::server

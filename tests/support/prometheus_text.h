// Samples read from Prometheus text exposition (what a /metrics endpoint
// serves), for tests that check counters and gauges.
//
// A sample is named as it appears in the text: "name" alone, or
// "name{label=\"value\",...}" with the labels in the order the exporter
// writes them. Only whole lines match: "signet_x" never matches
// "signet_x_total". Stateless; safe to call from several threads.
#pragma once

#include <optional>
#include <string>

namespace signet::testing {

// The value of `sample`, or nullopt when no line carries it.
std::optional<double> FindMetricSample(const std::string& text, const std::string& sample);

// The value of `sample`; 0 when absent (a counter not yet incremented).
double MetricValue(const std::string& text, const std::string& sample);

// The sum of every sample of family `name`, whatever its labels; 0 when
// none.
double MetricSum(const std::string& text, const std::string& name);

}  // namespace signet::testing

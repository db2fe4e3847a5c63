#include "support/prometheus_text.h"

#include <gtest/gtest.h>

namespace {

constexpr char kScrape[] =
    "# HELP signet_x_total Things.\n"
    "# TYPE signet_x_total counter\n"
    "signet_x_total{result=\"valid\"} 3\n"
    "signet_x_total{result=\"invalid\"} 4.5\n"
    "signet_x 7\n"
    "other_signet_x 100\n"
    "signet_gauge 0\n";

TEST(PrometheusTextSupport, ReadsWholeSamplesOnly) {
  EXPECT_EQ(signet::testing::FindMetricSample(kScrape, "signet_x_total{result=\"valid\"}"), 3);
  EXPECT_EQ(signet::testing::FindMetricSample(kScrape, "signet_x"), 7);
  EXPECT_EQ(signet::testing::FindMetricSample(kScrape, "signet_gauge"), 0);
  // Absent, a prefix of another name, or only inside another line: no value.
  EXPECT_EQ(signet::testing::FindMetricSample(kScrape, "signet_y"), std::nullopt);
  EXPECT_EQ(signet::testing::FindMetricSample(kScrape, "signet_x_total"), std::nullopt);
  EXPECT_EQ(signet::testing::FindMetricSample(kScrape, "x"), std::nullopt);
  EXPECT_EQ(signet::testing::MetricValue(kScrape, "signet_y"), 0);
  EXPECT_EQ(signet::testing::MetricValue(kScrape, "signet_x"), 7);
}

TEST(PrometheusTextSupport, SumsOneFamilyAcrossLabels) {
  EXPECT_EQ(signet::testing::MetricSum(kScrape, "signet_x_total"), 7.5);
  EXPECT_EQ(signet::testing::MetricSum(kScrape, "signet_x"), 7);  // not signet_x_total's samples
  EXPECT_EQ(signet::testing::MetricSum(kScrape, "signet_none"), 0);
}

}  // namespace

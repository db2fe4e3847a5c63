// The chart's PrometheusRule checked by Prometheus's own tools: the rendered
// rules pass `promtool check rules`, the committed unit tests
// (deploy/monitoring/tests/signet-alerts.test.yaml) fire and stay quiet for
// every alert under `promtool test rules`, and the Alertmanager route example
// (deploy/monitoring/alertmanager-route.yaml) passes `amtool check-config`
// and routes every alert to its receiver. Each check has a control that the
// tool fails on a broken input.
#include <gtest/gtest.h>

#include <map>
#include <regex>

#include "monitoring/monitoring_files.h"

namespace signet::monitoringtest {
namespace {

using signet::testing::AmtoolBinary;
using signet::testing::PromtoolBinary;
using signet::testing::ReadFile;
using signet::testing::RunCommand;
using signet::testing::TempDir;
using signet::testing::WriteFile;

const std::set<std::string> kProviderAlerts = {"SignetProviderDown", "SignetProviderErrorRate",
                                               "SignetProviderLatencyNearDeadline",
                                               "SignetDenyRateSpike"};
const std::set<std::string> kGatekeeperAlerts = {"SignetAuditFindsUnenforcedViolations",
                                                 "SignetAuditFindsEnforcedViolations",
                                                 "SignetGatekeeperAuditStale"};

std::set<std::string> AllAlerts() {
  std::set<std::string> all = kProviderAlerts;
  all.insert(kGatekeeperAlerts.begin(), kGatekeeperAlerts.end());
  return all;
}

// scripts/install-deps.sh unpacked the pinned Debian 12 packages.
TEST(PrometheusTools, AreTheDebianBookwormVersions) {
  const std::vector<std::pair<std::string, std::string>> tools = {
      {PromtoolBinary(), "promtool, version 2.42.0"},
      {signet::testing::PrometheusBinary(), "prometheus, version 2.42.0"},
      {AmtoolBinary(), "amtool, version 0.25.0"}};
  for (const auto& [binary, version] : tools) {
    const auto result = RunCommand({binary, "--version"});
    EXPECT_EQ(result.exit_code, 0) << binary << ": " << result.err;
    EXPECT_EQ((result.out + result.err).rfind(version, 0), 0u) << result.out << result.err;
  }
}

signet::testing::CommandResult CheckRules(const std::string& rules) {
  TempDir dir;
  WriteFile(dir.File("rules.yaml"), rules);
  return RunCommand({PromtoolBinary(), "check", "rules", dir.File("rules.yaml")});
}

TEST(PrometheusRules, RenderedRulesPassPromtoolCheckRules) {
  const std::string rules = RulesFile(RenderMonitoring());
  ASSERT_NE(rules, "");
  EXPECT_EQ(AlertNames(rules), AllAlerts());
  const auto checked = CheckRules(rules);
  EXPECT_EQ(checked.exit_code, 0) << checked.out << checked.err;
  EXPECT_NE(checked.out.find("SUCCESS: 7 rules found"), std::string::npos) << checked.out;

  // Without the Gatekeeper alerts: the provider's four, still valid.
  const std::string provider_only =
      RulesFile(RenderMonitoring({"--set", "prometheusRule.gatekeeper.enabled=false"}));
  EXPECT_EQ(AlertNames(provider_only), kProviderAlerts);
  const auto checked_provider_only = CheckRules(provider_only);
  EXPECT_EQ(checked_provider_only.exit_code, 0)
      << checked_provider_only.out << checked_provider_only.err;

  // Control: promtool refuses a rule whose expression does not parse.
  const std::string broken =
      WithAlertExpr(rules, "SignetAuditFindsEnforcedViolations", "sum by (gatekeeper_violations");
  const auto refused = CheckRules(broken);
  EXPECT_NE(refused.exit_code, 0) << refused.out;
}

TEST(PrometheusRules, ValuesChangeTheGatekeeperAlerts) {
  const std::string rules =
      RulesFile(RenderMonitoring({"--set", "prometheusRule.gatekeeper.namespace=policy", "--set",
                                  "prometheusRule.gatekeeper.rolloutActions=warn", "--set",
                                  "prometheusRule.gatekeeper.staleAfterSeconds=600"}));
  EXPECT_EQ(AlertExpr(rules, "SignetAuditFindsUnenforcedViolations"),
            "sum by (enforcement_action) (gatekeeper_violations{namespace=\"policy\", "
            "enforcement_action=~\"warn\"}) > 0\n");
  EXPECT_EQ(AlertExpr(rules, "SignetGatekeeperAuditStale"),
            "time() - max(gatekeeper_audit_last_run_end_time{namespace=\"policy\"}) > 600\n"
            "or absent(gatekeeper_audit_last_run_end_time{namespace=\"policy\"})\n");
  const auto checked = CheckRules(rules);
  EXPECT_EQ(checked.exit_code, 0) << checked.out << checked.err;
}

// `promtool test rules` on a copy of `tests_file` next to the rendered rules.
signet::testing::CommandResult TestRules(const std::string& rules, const std::string& tests_file) {
  TempDir dir;
  WriteFile(dir.File("signet-rules.yaml"), rules);
  WriteFile(dir.File("signet-alerts.test.yaml"), tests_file);
  return RunCommand({PromtoolBinary(), "test", "rules", dir.File("signet-alerts.test.yaml")});
}

TEST(PrometheusRules, UnitTestsFireAndStayQuietForEveryAlert) {
  const std::string rules = RulesFile(RenderMonitoring());
  ASSERT_NE(rules, "");
  const std::string tests_file = ReadFile(MonitoringDir() + "/tests/signet-alerts.test.yaml");
  ASSERT_NE(tests_file, "");

  // Every alert has a case where it fires and one where it does not.
  std::set<std::string> fired, quiet;
  const YAML::Node tests = YAML::Load(tests_file);
  for (const auto& test : tests["tests"]) {
    for (const auto& check : test["alert_rule_test"]) {
      const std::string alert = check["alertname"].as<std::string>();
      (check["exp_alerts"].size() > 0 ? fired : quiet).insert(alert);
    }
  }
  EXPECT_EQ(fired, AlertNames(rules));
  EXPECT_EQ(quiet, AlertNames(rules));

  const auto passed = TestRules(rules, tests_file);
  EXPECT_EQ(passed.exit_code, 0) << passed.out << passed.err;
  EXPECT_NE(passed.out.find("SUCCESS"), std::string::npos) << passed.out;

  // Control: the same tests fail against rules whose threshold moved.
  std::string expr = AlertExpr(rules, "SignetAuditFindsEnforcedViolations");
  const std::size_t threshold = expr.rfind("> 0");
  ASSERT_NE(threshold, std::string::npos) << expr;
  expr.replace(threshold, 3, "> 5");
  const std::string moved = WithAlertExpr(rules, "SignetAuditFindsEnforcedViolations", expr);
  const auto failed = TestRules(moved, tests_file);
  EXPECT_NE(failed.exit_code, 0) << failed.out;
  EXPECT_NE((failed.out + failed.err).find("alertname: SignetAuditFindsEnforcedViolations"),
            std::string::npos)
      << failed.out << failed.err;
}

// The signet_* metric families named in `text` (histogram series suffixes
// removed).
std::set<std::string> SignetMetricsIn(const std::string& text) {
  std::set<std::string> names;
  const std::regex metric("signet_[a-z_]+");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), metric);
       it != std::sregex_iterator(); ++it) {
    std::string name = it->str();
    for (const std::string suffix : {"_bucket", "_sum", "_count"}) {
      if (name.size() > suffix.size() &&
          name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
        name.resize(name.size() - suffix.size());
      }
    }
    names.insert(name);
  }
  return names;
}

// The alerts and the Grafana dashboard use only metrics that docs/provider.md
// lists (the provider_e2e suite holds that list equal to a real scrape).
TEST(PrometheusRules, AlertsAndDashboardUseOnlyDocumentedMetrics) {
  const std::string doc = ReadFile(signet::testing::SourceDir() + "/docs/provider.md");
  const std::string rules = RulesFile(RenderMonitoring());
  const std::string dashboard = ReadFile(MonitoringDir() + "/grafana-dashboard.json");
  const auto in_rules = SignetMetricsIn(rules);
  const auto in_dashboard = SignetMetricsIn(dashboard);
  EXPECT_GE(in_rules.size(), 3u);
  EXPECT_GE(in_dashboard.size(), 8u);
  for (const auto* names : {&in_rules, &in_dashboard}) {
    for (const auto& name : *names) {
      EXPECT_NE(doc.find("| `" + name + "` |"), std::string::npos) << name;
    }
  }
  // Control: a name that does not exist is caught.
  EXPECT_EQ(doc.find("| `signet_provider_cache_ratio` |"), std::string::npos);
}

// `amtool config routes test` for one alert's labels; true when they reach
// `receiver`.
bool RoutesTo(const std::string& config, const std::string& receiver,
              const std::vector<std::string>& labels) {
  std::vector<std::string> argv = {AmtoolBinary(),
                                   "config",
                                   "routes",
                                   "test",
                                   "--config.file=" + config,
                                   "--verify.receivers=" + receiver};
  argv.insert(argv.end(), labels.begin(), labels.end());
  const auto result = RunCommand(argv);
  return result.exit_code == 0 && result.out == receiver + "\n";
}

TEST(AlertmanagerRoute, ExampleIsValidAndRoutesEveryAlert) {
  const std::string config = MonitoringDir() + "/alertmanager-route.yaml";
  const auto checked = RunCommand({AmtoolBinary(), "check-config", config});
  EXPECT_EQ(checked.exit_code, 0) << checked.out << checked.err;
  EXPECT_NE(checked.out.find("SUCCESS"), std::string::npos) << checked.out;

  const std::map<std::string, std::string> receiver_of = {
      {"SignetProviderDown", "signet-oncall"},
      {"SignetProviderErrorRate", "signet-team"},
      {"SignetProviderLatencyNearDeadline", "signet-team"},
      {"SignetDenyRateSpike", "signet-team"},
      {"SignetAuditFindsUnenforcedViolations", "signet-rollout"},
      {"SignetAuditFindsEnforcedViolations", "signet-rollout"},
      {"SignetGatekeeperAuditStale", "signet-rollout"},
  };
  std::set<std::string> routed;
  for (const auto& [alert, receiver] : receiver_of) {
    routed.insert(alert);
    EXPECT_TRUE(RoutesTo(config, receiver,
                         {"alertname=" + alert, "namespace=signet-system", "severity=warning"}))
        << alert << " should reach " << receiver;
  }
  EXPECT_EQ(routed, AllAlerts());
  // Control: a wrong receiver is reported, and other alerts stay on the default.
  EXPECT_FALSE(RoutesTo(config, "signet-team", {"alertname=SignetProviderDown"}));
  EXPECT_TRUE(RoutesTo(config, "default", {"alertname=KubePodCrashLooping"}));

  // Control: amtool refuses a route to a receiver that does not exist.
  TempDir dir;
  std::string broken = ReadFile(config);
  const std::size_t at = broken.find("receiver: signet-oncall");
  ASSERT_NE(at, std::string::npos);
  broken.replace(at, std::string("receiver: signet-oncall").size(), "receiver: nobody");
  WriteFile(dir.File("alertmanager.yaml"), broken);
  const auto refused = RunCommand({AmtoolBinary(), "check-config", dir.File("alertmanager.yaml")});
  EXPECT_NE(refused.exit_code, 0) << refused.out;
}

}  // namespace
}  // namespace signet::monitoringtest

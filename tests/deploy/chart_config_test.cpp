// The config.yaml the chart renders into its ConfigMap is accepted by the
// provider's own configuration parser, for every supported combination of
// values, so a helm install never ships a config that `signet serve` rejects.
#include <gtest/gtest.h>

#include "deploy/deploy_files.h"
#include "signet/policy/config.h"

namespace signet::deploytest {
namespace {

std::string RenderedConfig(const std::vector<std::string>& extra) {
  const auto result = HelmTemplate(extra);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  const auto config_map = FindObject(Documents(result.out), "ConfigMap", "signet-config");
  EXPECT_TRUE(config_map.IsDefined());
  return config_map["data"]["config.yaml"].as<std::string>("");
}

TEST(ChartConfig, ProviderAcceptsTheRenderedConfig) {
  const std::vector<std::vector<std::string>> variants = {
      {},
      {"--set", "mtls.enabled=false"},
      {"--set", "registryCredentials.type=basic", "--set",
       "registryCredentials.hosts[0].host=registry.example.com"},
      {"--set", "registryCredentials.type=dockerconfigjson", "--set",
       "registries[0].host=registry.internal:5000", "--set", "registries[0].insecure=true"},
      {"--set", "registryCA.configMapName=registry-ca", "--set",
       "registries[0].host=registry.internal:5000", "--set",
       "registries[0].caFile=/etc/signet/registry-ca/ca.crt"},
  };
  for (const auto& extra : variants) {
    const std::string yaml = RenderedConfig(extra);
    const std::string what = extra.empty() ? "defaults" : extra[1];
    const auto parsed = signet::policy::ParseConfig(yaml, "configmap");
    ASSERT_TRUE(parsed.ok()) << what << ": " << parsed.error().message() << "\n" << yaml;
    const auto valid = signet::policy::ValidateConfig(parsed.value());
    EXPECT_TRUE(valid.ok()) << what << ": " << valid.error().message();
  }
}

TEST(ChartConfig, ProviderRejectsABrokenValue) {
  // Guards the test above: the parser does reject what it should (a value
  // the chart itself does not check; bad durations the chart refuses, see
  // HelmChart.RefusesTimeoutsThatLetGatekeeperGiveUpFirst).
  const std::string yaml = RenderedConfig({"--set", "verification.workers=0"});
  EXPECT_FALSE(signet::policy::ParseConfig(yaml, "configmap").ok());
}

}  // namespace
}  // namespace signet::deploytest

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
      {"--set", "sharedCache.redis.address=signet-redis.gatekeeper-system.svc:6379", "--set",
       "sharedCache.redis.passwordSecret.name=signet-redis", "--set",
       "sharedCache.redis.hmacSecret.name=signet-redis-hmac"},
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

// sharedCache.redis (values) becomes the provider's cache.redis, with the
// HMAC key and the password from their Secrets through the environment;
// nothing when off; no rendering at all without the HMAC key's Secret.
TEST(ChartConfig, SharedCacheReachesTheProviderConfig) {
  const std::vector<std::string> on_values = {
      "--set", "sharedCache.redis.address=signet-redis:6379",
      "--set", "sharedCache.redis.passwordSecret.name=signet-redis",
      "--set", "sharedCache.redis.hmacSecret.name=signet-redis-hmac"};
  const auto on = signet::policy::ParseConfig(RenderedConfig(on_values), "configmap");
  ASSERT_TRUE(on.ok()) << on.error().message();
  EXPECT_EQ(on->cache.redis.address, "signet-redis:6379");
  EXPECT_EQ(on->cache.redis.password_env, "SIGNET_REDIS_PASSWORD");
  EXPECT_EQ(on->cache.redis.hmac_key_env, "SIGNET_REDIS_HMAC_KEY");
  EXPECT_EQ(on->cache.redis.timeout, std::chrono::milliseconds(50));
  const auto rendered = HelmTemplate(on_values);
  ASSERT_EQ(rendered.exit_code, 0) << rendered.err;
  const auto deployment = FindObject(Documents(rendered.out), "Deployment", "signet");
  ASSERT_TRUE(deployment.IsDefined());
  const auto env = deployment["spec"]["template"]["spec"]["containers"][0]["env"];
  ASSERT_TRUE(env.IsSequence()) << rendered.out;
  ASSERT_EQ(env.size(), 2u) << rendered.out;
  EXPECT_EQ(env[0]["name"].as<std::string>(""), "SIGNET_REDIS_HMAC_KEY");
  EXPECT_EQ(env[0]["valueFrom"]["secretKeyRef"]["name"].as<std::string>(""), "signet-redis-hmac");
  EXPECT_EQ(env[0]["valueFrom"]["secretKeyRef"]["key"].as<std::string>(""), "hmac-key");
  EXPECT_EQ(env[1]["name"].as<std::string>(""), "SIGNET_REDIS_PASSWORD");
  EXPECT_EQ(env[1]["valueFrom"]["secretKeyRef"]["name"].as<std::string>(""), "signet-redis");

  // Fail closed: an address without the HMAC key's Secret does not render.
  const auto no_secret =
      HelmTemplate({"--set", "sharedCache.redis.address=signet-redis:6379", "--set",
                    "sharedCache.redis.passwordSecret.name=signet-redis"});
  EXPECT_NE(no_secret.exit_code, 0) << no_secret.out;
  EXPECT_NE(no_secret.err.find("sharedCache.redis.hmacSecret.name is required"), std::string::npos)
      << no_secret.err;

  const auto off = signet::policy::ParseConfig(RenderedConfig({}), "configmap");
  ASSERT_TRUE(off.ok()) << off.error().message();
  EXPECT_EQ(off->cache.redis.address, "");
  const auto off_rendered = HelmTemplate({});
  ASSERT_EQ(off_rendered.exit_code, 0) << off_rendered.err;
  const auto off_deployment = FindObject(Documents(off_rendered.out), "Deployment", "signet");
  ASSERT_TRUE(off_deployment.IsDefined());
  EXPECT_FALSE(off_deployment["spec"]["template"]["spec"]["containers"][0]["env"].IsDefined());
}

// mutation.exemptImages (values) feeds the ConfigMap's mutation.exemptImages
// as given, and the provider refuses an entry it cannot honour.
TEST(ChartConfig, MutationExemptImagesReachTheProviderConfig) {
  const auto parsed = signet::policy::ParseConfig(
      RenderedConfig(
          {"--set", "mutation.exemptImages={registry.k8s.io/pause:*,registry.k8s.io/pause}"}),
      "configmap");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_EQ(parsed->mutation.exempt_images,
            (std::vector<std::string>{"registry.k8s.io/pause:*", "registry.k8s.io/pause"}));
  const auto defaults = signet::policy::ParseConfig(RenderedConfig({}), "configmap");
  ASSERT_TRUE(defaults.ok()) << defaults.error().message();
  EXPECT_TRUE(defaults->mutation.exempt_images.empty());
  const auto bad = signet::policy::ParseConfig(
      RenderedConfig({"--set", "mutation.exemptImages={registry.k8s.io/*/pause}"}), "configmap");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("mutation.exemptImages[0]"), std::string::npos)
      << bad.error().message();
}

// The chart's default list equals every shipped constraint's exemptImages, as
// values.yaml and docs/kubernetes.md ask operators to keep them.
TEST(ChartConfig, ShippedExemptImagesAgreeBetweenChartAndConstraints) {
  const auto chart = YAML::LoadFile(ChartDir() + "/values.yaml")["mutation"]["exemptImages"];
  ASSERT_TRUE(chart.IsSequence());
  const auto constraints = FilesUnder(DeployDir() + "/gatekeeper/constraints", {".yaml"});
  ASSERT_EQ(constraints.size(), 3u);
  for (const auto& file : constraints) {
    const auto list = YAML::LoadFile(file)["spec"]["parameters"]["exemptImages"];
    ASSERT_TRUE(list.IsSequence()) << file;
    ASSERT_EQ(list.size(), chart.size()) << file;
    for (std::size_t i = 0; i < list.size(); ++i) {
      EXPECT_EQ(list[i].as<std::string>(), chart[i].as<std::string>()) << file;
    }
  }
}

}  // namespace
}  // namespace signet::deploytest

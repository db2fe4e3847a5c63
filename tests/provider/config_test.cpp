#include "signet/policy/config.h"

#include <gtest/gtest.h>

#include "signet/policy/image_pattern.h"
#include "signet/policy/policy_set.h"

namespace signet::policy {
namespace {

using std::chrono::milliseconds;

TEST(ConfigTest, DefaultsMatchTheSeedDeployment) {
  auto config = ParseConfig("", "empty.yaml");
  ASSERT_TRUE(config.ok()) << config.error().message();
  EXPECT_EQ(config->server.port, 8090);
  EXPECT_EQ(config->server.validate_path, "/validate");
  EXPECT_EQ(config->server.tls_min_version, "1.3");
  EXPECT_EQ(config->server.max_body_bytes, 1024u * 1024u);
  EXPECT_EQ(config->verification.deadline, milliseconds(1500));
  ASSERT_EQ(config->keys.size(), 1u);
  EXPECT_EQ(config->keys[0].path, "./cosign.pub");
  ASSERT_EQ(config->policies.size(), 1u);
  EXPECT_EQ(config->policies[0].images, std::vector<std::string>{"**"});
  EXPECT_EQ(config->verification.unmatched_images, UnmatchedImages::kDeny);
}

TEST(ConfigTest, ParsesTheAgreedSchema) {
  const std::string yaml = R"(
server:
  port: 8443
  address: 127.0.0.1
  tlsCertFile: /certs/tls.crt
  tlsKeyFile: /certs/tls.key
  clientCAFile: /gatekeeper-ca/ca.crt
  clientSANs: [gatekeeper-webhook-service.gatekeeper-system.svc]
  tlsMinVersion: "1.2"
  insecureHTTP: false
  maxBodyBytes: 2048
  maxKeys: 7
  maxConnections: 9
  headerTimeout: 5s
  readTimeout: 1m
verification:
  deadline: 2500ms
  workers: 3
  cacheTTL: 5m
  negativeCacheTTL: 10s
  tagCacheTTL: 30s
  cacheMaxEntries: 42
  unmatchedImages: verify
keys:
  - name: default
    path: /etc/signet/keys/cosign.pub
  - name: other
    path: /etc/signet/keys/other.pub
policies:
  - name: prod
    images: ["registry.example.com/prod/**", "ghcr.io/acme/*"]
    keys: [default]
    annotations: {env: prod}
registries:
  - host: registry.example.com
    usernameFile: /etc/registry-secret/username
    passwordFile: /etc/registry-secret/password
    caFile: /etc/registry-ca/ca.crt
    insecure: true
dockerConfigFile: /etc/signet/dockerconfig/.dockerconfigjson
)";
  auto config = ParseConfig(yaml, "full.yaml");
  ASSERT_TRUE(config.ok()) << config.error().message();
  EXPECT_EQ(config->server.port, 8443);
  EXPECT_EQ(config->server.address, "127.0.0.1");
  EXPECT_EQ(config->server.client_sans,
            std::vector<std::string>{"gatekeeper-webhook-service.gatekeeper-system.svc"});
  EXPECT_EQ(config->server.tls_min_version, "1.2");
  EXPECT_EQ(config->server.max_body_bytes, 2048u);
  EXPECT_EQ(config->server.max_keys, 7u);
  EXPECT_EQ(config->server.max_connections, 9u);
  EXPECT_EQ(config->server.read_timeout, milliseconds(60000));
  EXPECT_EQ(config->verification.workers, 3);
  EXPECT_EQ(config->verification.cache_ttl, milliseconds(300000));
  EXPECT_EQ(config->verification.negative_cache_ttl, milliseconds(10000));
  EXPECT_EQ(config->verification.tag_cache_ttl, milliseconds(30000));
  EXPECT_EQ(config->verification.cache_max_entries, 42u);
  EXPECT_EQ(config->verification.unmatched_images, UnmatchedImages::kVerify);
  ASSERT_EQ(config->keys.size(), 2u);
  EXPECT_EQ(config->keys[1].name, "other");
  ASSERT_EQ(config->policies.size(), 1u);
  EXPECT_EQ(config->policies[0].keys, std::vector<std::string>{"default"});
  EXPECT_EQ(config->policies[0].annotations.at("env"), "prod");
  ASSERT_EQ(config->registries.size(), 1u);
  EXPECT_TRUE(config->registries[0].insecure);
  EXPECT_EQ(config->registries[0].ca_file, "/etc/registry-ca/ca.crt");
  EXPECT_EQ(config->docker_config_file, "/etc/signet/dockerconfig/.dockerconfigjson");
}

void ExpectConfigError(const std::string& yaml, const std::string& part) {
  auto config = ParseConfig(yaml, "bad.yaml");
  ASSERT_FALSE(config.ok()) << yaml;
  EXPECT_NE(config.error().message().find(part), std::string::npos)
      << "message: " << config.error().message();
}

TEST(ConfigTest, ErrorsNameTheKeyAndLine) {
  ExpectConfigError("server:\n  port: 8090\n  prot: 1\n", "bad.yaml:3: server.prot: unknown key");
  ExpectConfigError("verification:\n  deadline: soon\n",
                    "bad.yaml:2: verification.deadline: invalid duration \"soon\"");
  ExpectConfigError("verification:\n\n  deadline: 3d\n", "bad.yaml:3: verification.deadline");
  ExpectConfigError("server:\n  port: http\n", "bad.yaml:2: server.port: expected an integer");
  ExpectConfigError("server:\n  port: 70000\n", "server.port: must be between 0 and 65535");
  ExpectConfigError("server:\n  insecureHTTP: yes please\n",
                    "server.insecureHTTP: expected true or false");
  ExpectConfigError("server:\n  tlsMinVersion: \"1.1\"\n", "server.tlsMinVersion");
  ExpectConfigError("verification:\n  unmatchedImages: allow\n",
                    "verification.unmatchedImages: must be \"deny\" or \"verify\"");
  ExpectConfigError("keys:\n  - name: a\n", "keys[0].path: is required");
  ExpectConfigError("policies:\n  - name: p\n    images: []\n",
                    "policies[0].images: needs at least one pattern");
  ExpectConfigError("policies:\n  - name: p\n    images: [\"a/b\"]\n    keys: [nope]\n",
                    "refers to unknown key \"nope\"");
  ExpectConfigError("policies:\n  - name: p\n    images: [\"a/?\"]\n", "policies[0].images[0]");
  ExpectConfigError("registries:\n  - host: r\n    usernameFile: /u\n",
                    "usernameFile and passwordFile must be given together");
  ExpectConfigError("server: [1, 2\n", "bad.yaml:");
  ExpectConfigError("colour: blue\n", "bad.yaml:1: colour: unknown key");
  ExpectConfigError("keys:\n  - {name: a, path: /a}\n  - {name: a, path: /b}\n",
                    "duplicate key name \"a\"");
}

TEST(ConfigTest, Durations) {
  EXPECT_EQ(*ParseDuration("2500ms"), milliseconds(2500));
  EXPECT_EQ(*ParseDuration("10s"), milliseconds(10000));
  EXPECT_EQ(*ParseDuration("5m"), milliseconds(300000));
  EXPECT_EQ(*ParseDuration("1h"), milliseconds(3600000));
  EXPECT_EQ(*ParseDuration("250"), milliseconds(250));
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_FALSE(ParseDuration("s").ok());
  EXPECT_FALSE(ParseDuration("-1s").ok());
  EXPECT_FALSE(ParseDuration("1.5s").ok());
  EXPECT_FALSE(ParseDuration("1d").ok());
  // Go's compound form, as cosign prints its --timeout default.
  EXPECT_EQ(*ParseDuration("3m0s"), milliseconds(180000));
  EXPECT_EQ(*ParseDuration("1m30s"), milliseconds(90000));
  EXPECT_EQ(*ParseDuration("1h2m3s4ms"), milliseconds(3723004));
  EXPECT_FALSE(ParseDuration("30s1m").ok());
  EXPECT_FALSE(ParseDuration("1s1s").ok());
  EXPECT_FALSE(ParseDuration("1m30").ok());
  EXPECT_FALSE(ParseDuration("999999999999h").ok());
  EXPECT_EQ(FormatDuration(milliseconds(2500)), "2500ms");
  EXPECT_EQ(FormatDuration(milliseconds(300000)), "5m");
}

TEST(ImagePatternTest, SingleStarStaysWithinOneSegment) {
  auto pattern = ImagePattern::Parse("ghcr.io/acme/*");
  ASSERT_TRUE(pattern.ok());
  EXPECT_TRUE(pattern->Matches("ghcr.io/acme/app"));
  EXPECT_FALSE(pattern->Matches("ghcr.io/acme/team/app"));
  EXPECT_FALSE(pattern->Matches("ghcr.io/acme"));
  EXPECT_FALSE(pattern->Matches("ghcr.io/acmex/app"));
}

TEST(ImagePatternTest, DoubleStarCrossesSegments) {
  auto pattern = ImagePattern::Parse("registry.example.com/prod/**");
  ASSERT_TRUE(pattern.ok());
  EXPECT_TRUE(pattern->Matches("registry.example.com/prod/app"));
  EXPECT_TRUE(pattern->Matches("registry.example.com/prod/team/app"));
  EXPECT_FALSE(pattern->Matches("registry.example.com/dev/app"));
  EXPECT_FALSE(pattern->Matches("evil.com/registry.example.com/prod/app"));
  EXPECT_TRUE(ImagePattern::Parse("**")->Matches("index.docker.io/library/nginx"));
}

TEST(ImagePatternTest, DockerHubShortFormIsNormalised) {
  auto pattern = ImagePattern::Parse("docker.io/library/*");
  ASSERT_TRUE(pattern.ok());
  EXPECT_TRUE(pattern->Matches("index.docker.io/library/nginx"));
}

TEST(PolicySetTest, FirstMatchingPolicyWinsAndUnmatchedIsDenied) {
  std::vector<PolicyConfig> policies = {
      {"prod", {"registry.example.com/prod/**"}, {"k1"}, {{"env", "prod"}}},
      {"any-example", {"registry.example.com/**"}, {}, {}},
  };
  auto set = PolicySet::Create(policies, UnmatchedImages::kDeny);
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->Match("registry.example.com/prod/app")->name, "prod");
  EXPECT_EQ(set->Match("registry.example.com/dev/app")->name, "any-example");
  EXPECT_FALSE(set->Match("ghcr.io/other/app").has_value());
}

TEST(PolicySetTest, UnmatchedVerifyUsesAllKeysNeverAllows) {
  auto set = PolicySet::Create({{"prod", {"a.io/prod/*"}, {"k1"}, {}}}, UnmatchedImages::kVerify);
  ASSERT_TRUE(set.ok());
  auto policy = set->Match("b.io/x");
  ASSERT_TRUE(policy.has_value());
  EXPECT_EQ(policy->name, "unmatched");
  EXPECT_TRUE(policy->keys.empty());
  EXPECT_TRUE(policy->annotations.empty());
}

}  // namespace
}  // namespace signet::policy

#include "signet/policy/config.h"

#include <gtest/gtest.h>

#include <functional>

#include "signet/policy/image_pattern.h"
#include "signet/policy/policy_set.h"
#include "support/paths.h"
#include "support/pki.h"
#include "support/process.h"

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
  // Below Gatekeeper's 1 s mutating webhook timeout, with margin.
  EXPECT_EQ(config->verification.mutate_deadline, milliseconds(700));
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
  mutateDeadline: 800ms
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
  EXPECT_EQ(config->verification.mutate_deadline, milliseconds(800));
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
  ASSERT_EQ(config->registry_access.registries.size(), 1u);
  EXPECT_TRUE(config->registry_access.registries[0].insecure);
  EXPECT_EQ(config->registry_access.registries[0].ca_file, "/etc/registry-ca/ca.crt");
  EXPECT_EQ(config->registry_access.docker_config_file, "/etc/signet/dockerconfig/.dockerconfigjson");
}

void ExpectConfigError(const std::string& yaml, const std::string& part) {
  auto config = ParseConfig(yaml, "bad.yaml");
  ASSERT_FALSE(config.ok()) << yaml;
  EXPECT_NE(config.error().message().find(part), std::string::npos)
      << "message: " << config.error().message();
}

TEST(ConfigTest, PolicyAttestations) {
  const std::string keys = "keys:\n  - name: k\n    path: /k.pub\n";
  auto none = ParseConfig(keys + "policies:\n  - {name: p, images: [\"**\"]}\n", "signet.yaml");
  ASSERT_TRUE(none.ok()) << none.error().message();
  EXPECT_TRUE(none->policies[0].attestations.empty());
  auto set = ParseConfig(keys +
                             "policies:\n  - name: p\n    images: [\"**\"]\n"
                             "    attestations: [slsaprovenance, \"https://example.com/p/v1\"]\n",
                         "signet.yaml");
  ASSERT_TRUE(set.ok()) << set.error().message();
  EXPECT_EQ(set->policies[0].attestations,
            (std::vector<std::string>{"slsaprovenance", "https://example.com/p/v1"}));
  ExpectConfigError(keys +
                        "policies:\n  - name: p\n    images: [\"**\"]\n"
                        "    attestations: [slsaprovenance, not-a-type]\n",
                    "bad.yaml:7: policies[0].attestations[1]: invalid predicate type: not-a-type");
  ExpectConfigError(keys + "policies:\n  - {name: p, images: [\"**\"], attestations: slsa}\n",
                    "policies[0].attestations");
}

TEST(ConfigTest, SignatureFormatsDefaultToBoth) {
  const std::string keys = "keys:\n  - name: k\n    path: /k.pub\n";
  auto defaults = ParseConfig(keys, "signet.yaml");
  ASSERT_TRUE(defaults.ok()) << defaults.error().message();
  EXPECT_EQ(defaults->verification.signature_formats, SignatureFormats::kBoth);
  auto legacy = ParseConfig(keys + "verification:\n  signatureFormats: legacy\n", "signet.yaml");
  ASSERT_TRUE(legacy.ok()) << legacy.error().message();
  EXPECT_EQ(legacy->verification.signature_formats, SignatureFormats::kLegacy);
  auto both = ParseConfig(keys + "verification:\n  signatureFormats: both\n", "signet.yaml");
  ASSERT_TRUE(both.ok()) << both.error().message();
  EXPECT_EQ(both->verification.signature_formats, SignatureFormats::kBoth);
  ExpectConfigError("verification:\n  signatureFormats: bundle\n",
                    "bad.yaml:2: verification.signatureFormats: must be \"both\" or \"legacy\"");
}

TEST(ConfigTest, RefreshAheadAndLastKnownGoodGrace) {
  const std::string keys = "keys:\n  - name: k\n    path: /k.pub\n";
  auto defaults = ParseConfig(keys, "signet.yaml");
  ASSERT_TRUE(defaults.ok()) << defaults.error().message();
  EXPECT_FALSE(defaults->verification.refresh_ahead.has_value());            // a tenth of cacheTTL
  EXPECT_EQ(defaults->verification.last_known_good_grace, milliseconds(0));  // off
  auto set = ParseConfig(
      keys + "verification:\n  cacheTTL: 5m\n  refreshAhead: 30s\n  lastKnownGoodGrace: 24h\n",
      "signet.yaml");
  ASSERT_TRUE(set.ok()) << set.error().message();
  EXPECT_EQ(set->verification.refresh_ahead, milliseconds(30000));
  EXPECT_EQ(set->verification.last_known_good_grace, milliseconds(24 * 3600 * 1000));
  auto off =
      ParseConfig(keys + "verification:\n  cacheTTL: 1s\n  refreshAhead: 0s\n", "signet.yaml");
  ASSERT_TRUE(off.ok()) << off.error().message();
  EXPECT_EQ(off->verification.refresh_ahead, milliseconds(0));
  ExpectConfigError(keys + "verification:\n  cacheTTL: 1m\n  refreshAhead: 1m\n",
                    "verification.refreshAhead: must be below verification.cacheTTL");
  ExpectConfigError("verification:\n  lastKnownGoodGrace: forever\n",
                    "bad.yaml:2: verification.lastKnownGoodGrace: invalid duration");
  ExpectConfigError("verification:\n  refreshAhead: soon\n",
                    "bad.yaml:2: verification.refreshAhead: invalid duration");
}

TEST(ConfigTest, RegistryLimitsForEveryHostAndPerHost) {
  auto defaults = ParseConfig("", "signet.yaml");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->registry_access.limits.max_concurrent_requests, 16);
  EXPECT_EQ(defaults->registry_access.limits.requests_per_second, 100);
  EXPECT_EQ(defaults->registry_access.limits.burst, 100);
  auto set = ParseConfig(
      "registryLimits:\n  maxConcurrentRequests: 4\n  requestsPerSecond: 2.5\n  burst: 10\n"
      "registries:\n  - host: ghcr.io\n    requestsPerSecond: 0.5\n  - host: quay.io\n",
      "signet.yaml");
  ASSERT_TRUE(set.ok()) << set.error().message();
  EXPECT_EQ(set->registry_access.limits.max_concurrent_requests, 4);
  EXPECT_EQ(set->registry_access.limits.requests_per_second, 2.5);
  EXPECT_EQ(set->registry_access.limits.burst, 10);
  // A host's own limit wins; what it leaves out is the registryLimits one.
  ASSERT_EQ(set->registry_access.host_limits.size(), 1u);  // quay.io sets none
  EXPECT_EQ(set->registry_access.host_limits[0].host, "ghcr.io");
  const RegistryLimits ghcr = set->registry_access.host_limits[0].Over(set->registry_access.limits);
  EXPECT_EQ(ghcr.requests_per_second, 0.5);
  EXPECT_EQ(ghcr.max_concurrent_requests, 4);
  EXPECT_EQ(ghcr.burst, 10);
  EXPECT_EQ(set->registry_access.registries.size(), 2u);
  // No rate limit at all is allowed.
  EXPECT_TRUE(ParseConfig("registryLimits:\n  requestsPerSecond: 0\n", "ok.yaml").ok());

  ExpectConfigError("registryLimits:\n  maxConcurrentRequests: 0\n",
                    "bad.yaml:2: registryLimits.maxConcurrentRequests: must be between 1");
  ExpectConfigError("registryLimits:\n  requestsPerSecond: fast\n",
                    "bad.yaml:2: registryLimits.requestsPerSecond: expected a number");
  ExpectConfigError("registryLimits:\n  requestsPerSecond: -1\n",
                    "registryLimits: requestsPerSecond must be between 0 (no limit)");
  ExpectConfigError("registryLimits:\n  burst: 0.5\n", "registryLimits: burst must be between 1");
  ExpectConfigError("registryLimits:\n  rate: 5\n", "bad.yaml:2: registryLimits.rate: unknown key");
  ExpectConfigError("registries:\n  - host: ghcr.io\n    burst: 0\n",
                    "registries: host \"ghcr.io\": burst must be between 1");
  ExpectConfigError("registries:\n  - host: \"*\"\n    maxConcurrentRequests: 2\n",
                    "host \"*\" cannot carry limits");
}

TEST(ConfigTest, SharedRedisCache) {
  const std::string keys = "keys:\n  - name: k\n    path: /k.pub\n";
  auto defaults = ParseConfig(keys, "signet.yaml");
  ASSERT_TRUE(defaults.ok()) << defaults.error().message();
  EXPECT_EQ(defaults->cache.redis.address, "");  // off
  EXPECT_EQ(defaults->cache.redis.timeout, milliseconds(50));
  EXPECT_EQ(defaults->cache.redis.key_prefix, "signet:");
  auto set = ParseConfig(keys +
                             "cache:\n  redis:\n    address: redis.signet.svc:6379\n"
                             "    timeout: 100ms\n    keyPrefix: \"prod-signet:\"\n"
                             "    passwordFile: /etc/signet/redis/password\n"
                             "    hmacKeyFile: /etc/signet/redis-hmac/key\n"
                             "    maxReconnectBackoff: 10s\n",
                         "signet.yaml");
  ASSERT_TRUE(set.ok()) << set.error().message();
  EXPECT_EQ(set->cache.redis.address, "redis.signet.svc:6379");
  EXPECT_EQ(set->cache.redis.timeout, milliseconds(100));
  EXPECT_EQ(set->cache.redis.key_prefix, "prod-signet:");
  EXPECT_EQ(set->cache.redis.password_file, "/etc/signet/redis/password");
  EXPECT_EQ(set->cache.redis.hmac_key_file, "/etc/signet/redis-hmac/key");
  EXPECT_EQ(set->cache.redis.max_reconnect_backoff, milliseconds(10000));
  auto from_env = ParseConfig(
      keys + "cache:\n  redis:\n    address: r:1\n    hmacKeyEnv: SIGNET_REDIS_HMAC_KEY\n",
      "signet.yaml");
  ASSERT_TRUE(from_env.ok()) << from_env.error().message();
  EXPECT_EQ(from_env->cache.redis.hmac_key_env, "SIGNET_REDIS_HMAC_KEY");
  auto v6 = ParseRedisAddress("[::1]:6380");
  ASSERT_TRUE(v6.ok()) << v6.error().message();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 6380);

  ExpectConfigError("cache:\n  redis:\n    adress: x:1\n",
                    "bad.yaml:3: cache.redis.adress: unknown key");
  ExpectConfigError(keys + "cache:\n  redis:\n    address: redis\n",
                    "cache.redis.address: \"redis\": no port");
  ExpectConfigError(keys + "cache:\n  redis:\n    address: redis:0\n",
                    "cache.redis.address: \"redis:0\": the port must be a number from 1 to 65535");
  ExpectConfigError(keys + "cache:\n  redis:\n    address: r:1\n    timeout: 1s\n",
                    "cache.redis.timeout: must be positive and at most half of "
                    "verification.deadline (1500ms)");
  ExpectConfigError(keys + "cache:\n  redis:\n    address: r:1\n    keyPrefix: \"a b\"\n",
                    "cache.redis.keyPrefix: printable characters without spaces only");
  ExpectConfigError(keys +
                        "cache:\n  redis:\n    address: r:1\n    passwordFile: /p\n"
                        "    passwordEnv: P\n",
                    "cache.redis.passwordFile: give passwordFile or passwordEnv, not both");
  ExpectConfigError(keys + "cache:\n  redis:\n    passwordEnv: P\n",
                    "cache.redis.address: needed with passwordFile or passwordEnv");
  // Fail closed: no sharing of verdicts that are not authenticated.
  ExpectConfigError(keys + "cache:\n  redis:\n    address: r:1\n",
                    "cache.redis.hmacKeyFile: give hmacKeyFile or hmacKeyEnv (exactly one) with "
                    "address");
  ExpectConfigError(keys +
                        "cache:\n  redis:\n    address: r:1\n    hmacKeyFile: /k\n"
                        "    hmacKeyEnv: K\n",
                    "cache.redis.hmacKeyFile: give hmacKeyFile or hmacKeyEnv (exactly one)");
  ExpectConfigError(keys + "cache:\n  redis:\n    hmacKeyEnv: K\n",
                    "cache.redis.address: needed with hmacKeyFile or hmacKeyEnv");
}

// A file that signet serve's flags still override (ConfigCheck::kBeforeFlags)
// is not refused for a check between keys that a flag can satisfy; the same
// Config is refused with the same message by the complete check, until the
// value the flag would set is there.
TEST(ConfigTest, ChecksThatFlagsCanSatisfyWaitForTheFlags) {
  struct Case {
    std::string yaml;
    std::string message;                // of the complete check, after "bad.yaml: "
    std::function<void(Config&)> flag;  // what the flag that satisfies it sets
  };
  const std::string redis = "cache:\n  redis:\n";
  const std::vector<Case> cases = {
      {redis + "    hmacKeyFile: /k\n",
       "cache.redis.address: needed with hmacKeyFile or hmacKeyEnv",
       [](Config& c) { c.cache.redis.address = "127.0.0.1:6379"; }},  // --redis-address
      {redis + "    hmacKeyEnv: K\n    passwordFile: /p\n",
       "cache.redis.address: needed with passwordFile or passwordEnv",
       [](Config& c) { c.cache.redis.address = "r:1"; }},
      {redis + "    address: r:1\n    hmacKeyFile: /k\n    timeout: 1s\n",
       "cache.redis.timeout: must be positive and at most half of verification.deadline "
       "(1500ms)",
       [](Config& c) { c.verification.deadline = milliseconds(2000); }},  // --deadline
      {"server:\n  port: 9000\n  healthAddress: \":9000\"\n",
       "server.healthAddress: must not use server.port (9000)",
       [](Config& c) { c.server.port = 9001; }},  // --port
      {"server:\n  clientSANs: [gatekeeper]\n",
       "server.clientSANs: needs server.clientCAFile (mTLS)",
       [](Config& c) { c.server.client_ca_file = "/ca.pem"; }},  // --client-ca-file
      {"verification:\n  refreshAhead: 10m\n",
       "verification.refreshAhead: must be below verification.cacheTTL (0 = off)",
       [](Config& c) { c.verification.refresh_ahead = milliseconds(0); }},  // --refresh-ahead
      {"policies:\n  - name: p\n    images: [\"**\"]\n    keys: [nope]\n",
       "policies: policy \"p\" refers to unknown key \"nope\"",
       [](Config& c) { c.policies[0].keys.clear(); }},  // --key
      {"registries:\n  - host: \"*\"\n    usernameFile: /u\n    passwordFile: /p\n",
       "registries: host \"*\" would send these credentials to every registry",
       [](Config& c) { c.registry_access.dangerously_send_credentials_to_any_registry = true; }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.yaml);
    auto complete = ParseConfig(c.yaml, "bad.yaml");
    ASSERT_FALSE(complete.ok());
    EXPECT_EQ(complete.error().message().rfind("bad.yaml: " + c.message, 0), 0u)
        << complete.error().message();

    auto before_flags = ParseConfig(c.yaml, "bad.yaml", ConfigCheck::kBeforeFlags);
    ASSERT_TRUE(before_flags.ok()) << before_flags.error().message();
    const Status without_flag = ValidateConfig(*before_flags);
    ASSERT_FALSE(without_flag.ok());
    EXPECT_EQ(without_flag.error().message().rfind(c.message, 0), 0u)
        << without_flag.error().message();
    c.flag(*before_flags);
    const Status with_flag = ValidateConfig(*before_flags);
    EXPECT_TRUE(with_flag.ok()) << with_flag.error().message();
  }

  // Checks no flag can satisfy still refuse the file, with its line where
  // the reader gives one.
  const std::vector<std::pair<std::string, std::string>> refused = {
      {redis + "    hmacKeyFile: /k\n    keyPrefix: \"a b\"\n",
       "bad.yaml: cache.redis.keyPrefix: printable characters without spaces only"},
      {redis + "    hmacKeyFile: /k\n    hmacKeyEnv: K\n",
       "bad.yaml: cache.redis.hmacKeyFile: give hmacKeyFile or hmacKeyEnv (exactly one)"},
      {redis + "    address: r:1\n",
       "bad.yaml: cache.redis.hmacKeyFile: give hmacKeyFile or hmacKeyEnv (exactly one)"},
      {redis + "    hmacKeyFile: /k\n    maxReconnectBackoff: 0ms\n",
       "bad.yaml: cache.redis.maxReconnectBackoff: must be positive"},
      {"verification:\n  workers: 0\n",
       "bad.yaml:2: verification.workers: must be between 1 and 1024"},
      {"keys:\n  - {name: a, path: /a}\n  - {name: a, path: /b}\n",
       "bad.yaml: keys: duplicate key name \"a\""},
  };
  for (const auto& [yaml, message] : refused) {
    SCOPED_TRACE(yaml);
    auto before_flags = ParseConfig(yaml, "bad.yaml", ConfigCheck::kBeforeFlags);
    ASSERT_FALSE(before_flags.ok());
    EXPECT_EQ(before_flags.error().message().rfind(message, 0), 0u)
        << before_flags.error().message();
  }
}

// The YAML reader alone (ReadConfig, what signet serve reads its file with)
// refuses what it can name by line, and leaves the checks of the whole
// Config to CheckConfig, which signet serve runs once, after its flags.
TEST(ConfigTest, TheReaderLeavesTheWholeCheckToCheckConfig) {
  const std::string duplicate_keys = "keys:\n  - {name: a, path: /a}\n  - {name: a, path: /b}\n";
  auto read = ReadConfig(duplicate_keys, "bad.yaml");
  ASSERT_TRUE(read.ok()) << read.error().message();
  auto checked = CheckConfig(*read);
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(checked.error().message(), "keys: duplicate key name \"a\"");
  // What a flag would do (--key replaces the keys): the same Config passes.
  read->keys = {{"default", "/a"}};
  auto fixed = CheckConfig(*read);
  ASSERT_TRUE(fixed.ok()) << fixed.error().message();
  EXPECT_EQ(fixed->config().keys.size(), 1u);
  // ParseConfig is the reader and the check.
  auto parsed = ParseConfig(duplicate_keys, "bad.yaml");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().message(), "bad.yaml: keys: duplicate key name \"a\"");

  // The reader's own refusals keep their line.
  auto ranged = ReadConfig("verification:\n  workers: 0\n", "bad.yaml");
  ASSERT_FALSE(ranged.ok());
  EXPECT_EQ(ranged.error().message(),
            "bad.yaml:2: verification.workers: must be between 1 and 1024");
}

TEST(ConfigTest, ErrorsNameTheKeyAndLine) {
  ExpectConfigError("server:\n  port: 8090\n  prot: 1\n", "bad.yaml:3: server.prot: unknown key");
  ExpectConfigError("verification:\n  deadline: soon\n",
                    "bad.yaml:2: verification.deadline: invalid duration \"soon\"");
  ExpectConfigError("verification:\n\n  deadline: 3d\n", "bad.yaml:3: verification.deadline");
  ExpectConfigError("verification:\n  mutateDeadline: soon\n",
                    "bad.yaml:2: verification.mutateDeadline: invalid duration \"soon\"");
  ExpectConfigError("verification:\n  mutateDeadline: 0ms\n",
                    "verification.mutateDeadline: must be positive");
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

// Credentials for host "*" would go to every registry a pod names: refused
// unless the operator opts in by a key that says so.
TEST(ConfigTest, CredentialsForEveryHostNeedTheLoudOptIn) {
  const std::string any_host =
      "registries:\n  - host: \"*\"\n    usernameFile: /u\n    passwordFile: /p\n";
  ExpectConfigError(any_host, "dangerouslySendCredentialsToAnyRegistry");
  auto opted_in =
      ParseConfig(any_host + "dangerouslySendCredentialsToAnyRegistry: true\n", "ok.yaml");
  ASSERT_TRUE(opted_in.ok()) << opted_in.error().message();
  EXPECT_TRUE(opted_in->registry_access.dangerously_send_credentials_to_any_registry);

  // Positive controls: a named host with credentials, and "*" without any.
  auto named = ParseConfig(
      "registries:\n  - host: registry.example.com\n    usernameFile: /u\n"
      "    passwordFile: /p\n    tokenRealmHosts: [auth.example.com, \"auth2.example.com:8443\"]\n",
      "ok.yaml");
  ASSERT_TRUE(named.ok()) << named.error().message();
  EXPECT_FALSE(named->registry_access.dangerously_send_credentials_to_any_registry);
  EXPECT_EQ(named->registry_access.registries[0].token_realm_hosts,
            (std::vector<std::string>{"auth.example.com", "auth2.example.com:8443"}));
  EXPECT_TRUE(ParseConfig("registries:\n  - host: \"*\"\n    insecure: true\n", "ok.yaml").ok());
  ExpectConfigError(
      "registries:\n  - host: r\n    tokenRealmHosts: [\"https://auth.example.com/token\"]\n",
      "tokenRealmHosts entry \"https://auth.example.com/token\" is not a host or host:port");
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

oci::Repository Repo(const std::string& name) {
  auto repo = oci::Repository::Parse(name);
  EXPECT_TRUE(repo.ok()) << name << ": " << repo.error().message();
  return repo.ok() ? *repo : oci::Repository{};
}

// Patterns are canonicalised like references (oci/host.h), so a host
// matches however either side spells it.
TEST(ImagePatternTest, HostSpellingsAreCanonicalised) {
  struct Case {
    const char* pattern;
    const char* canonical;
  };
  for (const Case& c : {
           Case{"LOCALHOST:27000/prod/**", "localhost:27000/prod/**"},
           Case{"Registry.Example.com:443/prod/*", "registry.example.com/prod/*"},
           Case{"docker.io/library/*", "index.docker.io/library/*"},
           Case{"DOCKER.IO/nginx", "index.docker.io/library/nginx"},
           Case{"registry-1.docker.io/acme/**", "index.docker.io/acme/**"},
           Case{"registry.hub.docker.com/acme/**", "index.docker.io/acme/**"},
           Case{"*.Example.COM:443/**", "*.example.com/**"},
           Case{"**", "**"},
       }) {
    auto pattern = ImagePattern::Parse(c.pattern);
    ASSERT_TRUE(pattern.ok()) << c.pattern << ": " << pattern.error().message();
    EXPECT_EQ(pattern->text(), c.canonical) << c.pattern;
  }
  EXPECT_TRUE(ImagePattern::Parse("docker.io/library/*")->Matches("index.docker.io/library/nginx"));
}

TEST(ImagePatternTest, PatternsNamingATagADigestOrANumericHostAreRefused) {
  for (const char* glob :
       {"registry.example.com/repo:1.0", "localhost:5000/prod/app:latest", "nginx:1.25",
        "registry.example.com/repo@sha256:0123", "repo@sha256:abc", "127.1:27000/prod/**",
        "0x7f.0.0.1/prod/**", "2130706433:5000/**", "127.000.000.001/**"}) {
    auto pattern = ImagePattern::Parse(glob);
    EXPECT_FALSE(pattern.ok()) << glob << " -> " << (pattern.ok() ? pattern->text() : "");
  }
  // Positive controls: a port is not a tag, and a canonical address is fine.
  EXPECT_TRUE(ImagePattern::Parse("localhost:5000/prod/**").ok());
  EXPECT_TRUE(ImagePattern::Parse("127.0.0.1:5000/prod/*").ok());
  EXPECT_TRUE(ImagePattern::Parse("[::1]:5000/prod/*").ok());
}

TEST(ConfigTest, PatternNamingATagOrDigestIsRefusedWithItsLine) {
  ExpectConfigError(
      "policies:\n  - name: strict\n    images:\n      - registry.example.com/team/**\n"
      "      - registry.example.com/repo:1.0\n",
      "bad.yaml:5: policies[0].images[1]: image pattern \"registry.example.com/repo:1.0\": "
      "names a tag");
  ExpectConfigError(
      "policies:\n  - name: strict\n    images:\n"
      "      - \"repo@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"\n",
      "bad.yaml:4: policies[0].images[0]: image pattern \"repo@sha256:");
  // Positive control: the same policy without the tag loads.
  EXPECT_TRUE(ParseConfig("policies:\n  - name: strict\n    images:\n"
                          "      - registry.example.com/team/**\n"
                          "      - registry.example.com/repo\n",
                          "good.yaml")
                  .ok());
}

// Issue scenario: a strict "prod" policy (key A) before a catch-all (key B).
// Every spelling of the prod registry's host either reaches "prod" or is
// refused; none falls through to the catch-all.
TEST(PolicySetTest, HostSpellingsCannotEscapeAStrictPolicy) {
  auto set = PolicySet::Create(
      {{"prod", {"localhost:27000/prod/**"}, {"a"}, {}}, {"default", {"**"}, {"b"}, {}}},
      UnmatchedImages::kDeny);
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->Match(Repo("localhost:27000/prod/app"))->name, "prod");  // positive control
  EXPECT_EQ(set->Match(Repo("localhost:27000/dev/app"))->name, "default");
  for (const char* host : {"LOCALHOST:27000", "LocalHost:27000", "localhost:27000"}) {
    auto policy = set->Match(Repo(std::string(host) + "/prod/app"));
    ASSERT_TRUE(policy.ok()) << host << ": " << policy.error().message();
    EXPECT_EQ(policy->name, "prod") << host;
  }
  for (const char* host : {"127.1:27000", "127.0.1:27000", "2130706433:27000", "0x7f.0.0.1:27000",
                           "0177.0.0.1:27000", "127.000.000.001:27000"}) {
    auto policy = set->Match(Repo(std::string(host) + "/prod/app"));
    ASSERT_FALSE(policy.ok()) << host << " matched policy " << policy->name;
    EXPECT_EQ(policy.error().code(), ErrorCode::kInvalidArgument) << host;
    EXPECT_NE(policy.error().message().find("non-canonical numeric"), std::string::npos)
        << policy.error().message();
  }
}

TEST(PolicySetTest, DockerHubAliasesMeetADockerIoPolicy) {
  auto set =
      PolicySet::Create({{"hub", {"docker.io/acme/**"}, {"a"}, {}}, {"default", {"**"}, {"b"}, {}}},
                        UnmatchedImages::kDeny);
  ASSERT_TRUE(set.ok());
  for (const char* name :
       {"acme/app", "docker.io/acme/app", "DOCKER.IO/acme/app", "index.docker.io/acme/app",
        "registry-1.docker.io/acme/app", "registry.hub.docker.com/acme/app",
        "Registry.Hub.Docker.Com:443/acme/app"}) {
    EXPECT_EQ(set->Match(Repo(name))->name, "hub") << name;
  }
  EXPECT_EQ(set->Match(Repo("ghcr.io/acme/app"))->name, "default");  // positive control
}

TEST(PolicySetTest, FirstMatchingPolicyWinsAndUnmatchedIsDenied) {
  std::vector<PolicyConfig> policies = {
      {"prod", {"registry.example.com/prod/**"}, {"k1"}, {{"env", "prod"}}},
      {"any-example", {"registry.example.com/**"}, {}, {}},
  };
  auto set = PolicySet::Create(policies, UnmatchedImages::kDeny);
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->Match(Repo("registry.example.com/prod/app"))->name, "prod");
  EXPECT_EQ(set->Match(Repo("registry.example.com/dev/app"))->name, "any-example");
  auto unmatched = set->Match(Repo("ghcr.io/other/app"));
  ASSERT_FALSE(unmatched.ok());
  EXPECT_EQ(unmatched.error().message(), "no policy matches image ghcr.io/other/app");
}

TEST(PolicySetTest, UnmatchedVerifyUsesAllKeysNeverAllows) {
  auto set = PolicySet::Create({{"prod", {"a.io/prod/*"}, {"k1"}, {}}}, UnmatchedImages::kVerify);
  ASSERT_TRUE(set.ok());
  auto policy = set->Match(Repo("b.io/x"));
  ASSERT_TRUE(policy.ok());
  EXPECT_EQ(policy->name, "unmatched");
  EXPECT_TRUE(policy->keys.empty());
  EXPECT_TRUE(policy->annotations.empty());
}

// A configured registry CA that is missing, unreadable or holds no
// certificate stops the server from starting, naming the key and the file.
TEST(ConfigTest, RegistryCaFilesMustBeReadableCertificates) {
  signet::testing::TempDir dir;
  signet::testing::TestPki pki(dir.path());
  const auto ca = pki.CreateCa("ca", "registry CA");
  signet::testing::WriteFile(dir.File("empty.crt"), "");
  RegistryAccessConfig access;
  access.registries.push_back({});
  access.registries[0].host = "registry.internal:5000";

  // Positive control: a readable PEM certificate, here and as the flag.
  access.registries[0].ca_file = ca.cert_file;
  EXPECT_TRUE(CheckRegistryCaFiles(access).ok());
  access.ca_file = ca.cert_file;
  EXPECT_TRUE(CheckRegistryCaFiles(access).ok());
  access.ca_file.clear();

  access.registries[0].ca_file = dir.File("missing.crt");
  auto status = CheckRegistryCaFiles(access);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message().find(
                "registries[0] (host \"registry.internal:5000\").caFile: cannot read the "
                "registry CA file " +
                dir.File("missing.crt")),
            std::string::npos)
      << status.error().message();

  access.registries[0].ca_file = dir.File("empty.crt");
  status = CheckRegistryCaFiles(access);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message().find("holds no PEM certificate"), std::string::npos)
      << status.error().message();

  access.registries[0].ca_file.clear();
  access.ca_file = dir.File("missing.crt");
  status = CheckRegistryCaFiles(access);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message().find("--registry-cacert"), std::string::npos)
      << status.error().message();
}

}  // namespace
}  // namespace signet::policy

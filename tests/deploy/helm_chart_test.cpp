// The Helm chart lints and renders (defaults, and with mTLS, mutation and the
// NetworkPolicy off), produces a hardened provider Deployment and a Gatekeeper
// Provider that matches its Service, ships mTLS, the NetworkPolicy and the
// digest-pinning mutators on by default, and deploy/manifests is exactly what
// scripts/render-manifests.sh renders.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <set>

#include "deploy/deploy_files.h"

namespace signet::deploytest {
namespace {

using signet::testing::HelmBinary;
using signet::testing::ReadFile;
using signet::testing::RunCommand;
using signet::testing::SourceDir;
using signet::testing::TempDir;

std::vector<YAML::Node> Render(const std::vector<std::string>& extra = {}) {
  const auto result = HelmTemplate(extra);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  return Documents(result.out);
}

YAML::Node ConfigOf(const std::vector<YAML::Node>& docs) {
  const auto config_map = FindObject(docs, "ConfigMap", "signet-config");
  EXPECT_TRUE(config_map.IsDefined());
  return YAML::Load(config_map["data"]["config.yaml"].as<std::string>(""));
}

bool HasVolumeMount(const YAML::Node& container, const std::string& path) {
  for (const auto& mount : container["volumeMounts"]) {
    if (mount["mountPath"].as<std::string>() == path) return true;
  }
  return false;
}

// The probes are HTTP GETs on the plain-HTTP health port (8081), which needs
// no client certificate and has its own connection limits.
void ExpectProbesOnTheHealthPort(const YAML::Node& container) {
  ASSERT_EQ(container["ports"][1]["name"].as<std::string>(""), "health");
  EXPECT_EQ(container["ports"][1]["containerPort"].as<int>(0), 8081);
  using Probe = std::pair<const char*, const char*>;
  for (const auto& [probe, path] :
       {Probe{"livenessProbe", "/healthz"}, Probe{"readinessProbe", "/readyz"}}) {
    SCOPED_TRACE(probe);
    EXPECT_FALSE(container[probe]["tcpSocket"].IsDefined());
    EXPECT_EQ(container[probe]["httpGet"]["path"].as<std::string>(""), path);
    EXPECT_EQ(container[probe]["httpGet"]["port"].as<std::string>(""), "health");
    EXPECT_EQ(container[probe]["httpGet"]["scheme"].as<std::string>(""), "HTTP");
  }
}

// The switches that turn the secure defaults off.
const std::vector<std::string> kWeakerDefaults = {"--set", "mtls.enabled=false",
                                                  "--set", "mutation.enabled=false",
                                                  "--set", "networkPolicy.enabled=false"};

TEST(HelmChart, LintsWithDefaultsAndWithTheSecureDefaultsOff) {
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{}, kWeakerDefaults,
        std::vector<std::string>{"--set", "networkPolicy.metricsFrom.port=9090"}}) {
    std::vector<std::string> argv = {HelmBinary(), "lint", "--strict", ChartDir()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    const auto result = RunCommand(argv);
    EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
    EXPECT_NE(result.out.find("0 chart(s) failed"), std::string::npos) << result.out;
  }
}

TEST(HelmChart, DefaultRenderHasEveryObject) {
  const auto docs = Render();
  for (const char* kind : {"Deployment", "Service", "ConfigMap", "PodDisruptionBudget", "Provider",
                           "NetworkPolicy", "Assign"}) {
    EXPECT_TRUE(FindObject(docs, kind).IsDefined()) << kind;
  }
  // Opt-in objects stay off by default. The Namespace is only for plain
  // manifests: helm install needs the namespace before it renders.
  for (const char* kind : {"Namespace", "Certificate", "ServiceMonitor", "PrometheusRule"}) {
    EXPECT_FALSE(FindObject(docs, kind).IsDefined()) << kind;
  }
}

TEST(HelmChart, DeploymentIsHardenedAndHighlyAvailable) {
  // mTLS off: the HTTPS probes below are the ones a kubelet without a client
  // certificate can use (with mTLS see MtlsIsOnByDefaultAndOffOnRequest).
  const auto docs = Render({"--set", "mtls.enabled=false"});
  const auto deployment = FindObject(docs, "Deployment", "signet");
  ASSERT_TRUE(deployment.IsDefined());
  const auto spec = deployment["spec"];
  EXPECT_EQ(spec["replicas"].as<int>(), 2);
  const auto pod = spec["template"]["spec"];
  EXPECT_TRUE(pod["affinity"]["podAntiAffinity"].IsMap());
  EXPECT_TRUE(pod["securityContext"]["runAsNonRoot"].as<bool>());
  EXPECT_EQ(pod["securityContext"]["seccompProfile"]["type"].as<std::string>(), "RuntimeDefault");

  ASSERT_EQ(pod["containers"].size(), 1u);
  const auto container = pod["containers"][0];
  const auto security = container["securityContext"];
  EXPECT_TRUE(security["readOnlyRootFilesystem"].as<bool>());
  EXPECT_FALSE(security["allowPrivilegeEscalation"].as<bool>());
  EXPECT_TRUE(security["runAsNonRoot"].as<bool>());
  EXPECT_EQ(security["capabilities"]["drop"][0].as<std::string>(), "ALL");
  EXPECT_EQ(security["seccompProfile"]["type"].as<std::string>(), "RuntimeDefault");
  for (const char* kind : {"requests", "limits"}) {
    EXPECT_TRUE(container["resources"][kind]["cpu"].IsDefined()) << kind;
    EXPECT_TRUE(container["resources"][kind]["memory"].IsDefined()) << kind;
  }

  EXPECT_EQ(container["args"][0].as<std::string>(), "serve");
  EXPECT_EQ(container["args"][2].as<std::string>(), "/etc/signet/config.yaml");
  EXPECT_EQ(container["ports"][0]["containerPort"].as<int>(), 8090);
  ExpectProbesOnTheHealthPort(container);
  EXPECT_TRUE(HasVolumeMount(container, "/etc/signet/keys"));
  EXPECT_TRUE(HasVolumeMount(container, "/certs"));
  EXPECT_FALSE(HasVolumeMount(container, "/gatekeeper-ca"));

  const auto pdb = FindObject(docs, "PodDisruptionBudget", "signet");
  ASSERT_TRUE(pdb.IsDefined());
  using Labels = std::map<std::string, std::string>;
  EXPECT_EQ(pdb["spec"]["selector"]["matchLabels"].as<Labels>(),
            spec["selector"]["matchLabels"].as<Labels>());
}

TEST(HelmChart, ProviderUrlMatchesTheServiceAndTimeoutFitsTheWebhook) {
  const auto docs = Render({"--set", "tls.caBundle=Q0E="});
  const auto service = FindObject(docs, "Service", "signet");
  const auto provider = FindObject(docs, "Provider", "signet");
  ASSERT_TRUE(service.IsDefined());
  ASSERT_TRUE(provider.IsDefined());
  EXPECT_EQ(provider["apiVersion"].as<std::string>(), "externaldata.gatekeeper.sh/v1beta1");
  EXPECT_EQ(service["spec"]["ports"][0]["port"].as<int>(), 8090);
  const std::string expected_url = "https://" + service["metadata"]["name"].as<std::string>() +
                                   "." + service["metadata"]["namespace"].as<std::string>() +
                                   ":8090/validate";
  EXPECT_EQ(provider["spec"]["url"].as<std::string>(), expected_url);
  const int timeout = provider["spec"]["timeout"].as<int>();
  EXPECT_GE(timeout, 1);
  EXPECT_LT(timeout, 3);
  EXPECT_EQ(provider["spec"]["caBundle"].as<std::string>(), "Q0E=");
}

// One chain of timeouts: the Provider timeout (whole seconds) below the
// validating webhook's, verification.deadline below the Provider timeout,
// verification.mutateDeadline below the mutating webhook's. helm template
// fails with a message naming the value and the limit.
TEST(HelmChart, RefusesTimeoutsThatLetGatekeeperGiveUpFirst) {
  using Case = std::pair<std::vector<std::string>, std::string>;
  const std::vector<Case> refused = {
      {{"gatekeeper.providerTimeoutSeconds=3"},
       "gatekeeper.providerTimeoutSeconds (3) must be below gatekeeper.webhookTimeoutSeconds (3)"},
      {{"gatekeeper.providerTimeoutSeconds=0"}, "providerTimeoutSeconds must be at least 1"},
      {{"gatekeeper.providerTimeoutSeconds=2.5"},
       "gatekeeper.providerTimeoutSeconds must be a whole number of seconds"},
      {{"verification.deadline=10s"},
       "verification.deadline (10s) must be below the Provider timeout "
       "gatekeeper.providerTimeoutSeconds (2s)"},
      {{"verification.deadline=2s"}, "verification.deadline (2s) must be below"},
      {{"verification.deadline=soon"}, "verification.deadline: \"soon\" is not a duration"},
      {{"verification.deadline=1.5s"}, "verification.deadline: \"1.5s\" is not a duration"},
      {{"verification.mutateDeadline=1s"},
       "verification.mutateDeadline (1s) must be below gatekeeper.mutatingWebhookTimeoutSeconds "
       "(1s)"},
      {{"verification.mutateDeadline=never"},
       "verification.mutateDeadline: \"never\" is not a duration"},
      {{"gatekeeper.mutatingWebhookTimeoutSeconds=0"},
       "mutatingWebhookTimeoutSeconds must be at least 1"},
      {{"verification.refreshAhead=5m"},
       "verification.refreshAhead (5m) must be below verification.cacheTTL (5m)"},
      {{"verification.lastKnownGoodGrace=a day"},
       "verification.lastKnownGoodGrace: \"a day\" is not a duration"},
  };
  for (const auto& [values, message] : refused) {
    std::vector<std::string> args;
    for (const auto& value : values) args.insert(args.end(), {"--set", value});
    const auto result = HelmTemplate(args);
    EXPECT_NE(result.exit_code, 0) << values[0];
    EXPECT_NE(result.err.find(message), std::string::npos) << values[0] << ": " << result.err;
  }
  // From a values file 2.5 is a number, which used to be truncated to 2
  // silently; --set passed it as the string "2.5", which read as 0.
  TempDir dir;
  signet::testing::WriteFile(dir.File("values.yaml"),
                             "gatekeeper:\n  providerTimeoutSeconds: 2.5\n");
  const auto fractional = HelmTemplate({"-f", dir.File("values.yaml")});
  EXPECT_NE(fractional.exit_code, 0);
  EXPECT_NE(fractional.err.find("gatekeeper.providerTimeoutSeconds must be a whole number of "
                                "seconds (Kubernetes and Gatekeeper take integer seconds), got "
                                "\"2.5\""),
            std::string::npos)
      << fractional.err;

  // Positive controls: values just inside the limits, and a chain raised
  // together, render.
  const std::vector<std::vector<std::string>> accepted = {
      {"--set", "verification.deadline=1999"},
      {"--set", "verification.refreshAhead=4m59s", "--set", "verification.lastKnownGoodGrace=24h"},
      {"--set", "verification.refreshAhead=0s"},
      {"--set", "verification.deadline=1s500ms", "--set", "verification.mutateDeadline=999ms"},
      {"--set", "gatekeeper.webhookTimeoutSeconds=10", "--set",
       "gatekeeper.providerTimeoutSeconds=5", "--set", "verification.deadline=4s", "--set",
       "gatekeeper.mutatingWebhookTimeoutSeconds=3", "--set", "verification.mutateDeadline=2s"},
  };
  for (const auto& args : accepted) {
    const auto result = HelmTemplate(args);
    EXPECT_EQ(result.exit_code, 0) << args[1] << ": " << result.err;
  }
  const auto config = ConfigOf(Render());
  EXPECT_EQ(config["verification"]["deadline"].as<std::string>(""), "1500ms");
  EXPECT_EQ(config["verification"]["mutateDeadline"].as<std::string>(""), "700ms");
}

TEST(HelmChart, MtlsIsOnByDefaultAndOffOnRequest) {
  // Off on request (Gatekeeper before v3.11 presents no client certificate).
  const auto plain_docs = Render({"--set", "mtls.enabled=false"});
  const auto plain = ConfigOf(plain_docs);
  EXPECT_TRUE(plain["server"]["port"].IsDefined());
  EXPECT_FALSE(plain["server"]["clientCAFile"].IsDefined());
  EXPECT_FALSE(plain["server"]["clientSANs"].IsDefined());
  EXPECT_FALSE(HasVolumeMount(
      FindObject(plain_docs, "Deployment", "signet")["spec"]["template"]["spec"]["containers"][0],
      "/gatekeeper-ca"));

  // On by default.
  const auto docs = Render();
  const auto config = ConfigOf(docs);
  EXPECT_EQ(config["server"]["clientCAFile"].as<std::string>(), "/gatekeeper-ca/ca.crt");
  EXPECT_EQ(config["server"]["clientSANs"][0].as<std::string>(),
            "gatekeeper-webhook-service.gatekeeper-system.svc");
  const auto pod = FindObject(docs, "Deployment", "signet")["spec"]["template"]["spec"];
  EXPECT_TRUE(HasVolumeMount(pod["containers"][0], "/gatekeeper-ca"));
  // The kubelet has no client certificate: the probes use the health port,
  // which has no TLS, and still check /healthz and /readyz.
  ExpectProbesOnTheHealthPort(pod["containers"][0]);
  bool found = false;
  for (const auto& volume : pod["volumes"]) {
    if (volume["name"].as<std::string>() != "gatekeeper-ca") continue;
    found = true;
    EXPECT_EQ(volume["secret"]["secretName"].as<std::string>(), "gatekeeper-webhook-server-cert");
    EXPECT_EQ(volume["secret"]["items"][0]["key"].as<std::string>(), "ca.crt");
  }
  EXPECT_TRUE(found);
}

TEST(HelmChart, ConfigCarriesPolicyValuesAndAgreedPaths) {
  TempDir dir;
  signet::testing::WriteFile(dir.File("values.yaml"), R"(verification:
  deadline: 1200ms
policies:
  - name: payments
    images: ["registry.example.com/payments/**"]
    keys: [default]
    annotations: {team: payments}
)");
  const auto config = ConfigOf(Render({"-f", dir.File("values.yaml")}));
  EXPECT_EQ(config["server"]["port"].as<int>(), 8090);
  EXPECT_EQ(config["server"]["tlsCertFile"].as<std::string>(), "/certs/tls.crt");
  EXPECT_EQ(config["server"]["tlsKeyFile"].as<std::string>(), "/certs/tls.key");
  EXPECT_EQ(config["server"]["tlsMinVersion"].as<std::string>(), "1.3");
  EXPECT_EQ(config["server"]["healthAddress"].as<std::string>(), ":8081");
  EXPECT_EQ(config["server"]["handshakeTimeout"].as<std::string>(), "2s");
  EXPECT_EQ(config["server"]["maxConnectionsPerPeer"].as<int>(), 128);
  EXPECT_EQ(config["verification"]["deadline"].as<std::string>(), "1200ms");
  EXPECT_EQ(config["verification"]["unmatchedImages"].as<std::string>(), "deny");
  EXPECT_EQ(config["keys"][0]["path"].as<std::string>(), "/etc/signet/keys/cosign.pub");
  EXPECT_EQ(config["policies"][0]["images"][0].as<std::string>(),
            "registry.example.com/payments/**");
  EXPECT_EQ(ConfigOf(Render())["policies"][0]["images"][0].as<std::string>(), "**");
  EXPECT_EQ(config["policies"][0]["annotations"]["team"].as<std::string>(), "payments");
}

TEST(HelmChart, RegistryCredentialsFromUsernamePasswordOrDockerConfig) {
  const auto basic = Render({"--set", "registryCredentials.type=basic", "--set",
                             "registryCredentials.hosts[0].host=registry.example.com"});
  const auto basic_config = ConfigOf(basic);
  EXPECT_EQ(basic_config["registries"][0]["host"].as<std::string>(), "registry.example.com");
  EXPECT_EQ(basic_config["registries"][0]["usernameFile"].as<std::string>(),
            "/etc/registry-secret/username");
  EXPECT_EQ(basic_config["registries"][0]["passwordFile"].as<std::string>(),
            "/etc/registry-secret/password");
  EXPECT_TRUE(
      HasVolumeMount(FindObject(basic, "Deployment")["spec"]["template"]["spec"]["containers"][0],
                     "/etc/registry-secret"));

  const auto docker = Render({"--set", "registryCredentials.type=dockerconfigjson"});
  EXPECT_EQ(ConfigOf(docker)["dockerConfigFile"].as<std::string>(),
            "/etc/signet/dockerconfig/.dockerconfigjson");
  EXPECT_TRUE(
      HasVolumeMount(FindObject(docker, "Deployment")["spec"]["template"]["spec"]["containers"][0],
                     "/etc/signet/dockerconfig"));

  EXPECT_NE(HelmTemplate({"--set", "registryCredentials.type=vault"}).exit_code, 0);
}

TEST(HelmChart, OptionalCertManagerMonitoringAndMutationRender) {
  const auto docs = Render({"--set", "certManager.enabled=true", "--set",
                            "serviceMonitor.enabled=true", "--set", "prometheusRule.enabled=true"});
  const auto certificate = FindObject(docs, "Certificate", "signet-tls");
  ASSERT_TRUE(certificate.IsDefined());
  EXPECT_EQ(certificate["spec"]["secretName"].as<std::string>(), "signet-tls");
  EXPECT_EQ(certificate["spec"]["dnsNames"][0].as<std::string>(), "signet.signet-system");
  // The ServiceMonitor scrapes the Service's plain-HTTP metrics port, which
  // leads to the health port: no client certificate, no TLS settings.
  const auto monitor = FindObject(docs, "ServiceMonitor");
  ASSERT_TRUE(monitor.IsDefined());
  const auto endpoint = monitor["spec"]["endpoints"][0];
  EXPECT_EQ(endpoint["port"].as<std::string>(""), "metrics");
  EXPECT_EQ(endpoint["scheme"].as<std::string>(""), "http");
  EXPECT_EQ(endpoint["path"].as<std::string>(""), "/metrics");
  EXPECT_FALSE(endpoint["tlsConfig"].IsDefined());
  const auto service = FindObject(docs, "Service", "signet");
  ASSERT_EQ(service["spec"]["ports"].size(), 2u);
  EXPECT_EQ(service["spec"]["ports"][1]["name"].as<std::string>(""), "metrics");
  EXPECT_EQ(service["spec"]["ports"][1]["port"].as<int>(0), 8081);
  EXPECT_EQ(service["spec"]["ports"][1]["targetPort"].as<std::string>(""), "health");

  const auto rule = FindObject(docs, "PrometheusRule");
  ASSERT_TRUE(rule.IsDefined());
  std::set<std::string> alerts;
  for (const auto& group : rule["spec"]["groups"]) {
    for (const auto& r : group["rules"]) alerts.insert(r["alert"].as<std::string>());
  }
  // The provider's alerts, and those on Gatekeeper's audit metrics (checked
  // by promtool in the monitoring suite).
  EXPECT_EQ(alerts, (std::set<std::string>{
                        "SignetProviderDown", "SignetProviderErrorRate",
                        "SignetProviderLatencyNearDeadline", "SignetDenyRateSpike",
                        "SignetAuditFindsUnenforcedViolations",
                        "SignetAuditFindsEnforcedViolations", "SignetGatekeeperAuditStale"}));
}

int CountKind(const std::vector<YAML::Node>& docs, const std::string& kind) {
  return static_cast<int>(std::count_if(docs.begin(), docs.end(), [&](const YAML::Node& doc) {
    return doc.IsMap() && doc["kind"].as<std::string>("") == kind;
  }));
}

TEST(HelmChart, DigestPinningMutatorsAreOnByDefaultAndOffOnRequest) {
  const auto docs = Render();
  const auto mutate = FindObject(docs, "Provider", "signet-mutate");
  ASSERT_TRUE(mutate.IsDefined());
  EXPECT_EQ(mutate["spec"]["url"].as<std::string>(), "https://signet.signet-system:8090/mutate");
  // 3 container fields x (Pod, pod-template workloads, CronJob); the fields
  // and kinds are checked by AssignMutators.PinEveryContainerFieldOfEveryKind...
  EXPECT_EQ(CountKind(docs, "Assign"), 9);
  for (const auto& doc : docs) {
    if (doc["kind"].as<std::string>("") != "Assign") continue;
    EXPECT_EQ(doc["spec"]["parameters"]["assign"]["externalData"]["provider"].as<std::string>(),
              "signet-mutate");
    EXPECT_EQ(doc["spec"]["match"]["namespaces"].as<std::vector<std::string>>(),
              (std::vector<std::string>{"production", "staging"}));
  }

  const auto off = Render({"--set", "mutation.enabled=false"});
  EXPECT_EQ(CountKind(off, "Assign"), 0);
  EXPECT_FALSE(FindObject(off, "Provider", "signet-mutate").IsDefined());
  EXPECT_TRUE(FindObject(off, "Provider", "signet").IsDefined());

  const auto nowhere = HelmTemplate({"--set", "mutation.namespaces=null"});
  EXPECT_NE(nowhere.exit_code, 0);
  EXPECT_NE(nowhere.err.find("mutation.namespaces"), std::string::npos) << nowhere.err;
}

// The single `from` peer of an ingress rule.
YAML::Node OnlyPeer(const YAML::Node& rule) {
  EXPECT_EQ(rule["from"].size(), 1u);
  return rule["from"][0];
}

TEST(HelmChart, NetworkPolicyAdmitsOnlyGatekeeperToTheProviderPort) {
  const auto docs = Render();
  const auto policy = FindObject(docs, "NetworkPolicy", "signet");
  ASSERT_TRUE(policy.IsDefined());
  const auto deployment = FindObject(docs, "Deployment", "signet");
  using Labels = std::map<std::string, std::string>;
  EXPECT_EQ(policy["spec"]["podSelector"]["matchLabels"].as<Labels>(),
            deployment["spec"]["selector"]["matchLabels"].as<Labels>());
  EXPECT_EQ(policy["spec"]["policyTypes"].as<std::vector<std::string>>(),
            std::vector<std::string>{"Ingress"});
  const auto ingress = policy["spec"]["ingress"];
  // The provider port from Gatekeeper's namespace, the health/metrics port
  // from the monitoring namespace.
  ASSERT_EQ(ingress.size(), 2u);
  const auto peer = OnlyPeer(ingress[0]);
  EXPECT_EQ(peer["namespaceSelector"]["matchLabels"].as<Labels>(),
            (Labels{{"kubernetes.io/metadata.name", "gatekeeper-system"}}));
  EXPECT_FALSE(peer["podSelector"].IsDefined());
  EXPECT_FALSE(peer["ipBlock"].IsDefined());
  ASSERT_EQ(ingress[0]["ports"].size(), 1u);
  EXPECT_EQ(ingress[0]["ports"][0]["port"].as<int>(), 8090);
  EXPECT_EQ(OnlyPeer(ingress[1])["namespaceSelector"]["matchLabels"].as<Labels>(),
            (Labels{{"kubernetes.io/metadata.name", "monitoring"}}));
  ASSERT_EQ(ingress[1]["ports"].size(), 1u);
  EXPECT_EQ(ingress[1]["ports"][0]["port"].as<std::string>(), "health");
  // Without it, only Gatekeeper's rule is left.
  EXPECT_EQ(FindObject(Render({"--set", "networkPolicy.metricsFrom.port="}), "NetworkPolicy",
                       "signet")["spec"]["ingress"]
                .size(),
            1u);

  // Another Gatekeeper namespace, and a monitoring namespace for a separate
  // health/metrics port.
  const auto custom = FindObject(
      Render({"--set", "networkPolicy.gatekeeperNamespaceSelector.matchLabels.team=policy", "--set",
              "networkPolicy.metricsFrom.port=9090"}),
      "NetworkPolicy", "signet");
  const auto rules = custom["spec"]["ingress"];
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(OnlyPeer(rules[0])["namespaceSelector"]["matchLabels"]["team"].as<std::string>(""),
            "policy");
  EXPECT_EQ(OnlyPeer(rules[1])["namespaceSelector"]["matchLabels"].as<Labels>(),
            (Labels{{"kubernetes.io/metadata.name", "monitoring"}}));
  EXPECT_EQ(rules[1]["ports"][0]["port"].as<int>(), 9090);

  // Off on request.
  EXPECT_FALSE(
      FindObject(Render({"--set", "networkPolicy.enabled=false"}), "NetworkPolicy").IsDefined());

  // An empty namespace selector would admit every namespace: refused.
  for (const char* value : {"networkPolicy.gatekeeperNamespaceSelector=null",
                            "networkPolicy.metricsFrom.namespaceSelector=null"}) {
    const auto refused =
        HelmTemplate({"--set", value, "--set", "networkPolicy.metricsFrom.port=9090"});
    EXPECT_NE(refused.exit_code, 0) << value;
    EXPECT_NE(refused.err.find("admits every namespace"), std::string::npos) << refused.err;
  }
}

TEST(HelmChart, TurningTheSecureDefaultsOffRemovesTheirObjects) {
  const auto docs = Render(kWeakerDefaults);
  for (const char* kind : {"NetworkPolicy", "Assign"}) {
    EXPECT_FALSE(FindObject(docs, kind).IsDefined()) << kind;
  }
  EXPECT_FALSE(ConfigOf(docs)["server"]["clientCAFile"].IsDefined());
  // Positive control: the rest is still there.
  for (const char* kind : {"Deployment", "Service", "ConfigMap", "Provider"}) {
    EXPECT_TRUE(FindObject(docs, kind).IsDefined()) << kind;
  }
}

// The documented install (docs/kubernetes.md, section 4) as far as helm runs
// without a cluster: `helm install --create-namespace` renders no Namespace
// object of its own, which would collide with the namespace Helm creates (and
// needs for its release Secret). The plain manifests, applied with kubectl,
// keep theirs, with the Pod Security label.
TEST(HelmChart, HelmInstallWithCreateNamespaceRendersNoNamespaceObject) {
  const auto docs = Render({"--create-namespace", "--set", "tls.caBundle=Q0E="});
  EXPECT_FALSE(FindObject(docs, "Namespace").IsDefined());
  EXPECT_TRUE(FindObject(docs, "Deployment", "signet").IsDefined());
  for (const auto& doc : docs) {
    EXPECT_EQ(doc["metadata"]["namespace"].as<std::string>("signet-system"), "signet-system")
        << doc["kind"].as<std::string>("");
  }
  // Control: the switch still renders it, as the plain manifests do.
  const auto with_namespace = FindObject(Render({"--set", "namespace.create=true"}), "Namespace");
  ASSERT_TRUE(with_namespace.IsDefined());
  EXPECT_EQ(with_namespace["metadata"]["name"].as<std::string>(""), "signet-system");
  const auto plain = FindObject(DocumentsOf(DeployDir() + "/manifests/signet.yaml"), "Namespace");
  ASSERT_TRUE(plain.IsDefined());
  EXPECT_EQ(plain["metadata"]["labels"]["pod-security.kubernetes.io/enforce"].as<std::string>(""),
            "restricted");
}

// cert-manager cannot inject a CA into a Gatekeeper Provider. Step one of the
// install (CA unknown) leaves the Providers and the mutators out instead of
// shipping the placeholder that Gatekeeper refuses, which failed the whole
// install; step two (the CA known: from the issued Secret on helm upgrade, or
// given) renders them with that CA.
TEST(HelmChart, CertManagerInstallLeavesProvidersOutUntilTheCaIsKnown) {
  const auto step_one = Render({"--set", "certManager.enabled=true"});
  EXPECT_TRUE(FindObject(step_one, "Certificate", "signet-tls").IsDefined());
  EXPECT_TRUE(FindObject(step_one, "Deployment", "signet").IsDefined());
  EXPECT_FALSE(FindObject(step_one, "Provider").IsDefined());
  EXPECT_EQ(CountKind(step_one, "Assign"), 0);
  for (const auto& doc : step_one) {
    EXPECT_EQ(YAML::Dump(doc).find("SET-tls.caBundle"), std::string::npos) << YAML::Dump(doc);
  }

  const auto step_two =
      Render({"--is-upgrade", "--set", "certManager.enabled=true", "--set", "tls.caBundle=Q0E="});
  EXPECT_EQ(FindObject(step_two, "Provider", "signet")["spec"]["caBundle"].as<std::string>(""),
            "Q0E=");
  EXPECT_EQ(
      FindObject(step_two, "Provider", "signet-mutate")["spec"]["caBundle"].as<std::string>(""),
      "Q0E=");
  EXPECT_EQ(CountKind(step_two, "Assign"), 9);

  // Without cert-manager nothing changes: the Providers always render, with
  // the placeholder the docs tell you to replace when no CA is given.
  const auto plain = Render();
  EXPECT_EQ(FindObject(plain, "Provider", "signet")["spec"]["caBundle"].as<std::string>(""),
            "SET-tls.caBundle-FROM-deploy-gen-certs.sh");
}

// A registry CA file the values point at is mounted from a Secret or a
// ConfigMap; a caFile under the mount path with nothing mounted is refused at
// render time (signet would refuse to start).
TEST(HelmChart, RegistryCaIsMountedFromASecretOrConfigMap) {
  const std::vector<std::string> ca_file = {"--set", "registries[0].host=registry.internal:5000",
                                            "--set",
                                            "registries[0].caFile=/etc/signet/registry-ca/ca.crt"};
  auto with = [&](std::vector<std::string> extra) {
    extra.insert(extra.begin(), ca_file.begin(), ca_file.end());
    return extra;
  };
  for (const char* kind : {"secretName", "configMapName"}) {
    SCOPED_TRACE(kind);
    const auto docs = Render(with({"--set", std::string("registryCA.") + kind + "=registry-ca"}));
    const auto pod = FindObject(docs, "Deployment", "signet")["spec"]["template"]["spec"];
    EXPECT_TRUE(HasVolumeMount(pod["containers"][0], "/etc/signet/registry-ca"));
    bool found = false;
    for (const auto& volume : pod["volumes"]) {
      if (volume["name"].as<std::string>() != "registry-ca") continue;
      found = true;
      if (std::string(kind) == "secretName") {
        EXPECT_EQ(volume["secret"]["secretName"].as<std::string>(""), "registry-ca");
      } else {
        EXPECT_EQ(volume["configMap"]["name"].as<std::string>(""), "registry-ca");
      }
    }
    EXPECT_TRUE(found);
    EXPECT_EQ(ConfigOf(docs)["registries"][0]["caFile"].as<std::string>(""),
              "/etc/signet/registry-ca/ca.crt");
  }
  // Nothing mounted by default.
  EXPECT_FALSE(HasVolumeMount(
      FindObject(Render(), "Deployment", "signet")["spec"]["template"]["spec"]["containers"][0],
      "/etc/signet/registry-ca"));

  const auto unmounted = HelmTemplate(ca_file);
  EXPECT_NE(unmounted.exit_code, 0);
  EXPECT_NE(unmounted.err.find("is under registryCA.mountPath (/etc/signet/registry-ca), but "
                               "nothing is mounted there"),
            std::string::npos)
      << unmounted.err;
  const auto both = HelmTemplate(
      with({"--set", "registryCA.secretName=a", "--set", "registryCA.configMapName=b"}));
  EXPECT_NE(both.exit_code, 0);
  EXPECT_NE(both.err.find("not both"), std::string::npos) << both.err;
}

TEST(HelmChart, RenderedManifestsMatchTheChart) {
  TempDir out;
  const auto result = RunCommand({SourceDir() + "/scripts/render-manifests.sh", out.path()},
                                 {"HELM=" + HelmBinary()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto fresh = FilesUnder(out.path(), {".yaml"});
  const auto committed = FilesUnder(DeployDir() + "/manifests", {".yaml"});
  ASSERT_FALSE(fresh.empty());
  std::vector<std::string> fresh_names, committed_names;
  for (const auto& f : fresh) fresh_names.push_back(std::filesystem::path(f).filename());
  for (const auto& f : committed) committed_names.push_back(std::filesystem::path(f).filename());
  ASSERT_EQ(fresh_names, committed_names) << "run scripts/render-manifests.sh";
  for (size_t i = 0; i < fresh.size(); ++i) {
    EXPECT_EQ(ReadFile(fresh[i]), ReadFile(committed[i]))
        << committed[i] << " is stale: run scripts/render-manifests.sh";
  }
}

TEST(HelmChart, KitScriptsAreExecutable) {
  for (const char* script :
       {"/scripts/render-manifests.sh", "/deploy/gen-certs.sh", "/deploy/tekton/sign-image.sh"}) {
    struct stat st {};
    ASSERT_EQ(stat((SourceDir() + script).c_str(), &st), 0) << script;
    EXPECT_TRUE(st.st_mode & S_IXUSR) << script;
  }
}

}  // namespace
}  // namespace signet::deploytest

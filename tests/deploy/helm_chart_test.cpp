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
  for (const char* kind : {"Namespace", "Deployment", "Service", "ConfigMap", "PodDisruptionBudget",
                           "Provider", "NetworkPolicy", "Assign"}) {
    EXPECT_TRUE(FindObject(docs, kind).IsDefined()) << kind;
  }
  // Opt-in objects stay off by default.
  for (const char* kind : {"Certificate", "ServiceMonitor", "PrometheusRule"}) {
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

TEST(HelmChart, RejectsAProviderTimeoutThatReachesTheWebhookTimeout) {
  for (const char* value : {"3", "0"}) {
    const auto result =
        HelmTemplate({"--set", std::string("gatekeeper.providerTimeoutSeconds=") + value});
    EXPECT_NE(result.exit_code, 0) << value;
    EXPECT_NE(result.err.find("providerTimeoutSeconds"), std::string::npos) << result.err;
  }
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

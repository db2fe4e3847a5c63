// The issue's "done when": the chart rendered with the documented install
// command (docs/kubernetes.md, section 4, plus its registry credentials and
// registry CA steps) runs `signet serve` exactly as the rendered Deployment
// would, and answers Gatekeeper.
//
// - The pod's filesystem is built from the rendered Deployment's volumes and
//   volumeMounts: the ConfigMap's config.yaml at its subPath mount, every
//   Secret volume in the kubelet's layout (a timestamped directory, a `..data`
//   symlink to it, and one symlink per file through `..data`), group-owned by
//   the pod's fsGroup; an emptyDir tmpfs at /tmp.
// - signet runs chrooted into that filesystem (read-only, as
//   readOnlyRootFilesystem), in a private mount namespace, with the image's
//   ENTRYPOINT (deploy/docker/Dockerfile) and the container's args, as the
//   pod's runAsUser/runAsGroup/fsGroup with no capabilities and no_new_privs
//   (setpriv), and an empty environment.
// - Readiness is checked like the kubelet (HTTP GET /readyz on the health
//   port); then the test calls the URL of each rendered Provider like
//   Gatekeeper: HTTPS (TLS 1.3) trusting only the Provider's caBundle, with a
//   client certificate from "Gatekeeper's" CA, whose ca.crt is the mounted
//   gatekeeper-webhook-server-cert Secret.
// Needs root (chroot, mounts, changing UID); skipped with the reason otherwise.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "deploy/deploy_files.h"
#include "signet/crypto/keys.h"
#include "support/pki.h"
#include "support/registry_fixture.h"
#include "support/registry_server.h"
#include "support/test_images.h"

namespace signet::deploytest {
namespace {

namespace fs = std::filesystem;
using signet::testing::ChildProcess;
using signet::testing::CommandResult;
using signet::testing::FreePort;
using signet::testing::HelmBinary;
using signet::testing::ReadFile;
using signet::testing::RegistryFixture;
using signet::testing::RegistryServer;
using signet::testing::RunCommand;
using signet::testing::SignetBinary;
using signet::testing::SourceDir;
using signet::testing::TempDir;
using signet::testing::WriteFile;
using Files = std::map<std::string, std::string>;  // key -> content

// The image's ENTRYPOINT, from the Dockerfile the image is built from.
std::vector<std::string> ImageEntrypoint() {
  const std::string dockerfile = ReadFile(DeployDir() + "/docker/Dockerfile");
  std::smatch match;
  if (!std::regex_search(dockerfile, match, std::regex(R"(\nENTRYPOINT (\[[^\n]*\]))"))) {
    return {};
  }
  return nlohmann::json::parse(match[1].str()).get<std::vector<std::string>>();
}

// Writes `files` the way the kubelet's atomic writer lays out a Secret or
// ConfigMap volume: <dir>/..<timestamp>/<path>, <dir>/..data -> ..<timestamp>,
// <dir>/<path> -> ..data/<path>. Files and directories are owned by root with
// group `gid` (the pod's fsGroup); files get `mode`.
void WriteKubeletVolume(const std::string& dir, const Files& files, gid_t gid, fs::perms mode) {
  const std::string stamp = "..2026_01_01_00_00_00.000000001";
  fs::create_directories(dir + "/" + stamp);
  for (const auto& [path, content] : files) {
    const std::string target = dir + "/" + stamp + "/" + path;
    WriteFile(target, content);
    fs::permissions(target, mode);
    ASSERT_EQ(chown(target.c_str(), 0, gid), 0) << target;
    fs::create_symlink("..data/" + path, dir + "/" + path);
  }
  fs::create_symlink(stamp, dir + "/..data");
  for (const std::string& d : {dir, dir + "/" + stamp}) {
    fs::permissions(d, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                           fs::perms::others_read | fs::perms::others_exec);
    ASSERT_EQ(chown(d.c_str(), 0, gid), 0) << d;
  }
}

// The items a volume projects: all keys, or only `items` (key -> path).
Files Project(const Files& source, const YAML::Node& items) {
  if (!items.IsDefined() || !items.IsSequence()) return source;
  Files out;
  for (const auto& item : items) {
    const auto key = source.find(item["key"].as<std::string>());
    if (key != source.end()) out[item["path"].as<std::string>()] = key->second;
  }
  return out;
}

// The shell that runs inside `unshare --mount`: binds what a container image
// would provide (libraries, CA certificates, setpriv) into the pod root,
// mounts the emptyDir and /proc, makes the root read-only, and execs the
// entrypoint chrooted, as uid:gid with fsGroup as the only supplementary
// group, no capabilities and no_new_privs, with an empty environment.
constexpr char kPodShell[] = R"(set -eu
root=$1 uid=$2 gid=$3 fsgroup=$4
shift 4
mount --bind "$root" "$root"
for d in usr/lib usr/lib64 usr/bin etc/ssl; do
  [ -d "/$d" ] || continue
  mount --rbind "/$d" "$root/$d"
  mount -o remount,bind,ro "$root/$d"
done
mount --rbind /dev "$root/dev"
mount -t proc proc "$root/proc"
mount -t tmpfs -o mode=1777,size=16m tmpfs "$root/tmp"
mount -o remount,bind,ro "$root"
chroot=$(command -v chroot)
exec env -i "$chroot" "$root" /usr/bin/setpriv --reuid="$uid" --regid="$gid" --groups="$fsgroup" \
  --no-new-privs --inh-caps=-all --bounding-set=-all -- "$@"
)";

// The process's "Uid:" and "Gid:" lines of /proc/<pid>/status.
std::string IdsOf(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string out;
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("Uid:", 0) == 0 || line.rfind("Gid:", 0) == 0 || line.rfind("Groups:", 0) == 0 ||
        line.rfind("CapEff:", 0) == 0 || line.rfind("NoNewPrivs:", 0) == 0) {
      out += line + "\n";
    }
  }
  return out;
}

// The signet process: the only child of the unshare process.
pid_t ChildOf(pid_t parent) {
  const std::string children =
      ReadFile("/proc/" + std::to_string(parent) + "/task/" + std::to_string(parent) + "/children");
  return children.empty() ? 0 : static_cast<pid_t>(std::stol(children));
}

TEST(ServeAsDeployed, TheRenderedDeploymentAnswersGatekeeper) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root: builds the pod's filesystem with the fsGroup's ownership, "
                    "chroots into it in a private mount namespace and drops to the "
                    "Deployment's runAsUser";
  }
  if (RunCommand({"unshare", "--mount", "--propagation", "private", "true"}).exit_code != 0) {
    GTEST_SKIP() << "this machine does not allow mount namespaces (unshare --mount), which the "
                    "pod's filesystem needs";
  }
  TempDir dir;

  // A registry with a private CA and Basic auth, holding a signed and an
  // unsigned image.
  const RegistryFixture fixture(RegistryServer::Mode::kTlsBasicAuth);
  const auto signed_image = fixture.PushUnsigned("team/app", "signed");
  const auto unsigned_image = fixture.PushUnsigned("team/app", "unsigned");
  auto pair = crypto::GenerateKeyPair("serve-as-deployed");
  ASSERT_TRUE(pair.ok()) << pair.error().message();
  auto signer = crypto::LoadPrivateKey(pair->private_pem, "serve-as-deployed", "test key");
  ASSERT_TRUE(signer.ok()) << signer.error().message();
  fixture.Sign(signed_image, **signer);

  // The provider's certificates (section 3) and "Gatekeeper's" CA and client
  // certificate (what its gatekeeper-webhook-server-cert Secret holds).
  const auto certs = RunCommand({DeployDir() + "/gen-certs.sh", "-n", "signet-system", "-s",
                                 "signet", "-o", dir.File("certs")});
  ASSERT_EQ(certs.exit_code, 0) << certs.err;
  std::string ca_bundle = certs.out;
  while (!ca_bundle.empty() && ca_bundle.back() == '\n') ca_bundle.pop_back();
  fs::create_directories(dir.File("gatekeeper"));
  signet::testing::TestPki pki(dir.File("gatekeeper"));
  const auto gatekeeper_ca = pki.CreateCa("ca", "gatekeeper-ca");
  signet::testing::LeafSpec leaf;
  leaf.common_name = "gatekeeper-webhook-service.gatekeeper-system.svc";
  leaf.dns_names = {"gatekeeper-webhook-service.gatekeeper-system.svc"};
  leaf.client_auth = true;
  const auto gatekeeper_client = pki.IssueLeaf(gatekeeper_ca, "client", leaf);

  // The documented install, rendered: section 4's helm install, its basic
  // registry credentials and its registry CA (here for the test registry),
  // with free ports for the HTTPS and health listeners.
  const int port = FreePort();
  const int health_port = FreePort();
  const std::string host = fixture.server().host();
  const auto rendered = RunCommand({HelmBinary(),
                                    "template",
                                    "signet",
                                    ChartDir(),
                                    "--namespace",
                                    "signet-system",
                                    "--create-namespace",
                                    "--set",
                                    "tls.caBundle=" + ca_bundle,
                                    "--set",
                                    "registryCredentials.type=basic",
                                    "--set",
                                    "registryCredentials.hosts[0].host=" + host,
                                    "--set",
                                    "registryCA.configMapName=registry-ca",
                                    "--set",
                                    "registries[0].host=" + host,
                                    "--set",
                                    "registries[0].caFile=/etc/signet/registry-ca/ca.crt",
                                    "--set",
                                    "service.port=" + std::to_string(port),
                                    "--set",
                                    "service.healthPort=" + std::to_string(health_port)});
  ASSERT_EQ(rendered.exit_code, 0) << rendered.err;
  const auto docs = Documents(rendered.out);
  const auto deployment = FindObject(docs, "Deployment", "signet");
  ASSERT_TRUE(deployment.IsDefined());
  const auto pod = deployment["spec"]["template"]["spec"];
  const auto container = pod["containers"][0];

  // What the cluster holds: the rendered ConfigMap, and the Secrets and the
  // ConfigMap the docs create with kubectl.
  std::map<std::string, Files> config_maps, secrets;
  for (const auto& doc : docs) {
    if (doc["kind"].as<std::string>("") != "ConfigMap") continue;
    config_maps[doc["metadata"]["name"].as<std::string>()] = doc["data"].as<Files>();
  }
  config_maps["registry-ca"] = {{"ca.crt", ReadFile(fixture.server().ca_file())}};
  secrets["signet-tls"] = {{"tls.crt", ReadFile(dir.File("certs/tls.crt"))},
                           {"tls.key", ReadFile(dir.File("certs/tls.key"))},
                           {"ca.crt", ReadFile(dir.File("certs/ca.crt"))}};
  secrets["signet-keys"] = {{"cosign.pub", pair->public_pem}};
  secrets["gatekeeper-webhook-server-cert"] = {{"ca.crt", ReadFile(gatekeeper_ca.cert_file)}};
  secrets["registry-secret"] = {{"username", fixture.server().username()},
                                {"password", fixture.server().password()}};

  // The pod's filesystem.
  const uid_t uid = pod["securityContext"]["runAsUser"].as<uid_t>(0);
  const gid_t gid = pod["securityContext"]["runAsGroup"].as<gid_t>(0);
  const gid_t fs_group = pod["securityContext"]["fsGroup"].as<gid_t>(0);
  ASSERT_NE(uid, 0u) << "the Deployment must run as a non-root UID";
  ASSERT_TRUE(pod["securityContext"]["runAsNonRoot"].as<bool>(false));
  ASSERT_TRUE(container["securityContext"]["readOnlyRootFilesystem"].as<bool>(false));
  const std::string root = dir.File("pod");
  for (const char* d :
       {"usr/lib", "usr/lib64", "usr/bin", "usr/local/bin", "etc/ssl", "dev", "proc", "tmp"}) {
    fs::create_directories(root + "/" + d);
  }
  fs::create_symlink("usr/lib", root + "/lib");
  fs::create_symlink("usr/lib64", root + "/lib64");
  fs::create_symlink("usr/bin", root + "/bin");
  const std::vector<std::string> entrypoint = ImageEntrypoint();
  ASSERT_EQ(entrypoint.size(), 1u) << "ENTRYPOINT of deploy/docker/Dockerfile";
  fs::copy_file(SignetBinary(), root + entrypoint[0]);
  fs::permissions(root, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                            fs::perms::others_read | fs::perms::others_exec);

  std::map<std::string, YAML::Node> volumes;
  for (const auto& volume : pod["volumes"]) {
    volumes[volume["name"].as<std::string>()] = static_cast<const YAML::Node&>(volume);
  }
  std::vector<std::string> mounted;
  for (const auto& mount : container["volumeMounts"]) {
    const std::string path = mount["mountPath"].as<std::string>();
    const auto found = volumes.find(mount["name"].as<std::string>());
    ASSERT_NE(found, volumes.end()) << mount["name"].as<std::string>();
    const YAML::Node volume = found->second;
    mounted.push_back(path);
    if (volume["emptyDir"].IsDefined()) {
      ASSERT_EQ(path, "/tmp") << "only /tmp is an emptyDir here";
      continue;
    }
    Files files;
    if (volume["configMap"].IsDefined()) {
      const auto source = config_maps.find(volume["configMap"]["name"].as<std::string>());
      ASSERT_NE(source, config_maps.end()) << path;
      files = Project(source->second, volume["configMap"]["items"]);
    } else {
      ASSERT_TRUE(volume["secret"].IsDefined()) << path;
      const auto source = secrets.find(volume["secret"]["secretName"].as<std::string>());
      ASSERT_NE(source, secrets.end()) << volume["secret"]["secretName"].as<std::string>();
      files = Project(source->second, volume["secret"]["items"]);
    }
    if (mount["subPath"].IsDefined()) {
      // A subPath mount shows the one file itself, no symlinks.
      const auto file = files.find(mount["subPath"].as<std::string>());
      ASSERT_NE(file, files.end()) << path;
      fs::create_directories(fs::path(root + path).parent_path());
      WriteFile(root + path, file->second);
      fs::permissions(root + path, fs::perms(0644));
      continue;
    }
    WriteKubeletVolume(root + path, files, fs_group, fs::perms(0644));
  }
  // Every mount of the documented install is there (a missing one would make
  // this test pass for the wrong reason).
  for (const char* expected :
       {"/etc/signet/config.yaml", "/certs", "/etc/signet/keys", "/gatekeeper-ca",
        "/etc/registry-secret", "/etc/signet/registry-ca"}) {
    EXPECT_NE(std::find(mounted.begin(), mounted.end(), expected), mounted.end()) << expected;
  }

  // Start it.
  std::vector<std::string> argv = {"unshare",
                                   "--mount",
                                   "--propagation",
                                   "private",
                                   "--kill-child",
                                   "sh",
                                   "-c",
                                   kPodShell,
                                   "pod",
                                   root,
                                   std::to_string(uid),
                                   std::to_string(gid),
                                   std::to_string(fs_group)};
  ASSERT_FALSE(container["command"].IsDefined()) << "the image's ENTRYPOINT is assumed";
  argv.insert(argv.end(), entrypoint.begin(), entrypoint.end());
  for (const auto& arg : container["args"]) argv.push_back(arg.as<std::string>());
  ChildProcess serve(argv, {}, dir.File("serve.log"));

  // Ready as the kubelet sees it: GET /readyz on the health port answers 200.
  const std::string readyz = "http://127.0.0.1:" + std::to_string(health_port) + "/readyz";
  CommandResult ready;
  for (int i = 0; i < 100; ++i) {
    ready = RunCommand({"curl", "--silent", "--fail", "--max-time", "5", readyz});
    if (ready.exit_code == 0 || !serve.Running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_EQ(ready.exit_code, 0) << ready.err << "\n" << ReadFile(dir.File("serve.log"));

  // It runs as the Deployment says: UID/GID, fsGroup, no capabilities.
  const std::string ids = IdsOf(ChildOf(serve.pid()));
  EXPECT_NE(ids.find("Uid:\t" + std::to_string(uid) + "\t" + std::to_string(uid)),
            std::string::npos)
      << ids;
  EXPECT_NE(ids.find("Gid:\t" + std::to_string(gid) + "\t" + std::to_string(gid)),
            std::string::npos)
      << ids;
  EXPECT_NE(ids.find("CapEff:\t0000000000000000"), std::string::npos) << ids;
  EXPECT_NE(ids.find("NoNewPrivs:\t1"), std::string::npos) << ids;

  // Gatekeeper's call, to the URL and with the caBundle of each Provider.
  WriteFile(dir.File("provider-ca.pem"), "");
  const nlohmann::json request = {
      {"apiVersion", "externaldata.gatekeeper.sh/v1beta1"},
      {"kind", "ProviderRequest"},
      {"request",
       {{"keys",
         std::vector<std::string>{signed_image.TagReference(), unsigned_image.TagReference()}}}}};
  auto call = [&](const YAML::Node& provider, bool with_client_cert) {
    const auto decoded = RunCommand({"openssl", "base64", "-d", "-A"}, {},
                                    provider["spec"]["caBundle"].as<std::string>(""));
    WriteFile(dir.File("provider-ca.pem"), decoded.out);
    std::vector<std::string> curl = {"curl",
                                     "--silent",
                                     "--show-error",
                                     "--max-time",
                                     "20",
                                     "--tlsv1.3",
                                     "--resolve",
                                     "signet.signet-system:" + std::to_string(port) + ":127.0.0.1",
                                     "--cacert",
                                     dir.File("provider-ca.pem"),
                                     "-H",
                                     "Content-Type: application/json",
                                     "--data-binary",
                                     request.dump()};
    if (with_client_cert) {
      curl.insert(curl.end(),
                  {"--cert", gatekeeper_client.cert_file, "--key", gatekeeper_client.key_file});
    }
    curl.push_back(provider["spec"]["url"].as<std::string>(""));
    return RunCommand(curl);
  };
  for (const char* name : {"signet", "signet-mutate"}) {
    SCOPED_TRACE(name);
    const auto provider = FindObject(docs, "Provider", name);
    ASSERT_TRUE(provider.IsDefined());
    EXPECT_EQ(provider["spec"]["caBundle"].as<std::string>(""), ca_bundle);
    const auto answer = call(provider, true);
    ASSERT_EQ(answer.exit_code, 0) << answer.err << "\n" << ReadFile(dir.File("serve.log"));
    const auto body = nlohmann::json::parse(answer.out, nullptr, false);
    ASSERT_FALSE(body.is_discarded()) << answer.out;
    EXPECT_EQ(body["response"].value("systemError", ""), "") << answer.out;
    std::map<std::string, nlohmann::json> items;
    for (const auto& item : body["response"]["items"]) items[item.value("key", "")] = item;
    ASSERT_EQ(items.size(), 2u) << answer.out;
    EXPECT_EQ(items[signed_image.TagReference()].value("error", ""), "") << answer.out;
    EXPECT_EQ(items[signed_image.TagReference()].value("value", ""), signed_image.DigestReference())
        << answer.out;
    EXPECT_EQ(items[unsigned_image.TagReference()].value("error", ""),
              unsigned_image.TagReference() + "_invalid: no signatures found")
        << answer.out;

    // Control: without Gatekeeper's client certificate, no answer (mTLS).
    EXPECT_NE(call(provider, false).exit_code, 0);
  }
  EXPECT_TRUE(serve.Running()) << ReadFile(dir.File("serve.log"));
}

// A registry CA file the configuration names but the pod does not have (the
// mount forgotten, a wrong key) stops `signet serve` at start, exit code 1,
// naming the key and the file; with the file it starts (the control).
TEST(ServeAsDeployed, RefusesToStartWithoutAConfiguredRegistryCa) {
  TempDir dir;
  signet::testing::TestPki pki(dir.path());
  const auto ca = pki.CreateCa("registry-ca", "registry CA");
  auto pair = crypto::GenerateKeyPair("x");
  ASSERT_TRUE(pair.ok());
  WriteFile(dir.File("cosign.pub"), pair->public_pem);
  auto config = [&](const std::string& ca_file) {
    WriteFile(dir.File("config.yaml"),
              "keys:\n  - {name: default, path: " + dir.File("cosign.pub") +
                  "}\nregistries:\n  - host: registry.internal:5000\n    caFile: " + ca_file +
                  "\n");
    return dir.File("config.yaml");
  };
  const int port = FreePort();
  const std::vector<std::string> flags = {
      "--insecure-http",    "--address",     "127.0.0.1", "--port",
      std::to_string(port), "--health-addr", "off"};
  auto serve_argv = [&](const std::string& config_file) {
    std::vector<std::string> argv = {SignetBinary(), "serve", "--config", config_file};
    argv.insert(argv.end(), flags.begin(), flags.end());
    return argv;
  };

  const auto missing =
      RunCommand(serve_argv(config(dir.File("nope/ca.crt"))), {}, "", std::chrono::seconds(20));
  EXPECT_EQ(missing.exit_code, 1) << missing.out << missing.err;
  EXPECT_NE(missing.err.find("registries[0] (host \"registry.internal:5000\").caFile: cannot "
                             "read the registry CA file " +
                             dir.File("nope/ca.crt")),
            std::string::npos)
      << missing.err;

  WriteFile(dir.File("not-a-cert.pem"), "hello\n");
  const auto garbage =
      RunCommand(serve_argv(config(dir.File("not-a-cert.pem"))), {}, "", std::chrono::seconds(20));
  EXPECT_EQ(garbage.exit_code, 1) << garbage.out << garbage.err;
  EXPECT_NE(garbage.err.find("holds no PEM certificate"), std::string::npos) << garbage.err;

  // Control: the same configuration with the file starts and serves.
  ChildProcess serve(serve_argv(config(ca.cert_file)), {}, dir.File("serve.log"));
  EXPECT_TRUE(signet::testing::WaitForPort(port)) << ReadFile(dir.File("serve.log"));
  EXPECT_TRUE(serve.Running());
}

// --mutate-deadline is parsed and validated like the config key the chart
// renders, and overrides it (the started server logs the value it uses).
TEST(ServeAsDeployed, MutateDeadlineFlagIsValidatedAndOverridesTheConfig) {
  TempDir dir;
  auto pair = crypto::GenerateKeyPair("x");
  ASSERT_TRUE(pair.ok());
  WriteFile(dir.File("cosign.pub"), pair->public_pem);
  WriteFile(dir.File("config.yaml"),
            "verification:\n  mutateDeadline: 900ms\nkeys:\n  - {name: "
            "default, path: " +
                dir.File("cosign.pub") + "}\n");
  const int port = FreePort();
  auto argv = [&](const std::string& value) {
    return std::vector<std::string>{SignetBinary(),
                                    "serve",
                                    "--config",
                                    dir.File("config.yaml"),
                                    "--insecure-http",
                                    "--address",
                                    "127.0.0.1",
                                    "--port",
                                    std::to_string(port),
                                    "--health-addr",
                                    "off",
                                    "--mutate-deadline",
                                    value};
  };
  const auto soon = RunCommand(argv("soon"), {}, "", std::chrono::seconds(20));
  EXPECT_EQ(soon.exit_code, 1);
  EXPECT_NE(soon.err.find("--mutate-deadline: invalid duration \"soon\""), std::string::npos)
      << soon.err;
  const auto zero = RunCommand(argv("0ms"), {}, "", std::chrono::seconds(20));
  EXPECT_EQ(zero.exit_code, 1);
  EXPECT_NE(zero.err.find("verification.mutateDeadline: must be positive"), std::string::npos)
      << zero.err;

  // Control: a valid value starts the server with it.
  {
    ChildProcess serve(argv("300ms"), {}, dir.File("serve.log"));
    ASSERT_TRUE(signet::testing::WaitForPort(port)) << ReadFile(dir.File("serve.log"));
    // The start event follows the listener's start.
    for (int i = 0;
         i < 100 && ReadFile(dir.File("serve.log")).find("provider_started") == std::string::npos;
         ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  EXPECT_NE(ReadFile(dir.File("serve.log")).find("\"mutate_deadline\":\"300ms\""),
            std::string::npos)
      << ReadFile(dir.File("serve.log"));
}

}  // namespace
}  // namespace signet::deploytest

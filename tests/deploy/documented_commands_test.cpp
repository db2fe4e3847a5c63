// Every command of docs/kubernetes.md that can run without a cluster is run,
// in the order of the walkthrough, in one shell, from a directory laid out
// like a checkout: `signet generate-key-pair`, deploy/gen-certs.sh (first
// run and renewal), every `helm install`/`helm upgrade` (as `helm template`,
// the client-only half of an install: same chart, flags and values;
// --reuse-values has nothing to reuse without a cluster), and the `sed` that
// fills the plain manifests' caBundle (its output, not `kubectl apply`).
// Commands that need a cluster (kubectl, docker) or hold placeholders
// (`...`, `<image>`) are listed, not run; a command that fits neither list
// fails the test, so a new command in the docs is either run here or
// classified.
#include <gtest/gtest.h>

#include <functional>
#include <regex>
#include <sstream>

#include "deploy/deploy_files.h"

namespace signet::deploytest {
namespace {

using signet::testing::HelmBinary;
using signet::testing::PromtoolBinary;
using signet::testing::ReadFile;
using signet::testing::RunCommand;
using signet::testing::SignetBinary;
using signet::testing::SourceDir;
using signet::testing::TempDir;
using signet::testing::WriteFile;

// The commands of every ```sh block, continuation lines joined, comment
// lines dropped.
std::vector<std::string> ShellCommands(const std::string& markdown) {
  std::vector<std::string> commands;
  std::istringstream in(markdown);
  bool in_block = false;
  std::string pending;
  for (std::string line; std::getline(in, line);) {
    if (!in_block) {
      in_block = line == "```sh";
      continue;
    }
    if (line.rfind("```", 0) == 0) {
      in_block = false;
      continue;
    }
    if (pending.empty() && (line.empty() || line[0] == '#')) continue;
    if (!line.empty() && line.back() == '\\') {
      pending += line.substr(0, line.size() - 1);
      continue;
    }
    commands.push_back(pending + line);
    pending.clear();
  }
  return commands;
}

enum class Kind { kRun, kNeedsCluster, kPlaceholder, kUnclassified };

// What a command needs, after its leading VAR=value assignments.
Kind Classify(const std::string& command, std::string* why) {
  const std::string program =
      std::regex_replace(command, std::regex(R"(^(\s*[A-Z_]+=\S+\s+)*\s*)"), "");
  static const std::regex placeholder(R"(\.\.\.|<[a-z-]+>)");
  if (program.rfind("kubectl ", 0) == 0 || program.rfind("docker ", 0) == 0) {
    *why = "needs a cluster or a container engine";
    return Kind::kNeedsCluster;
  }
  if (std::regex_search(command, placeholder)) {
    *why = "holds placeholders";
    return Kind::kPlaceholder;
  }
  for (const char* runnable :
       {"export ", "signet generate-key-pair", "helm install ", "helm upgrade ", "helm template ",
        "deploy/gen-certs.sh ", "CA_BUNDLE=$(", "sed ", "promtool "}) {
    if (command.rfind(runnable, 0) == 0) return Kind::kRun;
  }
  *why = "neither run by this test nor classified as needing a cluster";
  return Kind::kUnclassified;
}

TEST(DocumentedCommands, EveryCommandThatNeedsNoClusterRuns) {
  const auto commands = ShellCommands(ReadFile(SourceDir() + "/docs/kubernetes.md"));
  ASSERT_GT(commands.size(), 20u) << "docs/kubernetes.md lost its ```sh blocks?";

  TempDir work;
  // deploy/ as in a checkout, but deploy/monitoring/tests/ is a directory of
  // its own, so the rules file the walkthrough renders stays out of the source
  // tree.
  const std::function<void(const std::filesystem::path&, const std::filesystem::path&,
                           const std::filesystem::path&)>
      mirror = [&](const std::filesystem::path& from, const std::filesystem::path& to,
                   const std::filesystem::path& writable) {
        std::filesystem::create_directory(to);
        for (const auto& entry : std::filesystem::directory_iterator(from)) {
          const auto target = to / entry.path().filename();
          const auto rest = std::filesystem::relative(writable, entry.path());
          if (entry.is_directory() && !rest.empty() && *rest.begin() != "..") {
            mirror(entry.path(), target, writable);
          } else {
            std::filesystem::create_symlink(entry.path(), target);
          }
        }
      };
  mirror(SourceDir() + "/deploy", work.File("deploy"), SourceDir() + "/deploy/monitoring/tests");
  std::filesystem::create_directory(work.File("out"));
  // `helm install`/`upgrade` run as `helm template` into out/<n>.yaml; a
  // pipe into `kubectl apply -f -` writes out/<n>.yaml instead.
  std::string script = R"(set -euo pipefail
helm() {
  local verb=$1 args=() a
  shift
  if [[ $verb == template ]]; then "$HELM_BINARY" template "$@"; return; fi
  for a in "$@"; do [[ $a == --reuse-values ]] || args+=("$a"); done
  case $verb in
    install) "$HELM_BINARY" template "${args[@]}" ;;
    upgrade) "$HELM_BINARY" template --is-upgrade "${args[@]}" ;;
    *) echo "helm $verb is not run here" >&2; return 1 ;;
  esac >"out/$n.yaml"
}
n=0
)";
  std::vector<std::string> ran, listed;
  std::map<int, std::string> outputs;  // n -> command
  for (const auto& command : commands) {
    std::string why;
    std::string line = command;
    const std::string to_kubectl = " | kubectl apply -f -";
    const bool piped =
        line.size() > to_kubectl.size() &&
        line.compare(line.size() - to_kubectl.size(), to_kubectl.size(), to_kubectl) == 0;
    if (piped) line = line.substr(0, line.size() - to_kubectl.size());
    const Kind kind = Classify(line, &why);
    if (kind == Kind::kUnclassified) {
      ADD_FAILURE() << "docs/kubernetes.md: `" << command << "`: " << why;
      continue;
    }
    if (kind != Kind::kRun) {
      listed.push_back(command + "   [" + why + "]");
      continue;
    }
    ran.push_back(command);
    const int n = static_cast<int>(ran.size());
    if (piped || line.rfind("helm install ", 0) == 0 || line.rfind("helm upgrade ", 0) == 0) {
      outputs[n] = command;
    }
    script += "n=" + std::to_string(n) + "\necho \"### $n\" >&2\n" + line +
              (piped ? " >\"out/$n.yaml\"" : "") + "\n";
  }
  WriteFile(work.File("walkthrough.sh"), script);
  const std::string bin_dir = std::filesystem::path(SignetBinary()).parent_path();
  const auto result = RunCommand(
      {"bash", "-c", "cd \"$0\" && bash walkthrough.sh", work.path()},
      {"HELM_BINARY=" + HelmBinary(),
       "PATH=" + bin_dir + ":" + std::filesystem::path(PromtoolBinary()).parent_path().string() +
           ":/usr/local/bin:/usr/bin:/bin"});
  std::ostringstream report;
  report << "ran:\n";
  for (const auto& c : ran) report << "  " << c << "\n";
  report << "not run:\n";
  for (const auto& c : listed) report << "  " << c << "\n";
  std::cout << report.str();
  ASSERT_EQ(result.exit_code, 0) << result.err << "\n" << script;

  // What the commands made.
  const std::string bundle = ReadFile(work.File("certs/ca-bundle.b64"));
  ASSERT_GT(bundle.size(), 100u);
  const std::string ca_bundle = bundle.substr(0, bundle.find('\n'));
  for (const char* file : {"cosign.key", "cosign.pub", "certs/tls.crt", "certs/ca.key"}) {
    EXPECT_TRUE(std::filesystem::exists(work.File(file))) << file;
  }
  EXPECT_EQ(RunCommand({"openssl", "verify", "-CAfile", work.File("certs/ca.crt"),
                        work.File("certs/tls.crt")})
                .exit_code,
            0);
  int installs_with_bundle = 0, filled_manifests = 0;
  for (const auto& [n, command] : outputs) {
    SCOPED_TRACE(command);
    const auto docs = DocumentsOf(work.File("out/" + std::to_string(n) + ".yaml"));
    ASSERT_TRUE(FindObject(docs, "Deployment", "signet").IsDefined());
    if (command.rfind("helm install", 0) == 0) {
      // --create-namespace: the chart must not render its own Namespace.
      EXPECT_FALSE(FindObject(docs, "Namespace").IsDefined());
    }
    if (command.find("mutation.exemptImages=") != std::string::npos) {
      // The documented exempt list reaches the ConfigMap as given.
      const auto config = YAML::Load(
          FindObject(docs, "ConfigMap", "signet-config")["data"]["config.yaml"].as<std::string>(
              ""));
      const auto list = config["mutation"]["exemptImages"];
      ASSERT_TRUE(list.IsSequence());
      ASSERT_EQ(list.size(), 2u);
      EXPECT_EQ(list[0].as<std::string>(), "registry.k8s.io/pause:*");
      EXPECT_EQ(list[1].as<std::string>(), "registry.k8s.io/pause");
    }
    if (command.find("$CA_BUNDLE") == std::string::npos) continue;
    for (const char* name : {"signet", "signet-mutate"}) {
      const auto provider = FindObject(docs, "Provider", name);
      ASSERT_TRUE(provider.IsDefined()) << name;
      EXPECT_EQ(provider["spec"]["caBundle"].as<std::string>(""), ca_bundle) << name;
    }
    EXPECT_EQ(ReadFile(work.File("out/" + std::to_string(n) + ".yaml")).find("SET-tls.caBundle"),
              std::string::npos);
    (command.rfind("sed ", 0) == 0 ? filled_manifests : installs_with_bundle) += 1;
  }
  // The walkthrough's main steps were among them.
  EXPECT_EQ(installs_with_bundle, 1);
  EXPECT_EQ(filled_manifests, 1);
  EXPECT_NE(
      ReadFile(work.File("deploy/monitoring/tests/signet-rules.yaml")).find("SignetProviderDown"),
      std::string::npos);
  for (const std::string expected :
       {"promtool check rules", "promtool test rules", "signet generate-key-pair",
        "CA_BUNDLE=$(deploy/gen-certs.sh", "deploy/gen-certs.sh -r",
        "--set certManager.enabled=true", "--set registryCA.configMapName=registry-ca",
        "--set mtls.enabled=false", "--set 'mutation.exemptImages="}) {
    EXPECT_TRUE(
        std::any_of(ran.begin(), ran.end(),
                    [&](const std::string& c) { return c.find(expected) != std::string::npos; }))
        << expected << "\n"
        << report.str();
  }
}

// Guards the classification above: a command it does not know fails.
TEST(DocumentedCommands, ClassifiesCommands) {
  std::string why;
  EXPECT_EQ(Classify("kubectl apply -f x.yaml", &why), Kind::kNeedsCluster);
  EXPECT_EQ(Classify("DOCKER_BUILDKIT=1 docker build .", &why), Kind::kNeedsCluster);
  EXPECT_EQ(Classify("signet verify --key cosign.pub r/a@sha256:...", &why), Kind::kPlaceholder);
  EXPECT_EQ(Classify("signet sign -a x=<build-id> i", &why), Kind::kPlaceholder);
  EXPECT_EQ(Classify("helm upgrade signet deploy/helm/signet", &why), Kind::kRun);
  EXPECT_EQ(Classify("promtool check rules x.yaml", &why), Kind::kRun);
  EXPECT_EQ(Classify("amtool check-config x.yaml", &why), Kind::kUnclassified);
}

}  // namespace
}  // namespace signet::deploytest

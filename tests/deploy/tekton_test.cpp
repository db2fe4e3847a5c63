// The Tekton signing Task embeds deploy/tekton/sign-image.sh verbatim and
// wires its inputs from params and Secrets. Its step script runs here as the
// Task runs it: as the step's runAsUser/runAsGroup (dropped from root with
// setpriv, no supplementary groups, no new privileges), with the key and the
// push credentials laid out as kubelet projects Secret volumes (files owned by
// root:root - a Task cannot set fsGroup - with the volume's mode, reached
// through a "..data" symlink to a timestamped directory), against a real
// docker-registry with TLS and Basic auth.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <optional>

#include "deploy/deploy_files.h"
#include "support/registry_fixture.h"
#include "support/registry_server.h"
#include "support/secret_volume.h"
#include "support/test_images.h"

namespace signet::deploytest {
namespace {

using signet::testing::CommandResult;
using signet::testing::DockerRegistrySecretJson;
using signet::testing::ProjectSecretVolume;
using signet::testing::PushedImage;
using signet::testing::ReadFile;
using signet::testing::RegistryFixture;
using signet::testing::RegistryServer;
using signet::testing::RunCommand;
using signet::testing::SignetBinary;
using signet::testing::TempDir;
using signet::testing::WriteFile;

YAML::Node SignTask() {
  const auto docs = DocumentsOf(DeployDir() + "/tekton/sign-task.yaml");
  return FindObject(docs, "Task", "signet-sign-image");
}

TEST(TektonTask, EmbeddedScriptEqualsTheStandaloneFile) {
  const auto task = SignTask();
  ASSERT_TRUE(task.IsDefined());
  ASSERT_EQ(task["spec"]["steps"].size(), 1u);
  const std::string embedded = task["spec"]["steps"][0]["script"].as<std::string>("");
  const std::string file = ReadFile(DeployDir() + "/tekton/sign-image.sh");
  ASSERT_FALSE(file.empty());
  EXPECT_EQ(embedded, file) << "paste deploy/tekton/sign-image.sh into sign-task.yaml";
}

TEST(TektonTask, TakesKeyAndPasswordFromSecretsAndAnnotationsFromParams) {
  const auto task = SignTask();
  ASSERT_TRUE(task.IsDefined());
  const auto step = task["spec"]["steps"][0];
  std::map<std::string, YAML::Node> env;
  for (const auto& var : step["env"]) env.emplace(var["name"].as<std::string>(), YAML::Node(var));
  ASSERT_TRUE(env.count("COSIGN_PASSWORD"));
  EXPECT_TRUE(env["COSIGN_PASSWORD"]["valueFrom"]["secretKeyRef"].IsMap());
  EXPECT_FALSE(env["COSIGN_PASSWORD"]["value"].IsDefined()) << "password must not be a literal";
  EXPECT_EQ(env["BUILD_ID"]["value"].as<std::string>(""), "$(params.build-id)");
  EXPECT_EQ(env["COMMIT"]["value"].as<std::string>(""), "$(params.commit)");
  EXPECT_EQ(env["IMAGE"]["value"].as<std::string>(""), "$(params.image)");

  // The key file comes from a Secret volume mounted where KEY_FILE points.
  const std::string key_file = env["KEY_FILE"]["value"].as<std::string>("");
  bool key_from_secret = false;
  for (const auto& mount : step["volumeMounts"]) {
    if (key_file.rfind(mount["mountPath"].as<std::string>() + "/", 0) != 0) continue;
    for (const auto& volume : task["spec"]["volumes"]) {
      key_from_secret |= volume["name"].as<std::string>() == mount["name"].as<std::string>() &&
                         volume["secret"].IsMap();
    }
  }
  EXPECT_TRUE(key_from_secret) << key_file;

  // The script passes the annotations to `signet sign`.
  const std::string script = step["script"].as<std::string>("");
  EXPECT_NE(script.find("-a \"build-id=$BUILD_ID\""), std::string::npos);
  EXPECT_NE(script.find("-a \"commit=$COMMIT\""), std::string::npos);
  // The legacy .sig format, which every signet serve reads.
  EXPECT_NE(script.find("args=(sign --yes --new-bundle-format=false --key \"$KEY_FILE\")"),
            std::string::npos);
}

TEST(TektonPipeline, BuildsThenSignsThenDeploys) {
  const auto docs = DocumentsOf(DeployDir() + "/tekton/pipeline.yaml");
  const auto pipeline = FindObject(docs, "Pipeline");
  ASSERT_TRUE(pipeline.IsDefined());
  std::map<std::string, YAML::Node> tasks;
  std::vector<std::string> order;
  for (const auto& t : pipeline["spec"]["tasks"]) {
    tasks.emplace(t["name"].as<std::string>(), YAML::Node(t));
    order.push_back(t["name"].as<std::string>());
  }
  ASSERT_EQ(order, (std::vector<std::string>{"build", "sign", "deploy"}));
  EXPECT_EQ(tasks["sign"]["taskRef"]["name"].as<std::string>(), "signet-sign-image");
  EXPECT_EQ(tasks["sign"]["runAfter"][0].as<std::string>(), "build");
  EXPECT_EQ(tasks["deploy"]["runAfter"][0].as<std::string>(), "sign");
}

// A file mode as Kubernetes reads the manifest (YAML 1.1: a leading 0 means
// octal, so `mode: 0444` is 292), or -1 when `node` is not a mode.
int KubernetesFileMode(const YAML::Node& node) {
  if (!node.IsScalar()) return -1;
  std::string text = node.Scalar();
  int base = 10;
  if (text.rfind("0o", 0) == 0) {
    text = text.substr(2);
    base = 8;
  } else if (text.size() > 1 && text[0] == '0') {
    base = 8;
  }
  char* end = nullptr;
  const long mode = std::strtol(text.c_str(), &end, base);
  if (text.empty() || *end != '\0' || mode < 0 || mode > 0777) return -1;
  return static_cast<int>(mode);
}

// The mode kubelet gives `key` of a Secret volume source: the item's mode,
// else defaultMode, else Kubernetes' default 0644.
int SecretFileMode(const YAML::Node& secret, const std::string& key) {
  for (const auto& item : secret["items"]) {
    if (item["key"].as<std::string>("") == key && item["mode"]) {
      return KubernetesFileMode(item["mode"]);
    }
  }
  return secret["defaultMode"] ? KubernetesFileMode(secret["defaultMode"]) : 0644;
}

constexpr char kPassword[] = "tekton-test-password";

class TektonStepAsItsUser : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(geteuid(), 0u) << "this test drops from root to the Task's runAsUser, as CI runs it";
    task_ = SignTask();
    ASSERT_TRUE(task_.IsDefined());
    step_ = task_["spec"]["steps"][0];
    uid_ = step_["securityContext"]["runAsUser"].as<int>(-1);
    gid_ = step_["securityContext"]["runAsGroup"].as<int>(-1);
    ASSERT_EQ(uid_, 65532);
    ASSERT_EQ(gid_, 65532) << "without runAsGroup the GID depends on the image";
    ASSERT_FALSE(step_["securityContext"]["allowPrivilegeEscalation"].as<bool>(true));
    ASSERT_TRUE(task_["spec"]["volumes"].IsSequence());
    for (const auto& volume : task_["spec"]["volumes"]) {
      if (volume["name"].as<std::string>("") == "signing-key") key_volume_ = YAML::Node(volume);
    }
    ASSERT_TRUE(key_volume_["secret"].IsMap());
    key_mode_ = SecretFileMode(key_volume_["secret"], "cosign.key");
    ASSERT_GE(key_mode_, 0);

    // The step user must reach everything below the work directory, as it
    // reaches the pod's volumes.
    ASSERT_EQ(chmod(work_.path().c_str(), 0755), 0);
    const auto keys = RunCommand(
        {SignetBinary(), "generate-key-pair", "--output-key-prefix", work_.File("cosign")},
        {std::string("COSIGN_PASSWORD=") + kPassword});
    ASSERT_EQ(keys.exit_code, 0) << keys.err;
    WriteFile(work_.File("step.sh"), step_["script"].as<std::string>(""), 0755);
    ASSERT_EQ(mkdir(work_.File("home").c_str(), 0777), 0);
    ASSERT_EQ(chmod(work_.File("home").c_str(), 0777), 0);

    registry_.emplace(RegistryServer::Mode::kTlsBasicAuth);
    WriteFile(work_.File("registry-ca.crt"), ReadFile(registry_->server().ca_file()), 0644);
  }

  PushedImage Push(const std::string& tag) { return registry_->PushUnsigned("team/app", tag); }

  // The key Secret under work_/<name>, with `mode`; returns the mount path.
  std::string ProjectKey(const std::string& name, int mode) {
    const std::string dir = work_.File(name);
    ProjectSecretVolume(dir, {{"cosign.key", ReadFile(work_.File("cosign.key"))}}, mode);
    return dir;
  }

  // The step's script, as the step's user, with the Task's environment: key
  // under `key_dir`, DOCKER_CONFIG = `docker_config` (the workspace path).
  CommandResult RunStep(const PushedImage& image, const std::string& key_dir,
                        const std::string& docker_config, const std::string& results_dir) {
    std::string key_file = "/etc/signet-signing/cosign.key";
    for (const auto& var : step_["env"]) {
      if (var["name"].as<std::string>("") == "KEY_FILE") key_file = var["value"].as<std::string>();
    }
    const std::string mount = step_["volumeMounts"][0]["mountPath"].as<std::string>("");
    EXPECT_EQ(key_file.rfind(mount + "/", 0), 0u) << key_file << " is not under " << mount;
    EXPECT_EQ(step_["volumeMounts"][0]["name"].as<std::string>(""), "signing-key");
    return RunCommand(
        {"setpriv", "--reuid=" + std::to_string(uid_), "--regid=" + std::to_string(gid_),
         "--clear-groups", "--no-new-privs", "--", "bash", work_.File("step.sh")},
        {"SIGNET=" + SignetBinary(), std::string("COSIGN_PASSWORD=") + kPassword,
         "IMAGE=" + image.TagReference(), "IMAGE_DIGEST=" + image.digest, "BUILD_ID=run-7",
         "COMMIT=c0ffee", "EXTRA_ANNOTATIONS=", "INSECURE_REGISTRY=false",
         "KEY_FILE=" + key_dir + key_file.substr(mount.size()), "DOCKER_CONFIG=" + docker_config,
         "RESULT_PATH=" + results_dir + "/signed-ref",
         "REGISTRY_CACERT=" + work_.File("registry-ca.crt"), "HOME=" + work_.File("home"),
         "REGISTRY_AUTH_FILE"});
  }

  // A results directory the step user can write, as Tekton's /tekton/results.
  std::string ResultsDir(const std::string& name) {
    const std::string dir = work_.File(name);
    EXPECT_EQ(mkdir(dir.c_str(), 0777), 0);
    EXPECT_EQ(chmod(dir.c_str(), 0777), 0);
    return dir;
  }

  CommandResult Verify(const PushedImage& image) {
    return RunCommand(
        {SignetBinary(), "verify", "--key", work_.File("cosign.pub"), "--registry-cacert",
         registry_->server().ca_file(), "--registry-username", registry_->server().username(),
         "--registry-password", registry_->server().password(), "-a", "build-id=run-7", "-a",
         "commit=c0ffee", image.DigestReference()},
        {"DOCKER_CONFIG", "REGISTRY_AUTH_FILE"});
  }

  TempDir work_;
  YAML::Node task_;
  YAML::Node step_;
  YAML::Node key_volume_;
  int uid_ = -1;
  int gid_ = -1;
  int key_mode_ = -1;
  std::optional<RegistryFixture> registry_;
};

TEST_F(TektonStepAsItsUser, DropsToTheStepUser) {
  const auto id =
      RunCommand({"setpriv", "--reuid=" + std::to_string(uid_), "--regid=" + std::to_string(gid_),
                  "--clear-groups", "--no-new-privs", "--", "sh", "-c", "id -u; id -g; id -G"});
  ASSERT_EQ(id.exit_code, 0) << id.err;
  EXPECT_EQ(id.out, "65532\n65532\n65532\n");
}

// The key mode of the Task lets the step user read the key without fsGroup;
// the Task's old 0400 (and 0440, which needs an fsGroup) does not.
TEST_F(TektonStepAsItsUser, KeyModeOfTheTaskIsReadableWithoutFsGroup) {
  EXPECT_EQ(key_mode_, 0444);
  const std::string docker = work_.File("docker");
  ProjectSecretVolume(
      docker,
      {{".dockerconfigjson",
        DockerRegistrySecretJson(registry_->server().host(), registry_->server().username(),
                                 registry_->server().password())}},
      0644);

  for (const int old_mode : {0400, 0440}) {
    const auto image = Push("mode-" + std::to_string(old_mode));
    const auto result = RunStep(image, ProjectKey("key-" + std::to_string(old_mode), old_mode),
                                docker, ResultsDir("results-" + std::to_string(old_mode)));
    EXPECT_NE(result.exit_code, 0) << std::oct << old_mode;
    EXPECT_NE(result.err.find("cannot read the signing key"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("as UID 65532"), std::string::npos) << result.err;
    EXPECT_NE(Verify(image).exit_code, 0) << "signed with an unreadable key?";
  }

  // Positive control: the Task's own mode, same user, same credentials.
  const auto image = Push("task-mode");
  const std::string results = ResultsDir("results");
  const auto result = RunStep(image, ProjectKey("key", key_mode_), docker, results);
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_EQ(ReadFile(results + "/signed-ref"), image.DigestReference());
  const auto verify = Verify(image);
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

// Push credentials from the dockerconfig workspace, in both Secret layouts.
class TektonStepCredentials : public TektonStepAsItsUser,
                              public ::testing::WithParamInterface<std::string> {};

TEST_P(TektonStepCredentials, SignsWithTheWorkspaceSecret) {
  // The Pipeline binds the workspace to a Secret without a mode: 0644.
  const auto pipeline =
      FindObject(DocumentsOf(DeployDir() + "/tekton/pipeline.yaml"), "PipelineRun");
  YAML::Node binding;
  for (const auto& workspace : pipeline["spec"]["workspaces"]) {
    if (workspace["name"].as<std::string>("") == "dockerconfig") binding = YAML::Node(workspace);
  }
  ASSERT_TRUE(binding["secret"].IsMap());
  EXPECT_EQ(binding["secret"]["secretName"].as<std::string>(""), "registry-push-config");
  const int mode = SecretFileMode(binding["secret"], GetParam());

  const std::string docker = work_.File("docker");
  // kubectl writes --docker-server as given; signet normalises https://host.
  ProjectSecretVolume(
      docker,
      {{GetParam(),
        DockerRegistrySecretJson("https://" + registry_->server().host(),
                                 registry_->server().username(), registry_->server().password())}},
      mode);
  const auto image = Push("layout");
  const std::string results = ResultsDir("results");
  const auto result = RunStep(image, ProjectKey("key", key_mode_), docker, results);
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_EQ(ReadFile(results + "/signed-ref"), image.DigestReference());
  EXPECT_EQ(result.err.find(kPassword), std::string::npos) << "password leaked to the log";
  EXPECT_EQ(result.err.find(registry_->server().password()), std::string::npos)
      << "registry password leaked";
  const auto verify = Verify(image);
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

// Negative control: the same run with an empty workspace is refused by the
// registry, so the credentials above were really used.
TEST_F(TektonStepAsItsUser, WithoutCredentialsThePushIsRefused) {
  const std::string docker = work_.File("docker");
  ProjectSecretVolume(docker, {{"unrelated", "x"}}, 0644);
  const auto image = Push("anonymous");
  const auto result = RunStep(image, ProjectKey("key", key_mode_), docker, ResultsDir("results"));
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("401"), std::string::npos) << result.err;
  EXPECT_NE(Verify(image).exit_code, 0);
}

INSTANTIATE_TEST_SUITE_P(SecretLayouts, TektonStepCredentials,
                         ::testing::Values("config.json", ".dockerconfigjson"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param == "config.json" ? std::string("ConfigJson")
                                                              : std::string("DockerConfigJson");
                         });

}  // namespace
}  // namespace signet::deploytest

// deploy/github/build-sign.yaml: the image name is lowercased before any
// step uses it (its step script runs here with bash, as the runner runs it),
// signet is the release package of scripts/package-release.sh for this
// version, and the install step refuses to run without a pinned checksum.
#include <gtest/gtest.h>

#include <map>

#include "deploy/deploy_files.h"

namespace signet::deploytest {
namespace {

using signet::testing::ReadFile;
using signet::testing::RunCommand;
using signet::testing::SignetBinary;
using signet::testing::TempDir;

std::string WorkflowPath() { return DeployDir() + "/github/build-sign.yaml"; }

YAML::Node Job() {
  const auto docs = DocumentsOf(WorkflowPath());
  EXPECT_EQ(docs.size(), 1u);
  return docs.empty() ? YAML::Node() : docs[0]["jobs"]["build-sign"];
}

// The steps by name (or by `uses` for unnamed steps), in order.
std::vector<std::pair<std::string, YAML::Node>> Steps(const YAML::Node& job) {
  std::vector<std::pair<std::string, YAML::Node>> steps;
  for (const auto& step : job["steps"]) {
    steps.emplace_back(step["name"].as<std::string>(step["uses"].as<std::string>("")),
                       YAML::Node(step));
  }
  return steps;
}

YAML::Node Step(const YAML::Node& job, const std::string& name) {
  for (const auto& [step_name, step] : Steps(job)) {
    if (step_name == name) return step;
  }
  ADD_FAILURE() << "no step " << name;
  return YAML::Node();
}

TEST(GithubWorkflow, ImageNameIsLowercasedBeforeAnyStepUsesIt) {
  const auto job = Job();
  ASSERT_TRUE(job.IsMap());
  const auto steps = Steps(job);
  ASSERT_FALSE(steps.empty());
  EXPECT_EQ(steps.front().first, "Image name") << "the name must be set before it is used";

  TempDir dir;
  const std::string env_file = dir.File("github-env");
  const auto run =
      RunCommand({"bash", "-e", "-c", Step(job, "Image name")["run"].as<std::string>("")},
                 {"GITHUB_REPOSITORY=Acme-Corp/My.App", "GITHUB_ENV=" + env_file});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(ReadFile(env_file), "IMAGE=ghcr.io/acme-corp/my.app\n");

  // Nothing else builds a name from the raw, possibly uppercase, repository.
  const std::string text = ReadFile(WorkflowPath());
  EXPECT_EQ(text.find("github.repository"), std::string::npos);
  EXPECT_EQ(Step(job, "docker/build-push-action@v6")["with"]["tags"].as<std::string>(""),
            "${{ env.IMAGE }}:${{ github.sha }}");
  EXPECT_NE(Step(job, "Sign by digest")["run"].as<std::string>("").find("\"$IMAGE@$DIGEST\""),
            std::string::npos);
}

TEST(GithubWorkflow, InstallsTheReleasePackageOfThisVersion) {
  const auto job = Job();
  ASSERT_TRUE(job.IsMap());
  const auto version = RunCommand({SignetBinary(), "--version"});
  ASSERT_EQ(version.exit_code, 0);
  EXPECT_EQ("signet " + job["env"]["SIGNET_VERSION"].as<std::string>("") + "\n", version.out);
  const std::string install = Step(job, "Install signet")["run"].as<std::string>("");
  // The name scripts/package-release.sh gives the tarball on x86-64.
  EXPECT_NE(install.find("package=\"signet-$SIGNET_VERSION-linux-amd64\""), std::string::npos);
  EXPECT_NE(install.find("sha256sum -c"), std::string::npos);
  EXPECT_EQ(install.find("docker cp"), std::string::npos) << "the bookworm binary does not start";
  EXPECT_NE(Step(job, "Sign by digest")["run"].as<std::string>("").find("\"$SIGNET\" sign --yes"),
            std::string::npos);

  // Without a pinned checksum the step stops before downloading anything
  // (`gh` is not on PATH here: reaching it would fail differently).
  const auto unpinned =
      RunCommand({"bash", "-e", "-c", install}, {"SIGNET_SHA256=", "SIGNET_VERSION=0.1.0"});
  EXPECT_NE(unpinned.exit_code, 0);
  EXPECT_NE(unpinned.err.find("set SIGNET_SHA256"), std::string::npos) << unpinned.err;
  // Positive control: with a checksum it gets past that check, to gh (kept
  // off PATH: an empty directory).
  TempDir dir;
  const auto pinned = RunCommand({"bash", "-e", "-c", install},
                                 {"SIGNET_SHA256=00", "SIGNET_VERSION=0.1.0",
                                  "RUNNER_TEMP=" + dir.path(), "PATH=" + dir.path()});
  EXPECT_NE(pinned.exit_code, 0);
  EXPECT_EQ(pinned.err.find("set SIGNET_SHA256"), std::string::npos) << pinned.err;
  EXPECT_NE(pinned.err.find("gh"), std::string::npos) << pinned.err;
}

}  // namespace
}  // namespace signet::deploytest

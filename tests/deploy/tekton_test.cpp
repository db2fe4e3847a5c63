// The Tekton signing Task embeds deploy/tekton/sign-image.sh verbatim and
// wires its inputs from params and Secrets.
#include <gtest/gtest.h>

#include <map>

#include "deploy/deploy_files.h"

namespace signet::deploytest {
namespace {

using signet::testing::ReadFile;

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
  EXPECT_NE(script.find("args=(sign --yes --key \"$KEY_FILE\")"), std::string::npos);
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

}  // namespace
}  // namespace signet::deploytest

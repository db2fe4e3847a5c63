// End to end with the kit's own scripts and the real binaries:
// - `signet serve` runs with exactly the certificates deploy/gen-certs.sh
//   made, and a TLS 1.3 client that trusts only the printed caBundle, dialing
//   the Service DNS name mapped to loopback, gets a Gatekeeper answer that
//   admits a signed image and rejects an unsigned one;
// - the Tekton Task's script signs an image in a real registry, and
//   `signet verify` accepts the signature with its annotations.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "deploy/deploy_files.h"
#include "support/registry_fixture.h"
#include "support/registry_server.h"
#include "support/test_images.h"

namespace signet::deploytest {
namespace {

using signet::testing::ChildProcess;
using signet::testing::CommandResult;
using signet::testing::FreePort;
using signet::testing::PushedImage;
using signet::testing::ReadFile;
using signet::testing::RegistryFixture;
using signet::testing::RegistryServer;
using signet::testing::RunCommand;
using signet::testing::SignetBinary;
using signet::testing::TempDir;
using signet::testing::WaitForPort;
using signet::testing::WriteFile;

constexpr char kPassword[] = "deploy-test-password";

// A cosign key pair at dir/cosign.key and dir/cosign.pub.
void GenerateKeyPair(const TempDir& dir) {
  const auto result =
      RunCommand({SignetBinary(), "generate-key-pair", "--output-key-prefix", dir.File("cosign")},
                 {std::string("COSIGN_PASSWORD=") + kPassword});
  ASSERT_EQ(result.exit_code, 0) << result.err;
}

// Runs deploy/tekton/sign-image.sh the way the Task does, with `env` added.
CommandResult RunSignScript(const std::vector<std::string>& env) {
  std::vector<std::string> full = {"SIGNET=" + SignetBinary(),
                                   std::string("COSIGN_PASSWORD=") + kPassword};
  full.insert(full.end(), env.begin(), env.end());
  return RunCommand({"bash", DeployDir() + "/tekton/sign-image.sh"}, full);
}

class DeployEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_.emplace(RegistryServer::Mode::kPlainHttp);
    GenerateKeyPair(keys_);
  }

  PushedImage Push(const std::string& path, const std::string& tag) {
    return registry_->PushUnsigned(path, tag);
  }

  std::optional<RegistryFixture> registry_;
  TempDir keys_;
};

TEST_F(DeployEndToEnd, TektonScriptSignsAndSignetVerifies) {
  const auto image = Push("team/app", "1.0");
  TempDir work;
  const auto result =
      RunSignScript({"IMAGE=" + image.TagReference(), "IMAGE_DIGEST=" + image.digest,
                     "KEY_FILE=" + keys_.File("cosign.key"), "BUILD_ID=build-42", "COMMIT=0123abcd",
                     "INSECURE_REGISTRY=true", "RESULT_PATH=" + work.File("signed-ref")});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_EQ(ReadFile(work.File("signed-ref")), image.DigestReference());
  EXPECT_EQ(result.err.find(kPassword), std::string::npos) << "password leaked to the log";
  EXPECT_EQ(result.out.find(kPassword), std::string::npos) << "password leaked to the log";

  const auto verify = RunCommand({SignetBinary(), "verify", "--key", keys_.File("cosign.pub"),
                                  "--allow-insecure-registry", "-a", "build-id=build-42", "-a",
                                  "commit=0123abcd", image.TagReference()});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;

  // The annotations are really checked, and another key is really refused.
  const auto wrong_commit =
      RunCommand({SignetBinary(), "verify", "--key", keys_.File("cosign.pub"),
                  "--allow-insecure-registry", "-a", "commit=ffff", image.TagReference()});
  EXPECT_NE(wrong_commit.exit_code, 0);
  TempDir other;
  GenerateKeyPair(other);
  const auto wrong_key = RunCommand({SignetBinary(), "verify", "--key", other.File("cosign.pub"),
                                     "--allow-insecure-registry", image.TagReference()});
  EXPECT_NE(wrong_key.exit_code, 0);
}

TEST_F(DeployEndToEnd, TektonScriptFailsClosedOnBadInput) {
  const auto image = Push("team/app", "1.0");
  // Wrong password: nothing is signed.
  auto result = RunCommand(
      {"bash", DeployDir() + "/tekton/sign-image.sh"},
      {"SIGNET=" + SignetBinary(), "COSIGN_PASSWORD=wrong", "IMAGE=" + image.TagReference(),
       "KEY_FILE=" + keys_.File("cosign.key"), "INSECURE_REGISTRY=true"});
  EXPECT_NE(result.exit_code, 0);
  // Missing key, malformed digest.
  result = RunSignScript({"IMAGE=" + image.TagReference(), "KEY_FILE=" + keys_.File("nope.key")});
  EXPECT_NE(result.exit_code, 0);
  result = RunSignScript({"IMAGE=" + image.TagReference(), "IMAGE_DIGEST=sha256:xyz",
                          "KEY_FILE=" + keys_.File("cosign.key"), "INSECURE_REGISTRY=true"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("is not a sha256 digest"), std::string::npos) << result.err;

  const auto verify = RunCommand({SignetBinary(), "verify", "--key", keys_.File("cosign.pub"),
                                  "--allow-insecure-registry", image.TagReference()});
  EXPECT_NE(verify.exit_code, 0) << "an image was signed despite the failures";
}

TEST_F(DeployEndToEnd, ServeWithGenCertsAnswersATls13ClientTrustingOnlyTheCaBundle) {
  const auto signed_image = Push("team/app", "signed");
  const auto unsigned_image = Push("team/app", "unsigned");
  const auto sign =
      RunSignScript({"IMAGE=" + signed_image.TagReference(), "IMAGE_DIGEST=" + signed_image.digest,
                     "KEY_FILE=" + keys_.File("cosign.key"), "BUILD_ID=1", "COMMIT=abc",
                     "INSECURE_REGISTRY=true"});
  ASSERT_EQ(sign.exit_code, 0) << sign.err;

  TempDir dir;
  const auto certs = RunCommand({DeployDir() + "/gen-certs.sh", "-n", "signet-system", "-s",
                                 "signet", "-o", dir.File("certs")});
  ASSERT_EQ(certs.exit_code, 0) << certs.err;
  std::string bundle = certs.out;
  while (!bundle.empty() && bundle.back() == '\n') bundle.pop_back();
  const auto decoded = RunCommand({"openssl", "base64", "-d", "-A"}, {}, bundle);
  ASSERT_EQ(decoded.exit_code, 0);
  WriteFile(dir.File("trusted-ca.pem"), decoded.out);

  const int port = FreePort();
  const int health_port = FreePort();
  WriteFile(dir.File("config.yaml"),
            "server:\n"
            "  port: " +
                std::to_string(port) +
                "\n"
                "  address: 127.0.0.1\n"
                "  tlsCertFile: " +
                dir.File("certs/tls.crt") +
                "\n"
                "  tlsKeyFile: " +
                dir.File("certs/tls.key") +
                "\n"
                "  tlsMinVersion: \"1.3\"\n"
                "  healthAddress: 127.0.0.1:" +
                std::to_string(health_port) +
                "\n"
                "verification:\n"
                "  deadline: 1500ms\n"
                "keys:\n"
                "  - name: default\n"
                "    path: " +
                keys_.File("cosign.pub") +
                "\n"
                "policies:\n"
                "  - name: default\n"
                "    images: [\"**\"]\n"
                "    keys: [default]\n"
                "registries:\n"
                "  - host: " +
                registry_->server().host() +
                "\n"
                "    insecure: true\n");
  ChildProcess serve({SignetBinary(), "serve", "--config", dir.File("config.yaml")}, {},
                     dir.File("serve.log"));
  ASSERT_TRUE(WaitForPort(port)) << ReadFile(dir.File("serve.log"));

  const std::string host = "signet.signet-system:" + std::to_string(port);
  const std::vector<std::string> base = {"curl", "--silent",  "--show-error",     "--max-time",
                                         "20",   "--resolve", host + ":127.0.0.1"};
  const nlohmann::json request = {
      {"apiVersion", "externaldata.gatekeeper.sh/v1beta1"},
      {"kind", "ProviderRequest"},
      {"request", {{"keys", {signed_image.TagReference(), unsigned_image.TagReference()}}}}};
  auto curl = [&](std::vector<std::string> extra, const std::string& path) {
    std::vector<std::string> argv = base;
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("https://" + host + path);
    return RunCommand(argv);
  };

  const auto answer = curl({"--tlsv1.3", "--cacert", dir.File("trusted-ca.pem"), "-H",
                            "Content-Type: application/json", "--data-binary", request.dump()},
                           "/validate");
  ASSERT_EQ(answer.exit_code, 0) << answer.err << ReadFile(dir.File("serve.log"));
  const auto body = nlohmann::json::parse(answer.out, nullptr, false);
  ASSERT_FALSE(body.is_discarded()) << answer.out;
  EXPECT_EQ(body.value("kind", ""), "ProviderResponse") << answer.out;
  EXPECT_EQ(body["response"].value("systemError", ""), "") << answer.out;
  std::map<std::string, nlohmann::json> items;
  for (const auto& item : body["response"]["items"]) items[item.value("key", "")] = item;
  ASSERT_EQ(items.size(), 2u) << answer.out;
  const auto& ok = items[signed_image.TagReference()];
  EXPECT_EQ(ok.value("error", ""), "") << answer.out;
  EXPECT_EQ(ok.value("value", ""), signed_image.DigestReference()) << answer.out;
  const auto& bad = items[unsigned_image.TagReference()];
  EXPECT_EQ(bad.value("error", ""), unsigned_image.TagReference() + "_invalid: no signatures found")
      << answer.out;

  // The health endpoints the probes use answer over the same TLS.
  const auto healthz =
      curl({"--tlsv1.3", "--cacert", dir.File("trusted-ca.pem"), "--fail"}, "/healthz");
  EXPECT_EQ(healthz.exit_code, 0) << healthz.err;
  const auto readyz =
      curl({"--tlsv1.3", "--cacert", dir.File("trusted-ca.pem"), "--fail"}, "/readyz");
  EXPECT_EQ(readyz.exit_code, 0) << readyz.err;
  // The probes and the ServiceMonitor of the chart use the health port: plain
  // HTTP, no client certificate.
  for (const std::string path : {"/healthz", "/readyz", "/metrics"}) {
    const auto plain = RunCommand({"curl", "--silent", "--show-error", "--fail", "--max-time", "20",
                                   "http://127.0.0.1:" + std::to_string(health_port) + path});
    EXPECT_EQ(plain.exit_code, 0) << path << ": " << plain.err;
  }

  // Without the caBundle (system roots only), or capped at TLS 1.2, no answer.
  EXPECT_NE(curl({"--tlsv1.3"}, "/healthz").exit_code, 0);
  EXPECT_NE(
      curl({"--tlsv1.2", "--tls-max", "1.2", "--cacert", dir.File("trusted-ca.pem")}, "/healthz")
          .exit_code,
      0);
  // A name the certificate does not carry is refused too.
  const std::string other = "signet.default:" + std::to_string(port);
  const auto wrong_name =
      RunCommand({"curl", "--silent", "--max-time", "20", "--resolve", other + ":127.0.0.1",
                  "--cacert", dir.File("trusted-ca.pem"), "https://" + other + "/healthz"});
  EXPECT_NE(wrong_name.exit_code, 0);
}

}  // namespace
}  // namespace signet::deploytest

// signet attest / verify-attestation against real cosign 2.5.0 and cosign
// v3.1.2 on a real docker-registry (no referrers API): each tool must accept
// the other's attestations, print the same envelopes, and refuse the same
// things.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "signet/cosign/attestation.h"
#include "signet/cosign/signature_manifest.h"
#include "signet/crypto/keys.h"
#include "support/paths.h"
#include "support/process.h"
#include "support/registry_server.h"
#include "support/test_images.h"

namespace signet::testing {
namespace {

constexpr char kPassword[] = "attest-password";

#define EXPECT_EXIT_CODE(result, code)                                 \
  EXPECT_EQ((result).exit_code, code) << "stdout:\n"                   \
                                      << (result).out << "\nstderr:\n" \
                                      << (result).err

class AttestationInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = std::make_unique<TempDir>();
    auto cosign_keys = RunCommand(
        {CosignBinary(), "generate-key-pair", "--output-key-prefix", home_->File("cosign")}, Env());
    ASSERT_EQ(cosign_keys.exit_code, 0) << cosign_keys.err;
    auto signet_keys = crypto::GenerateKeyPair(kPassword);
    ASSERT_TRUE(signet_keys.ok());
    WriteFile(home_->File("signet.key"), signet_keys->private_pem, 0600);
    WriteFile(home_->File("signet.pub"), signet_keys->public_pem);
    WriteFile(home_->File("custom.txt"), "built by CI run 42\n");
    WriteFile(home_->File("slsa.json"),
              R"({"builder":{"id":"https://ci.example/builder"},"buildType":"https://example/t"})");
    server_ = RegistryServer::Start(RegistryServer::Mode::kPlainHttp);
    client_ = ClientFor(*server_);
  }

  std::vector<std::string> Env() const {
    return {"HOME=" + home_->path(), "COSIGN_PASSWORD=" + std::string(kPassword),
            "DOCKER_CONFIG=" + home_->File("docker"), "COSIGN_REPOSITORY"};
  }

  // `tool` with `args`, the registry flag inserted before the last (image)
  // argument.
  CommandResult Run(const std::string& tool, std::vector<std::string> args) {
    args.insert(args.begin(), tool);
    args.insert(args.end() - 1, "--allow-insecure-registry");
    return RunCommand(args, Env());
  }
  CommandResult Signet(std::vector<std::string> args) { return Run(SignetBinary(), args); }
  // cosign 2.5.0 (legacy only).
  CommandResult Cosign2(std::vector<std::string> args) {
    if (args[0] == "attest") args.insert(args.end() - 1, {"--tlog-upload=false", "-y"});
    if (args[0] == "verify-attestation") args.insert(args.end() - 1, "--insecure-ignore-tlog");
    args.insert(args.end() - 1, "--allow-http-registry");
    return Run(CosignBinary(), args);
  }
  // cosign v3.1.2 in its legacy mode.
  CommandResult Cosign3Legacy(std::vector<std::string> args) {
    if (args[0] == "attest") {
      args.insert(args.end() - 1, {"--new-bundle-format=false", "--use-signing-config=false",
                                   "--tlog-upload=false", "-y"});
    }
    if (args[0] == "verify-attestation") args.insert(args.end() - 1, "--insecure-ignore-tlog");
    args.insert(args.end() - 1, "--allow-http-registry");
    return Run(CosignV3Binary(), args);
  }

  std::string File(const std::string& name) const { return home_->File(name); }

  // The layers of the ".att" manifest of `digest` in `repo`.
  std::vector<cosign::SignatureLayer> AttLayers(const oci::Repository& repo,
                                                const std::string& digest) {
    std::string tag = digest;
    tag[6] = '-';
    auto manifest = client_->GetManifest(repo, tag + ".att");
    EXPECT_TRUE(manifest.ok()) << manifest.error().message();
    if (!manifest.ok()) return {};
    auto parsed = cosign::ParseSignatureManifest(manifest->bytes, 1000);
    EXPECT_TRUE(parsed.ok());
    return parsed.ok() ? parsed->layers : std::vector<cosign::SignatureLayer>{};
  }

  // The last line of a command's stderr that starts with "Error: ".
  static std::string ErrorLine(const CommandResult& result) {
    const auto at = result.err.rfind("Error: ");
    if (at == std::string::npos) return "";
    return result.err.substr(at, result.err.find('\n', at) - at);
  }

  std::unique_ptr<TempDir> home_;
  std::unique_ptr<RegistryServer> server_;
  std::unique_ptr<oci::RegistryClient> client_;
};

TEST_F(AttestationInteropTest, SignetLegacyAttestationsVerifyWithBothCosigns) {
  const oci::Repository repo = RepositoryOn(*server_, "attest/ours");
  const auto image = PushRandomImage(*client_, repo, "v1");
  EXPECT_EXIT_CODE(Signet({"attest", "--key", File("signet.key"), "--new-bundle-format=false",
                           "--tlog-upload=false", "--type", "custom", "--predicate",
                           File("custom.txt"), image.DigestReference()}),
                   0);
  EXPECT_EXIT_CODE(
      Signet({"attest", "--key", File("signet.key"), "--new-bundle-format=false", "--type",
              "slsaprovenance", "--predicate", File("slsa.json"), image.TagReference()}),
      0);
  const auto layers = AttLayers(repo, image.digest);
  ASSERT_EQ(layers.size(), 2u);
  EXPECT_EQ(layers[1].annotations.at("predicateType"), "https://slsa.dev/provenance/v0.2");

  for (const std::string type : {"custom", "slsaprovenance"}) {
    const auto ours =
        Signet({"verify-attestation", "--key", File("signet.pub"), "--new-bundle-format=false",
                "--type", type, image.DigestReference()});
    EXPECT_EXIT_CODE(ours, 0);
    const auto v2 = Cosign2({"verify-attestation", "--key", File("signet.pub"), "--type", type,
                             image.DigestReference()});
    EXPECT_EXIT_CODE(v2, 0);
    const auto v3 = Cosign3Legacy({"verify-attestation", "--key", File("signet.pub"), "--type",
                                   type, image.DigestReference()});
    EXPECT_EXIT_CODE(v3, 0);
    // One envelope per line, the same bytes from all three tools.
    EXPECT_FALSE(ours.out.empty());
    EXPECT_EQ(std::count(ours.out.begin(), ours.out.end(), '\n'), 1) << ours.out;
    EXPECT_EQ(ours.out, v2.out);
    EXPECT_EQ(ours.out, v3.out);
  }
  // Another key: all three refuse, exit 1.
  const std::vector<std::string> other_key = {
      "verify-attestation",   "--key", File("cosign.pub"), "--type", "custom",
      image.DigestReference()};
  EXPECT_EXIT_CODE(Signet(other_key), 1);
  EXPECT_EXIT_CODE(Cosign2(other_key), 1);
  EXPECT_EXIT_CODE(Cosign3Legacy(other_key), 1);
}

TEST_F(AttestationInteropTest, CosignLegacyAttestationsVerifyWithSignet) {
  const oci::Repository repo = RepositoryOn(*server_, "attest/theirs");
  const auto image = PushRandomImage(*client_, repo, "v1");
  // cosign 2.5.0 writes "keyid":"" and the statement in another field order;
  // cosign v3 writes protojson with random spaces. signet reads both.
  EXPECT_EXIT_CODE(Cosign2({"attest", "--key", File("cosign.key"), "--type", "custom",
                            "--predicate", File("custom.txt"), image.DigestReference()}),
                   0);
  EXPECT_EXIT_CODE(Cosign3Legacy({"attest", "--key", File("cosign.key"), "--type", "slsaprovenance",
                                  "--predicate", File("slsa.json"), image.DigestReference()}),
                   0);
  ASSERT_EQ(AttLayers(repo, image.digest).size(), 2u);
  for (const std::string type : {"custom", "slsaprovenance"}) {
    const auto ours = Signet(
        {"verify-attestation", "--key", File("cosign.pub"), "--type", type, image.TagReference()});
    EXPECT_EXIT_CODE(ours, 0);
    EXPECT_NE(ours.err.find("Verification for " + image.TagReference() + " --"), std::string::npos)
        << ours.err;
    const auto theirs = Cosign3Legacy(
        {"verify-attestation", "--key", File("cosign.pub"), "--type", type, image.TagReference()});
    EXPECT_EXIT_CODE(theirs, 0);
    EXPECT_FALSE(ours.out.empty());
    EXPECT_EQ(ours.out, theirs.out);
  }
  // Wrong type: both verify the signatures, then fail with the same message.
  const auto ours = Signet(
      {"verify-attestation", "--key", File("cosign.pub"), "--type", "vuln", image.TagReference()});
  EXPECT_EXIT_CODE(ours, 1);
  EXPECT_TRUE(ours.out.empty());
  const auto theirs = Cosign3Legacy(
      {"verify-attestation", "--key", File("cosign.pub"), "--type", "vuln", image.TagReference()});
  EXPECT_EXIT_CODE(theirs, 1);
  EXPECT_EQ(ErrorLine(ours),
            "Error: none of the attestations matched the predicate type: vuln, found: "
            "https://cosign.sigstore.dev/attestation/v1,https://slsa.dev/provenance/v0.2");
  EXPECT_EQ(ErrorLine(ours), ErrorLine(theirs));
  // Another key.
  EXPECT_EXIT_CODE(Signet({"verify-attestation", "--key", File("signet.pub"), "--type", "custom",
                           image.TagReference()}),
                   1);
}

TEST_F(AttestationInteropTest, BothToolsAttestTheSameImage) {
  const oci::Repository repo = RepositoryOn(*server_, "attest/both");
  const auto image = PushRandomImage(*client_, repo, "v1");
  EXPECT_EXIT_CODE(Cosign3Legacy({"attest", "--key", File("cosign.key"), "--type", "custom",
                                  "--predicate", File("custom.txt"), image.DigestReference()}),
                   0);
  const auto before = AttLayers(repo, image.digest);
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EXIT_CODE(
      Signet({"attest", "--key", File("signet.key"), "--new-bundle-format=false", "--type",
              "custom", "--predicate", File("custom.txt"), image.DigestReference()}),
      0);
  const auto after = AttLayers(repo, image.digest);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0].descriptor_json, before[0].descriptor_json);
  for (const std::string key : {"cosign.pub", "signet.pub"}) {
    const auto ours = Signet(
        {"verify-attestation", "--key", File(key), "--type", "custom", image.DigestReference()});
    EXPECT_EXIT_CODE(ours, 0);
    const auto theirs = Cosign3Legacy(
        {"verify-attestation", "--key", File(key), "--type", "custom", image.DigestReference()});
    EXPECT_EXIT_CODE(theirs, 0);
    EXPECT_EQ(ours.out, theirs.out);
  }
}

TEST_F(AttestationInteropTest, NoAttestationsExitsOneLikeCosign) {
  const auto image = PushRandomImage(*client_, RepositoryOn(*server_, "attest/none"), "v1");
  const auto ours = Signet({"verify-attestation", "--key", File("cosign.pub"), "--type", "custom",
                            image.DigestReference()});
  EXPECT_EXIT_CODE(ours, 1);
  EXPECT_NE(ours.err.find("no matching attestations"), std::string::npos) << ours.err;
  EXPECT_EXIT_CODE(Cosign3Legacy({"verify-attestation", "--key", File("cosign.pub"), "--type",
                                  "custom", image.DigestReference()}),
                   1);
  // Positive control: once attested, the same command passes.
  EXPECT_EXIT_CODE(Cosign2({"attest", "--key", File("cosign.key"), "--type", "custom",
                            "--predicate", File("custom.txt"), image.DigestReference()}),
                   0);
  EXPECT_EXIT_CODE(Signet({"verify-attestation", "--key", File("cosign.pub"), "--type", "custom",
                           image.DigestReference()}),
                   0);
}

}  // namespace
}  // namespace signet::testing

// signet attest / verify-attestation against real cosign 2.5.0 and cosign
// v3.1.2: the legacy ".att" form on docker-registry (no referrers API), and
// the bundle form on docker-registry (fallback tag) and on
// go-containerregistry's registry with the referrers API. Each tool must
// accept the other's attestations, print the same envelopes, and refuse the
// same things.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "signet/cosign/attestation.h"
#include "signet/cosign/dsse.h"
#include "signet/cosign/image_bundle.h"
#include "signet/cosign/signature_manifest.h"
#include "signet/crypto/keys.h"
#include "support/paths.h"
#include "support/process.h"
#include "support/referrers_registry_server.h"
#include "support/registry_server.h"
#include "support/test_images.h"

namespace signet::testing {
namespace {

constexpr char kPassword[] = "attest-password";

#define EXPECT_EXIT_CODE(result, code)                                 \
  EXPECT_EQ((result).exit_code, code) << "stdout:\n"                   \
                                      << (result).out << "\nstderr:\n" \
                                      << (result).err

// Keys (cosign's own and signet's), predicate files and the commands both
// fixtures below share.
class AttestationInteropBase {
 protected:
  void SetUpHome() {
    home_ = std::make_unique<TempDir>();
    auto cosign_keys = RunCommand(
        {CosignBinary(), "generate-key-pair", "--output-key-prefix", home_->File("cosign")}, Env());
    ASSERT_EQ(cosign_keys.exit_code, 0) << cosign_keys.err;
    auto signet_keys = crypto::GenerateKeyPair(kPassword);
    ASSERT_TRUE(signet_keys.ok());
    WriteFile(home_->File("signet.key"), signet_keys->private_pem, 0600);
    WriteFile(home_->File("signet.pub"), signet_keys->public_pem);
    auto signer = crypto::LoadPrivateKey(signet_keys->private_pem, kPassword, "signet.key");
    ASSERT_TRUE(signer.ok());
    signer_ = std::move(*signer);
    WriteFile(home_->File("custom.txt"), "built by CI run 42\n");
    WriteFile(home_->File("slsa.json"),
              R"({"builder":{"id":"https://ci.example/builder"},"buildType":"https://example/t"})");
  }

  void StartDockerRegistry() {
    server_ = RegistryServer::Start(RegistryServer::Mode::kPlainHttp);
    client_ = ClientFor(*server_);
  }

  void StartReferrersRegistry() {
    referrers_server_ = ReferrersRegistryServer::Start();
    oci::RegistryClientOptions options;
    options.allow_insecure = true;
    client_ = std::make_unique<oci::RegistryClient>(options);
  }

  oci::Repository Repo(const std::string& path) const {
    if (referrers_server_) return oci::Repository{referrers_server_->host(), path};
    return RepositoryOn(*server_, path);
  }

  std::vector<std::string> Env() const {
    return {"HOME=" + home_->path(), "COSIGN_PASSWORD=" + std::string(kPassword),
            "DOCKER_CONFIG=" + home_->File("docker"), "COSIGN_REPOSITORY"};
  }

  // `tool` with `args`, the registry flags inserted before the last (image)
  // argument.
  CommandResult RunTool(const std::string& tool, std::vector<std::string> args,
                        const std::vector<std::string>& registry_flags) {
    args.insert(args.begin(), tool);
    args.insert(args.end() - 1, registry_flags.begin(), registry_flags.end());
    return RunCommand(args, Env());
  }
  CommandResult Signet(std::vector<std::string> args) {
    return RunTool(SignetBinary(), std::move(args), {"--allow-insecure-registry"});
  }

  std::string File(const std::string& name) const { return home_->File(name); }

  // The last line of a command's stderr that starts with "Error: ".
  static std::string ErrorLine(const CommandResult& result) {
    const auto at = result.err.rfind("Error: ");
    if (at == std::string::npos) return "";
    return result.err.substr(at, result.err.find('\n', at) - at);
  }

  std::unique_ptr<TempDir> home_;
  std::unique_ptr<crypto::Signer> signer_;
  std::unique_ptr<RegistryServer> server_;
  std::unique_ptr<ReferrersRegistryServer> referrers_server_;
  std::unique_ptr<oci::RegistryClient> client_;
};

// The legacy ".att" form on docker-registry.
class AttestationInteropTest : public AttestationInteropBase, public ::testing::Test {
 protected:
  void SetUp() override {
    SetUpHome();
    StartDockerRegistry();
  }

  // cosign 2.5.0 (legacy only).
  CommandResult Cosign2(std::vector<std::string> args) {
    if (args[0] == "attest") args.insert(args.end() - 1, {"--tlog-upload=false", "-y"});
    if (args[0] == "verify-attestation") args.insert(args.end() - 1, "--insecure-ignore-tlog");
    return RunTool(CosignBinary(), std::move(args),
                   {"--allow-insecure-registry", "--allow-http-registry"});
  }
  // cosign v3.1.2 in its legacy mode.
  CommandResult Cosign3Legacy(std::vector<std::string> args) {
    if (args[0] == "attest") {
      args.insert(args.end() - 1, {"--new-bundle-format=false", "--use-signing-config=false",
                                   "--tlog-upload=false", "-y"});
    }
    if (args[0] == "verify-attestation") args.insert(args.end() - 1, "--insecure-ignore-tlog");
    return RunTool(CosignV3Binary(), std::move(args),
                   {"--allow-insecure-registry", "--allow-http-registry"});
  }

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
};

TEST_F(AttestationInteropTest, SignetLegacyAttestationsVerifyWithBothCosigns) {
  const oci::Repository repo = Repo("attest/ours");
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
  const oci::Repository repo = Repo("attest/theirs");
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

// cosign 2.5.0's `attest --type spdx` signs a tag-value SBOM as a JSON
// string predicate and verifies it from the ".att" tag; signet verifies it
// too and prints the same envelope. (cosign v3 finds no spdx attestation in
// it; signet follows cosign 2.5.0, which wrote it.)
TEST_F(AttestationInteropTest, Cosign2SpdxTextAttestationsVerifyWithSignet) {
  WriteFile(File("sbom.spdx"), "SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\nName: <a&b>\n");
  const auto image = PushRandomImage(*client_, Repo("attest/spdx"), "v1");
  const std::vector<std::string> verify = {"verify-attestation", "--key", File("cosign.pub"),
                                           "--type", "spdx", image.DigestReference()};
  // Before any attestation both refuse (the negative control).
  EXPECT_EXIT_CODE(Signet(verify), 1);
  EXPECT_EXIT_CODE(Cosign2(verify), 1);
  EXPECT_EXIT_CODE(Cosign2({"attest", "--key", File("cosign.key"), "--type", "spdx", "--predicate",
                            File("sbom.spdx"), image.DigestReference()}),
                   0);
  const auto theirs = Cosign2(verify);
  EXPECT_EXIT_CODE(theirs, 0);
  const auto ours = Signet(verify);
  EXPECT_EXIT_CODE(ours, 0);
  EXPECT_FALSE(ours.out.empty());
  EXPECT_EQ(ours.out, theirs.out);
  // cosign stored one ".att" layer, annotated with the SPDX predicate type.
  const auto layers = AttLayers(Repo("attest/spdx"), image.digest);
  ASSERT_EQ(layers.size(), 1u);
  EXPECT_EQ(layers[0].annotations.at("predicateType"), "https://spdx.dev/Document");
  // Another key: both refuse.
  std::vector<std::string> other_key = verify;
  other_key[2] = File("signet.pub");
  EXPECT_EXIT_CODE(Signet(other_key), 1);
  EXPECT_EXIT_CODE(Cosign2(other_key), 1);
  // signet does not write the form (cosign v3 cannot verify it) and says so.
  const auto write = Signet({"attest", "--key", File("signet.key"), "--new-bundle-format=false",
                             "--type", "spdx", "--predicate", File("sbom.spdx"),
                             image.DigestReference()});
  EXPECT_NE(write.exit_code, 0);
  EXPECT_NE(write.err.find("use --type spdxjson"), std::string::npos) << write.err;
}

TEST_F(AttestationInteropTest, BothToolsAttestTheSameImage) {
  const oci::Repository repo = Repo("attest/both");
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
  const auto image = PushRandomImage(*client_, Repo("attest/none"), "v1");
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

// The bundle form (cosign v3's default), parameterized on the registry: true
// = go-containerregistry's registry with the referrers API, false = Debian's
// docker-registry (fallback tag).
class BundleAttestationInteropTest : public AttestationInteropBase,
                                     public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    SetUpHome();
    if (GetParam()) {
      StartReferrersRegistry();
    } else {
      StartDockerRegistry();
    }
  }

  // cosign v3.1.2 with its defaults (bundles), offline.
  CommandResult Cosign3(std::vector<std::string> args) {
    if (args[0] == "attest" || args[0] == "sign") {
      args.insert(args.end() - 1, {"--use-signing-config=false", "--tlog-upload=false", "-y"});
    }
    if (args[0] == "verify-attestation") {
      args.insert(args.end() - 1, "--insecure-ignore-tlog=true");
    }
    return RunTool(CosignV3Binary(), std::move(args),
                   {"--allow-insecure-registry", "--allow-http-registry"});
  }

  // ErrorLine with the comma-separated list after "found: " sorted: the
  // order follows the registry's referrers listing, which go-containerregistry's
  // registry does not keep stable between two calls.
  static std::string ErrorLineSorted(const CommandResult& result) {
    std::string line = ErrorLine(result);
    const auto at = line.find("found: ");
    if (at == std::string::npos) return line;
    std::vector<std::string> types;
    std::string rest = line.substr(at + 7);
    for (std::size_t start = 0; start <= rest.size();) {
      const auto comma = std::min(rest.find(',', start), rest.size());
      types.push_back(rest.substr(start, comma - start));
      start = comma + 1;
    }
    std::sort(types.begin(), types.end());
    line.resize(at + 7);
    for (std::size_t i = 0; i < types.size(); ++i) line += (i ? "," : "") + types[i];
    return line;
  }
};

TEST_P(BundleAttestationInteropTest, SignetAttestsCosignVerifies) {
  const auto image = PushRandomImage(*client_, Repo("bundle/ours"), "v1");
  EXPECT_EXIT_CODE(Signet({"attest", "--key", File("signet.key"), "--type", "custom", "--predicate",
                           File("custom.txt"), image.DigestReference()}),
                   0);
  EXPECT_EXIT_CODE(
      Signet({"attest", "--key", File("signet.key"), "--tlog-upload=false", "--type",
              "slsaprovenance", "--predicate", File("slsa.json"), image.DigestReference()}),
      0);
  for (const std::string type : {"custom", "slsaprovenance"}) {
    const auto theirs = Cosign3({"verify-attestation", "--key", File("signet.pub"), "--type", type,
                                 image.DigestReference()});
    EXPECT_EXIT_CODE(theirs, 0);
    const auto ours =
        Signet({"verify-attestation", "--key", File("signet.pub"), "--insecure-ignore-tlog=true",
                "--type", type, image.DigestReference()});
    EXPECT_EXIT_CODE(ours, 0);
    EXPECT_FALSE(ours.out.empty());
    EXPECT_EQ(ours.out, theirs.out);
    // cosign claims a transparency-log check here; signet, which made none, does not.
    EXPECT_NE(theirs.err.find("in the transparency log was verified offline"), std::string::npos);
    EXPECT_EQ(ours.err.find("transparency log was verified"), std::string::npos) << ours.err;
  }
  // Another key, and a type nobody attested: both refuse alike.
  EXPECT_EXIT_CODE(Cosign3({"verify-attestation", "--key", File("cosign.pub"), "--type", "custom",
                            image.DigestReference()}),
                   1);
  EXPECT_EXIT_CODE(Signet({"verify-attestation", "--key", File("cosign.pub"),
                           "--insecure-ignore-tlog", "--type", "custom", image.DigestReference()}),
                   1);
  const auto theirs = Cosign3({"verify-attestation", "--key", File("signet.pub"), "--type", "vuln",
                               image.DigestReference()});
  EXPECT_EXIT_CODE(theirs, 1);
  const auto ours = Signet({"verify-attestation", "--key", File("signet.pub"),
                            "--insecure-ignore-tlog", "--type", "vuln", image.DigestReference()});
  EXPECT_EXIT_CODE(ours, 1);
  EXPECT_NE(ErrorLine(ours).find("none of the attestations matched the predicate type: vuln"),
            std::string::npos)
      << ours.err;
  EXPECT_EQ(ErrorLineSorted(ours), ErrorLineSorted(theirs));
}

TEST_P(BundleAttestationInteropTest, CosignAttestsSignetVerifies) {
  const auto image = PushRandomImage(*client_, Repo("bundle/theirs"), "v1");
  EXPECT_EXIT_CODE(Cosign3({"attest", "--key", File("cosign.key"), "--type", "slsaprovenance",
                            "--predicate", File("slsa.json"), image.DigestReference()}),
                   0);
  EXPECT_EXIT_CODE(Cosign3({"sign", "--key", File("cosign.key"), image.DigestReference()}), 0);
  const auto theirs = Cosign3({"verify-attestation", "--key", File("cosign.pub"), "--type",
                               "slsaprovenance", image.DigestReference()});
  EXPECT_EXIT_CODE(theirs, 0);
  const auto ours =
      Signet({"verify-attestation", "--key", File("cosign.pub"), "--insecure-ignore-tlog=true",
              "--type", "slsaprovenance", image.TagReference()});
  EXPECT_EXIT_CODE(ours, 0);
  EXPECT_FALSE(ours.out.empty());
  EXPECT_EQ(ours.out, theirs.out);
  // The sign bundle is verified but is no custom attestation, for both tools.
  const auto custom_theirs = Cosign3({"verify-attestation", "--key", File("cosign.pub"), "--type",
                                      "custom", image.DigestReference()});
  EXPECT_EXIT_CODE(custom_theirs, 1);
  const auto custom_ours =
      Signet({"verify-attestation", "--key", File("cosign.pub"), "--insecure-ignore-tlog", "--type",
              "custom", image.DigestReference()});
  EXPECT_EXIT_CODE(custom_ours, 1);
  EXPECT_EQ(ErrorLineSorted(custom_ours), ErrorLineSorted(custom_theirs));
  EXPECT_NE(ErrorLine(custom_ours).find("https://sigstore.dev/cosign/sign/v1"), std::string::npos);
  // Another key; and without --insecure-ignore-tlog (the bundles have no log entry).
  EXPECT_EXIT_CODE(
      Signet({"verify-attestation", "--key", File("signet.pub"), "--insecure-ignore-tlog", "--type",
              "slsaprovenance", image.DigestReference()}),
      1);
  const auto strict = Signet({"verify-attestation", "--key", File("cosign.pub"), "--type",
                              "slsaprovenance", image.DigestReference()});
  EXPECT_EXIT_CODE(strict, 1);
  EXPECT_NE(strict.err.find("--insecure-ignore-tlog=true"), std::string::npos) << strict.err;
  EXPECT_EQ(strict.err.find("WARNING: Skipping tlog"), std::string::npos) << strict.err;
}

// cosign v3 writes an spdx text predicate into a bundle but cannot verify
// it (sigstore-go reads statements with protojson); signet refuses it alike
// and names the cause. An spdxjson attestation of the same image verifies
// with both (the positive control).
TEST_P(BundleAttestationInteropTest, SpdxTextBundlesAreRefusedByBothTools) {
  WriteFile(File("sbom.spdx"), "SPDXVersion: SPDX-2.3\nName: text\n");
  WriteFile(File("sbom.spdx.json"), R"({"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT"})");
  const auto image = PushRandomImage(*client_, Repo("bundle/spdx"), "v1");
  EXPECT_EXIT_CODE(Cosign3({"attest", "--key", File("cosign.key"), "--type", "spdx", "--predicate",
                            File("sbom.spdx"), image.DigestReference()}),
                   0);
  const std::vector<std::string> verify = {"verify-attestation", "--key", File("cosign.pub"),
                                           "--type", "spdx", image.DigestReference()};
  std::vector<std::string> ours_args = verify;
  ours_args.insert(ours_args.begin() + 1, "--insecure-ignore-tlog");
  EXPECT_EXIT_CODE(Cosign3(verify), 1);
  const auto refused = Signet(ours_args);
  EXPECT_EXIT_CODE(refused, 1);
  EXPECT_TRUE(refused.out.empty());
  EXPECT_NE(refused.err.find("predicate is not a JSON object"), std::string::npos) << refused.err;

  EXPECT_EXIT_CODE(Cosign3({"attest", "--key", File("cosign.key"), "--type", "spdxjson",
                            "--predicate", File("sbom.spdx.json"), image.DigestReference()}),
                   0);
  std::vector<std::string> json_args = ours_args;
  json_args[json_args.size() - 2] = "spdxjson";
  std::vector<std::string> json_theirs = verify;
  json_theirs[json_theirs.size() - 2] = "spdxjson";
  const auto ours = Signet(json_args);
  EXPECT_EXIT_CODE(ours, 0);
  const auto theirs = Cosign3(json_theirs);
  EXPECT_EXIT_CODE(theirs, 0);
  EXPECT_FALSE(ours.out.empty());
  EXPECT_EQ(ours.out, theirs.out);
}

TEST_P(BundleAttestationInteropTest, SignBundleIsNoProvenanceForEitherTool) {
  const auto image = PushRandomImage(*client_, Repo("bundle/signed"), "v1");
  EXPECT_EXIT_CODE(Cosign3({"sign", "--key", File("cosign.key"), image.DigestReference()}), 0);
  const std::vector<std::string> slsa = {"verify-attestation", "--key",
                                         File("cosign.pub"),   "--type",
                                         "slsaprovenance",     image.DigestReference()};
  std::vector<std::string> ours_args = slsa;
  ours_args.insert(ours_args.begin() + 1, "--insecure-ignore-tlog");
  const auto ours = Signet(ours_args);
  const auto theirs = Cosign3(slsa);
  EXPECT_EXIT_CODE(ours, 1);
  EXPECT_EXIT_CODE(theirs, 1);
  EXPECT_TRUE(ours.out.empty());
  EXPECT_EQ(ErrorLine(ours),
            "Error: none of the attestations matched the predicate type: slsaprovenance, found: "
            "https://sigstore.dev/cosign/sign/v1");
  EXPECT_EQ(ErrorLine(ours), ErrorLine(theirs));
  // Positive control: a provenance attestation beside the signature makes both pass.
  EXPECT_EXIT_CODE(Cosign3({"attest", "--key", File("cosign.key"), "--type", "slsaprovenance",
                            "--predicate", File("slsa.json"), image.DigestReference()}),
                   0);
  EXPECT_EXIT_CODE(Signet(ours_args), 0);
  EXPECT_EXIT_CODE(Cosign3(slsa), 0);
}

TEST_P(BundleAttestationInteropTest, StatementAboutAnotherImageIsRefusedByBoth) {
  const oci::Repository repo = Repo("bundle/moved");
  const auto a = PushRandomImage(*client_, repo, "a");
  const auto b = PushRandomImage(*client_, repo, "b");
  auto about_a = cosign::MakeAttestationStatement("slsaprovenance", ReadFile(File("slsa.json")),
                                                  repo, a.digest, "2026-12-02T13:18:22Z");
  ASSERT_TRUE(about_a.ok());
  auto payload = cosign::MarshalStatement(*about_a);
  ASSERT_TRUE(payload.ok());
  auto envelope = cosign::SignDsse(*signer_, cosign::kInTotoPayloadType, *payload);
  ASSERT_TRUE(envelope.ok());
  for (const auto* subject : {&a, &b}) {
    auto ref = oci::ImageReference::Parse(subject->DigestReference());
    ASSERT_TRUE(ref.ok());
    auto attached = cosign::AttachDsseBundle(*client_, *ref, *envelope, signer_->PublicKeyPem(),
                                             about_a->predicate_type, {});
    ASSERT_TRUE(attached.ok()) << attached.error().message();
  }
  for (const auto* image : {&a, &b}) {
    const int expected = image == &a ? 0 : 1;
    EXPECT_EXIT_CODE(Cosign3({"verify-attestation", "--key", File("signet.pub"), "--type",
                              "slsaprovenance", image->DigestReference()}),
                     expected);
    EXPECT_EXIT_CODE(
        Signet({"verify-attestation", "--key", File("signet.pub"), "--insecure-ignore-tlog",
                "--type", "slsaprovenance", image->DigestReference()}),
        expected);
  }
}

INSTANTIATE_TEST_SUITE_P(Registries, BundleAttestationInteropTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "ReferrersApi" : "DockerRegistry";
                         });

}  // namespace
}  // namespace signet::testing

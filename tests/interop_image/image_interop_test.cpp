// signet against real cosign 2.5.0 and real docker-registry instances: each
// tool must accept the other's signatures, and the CLI must fail with
// cosign's exit codes.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "signet/cosign/signature_manifest.h"
#include "signet/crypto/keys.h"
#include "support/paths.h"
#include "support/process.h"
#include "support/registry_fixture.h"
#include "support/registry_server.h"
#include "support/test_images.h"

namespace signet::testing {
namespace {

constexpr char kPassword[] = "interop-password";

class ImageInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = std::make_unique<TempDir>();
    // cosign's own key pair, and one made by signet.
    auto cosign_keys = RunCommand(
        {CosignBinary(), "generate-key-pair", "--output-key-prefix", home_->File("cosign")}, Env());
    ASSERT_EQ(cosign_keys.exit_code, 0) << cosign_keys.err;
    auto signet_keys = crypto::GenerateKeyPair(kPassword);
    ASSERT_TRUE(signet_keys.ok());
    WriteFile(home_->File("signet.key"), signet_keys->private_pem, 0600);
    WriteFile(home_->File("signet.pub"), signet_keys->public_pem);
  }

  void StartRegistry(RegistryServer::Mode mode = RegistryServer::Mode::kPlainHttp) {
    registry_.emplace(mode);
  }

  std::vector<std::string> Env(const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> env = {"HOME=" + home_->path(),
                                    "COSIGN_PASSWORD=" + std::string(kPassword),
                                    "DOCKER_CONFIG=" + home_->File("docker"), "REGISTRY_AUTH_FILE"};
    bool repository_given = false;
    for (const std::string& entry : extra) {
      repository_given |= entry.rfind("COSIGN_REPOSITORY=", 0) == 0;
    }
    if (!repository_given) env.push_back("COSIGN_REPOSITORY");
    env.insert(env.end(), extra.begin(), extra.end());
    return env;
  }

  // Registry flags both tools understand.
  std::vector<std::string> RegistryFlags() const {
    if (!registry_->server().tls()) return {"--allow-insecure-registry"};
    return {"--registry-cacert",   registry_->server().ca_file(),
            "--registry-username", registry_->server().username(),
            "--registry-password", registry_->server().password()};
  }

  CommandResult Cosign(std::vector<std::string> args, const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv = {CosignBinary()};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto flags = RegistryFlags();
    argv.insert(argv.end() - 1, flags.begin(), flags.end());
    if (args[0] == "sign") {
      argv.insert(argv.end() - 1, {"--tlog-upload=false", "-y"});
      if (!registry_->server().tls()) argv.insert(argv.end() - 1, "--allow-http-registry");
    } else if (args[0] == "verify") {
      argv.insert(argv.end() - 1, "--insecure-ignore-tlog=true");
      if (!registry_->server().tls()) argv.insert(argv.end() - 1, "--allow-http-registry");
    }
    return RunCommand(argv, Env(env));
  }

  CommandResult Signet(std::vector<std::string> args, const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv = {SignetBinary()};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto flags = RegistryFlags();
    argv.insert(argv.end() - 1, flags.begin(), flags.end());
    // This suite is about the legacy .sig format that cosign 2.5.0 reads
    // (tests/interop_bundle covers the bundle format signet writes by default).
    if (args[0] == "sign") argv.insert(argv.end() - 1, "--new-bundle-format=false");
    return RunCommand(argv, Env(env));
  }

  std::string Key(const std::string& name) const { return home_->File(name); }

  // The signature manifest of `digest` in `repo`, parsed.
  cosign::SignatureManifest Signatures(const oci::Repository& repo, const std::string& digest) {
    std::string tag = digest;
    tag[6] = '-';
    auto manifest = registry_->client().GetManifest(repo, tag + ".sig");
    EXPECT_TRUE(manifest.ok()) << manifest.error().message();
    if (!manifest.ok()) return {};
    auto parsed = cosign::ParseSignatureManifest(manifest->bytes, 1000);
    EXPECT_TRUE(parsed.ok());
    return parsed.ok() ? *parsed : cosign::SignatureManifest{};
  }

  std::unique_ptr<TempDir> home_;
  std::optional<RegistryFixture> registry_;
};

#define EXPECT_EXIT_CODE(result, code)                                 \
  EXPECT_EQ((result).exit_code, code) << "stdout:\n"                   \
                                      << (result).out << "\nstderr:\n" \
                                      << (result).err

TEST_F(ImageInteropTest, SignetSignsCosignVerifies) {
  StartRegistry();
  const auto image = registry_->PushUnsigned("interop/a", "v1");
  auto sign = Signet({"sign", "--key", Key("signet.key"), image.DigestReference()});
  EXPECT_EXIT_CODE(sign, 0);
  EXPECT_NE(sign.err.find(image.digest), std::string::npos);
  auto verify = Cosign({"verify", "--key", Key("signet.pub"), image.TagReference()});
  EXPECT_EXIT_CODE(verify, 0);
  EXPECT_NE(verify.out.find(image.digest), std::string::npos);
  // cosign rejects it with its own key.
  EXPECT_NE(Cosign({"verify", "--key", Key("cosign.pub"), image.TagReference()}).exit_code, 0);
}

TEST_F(ImageInteropTest, CosignSignsSignetVerifiesWithIdenticalOutput) {
  StartRegistry();
  const auto image = registry_->PushUnsigned("interop/b", "v1");
  EXPECT_EXIT_CODE(Cosign({"sign", "--key", Key("cosign.key"), image.DigestReference()}), 0);
  auto ours = Signet({"verify", "--key", Key("cosign.pub"), image.TagReference()});
  EXPECT_EXIT_CODE(ours, 0);
  auto theirs = Cosign({"verify", "--key", Key("cosign.pub"), image.TagReference()});
  EXPECT_EXIT_CODE(theirs, 0);
  EXPECT_EQ(ours.out, theirs.out);
  EXPECT_NE(ours.err.find("Verification for " + image.TagReference() + " --"), std::string::npos)
      << ours.err;
  EXPECT_EXIT_CODE(Signet({"verify", "--key", Key("signet.pub"), image.TagReference()}), 12);
}

TEST_F(ImageInteropTest, BothToolsSignTheSameImage) {
  StartRegistry();
  const oci::Repository repo = registry_->Repository("interop/both");
  const auto image = registry_->PushUnsigned(repo.path, "v1");
  EXPECT_EXIT_CODE(Cosign({"sign", "--key", Key("cosign.key"), image.DigestReference()}), 0);
  const auto after_cosign = Signatures(repo, image.digest);
  ASSERT_EQ(after_cosign.layers.size(), 1u);
  EXPECT_EXIT_CODE(Signet({"sign", "--key", Key("signet.key"), image.DigestReference()}), 0);
  const auto after_both = Signatures(repo, image.digest);
  ASSERT_EQ(after_both.layers.size(), 2u);
  EXPECT_EQ(after_both.layers[0].descriptor_json, after_cosign.layers[0].descriptor_json);
  // Byte-identical payloads: same blob digest for both tools' signatures.
  EXPECT_EQ(after_both.layers[0].digest, after_both.layers[1].digest);
  for (const std::string key : {"cosign.pub", "signet.pub"}) {
    EXPECT_EXIT_CODE(Cosign({"verify", "--key", Key(key), image.DigestReference()}), 0);
    EXPECT_EXIT_CODE(Signet({"verify", "--key", Key(key), image.DigestReference()}), 0);
  }
  // cosign appending after signet keeps both; re-signing with signet dedupes.
  EXPECT_EXIT_CODE(Signet({"sign", "--key", Key("signet.key"), image.DigestReference()}), 0);
  EXPECT_EQ(Signatures(repo, image.digest).layers.size(), 2u);
}

TEST_F(ImageInteropTest, AnnotationsRoundTripBothWays) {
  StartRegistry();
  const oci::Repository repo = registry_->Repository("interop/annotations");
  const auto first = registry_->PushUnsigned(repo.path, "one");
  EXPECT_EXIT_CODE(Signet({"sign", "--key", Key("signet.key"), "-a", "env=prod", "-a", "note=x<y>&",
                           first.DigestReference()}),
                   0);
  EXPECT_EXIT_CODE(Cosign({"verify", "--key", Key("signet.pub"), "-a", "env=prod", "-a",
                           "note=x<y>&", first.DigestReference()}),
                   0);
  EXPECT_NE(Cosign({"verify", "--key", Key("signet.pub"), "-a", "env=dev", first.DigestReference()})
                .exit_code,
            0);
  // cosign writes the very same payload bytes for the same annotations.
  EXPECT_EXIT_CODE(Cosign({"sign", "--key", Key("cosign.key"), "-a", "env=prod,note=x<y>&",
                           first.DigestReference()}),
                   0);
  const auto layers = Signatures(repo, first.digest).layers;
  ASSERT_EQ(layers.size(), 2u);
  EXPECT_EQ(layers[0].digest, layers[1].digest);

  const auto second = registry_->PushUnsigned(repo.path, "two");
  EXPECT_EXIT_CODE(
      Cosign({"sign", "--key", Key("cosign.key"), "-a", "team=blue", second.DigestReference()}), 0);
  EXPECT_EXIT_CODE(
      Signet({"verify", "--key", Key("cosign.pub"), "-a", "team=blue", second.DigestReference()}),
      0);
  EXPECT_EXIT_CODE(
      Signet({"verify", "--key", Key("cosign.pub"), "-a", "team=red", second.DigestReference()}),
      12);
}

TEST_F(ImageInteropTest, RecursiveSigningOfATwoPlatformIndex) {
  StartRegistry();
  const oci::Repository repo = registry_->Repository("interop/multi");
  const auto ours = PushTwoPlatformIndex(registry_->client(), repo, "ours");
  EXPECT_EXIT_CODE(
      Signet({"sign", "--key", Key("signet.key"), "--recursive", ours.DigestReference()}), 0);
  EXPECT_EXIT_CODE(Cosign({"verify", "--key", Key("signet.pub"), ours.DigestReference()}), 0);
  for (const auto& child : ours.children) {
    EXPECT_EXIT_CODE(Cosign({"verify", "--key", Key("signet.pub"), child.DigestReference()}), 0);
  }
  const auto theirs = PushTwoPlatformIndex(registry_->client(), repo, "theirs");
  EXPECT_EXIT_CODE(
      Cosign({"sign", "--key", Key("cosign.key"), "--recursive", theirs.DigestReference()}), 0);
  EXPECT_EXIT_CODE(Signet({"verify", "--key", Key("cosign.pub"), theirs.DigestReference()}), 0);
  for (const auto& child : theirs.children) {
    EXPECT_EXIT_CODE(Signet({"verify", "--key", Key("cosign.pub"), child.DigestReference()}), 0);
  }
}

TEST_F(ImageInteropTest, CosignRepositoryMovesSignaturesForBothTools) {
  StartRegistry();
  const oci::Repository repo = registry_->Repository("interop/app");
  const std::string env = "COSIGN_REPOSITORY=" + registry_->Repository("interop/sigs").Name();
  const auto image = registry_->PushUnsigned(repo.path, "v1");
  EXPECT_EXIT_CODE(Signet({"sign", "--key", Key("signet.key"), image.DigestReference()}, {env}), 0);
  EXPECT_EXIT_CODE(Cosign({"verify", "--key", Key("signet.pub"), image.DigestReference()}, {env}),
                   0);
  EXPECT_NE(Cosign({"verify", "--key", Key("signet.pub"), image.DigestReference()}).exit_code, 0);
  auto where = Signet({"triangulate", image.DigestReference()}, {env});
  EXPECT_EXIT_CODE(where, 0);
  EXPECT_EQ(where.out, Cosign({"triangulate", image.DigestReference()}, {env}).out);

  const auto other = registry_->PushUnsigned(repo.path, "v2");
  EXPECT_EXIT_CODE(Cosign({"sign", "--key", Key("cosign.key"), other.DigestReference()}, {env}), 0);
  EXPECT_EXIT_CODE(Signet({"verify", "--key", Key("cosign.pub"), other.DigestReference()}, {env}),
                   0);
  EXPECT_EXIT_CODE(Signet({"verify", "--key", Key("cosign.pub"), other.DigestReference()}), 10);
}

TEST_F(ImageInteropTest, TlsBasicAuthRegistryRoundTrip) {
  StartRegistry(RegistryServer::Mode::kTlsBasicAuth);
  const oci::Repository repo = registry_->Repository("secure/app");
  const auto image = registry_->PushUnsigned(repo.path, "v1");
  EXPECT_EXIT_CODE(Signet({"sign", "--key", Key("signet.key"), image.TagReference()}), 0);
  EXPECT_EXIT_CODE(Cosign({"verify", "--key", Key("signet.pub"), image.TagReference()}), 0);
  const auto other = registry_->PushUnsigned(repo.path, "v2");
  EXPECT_EXIT_CODE(Cosign({"sign", "--key", Key("cosign.key"), other.DigestReference()}), 0);
  EXPECT_EXIT_CODE(Signet({"verify", "--key", Key("cosign.pub"), other.TagReference()}), 0);

  // Wrong credentials fail, and not with a signature verdict.
  auto wrong = RunCommand(
      {SignetBinary(), "verify", "--key", Key("cosign.pub"), "--registry-cacert",
       registry_->server().ca_file(), "--registry-username", registry_->server().username(),
       "--registry-password", "wrong-password", other.TagReference()},
      Env());
  EXPECT_EXIT_CODE(wrong, 1);
  EXPECT_EQ(wrong.err.find("wrong-password"), std::string::npos);
}

// `signet sign` and `signet verify` choose the scheme as cosign does: a
// plain-HTTP loopback registry needs no flag; a host that is not loopback
// (signet-test.localhost reaches 127.0.0.1 through libcurl, but is a DNS name)
// is never tried over plain HTTP, and the TLS failure says what to do.
TEST_F(ImageInteropTest, PlainHttpLoopbackRegistryNeedsNoFlagAndOtherHostsAreNotDowngraded) {
  StartRegistry(RegistryServer::Mode::kPlainHttp);
  const auto image = registry_->PushUnsigned("scheme/app", "v1");
  const auto bare = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {SignetBinary()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, Env());
  };
  EXPECT_EXIT_CODE(bare({"sign", "--key", Key("signet.key"), "--new-bundle-format=false",
                         image.DigestReference()}),
                   0);
  EXPECT_EXIT_CODE(bare({"verify", "--key", Key("signet.pub"), image.TagReference()}), 0);
  const std::string by_name =
      "localhost:" + std::to_string(registry_->server().port()) + "/scheme/app:v1";
  EXPECT_EXIT_CODE(bare({"verify", "--key", Key("signet.pub"), by_name}), 0);

  const std::string other_host =
      "signet-test.localhost:" + std::to_string(registry_->server().port()) + "/scheme/other@" +
      image.digest;
  const int before = registry_->server().CountRequests("HEAD", "/v2/scheme/other/");
  auto refused = bare({"sign", "--key", Key("signet.key"), other_host});
  EXPECT_NE(refused.exit_code, 0) << refused.err;
  EXPECT_NE(refused.err.find("does not seem to speak TLS"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("--allow-insecure-registry"), std::string::npos) << refused.err;
  EXPECT_EQ(registry_->server().CountRequests("HEAD", "/v2/scheme/other/"), before);
  // Positive control: with the flag the same name reaches the registry.
  auto allowed =
      bare({"sign", "--key", Key("signet.key"), "--allow-insecure-registry", other_host});
  EXPECT_NE(allowed.err.find("not found"), std::string::npos) << allowed.err;
  EXPECT_GT(registry_->server().CountRequests("HEAD", "/v2/scheme/other/"), before);
}

TEST_F(ImageInteropTest, TokenAuthRegistryRoundTrip) {
  StartRegistry(RegistryServer::Mode::kTokenAuth);
  const oci::Repository repo = registry_->Repository("token/app");
  const auto image = registry_->PushUnsigned(repo.path, "v1");
  EXPECT_EXIT_CODE(Signet({"sign", "--key", Key("signet.key"), image.DigestReference()}), 0);
  EXPECT_EXIT_CODE(Cosign({"verify", "--key", Key("signet.pub"), image.DigestReference()}), 0);
  EXPECT_EXIT_CODE(Cosign({"sign", "--key", Key("cosign.key"), image.DigestReference()}), 0);
  EXPECT_EXIT_CODE(Signet({"verify", "--key", Key("cosign.pub"), image.DigestReference()}), 0);
}

TEST_F(ImageInteropTest, CliExitCodesForFailures) {
  StartRegistry();
  const oci::Repository repo = registry_->Repository("interop/fail");
  const auto image = registry_->PushUnsigned(repo.path, "v1");
  // Unsigned: 10, like cosign.
  EXPECT_EXIT_CODE(Signet({"verify", "--key", Key("signet.pub"), image.TagReference()}), 10);
  EXPECT_EXIT_CODE(Cosign({"verify", "--key", Key("signet.pub"), image.TagReference()}), 10);
  // Nonexistent image: 11.
  EXPECT_EXIT_CODE(Signet({"verify", "--key", Key("signet.pub"), repo.Name() + ":missing"}), 11);
  // Wrong key: 12.
  EXPECT_EXIT_CODE(Signet({"sign", "--key", Key("signet.key"), image.DigestReference()}), 0);
  EXPECT_EXIT_CODE(Signet({"verify", "--key", Key("cosign.pub"), image.TagReference()}), 12);
  EXPECT_EXIT_CODE(Cosign({"verify", "--key", Key("cosign.pub"), image.TagReference()}), 12);
}

TEST_F(ImageInteropTest, CorruptedSignatureBlobInStorageIsRejected) {
  StartRegistry();
  const oci::Repository repo = registry_->Repository("interop/corrupt");
  const auto image = registry_->PushUnsigned(repo.path, "v1");
  EXPECT_EXIT_CODE(Signet({"sign", "--key", Key("signet.key"), image.DigestReference()}), 0);
  const auto layers = Signatures(repo, image.digest).layers;
  ASSERT_EQ(layers.size(), 1u);
  const std::string path = registry_->server().BlobPath(layers[0].digest);
  std::string bytes = ReadFile(path);
  ASSERT_FALSE(bytes.empty());
  bytes[bytes.size() / 2] ^= 0x20;
  WriteFile(path, bytes);
  auto result = Signet({"verify", "--key", Key("signet.pub"), image.DigestReference()});
  EXPECT_NE(result.exit_code, 0) << result.out;
  EXPECT_TRUE(result.out.empty()) << result.out;
}

TEST_F(ImageInteropTest, RegistryDownFails) {
  StartRegistry();
  const auto image = registry_->PushUnsigned("interop/down", "v1");
  EXPECT_EXIT_CODE(Signet({"sign", "--key", Key("signet.key"), image.DigestReference()}), 0);
  registry_->server().Stop();
  auto result = Signet({"verify", "--key", Key("signet.pub"), image.DigestReference()});
  EXPECT_EXIT_CODE(result, 1);
  EXPECT_TRUE(result.out.empty());
}

}  // namespace
}  // namespace signet::testing

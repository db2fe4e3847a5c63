// `signet tree` against real registries (Debian's docker-registry 2.8, which
// has no referrers API, so the fallback tag sha256-<hex> holds the list; and
// go-containerregistry's registry with the referrers API) and real producers
// (cosign v3.1.2: sign --new-bundle-format=false for the legacy .sig, sign
// and attest for Sigstore bundle referrers). The oracle is the reference `cosign tree`
// v3.1.2 run on the same image: both must list the same blocks (cosign
// prints them in Go map order, so blocks are compared as sets).
#include "signet/cosign/tree.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "signet/oci/reference.h"
#include "signet/oci/registry_client.h"
#include "support/paths.h"
#include "support/process.h"
#include "support/referrers_registry_server.h"
#include "support/registry_fixture.h"
#include "support/registry_server.h"
#include "support/test_images.h"

namespace signet::testing {
namespace {

constexpr char kPassword[] = "tree-password";
constexpr char kSignV1[] = "https://sigstore.dev/cosign/sign/v1";
constexpr char kCustom[] = "https://cosign.sigstore.dev/attestation/v1";

// The blocks of a tree listing: each "└── ..." heading with the lines under
// it, sorted; plus the first line (the image heading) kept apart.
struct Listing {
  std::string heading;
  std::vector<std::string> blocks;
};

Listing ParseListing(const std::string& out) {
  Listing listing;
  std::size_t start = 0;
  bool first = true;
  while (start < out.size()) {
    std::size_t end = out.find('\n', start);
    if (end == std::string::npos) end = out.size();
    const std::string line = out.substr(start, end - start);
    start = end + 1;
    if (first) {
      listing.heading = line;
      first = false;
    } else if (line.rfind("└── ", 0) == 0) {
      listing.blocks.push_back(line + "\n");
    } else if (!listing.blocks.empty()) {
      listing.blocks.back() += line + "\n";
    }
  }
  std::sort(listing.blocks.begin(), listing.blocks.end());
  return listing;
}

class TreeTest : public ::testing::TestWithParam<bool> {
 protected:
  bool referrers_api() const { return GetParam(); }

  void SetUp() override {
    ASSERT_FALSE(ReadFile(CosignV3Binary()).empty())
        << "reference cosign v3 missing; run scripts/install-deps.sh";
    oci::RegistryClientOptions options;
    options.allow_insecure = true;  // plain HTTP on loopback
    if (referrers_api()) {
      referrers_registry_ = ReferrersRegistryServer::Start();
      host_ = referrers_registry_->host();
    } else {
      docker_registry_ = RegistryServer::Start(RegistryServer::Mode::kPlainHttp);
      host_ = docker_registry_->host();
    }
    client_ = std::make_unique<oci::RegistryClient>(options);
    auto keys = Cosign({"generate-key-pair", "--output-key-prefix", dir_.File("cosign")});
    ASSERT_EQ(keys.exit_code, 0) << keys.err;
    WriteFile(dir_.File("predicate.json"), R"({"builder":"tree-test"})");
  }

  std::vector<std::string> Env(const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> env = {"HOME=" + dir_.File("home"),
                                    "COSIGN_PASSWORD=" + std::string(kPassword),
                                    "DOCKER_CONFIG=" + dir_.File("docker"),
                                    "TUF_ROOT=" + dir_.File("home/tuf"),
                                    "SIGSTORE_NO_CACHE=true",
                                    "REGISTRY_AUTH_FILE",
                                    "COSIGN_REPOSITORY"};
    env.insert(env.end(), extra.begin(), extra.end());
    return env;
  }
  CommandResult Cosign(const std::vector<std::string>& args,
                       const std::vector<std::string>& env = {}) const {
    std::vector<std::string> argv = {CosignV3Binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, Env(env));
  }
  CommandResult Signet(const std::vector<std::string>& args,
                       const std::vector<std::string>& env = {}) const {
    std::vector<std::string> argv = {SignetBinary()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, Env(env));
  }

  oci::Repository Repo(const std::string& path) const { return oci::Repository{host_, path}; }

  // A legacy .sig (cosign v3 with --new-bundle-format=false, which writes
  // what signet sign and cosign v2 write there).
  void SignLegacy(const std::string& image, const std::vector<std::string>& env = {}) {
    auto sign = Cosign({"sign", "--key", dir_.File("cosign.key"), "--new-bundle-format=false",
                        "--use-signing-config=false", "--tlog-upload=false", "-y", image},
                       env);
    ASSERT_EQ(sign.exit_code, 0) << sign.err;
  }

  // A legacy .sig and .att, and a signature and a custom attestation as
  // Sigstore bundle referrers (cosign v3's default).
  void AttachEverything(const std::string& image, const std::vector<std::string>& env = {}) {
    SignLegacy(image, env);
    auto legacy_attest =
        Cosign({"attest", "--key", dir_.File("cosign.key"), "--new-bundle-format=false",
                "--use-signing-config=false", "--tlog-upload=false", "-y", "--predicate",
                dir_.File("predicate.json"), "--type", "custom", image},
               env);
    ASSERT_EQ(legacy_attest.exit_code, 0) << legacy_attest.err;
    auto bundle = Cosign({"sign", "--key", dir_.File("cosign.key"), "--use-signing-config=false",
                          "--tlog-upload=false", "-y", image},
                         env);
    ASSERT_EQ(bundle.exit_code, 0) << bundle.err;
    auto attest = Cosign({"attest", "--key", dir_.File("cosign.key"), "--use-signing-config=false",
                          "--tlog-upload=false", "-y", "--predicate", dir_.File("predicate.json"),
                          "--type", "custom", image},
                         env);
    ASSERT_EQ(attest.exit_code, 0) << attest.err;
  }

  // The layer digests of the manifest `ref` (tag or digest) in `repo`, read
  // straight from the registry.
  std::vector<std::string> LayersOf(const oci::Repository& repo, const std::string& ref) {
    auto manifest = client_->GetManifest(repo, ref);
    EXPECT_TRUE(manifest.ok()) << manifest.error().message();
    std::vector<std::string> layers;
    if (!manifest.ok()) return layers;
    const nlohmann::json doc = nlohmann::json::parse(manifest->bytes);
    for (const auto& layer : doc["layers"]) {
      layers.push_back(layer["digest"].get<std::string>());
    }
    return layers;
  }

  TempDir dir_;
  std::unique_ptr<RegistryServer> docker_registry_;
  std::unique_ptr<ReferrersRegistryServer> referrers_registry_;
  std::string host_;
  std::unique_ptr<oci::RegistryClient> client_;
};

#define EXPECT_EXIT_CODE(result, code)                                 \
  EXPECT_EQ((result).exit_code, code) << "stdout:\n"                   \
                                      << (result).out << "\nstderr:\n" \
                                      << (result).err

TEST_P(TreeTest, ListsLegacyTagsAndReferrersAsCosignTreeDoes) {
  const auto image = PushRandomImage(*client_, Repo("tree/app"), "v1");
  AttachEverything(image.DigestReference());
  // An SBOM the legacy way (cosign v2's `attach sbom`): an image manifest
  // under the tag sha256-<hex>.sbom.
  const std::string hex = image.digest.substr(7);
  const std::string sbom_tag = "sha256-" + hex + ".sbom";
  const auto sbom = PushRandomImage(*client_, image.repository, sbom_tag);

  auto tree = Signet({"tree", image.DigestReference()});
  EXPECT_EXIT_CODE(tree, 0);
  EXPECT_EQ(tree.err, "");
  const Listing listing = ParseListing(tree.out);
  EXPECT_EQ(listing.heading,
            "📦 Supply Chain Security Related artifacts for an image: " + image.DigestReference());
  ASSERT_EQ(listing.blocks.size(), 5u) << tree.out;
  EXPECT_NE(std::find(listing.blocks.begin(), listing.blocks.end(),
                      "└── 📦 SBOMs for an image tag: " + image.repository.Name() + ":" + sbom_tag +
                          "\n   └── 🍒 " + sbom.layer_digest + "\n"),
            listing.blocks.end())
      << tree.out;

  // The legacy signature and attestation, each with the one layer in its
  // manifest, read straight from the registry.
  const std::string sig_tag = "sha256-" + hex + ".sig";
  const std::string att_tag = "sha256-" + hex + ".att";
  const auto sig_layers = LayersOf(image.repository, sig_tag);
  const auto att_layers = LayersOf(image.repository, att_tag);
  ASSERT_EQ(sig_layers.size(), 1u);
  ASSERT_EQ(att_layers.size(), 1u);
  EXPECT_NE(std::find(listing.blocks.begin(), listing.blocks.end(),
                      "└── 🔐 Signatures for an image tag: " + image.repository.Name() + ":" +
                          sig_tag + "\n   └── 🍒 " + sig_layers[0] + "\n"),
            listing.blocks.end())
      << tree.out;
  EXPECT_NE(std::find(listing.blocks.begin(), listing.blocks.end(),
                      "└── 💾 Attestations for an image tag: " + image.repository.Name() + ":" +
                          att_tag + "\n   └── 🍒 " + att_layers[0] + "\n"),
            listing.blocks.end())
      << tree.out;
  // In signet's fixed order: .sig, .att, .sbom, then the referrers.
  EXPECT_LT(tree.out.find("🔐 Signatures"), tree.out.find("💾 Attestations")) << tree.out;
  EXPECT_LT(tree.out.find("💾 Attestations"), tree.out.find("📦 SBOMs")) << tree.out;
  EXPECT_LT(tree.out.find("📦 SBOMs"), tree.out.find("🔗 ")) << tree.out;
  // The two bundles, named by their predicate types, each with one layer.
  int sign_v1 = 0;
  int custom = 0;
  for (const std::string& block : listing.blocks) {
    sign_v1 += block.find(std::string("└── 🔗 ") + kSignV1 + " artifacts via OCI referrer: " +
                          image.repository.Name() + "@sha256:") == 0;
    custom += block.find(std::string("└── 🔗 ") + kCustom + " artifacts via OCI referrer: " +
                         image.repository.Name() + "@sha256:") == 0;
  }
  EXPECT_EQ(sign_v1, 1) << tree.out;
  EXPECT_EQ(custom, 1) << tree.out;

  // The reference cosign tree lists exactly the same blocks.
  auto reference = Cosign({"tree", image.DigestReference()});
  ASSERT_EQ(reference.exit_code, 0) << reference.err;
  const Listing expected = ParseListing(reference.out);
  EXPECT_EQ(listing.heading, expected.heading);
  EXPECT_EQ(listing.blocks, expected.blocks) << "signet:\n"
                                             << tree.out << "cosign:\n"
                                             << reference.out;

  // By tag: the same listing under the tag's heading.
  auto by_tag = Signet({"tree", image.TagReference()});
  EXPECT_EXIT_CODE(by_tag, 0);
  EXPECT_EQ(ParseListing(by_tag.out).blocks, listing.blocks);
}

// Nothing attached: a listing that says so, exit 0. The positive control is
// an image beside it in the same repository with a signature.
TEST_P(TreeTest, AnImageWithNothingAttachedListsNothingAndSucceeds) {
  const auto bare = PushRandomImage(*client_, Repo("tree/app"), "bare");
  const auto signed_image = PushRandomImage(*client_, Repo("tree/app"), "signed");
  SignLegacy(signed_image.DigestReference());

  auto empty = Signet({"tree", bare.TagReference()});
  EXPECT_EXIT_CODE(empty, 0);
  EXPECT_EQ(empty.out,
            "📦 Supply Chain Security Related artifacts for an image: " + bare.TagReference() +
                "\nNo Supply Chain Security Related Artifacts found for image " +
                bare.TagReference() +
                ",\n start creating one with simply running$ signet sign <img>\n");

  auto control = Signet({"tree", signed_image.TagReference()});
  EXPECT_EXIT_CODE(control, 0);
  const Listing listing = ParseListing(control.out);
  ASSERT_EQ(listing.blocks.size(), 1u) << control.out;
  EXPECT_EQ(listing.blocks[0].find("└── 🔐 Signatures for an image tag: "), 0u) << control.out;
}

// An image that does not exist is cosign's "image not found" (exit 11); an
// unreachable registry is an error (exit 1). Positive control: an image that
// exists.
TEST_P(TreeTest, UnknownImagesAndRegistryFailuresAreErrors) {
  const auto image = PushRandomImage(*client_, Repo("tree/app"), "v1");
  auto known = Signet({"tree", image.TagReference()});
  EXPECT_EXIT_CODE(known, 0);

  for (const std::string& unknown :
       {image.repository.Name() + ":no-such-tag", host_ + "/tree/no-such-repo:v1",
        image.repository.Name() + "@sha256:" + std::string(64, 'e')}) {
    auto missing = Signet({"tree", unknown});
    EXPECT_EXIT_CODE(missing, 11);
    EXPECT_NE(missing.err.find("not found"), std::string::npos) << unknown << ": " << missing.err;
    EXPECT_EQ(missing.out, "") << unknown;
  }

  // Nothing listens on this port any more.
  const std::string gone = "127.0.0.1:" + std::to_string(FreePort());
  auto down = Signet({"tree", "--timeout", "10s", gone + "/tree/app:v1"});
  EXPECT_EXIT_CODE(down, 1);
  EXPECT_NE(down.err.find("Error: "), std::string::npos) << down.err;
  EXPECT_NE(down.err.find(gone), std::string::npos) << down.err;
}

// COSIGN_REPOSITORY moves the legacy tags and the referrers: signet tree
// reads both (and the referrer manifests) from there; without it the image's
// own repository holds nothing (the control).
TEST_P(TreeTest, CosignRepositoryIsWhereTagsAndReferrersAreRead) {
  const auto image = PushRandomImage(*client_, Repo("tree/app"), "v1");
  const std::string signatures = host_ + "/tree/signatures";
  AttachEverything(image.DigestReference(), {"COSIGN_REPOSITORY=" + signatures});

  auto elsewhere = Signet({"tree", image.DigestReference()}, {"COSIGN_REPOSITORY=" + signatures});
  EXPECT_EXIT_CODE(elsewhere, 0);
  const Listing listing = ParseListing(elsewhere.out);
  // Sorted blocks: 💾 (.att), 🔐 (.sig), then the two 🔗 referrers.
  ASSERT_EQ(listing.blocks.size(), 4u) << elsewhere.out;
  EXPECT_EQ(listing.blocks[0].find("└── 💾 Attestations for an image tag: " + signatures +
                                   ":sha256-" + image.digest.substr(7) + ".att\n"),
            0u)
      << elsewhere.out;
  EXPECT_EQ(listing.blocks[1].find("└── 🔐 Signatures for an image tag: " + signatures + ":sha256-" +
                                   image.digest.substr(7) + ".sig\n"),
            0u)
      << elsewhere.out;
  for (std::size_t i = 2; i < 4; ++i) {
    EXPECT_NE(listing.blocks[i].find(" artifacts via OCI referrer: " + signatures + "@sha256:"),
              std::string::npos)
        << elsewhere.out;
  }

  auto own = Signet({"tree", image.DigestReference()});
  EXPECT_EXIT_CODE(own, 0);
  EXPECT_NE(own.out.find("No Supply Chain Security Related Artifacts found"), std::string::npos)
      << own.out;
}

// A legacy tag that holds something other than an image manifest (here an
// index) is an error that names the tag, not an empty or partial listing.
// Positive control: the same kind of tag holding a real signature.
TEST_P(TreeTest, ALegacyTagThatIsNotAManifestIsAnError) {
  const auto good = PushRandomImage(*client_, Repo("tree/app"), "good");
  SignLegacy(good.DigestReference());
  auto control = Signet({"tree", good.DigestReference()});
  EXPECT_EXIT_CODE(control, 0);
  EXPECT_NE(control.out.find("🔐 Signatures for an image tag: "), std::string::npos) << control.out;

  const auto bad = PushRandomImage(*client_, Repo("tree/app"), "bad");
  const std::string sig_tag = "sha256-" + bad.digest.substr(7) + ".sig";
  PushTwoPlatformIndex(*client_, Repo("tree/app"), sig_tag);
  auto tree = Signet({"tree", bad.DigestReference()});
  EXPECT_EXIT_CODE(tree, 1);
  EXPECT_EQ(tree.out, "");
  EXPECT_NE(tree.err.find("Error: " + bad.repository.Name() + ":" + sig_tag), std::string::npos)
      << tree.err;
}

// The library caps the referrers it reads (one manifest GET each): over the
// cap is kTooLarge, at the cap every referrer is listed with its layers and
// predicate type, and the list's source is reported.
TEST_P(TreeTest, ListTreeCapsTheReferrersItReads) {
  const auto image = PushRandomImage(*client_, Repo("tree/app"), "v1");
  AttachEverything(image.DigestReference());
  auto reference = oci::ImageReference::Parse(image.DigestReference());
  ASSERT_TRUE(reference.ok());

  cosign::TreeOptions options;
  options.max_referrers = 2;
  auto tree = cosign::ListTree(*client_, *reference, options, std::nullopt);
  ASSERT_TRUE(tree.ok()) << tree.error().message();
  EXPECT_EQ(tree->digest, image.digest);
  EXPECT_EQ(tree->referrers_source, referrers_api() ? cosign::TreeReferrersSource::kReferrersApi
                                                    : cosign::TreeReferrersSource::kFallbackTag);
  ASSERT_EQ(tree->legacy.size(), 2u);
  EXPECT_EQ(tree->legacy[0].type, cosign::ArtifactType::kSignature);
  EXPECT_EQ(tree->legacy[1].type, cosign::ArtifactType::kAttestation);
  ASSERT_EQ(tree->referrers.size(), 2u);
  std::vector<std::string> predicate_types;
  for (const cosign::TreeReferrer& referrer : tree->referrers) {
    EXPECT_EQ(referrer.error, "");
    ASSERT_EQ(referrer.layers.size(), 1u);
    EXPECT_EQ(referrer.layers[0].media_type, "application/vnd.dev.sigstore.bundle.v0.3+json");
    // go-containerregistry's registry lists config.mediaType; cosign v3.1.2's
    // fallback tag the manifest's artifactType.
    EXPECT_EQ(referrer.artifact_type, referrers_api()
                                          ? "application/vnd.oci.empty.v1+json"
                                          : "application/vnd.dev.sigstore.bundle.v0.3+json");
    predicate_types.push_back(referrer.predicate_type);
  }
  std::sort(predicate_types.begin(), predicate_types.end());
  EXPECT_EQ(predicate_types, (std::vector<std::string>{kCustom, kSignV1}));

  options.max_referrers = 1;
  auto capped = cosign::ListTree(*client_, *reference, options, std::nullopt);
  ASSERT_FALSE(capped.ok());
  EXPECT_EQ(capped.error().code(), ErrorCode::kTooLarge);
  EXPECT_NE(capped.error().message().find("has 2 referrers, more than the 1 listed"),
            std::string::npos)
      << capped.error().message();
}

INSTANTIATE_TEST_SUITE_P(Registries, TreeTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? std::string("ReferrersApi")
                                             : std::string("FallbackTag");
                         });

// On docker-registry (no referrers API) anyone who can push can write the
// fallback tag: a referrer of image A listed under image B's tag is not
// shown as B's and fails the listing (exit 1) with the reason, while B's own
// referrer is still listed. Positive control: A's own listing.
TEST(TreeFallbackTest, AReferrerOfAnotherImageInTheFallbackTagIsAnError) {
  const RegistryFixture registry(RegistryServer::Mode::kPlainHttp);
  oci::RegistryClient& client = registry.client();
  TempDir dir;
  const std::vector<std::string> env = {"HOME=" + dir.File("home"), "COSIGN_PASSWORD=pw",
                                        "TUF_ROOT=" + dir.File("home/tuf"), "COSIGN_REPOSITORY"};
  ASSERT_EQ(
      RunCommand({CosignV3Binary(), "generate-key-pair", "--output-key-prefix", dir.File("cosign")},
                 env)
          .exit_code,
      0);
  const auto a = registry.PushUnsigned("tree/app", "a");
  const auto b = registry.PushUnsigned("tree/app", "b");
  for (const auto* image : {&a, &b}) {
    auto sign = RunCommand(
        {CosignV3Binary(), "sign", "--key", dir.File("cosign.key"), "--use-signing-config=false",
         "--tlog-upload=false", "-y", image->DigestReference()},
        env);
    ASSERT_EQ(sign.exit_code, 0) << sign.err;
  }
  auto of_a = client.ReadReferrersTag(a.repository, a.digest, std::nullopt);
  ASSERT_TRUE(of_a.ok()) << of_a.error().message();
  ASSERT_EQ(of_a->index.manifests.size(), 1u);
  auto of_b = client.ReadReferrersTag(b.repository, b.digest, std::nullopt);
  ASSERT_TRUE(of_b.ok()) << of_b.error().message();
  ASSERT_EQ(of_b->index.manifests.size(), 1u);
  const std::string a_referrer = of_a->index.manifests[0].digest;
  const std::string b_referrer = of_b->index.manifests[0].digest;

  auto control = RunCommand({SignetBinary(), "tree", a.DigestReference()}, env);
  EXPECT_EXIT_CODE(control, 0);
  EXPECT_NE(control.out.find("via OCI referrer: " + a.repository.Name() + "@" + a_referrer),
            std::string::npos)
      << control.out;

  // B's fallback tag now also lists A's referrer.
  nlohmann::json index = nlohmann::json::parse(of_b->manifest.bytes);
  index["manifests"].push_back(nlohmann::json::parse(of_a->manifest.bytes)["manifests"][0]);
  ASSERT_TRUE(client
                  .PutManifest(b.repository, "sha256-" + b.digest.substr(7),
                               "application/vnd.oci.image.index.v1+json", index.dump())
                  .ok());
  auto tree = RunCommand({SignetBinary(), "tree", b.DigestReference()}, env);
  EXPECT_EXIT_CODE(tree, 1);
  EXPECT_NE(tree.out.find("via OCI referrer: " + b.repository.Name() + "@" + b_referrer),
            std::string::npos)
      << tree.out;
  EXPECT_EQ(tree.out.find(a_referrer), std::string::npos) << tree.out;
  EXPECT_NE(tree.err.find("Error fetching artifact " + a.repository.Name() + "@" + a_referrer +
                          ": the manifest's subject is " + a.digest + ", not the image"),
            std::string::npos)
      << tree.err;
  EXPECT_NE(tree.err.find("Error: 1 of the 2 referrers of "), std::string::npos) << tree.err;
}

}  // namespace
}  // namespace signet::testing

#include "signet/cosign/sign.h"

#include <gtest/gtest.h>

#include <optional>

#include "signet/cosign/payload.h"
#include "signet/cosign/signature_manifest.h"
#include "signet/cosign/triangulate.h"
#include "signet/crypto/encoding.h"
#include "support/in_memory_registry.h"
#include "support/signature_fixtures.h"
#include "support/test_images.h"

namespace signet::cosign {
namespace {

oci::ImageReference Ref(const std::string& text) { return testing::ParseReferenceForTest(text); }

class SignTest : public testing::TwoKeyPairsTest {
 protected:
  SignResult Sign(const std::string& reference, const SignOptions& options = {},
                  const crypto::Signer* signer = nullptr) {
    auto result = SignImage(registry_, Ref(reference), signer ? *signer : *keys_->signer, options);
    EXPECT_TRUE(result.ok()) << result.error().message();
    return result.ok() ? *result : SignResult{};
  }

  oci::Manifest StoredManifest(const oci::Repository& repo, const std::string& digest) {
    auto manifest = registry_.GetManifest(repo, ArtifactTag(digest, ArtifactType::kSignature));
    EXPECT_TRUE(manifest.ok()) << manifest.error().message();
    return manifest.ok() ? *manifest : oci::Manifest{};
  }

  testing::InMemoryRegistry registry_;
  oci::Repository repo_{"registry.test:5000", "team/app"};
};

TEST_F(SignTest, WritesCosignPayloadConfigAndManifest) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  const SignResult result = Sign(image.DigestReference());
  EXPECT_TRUE(result.tag_warning.empty());
  ASSERT_EQ(result.signed_manifests.size(), 1u);
  const SignedManifest& signed_manifest = result.signed_manifests[0];
  EXPECT_EQ(signed_manifest.digest, image.digest);
  EXPECT_EQ(signed_manifest.signature_reference,
            repo_.Name() + ":sha256-" + image.digest.substr(7) + ".sig");
  EXPECT_EQ(signed_manifest.payload, MarshalPayload(repo_.Name(), image.digest, {}));

  const oci::Manifest stored = StoredManifest(repo_, image.digest);
  EXPECT_EQ(stored.media_type, oci::kOciManifestMediaType);
  auto parsed = ParseSignatureManifest(stored.bytes, 1000);
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(parsed->layers.size(), 1u);
  const SignatureLayer& layer = parsed->layers[0];
  EXPECT_EQ(layer.media_type, kSimpleSigningMediaType);
  EXPECT_EQ(layer.digest, crypto::Sha256Digest(signed_manifest.payload));
  ASSERT_NE(layer.signature(), nullptr);
  auto raw = crypto::Base64Decode(*layer.signature());
  ASSERT_TRUE(raw.ok());
  EXPECT_TRUE(keys_->verifier->Verify(*raw, signed_manifest.payload).ok());

  auto payload_blob = registry_.GetBlob(repo_, layer.digest);
  ASSERT_TRUE(payload_blob.ok());
  EXPECT_EQ(*payload_blob, signed_manifest.payload);
  const std::string config = MarshalSignatureConfig(parsed->layers);
  EXPECT_TRUE(registry_.GetBlob(repo_, crypto::Sha256Digest(config)).ok());
  EXPECT_EQ(stored.bytes,
            MarshalSignatureManifest(*parsed, crypto::Sha256Digest(config), config.size()));
}

TEST_F(SignTest, SigningByTagResolvesTheDigestAndWarns) {
  const auto image = testing::PushRandomImage(registry_, repo_, "latest");
  const SignResult result = Sign(repo_.Name());
  EXPECT_NE(result.tag_warning.find("uses a tag, not a digest"), std::string::npos);
  ASSERT_EQ(result.signed_manifests.size(), 1u);
  EXPECT_EQ(result.signed_manifests[0].digest, image.digest);
}

TEST_F(SignTest, AnnotationsGoIntoThePayload) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  SignOptions options;
  options.annotations = {{"a", "x<y>&"}};
  const SignResult result = Sign(image.DigestReference(), options);
  ASSERT_EQ(result.signed_manifests.size(), 1u);
  EXPECT_NE(result.signed_manifests[0].payload.find(R"("optional":{"a":"x\u003cy\u003e\u0026"})"),
            std::string::npos);
}

TEST_F(SignTest, ResigningWithTheSameKeyIsDeduplicated) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  Sign(image.DigestReference());
  const std::string first = StoredManifest(repo_, image.digest).bytes;
  const SignResult again = Sign(image.DigestReference());
  ASSERT_EQ(again.signed_manifests.size(), 1u);
  EXPECT_TRUE(again.signed_manifests[0].already_present);
  EXPECT_EQ(StoredManifest(repo_, image.digest).bytes, first);
}

TEST_F(SignTest, SecondSignatureIsAppendedKeepingTheFirstByteForByte) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  Sign(image.DigestReference());
  const std::string first = StoredManifest(repo_, image.digest).bytes;
  const std::string first_layers = first.substr(first.find("\"layers\":["));
  Sign(image.DigestReference(), {}, other_keys_->signer.get());
  const std::string second = StoredManifest(repo_, image.digest).bytes;
  // The old layer list minus its closing "]}" is a prefix of the new one.
  EXPECT_NE(second.find(first_layers.substr(0, first_layers.size() - 2) + ",{"), std::string::npos);
  auto parsed = ParseSignatureManifest(second, 1000);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->layers.size(), 2u);

  // Different annotations are a different payload: appended as well.
  SignOptions options;
  options.annotations = {{"k", "v"}};
  Sign(image.DigestReference(), options);
  parsed = ParseSignatureManifest(StoredManifest(repo_, image.digest).bytes, 1000);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->layers.size(), 3u);
}

TEST_F(SignTest, RecursiveSignsTheIndexAndEveryChild) {
  const auto index = testing::PushTwoPlatformIndex(registry_, repo_, "multi");
  SignOptions options;
  options.recursive = true;
  const SignResult result = Sign(index.TagReference(), options);
  ASSERT_EQ(result.signed_manifests.size(), 3u);
  EXPECT_EQ(result.signed_manifests[0].digest, index.digest);
  EXPECT_EQ(result.signed_manifests[1].digest, index.children[0].digest);
  EXPECT_EQ(result.signed_manifests[2].digest, index.children[1].digest);
  for (const auto& each : result.signed_manifests) {
    EXPECT_EQ(each.payload, MarshalPayload(repo_.Name(), each.digest, {}));
    StoredManifest(repo_, each.digest);
  }
}

TEST_F(SignTest, NonRecursiveSignsOnlyTheIndex) {
  const auto index = testing::PushTwoPlatformIndex(registry_, repo_, "multi");
  const SignResult result = Sign(index.DigestReference());
  ASSERT_EQ(result.signed_manifests.size(), 1u);
  EXPECT_FALSE(
      registry_.GetManifest(repo_, ArtifactTag(index.children[0].digest, ArtifactType::kSignature))
          .ok());
}

TEST_F(SignTest, SignatureRepositoryHoldsTheSignature) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  SignOptions options;
  options.signature_repository = oci::Repository{"sigs.test", "signatures"};
  const SignResult result = Sign(image.DigestReference(), options);
  ASSERT_EQ(result.signed_manifests.size(), 1u);
  EXPECT_EQ(result.signed_manifests[0].signature_reference,
            "sigs.test/signatures:sha256-" + image.digest.substr(7) + ".sig");
  // The payload still names the image's own repository.
  EXPECT_EQ(result.signed_manifests[0].payload, MarshalPayload(repo_.Name(), image.digest, {}));
  StoredManifest(*options.signature_repository, image.digest);
}

TEST_F(SignTest, NonexistentImageIsNotFound) {
  auto result = SignImage(registry_, Ref(repo_.Name() + ":nope"), *keys_->signer, {});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kImageNotFound);
}

TEST_F(SignTest, RegistryDownFails) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  registry_.SetDown(true);
  auto result = SignImage(registry_, Ref(image.DigestReference()), *keys_->signer, {});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kNetwork);
}

TEST(TriangulateTest, TagNames) {
  const std::string digest = "sha256:" + std::string(64, 'b');
  EXPECT_EQ(ArtifactTag(digest, ArtifactType::kSignature),
            "sha256-" + std::string(64, 'b') + ".sig");
  EXPECT_EQ(ArtifactTag(digest, ArtifactType::kAttestation),
            "sha256-" + std::string(64, 'b') + ".att");
  EXPECT_EQ(ArtifactTag(digest, ArtifactType::kSbom), "sha256-" + std::string(64, 'b') + ".sbom");
  EXPECT_EQ(ParseArtifactType("sbom").value(), ArtifactType::kSbom);
  EXPECT_EQ(ParseArtifactType("sig").error().code(), ErrorCode::kInvalidArgument);
}

TEST(TriangulateTest, ResolvesTagsAndRespectsSignatureRepository) {
  testing::InMemoryRegistry registry;
  const oci::Repository repo{"registry.test", "x/y"};
  const auto image = testing::PushRandomImage(registry, repo, "v1");
  auto tag =
      Triangulate(registry, Ref(image.TagReference()), ArtifactType::kSignature, {}, std::nullopt);
  ASSERT_TRUE(tag.ok()) << tag.error().message();
  EXPECT_EQ(*tag, "registry.test/x/y:sha256-" + image.digest.substr(7) + ".sig");
  auto moved = Triangulate(registry, Ref(image.DigestReference()), ArtifactType::kAttestation,
                           oci::Repository{"other.test", "sigs"}, std::nullopt);
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(*moved, "other.test/sigs:sha256-" + image.digest.substr(7) + ".att");
  EXPECT_EQ(Triangulate(registry, Ref("registry.test/x/y:none"), ArtifactType::kSignature, {},
                        std::nullopt)
                .error()
                .code(),
            ErrorCode::kImageNotFound);
}

}  // namespace
}  // namespace signet::cosign

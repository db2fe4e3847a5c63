#include "signet/cosign/image_verification.h"

#include <gtest/gtest.h>

#include "signet/cosign/sign.h"
#include "signet/cosign/triangulate.h"
#include "support/in_memory_registry.h"
#include "support/signature_fixtures.h"
#include "support/test_images.h"

namespace signet::cosign {
namespace {

oci::ImageReference Ref(const std::string& text) { return testing::ParseReferenceForTest(text); }

class ImageVerificationTest : public testing::TwoKeyPairsTest {
 protected:
  void Sign(const std::string& reference, SignatureFormat format,
            const std::map<std::string, std::string>& annotations = {},
            const crypto::Signer* signer = nullptr, bool recursive = false) {
    SignOptions options;
    options.format = format;
    options.annotations = annotations;
    options.recursive = recursive;
    auto result = SignImage(registry_, Ref(reference), signer ? *signer : *keys_->signer, options);
    ASSERT_TRUE(result.ok()) << result.error().message();
  }

  // A bundle over an arbitrary predicate type, as `cosign attest` writes one.
  void Attest(const testing::PushedImage& image, const std::string& predicate_type) {
    Statement statement = MakeCosignSignStatement(image.digest, {});
    statement.predicate_type = predicate_type;
    auto payload = MarshalStatement(statement);
    ASSERT_TRUE(payload.ok());
    auto envelope = SignDsse(*keys_->signer, kInTotoPayloadType, *payload);
    ASSERT_TRUE(envelope.ok());
    auto attached = AttachDsseBundle(registry_, Ref(image.DigestReference()), *envelope,
                                     keys_->public_pem, predicate_type, {});
    ASSERT_TRUE(attached.ok()) << attached.error().message();
  }

  ImageVerifyOptions Options() const {
    ImageVerifyOptions options;
    options.common.keys.push_back(keys_->verifier);
    options.bundle_tlog_policy = TlogPolicy::kInsecureIgnore;
    return options;
  }

  Result<ImageVerification> Verify(const std::string& reference,
                                   const ImageVerifyOptions& options) {
    return VerifyImageSignatures(registry_, Ref(reference), options);
  }

  testing::InMemoryRegistry registry_;
  oci::Repository repo_{"registry.test:5000", "team/app"};
};

TEST_F(ImageVerificationTest, BundleSignatureVerifiesAndLegacyOnlyModeDoesNotSeeIt) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  Sign(image.DigestReference(), SignatureFormat::kBundle, {{"env", "prod"}});
  // No ".sig" tag was written.
  EXPECT_FALSE(
      registry_.GetManifest(repo_, ArtifactTag(image.digest, ArtifactType::kSignature)).ok());
  ImageVerifyOptions options = Options();
  options.common.annotations = {{"env", "prod"}};
  auto verified = Verify(image.TagReference(), options);
  ASSERT_TRUE(verified.ok()) << verified.error().message();
  EXPECT_EQ(verified->format, VerifiedFormat::kBundle);
  EXPECT_EQ(verified->digest, image.digest);
  ASSERT_EQ(verified->bundles.size(), 1u);
  EXPECT_EQ(verified->bundles[0].predicate_type, kCosignSignPredicateType);

  options.formats = SignatureFormats::kLegacyOnly;
  auto legacy_only = Verify(image.TagReference(), options);
  ASSERT_FALSE(legacy_only.ok());
  EXPECT_EQ(legacy_only.error().code(), ErrorCode::kNoSignatures);
}

TEST_F(ImageVerificationTest, LegacySignatureStillVerifiesWhenThereIsNoBundle) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  Sign(image.DigestReference(), SignatureFormat::kLegacy);
  auto verified = Verify(image.DigestReference(), Options());
  ASSERT_TRUE(verified.ok()) << verified.error().message();
  EXPECT_EQ(verified->format, VerifiedFormat::kLegacy);
  EXPECT_EQ(verified->legacy_signatures.size(), 1u);
}

TEST_F(ImageVerificationTest, AnyUsableBundleHidesLegacySignaturesAsInCosign) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  Sign(image.DigestReference(), SignatureFormat::kLegacy);
  // A bundle by a stranger: cosign then verifies bundles only, and fails.
  Sign(image.DigestReference(), SignatureFormat::kBundle, {}, other_keys_->signer.get());
  auto verified = Verify(image.DigestReference(), Options());
  ASSERT_FALSE(verified.ok());
  EXPECT_EQ(verified.error().code(), ErrorCode::kVerificationFailed);
  EXPECT_NE(verified.error().message().find("Sigstore bundles"), std::string::npos);
  // Control: --new-bundle-format=false reads the legacy signature.
  ImageVerifyOptions legacy = Options();
  legacy.formats = SignatureFormats::kLegacyOnly;
  EXPECT_TRUE(Verify(image.DigestReference(), legacy).ok());
}

TEST_F(ImageVerificationTest, StrictModeCountsOnlySignPredicateBundles) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  Attest(image, "https://spdx.dev/Document");
  // cosign's rule: an attestation by the key counts as a signature.
  auto any = Verify(image.DigestReference(), Options());
  ASSERT_TRUE(any.ok()) << any.error().message();
  EXPECT_EQ(any->bundles.at(0).predicate_type, "https://spdx.dev/Document");
  // Strict: it does not, and with nothing else there is no signature.
  ImageVerifyOptions strict = Options();
  strict.bundle_signatures = BundleSignatures::kSignPredicateOnly;
  auto none = Verify(image.DigestReference(), strict);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), ErrorCode::kNoSignatures);
  // Strict, with a legacy signature beside the attestation: the legacy one
  // decides (the attestation does not hide it).
  Sign(image.DigestReference(), SignatureFormat::kLegacy);
  auto legacy = Verify(image.DigestReference(), strict);
  ASSERT_TRUE(legacy.ok()) << legacy.error().message();
  EXPECT_EQ(legacy->format, VerifiedFormat::kLegacy);
  // Strict, with a sign bundle: that one passes.
  Sign(image.DigestReference(), SignatureFormat::kBundle);
  auto bundle = Verify(image.DigestReference(), strict);
  ASSERT_TRUE(bundle.ok()) << bundle.error().message();
  EXPECT_EQ(bundle->format, VerifiedFormat::kBundle);
  ASSERT_EQ(bundle->bundles.size(), 1u);
  EXPECT_EQ(bundle->bundles[0].predicate_type, kCosignSignPredicateType);
}

TEST_F(ImageVerificationTest, BundleWithoutTlogNeedsInsecureIgnoreTlog) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  Sign(image.DigestReference(), SignatureFormat::kBundle);
  ImageVerifyOptions options = Options();
  options.bundle_tlog_policy = TlogPolicy::kRequire;
  auto refused = Verify(image.DigestReference(), options);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("--insecure-ignore-tlog=true"), std::string::npos);
  EXPECT_TRUE(Verify(image.DigestReference(), Options()).ok());
}

TEST_F(ImageVerificationTest, DiscoveryFailureFallsBackToLegacyAndSaysSo) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  Sign(image.DigestReference(), SignatureFormat::kLegacy);
  // A fallback tag that holds no index: discovery fails, legacy decides.
  registry_.ForceManifest(repo_, oci::ReferrersTagFor(image.digest),
                          std::string(oci::kOciManifestMediaType), image.manifest);
  auto verified = Verify(image.DigestReference(), Options());
  ASSERT_TRUE(verified.ok()) << verified.error().message();
  EXPECT_EQ(verified->format, VerifiedFormat::kLegacy);
  // Without a legacy signature the error names both failures.
  const auto unsigned_image = testing::PushRandomImage(registry_, repo_, "v2");
  registry_.ForceManifest(repo_, oci::ReferrersTagFor(unsigned_image.digest),
                          std::string(oci::kOciManifestMediaType), image.manifest);
  auto failed = Verify(unsigned_image.DigestReference(), Options());
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code(), ErrorCode::kNoSignatures);
  EXPECT_NE(failed.error().message().find("bundle discovery failed"), std::string::npos);
}

TEST_F(ImageVerificationTest, FailedDiscoveryDecidesWhenAskedAndNoLegacySignatureVerifies) {
  const auto signed_image = testing::PushRandomImage(registry_, repo_, "v1");
  Sign(signed_image.DigestReference(), SignatureFormat::kLegacy);
  const auto unsigned_image = testing::PushRandomImage(registry_, repo_, "v2");
  ImageVerifyOptions provider_options = Options();
  provider_options.discovery_failure_fails = true;
  // Control: with the referrers route answering, the unsigned image is
  // "no signatures" in both modes.
  for (const ImageVerifyOptions& options : {Options(), provider_options}) {
    auto failed = Verify(unsigned_image.DigestReference(), options);
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.error().code(), ErrorCode::kNoSignatures) << failed.error().message();
  }
  registry_.FailReferrers(true);
  // The legacy signature still verifies in both modes.
  for (const ImageVerifyOptions& options : {Options(), provider_options}) {
    auto verified = Verify(signed_image.DigestReference(), options);
    ASSERT_TRUE(verified.ok()) << verified.error().message();
    EXPECT_EQ(verified->format, VerifiedFormat::kLegacy);
  }
  // cosign's behaviour: the legacy result decides and names the failure.
  auto cosign_like = Verify(unsigned_image.DigestReference(), Options());
  ASSERT_FALSE(cosign_like.ok());
  EXPECT_EQ(cosign_like.error().code(), ErrorCode::kNoSignatures);
  EXPECT_NE(cosign_like.error().message().find("bundle discovery failed too"), std::string::npos)
      << cosign_like.error().message();
  // The provider's: a bundle may exist behind the failure; the registry
  // failure decides.
  auto strict = Verify(unsigned_image.DigestReference(), provider_options);
  ASSERT_FALSE(strict.ok());
  EXPECT_EQ(strict.error().code(), ErrorCode::kNetwork) << strict.error().message();
  EXPECT_NE(strict.error().message().find("discovering Sigstore bundles of"), std::string::npos)
      << strict.error().message();
}

// Every signature and referrer lookup (tags sha256-<hex>...) answers 503, as
// behind a failing load balancer; the image itself is served.
TEST_F(ImageVerificationTest, BothFormatsFailingWithA503KeepTheStatus) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  auto signed_ok = SignImage(registry_, Ref(image.DigestReference()), *keys_->signer, {});
  ASSERT_TRUE(signed_ok.ok()) << signed_ok.error().message();
  // Control: reachable, it verifies.
  ASSERT_TRUE(VerifyImageSignatures(registry_, Ref(image.DigestReference()), Options()).ok());
  registry_.FailArtifactTags(503);
  // Both the legacy fetch and bundle discovery fail: the error still says 503, so that the
  // provider sees an unavailable registry, not a verification failure.
  auto failed = VerifyImageSignatures(registry_, Ref(image.DigestReference()), Options());
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().http_status(), 503) << failed.error().message();
  EXPECT_NE(failed.error().message().find("Sigstore bundle discovery failed too"),
            std::string::npos)
      << failed.error().message();
  // Legacy only: the same status, as before bundles existed.
  ImageVerifyOptions legacy = Options();
  legacy.formats = SignatureFormats::kLegacyOnly;
  auto legacy_failed = VerifyImageSignatures(registry_, Ref(image.DigestReference()), legacy);
  ASSERT_FALSE(legacy_failed.ok());
  EXPECT_EQ(legacy_failed.error().http_status(), 503) << legacy_failed.error().message();
  // The provider's mode: the same status.
  ImageVerifyOptions provider = Options();
  provider.discovery_failure_fails = true;
  auto provider_failed = VerifyImageSignatures(registry_, Ref(image.DigestReference()), provider);
  ASSERT_FALSE(provider_failed.ok());
  EXPECT_EQ(provider_failed.error().http_status(), 503) << provider_failed.error().message();
}

TEST_F(ImageVerificationTest, RecursiveBundleSigningSignsEachChildAtItsOwnDigest) {
  const auto index = testing::PushTwoPlatformIndex(registry_, repo_, "multi");
  Sign(index.DigestReference(), SignatureFormat::kBundle, {}, nullptr, /*recursive=*/true);
  for (const std::string& digest :
       {index.digest, index.children[0].digest, index.children[1].digest}) {
    auto verified = VerifyImageSignatures(registry_, Ref(repo_.Name() + "@" + digest), Options());
    ASSERT_TRUE(verified.ok()) << digest << ": " << verified.error().message();
    EXPECT_EQ(verified->format, VerifiedFormat::kBundle);
  }
}

}  // namespace
}  // namespace signet::cosign

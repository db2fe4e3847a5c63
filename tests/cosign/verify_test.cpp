#include "signet/cosign/verify.h"

#include <gtest/gtest.h>

#include <optional>

#include "signet/cosign/sign.h"
#include "signet/cosign/signature_manifest.h"
#include "signet/cosign/triangulate.h"
#include "signet/crypto/encoding.h"
#include "signet/crypto/keys.h"
#include "support/in_memory_registry.h"
#include "support/paths.h"
#include "support/process.h"
#include "support/signature_fixtures.h"
#include "support/test_images.h"

namespace signet::cosign {
namespace {

using testing::FixtureSignature;
using testing::ReadSigstoreJsonFixture;

constexpr char kFixtureDigest[] =
    "sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00";
constexpr char kRekorFixtureDigest[] =
    "sha256:0489474da8ea22426ece86ace6c1c0026ab2fd3cdfbbd62b7e94650266c37d9a";

std::shared_ptr<const crypto::Verifier> PublicKeyFixture(const std::string& name) {
  auto key = crypto::LoadPublicKeyFile(testing::TestDataDir() + "/cosign/" + name);
  EXPECT_TRUE(key.ok()) << key.error().message();
  return key.ok() ? std::shared_ptr<const crypto::Verifier>(std::move(*key)) : nullptr;
}

oci::ImageReference Ref(const std::string& text) { return testing::ParseReferenceForTest(text); }

class VerifyTest : public testing::TwoKeyPairsTest {
 protected:
  // Pushes a fresh image tagged `tag` and returns its reference by tag.
  testing::PushedImage Push(const std::string& tag = "v1") {
    return testing::PushRandomImage(registry_, repo_, tag);
  }

  SignResult Sign(const std::string& reference, SignOptions options = {},
                  const testing::TestKeyPair* keys = nullptr) {
    auto result = SignImage(registry_, Ref(reference), *(keys ? keys : &*keys_)->signer, options);
    EXPECT_TRUE(result.ok()) << result.error().message();
    return result.ok() ? *result : SignResult{};
  }

  VerifyOptions Options() const {
    VerifyOptions options;
    options.keys.push_back(keys_->verifier);
    return options;
  }

  Result<VerificationResult> Verify(const std::string& reference) {
    return VerifyImage(registry_, Ref(reference), Options());
  }

  // The signature manifest stored for `digest`, parsed.
  SignatureManifest StoredSignatures(const std::string& digest) {
    auto manifest = registry_.GetManifest(repo_, ArtifactTag(digest, ArtifactType::kSignature));
    EXPECT_TRUE(manifest.ok());
    auto parsed = ParseSignatureManifest(manifest->bytes, 100000);
    EXPECT_TRUE(parsed.ok());
    return *parsed;
  }

  // Replaces the signature manifest for `digest` with `layers` (payloads
  // taken from the registry unless given).
  void RewriteSignatures(const std::string& digest, const std::vector<FixtureSignature>& sigs) {
    testing::PushSignatureManifest(registry_, repo_, ArtifactTag(digest, ArtifactType::kSignature),
                                   sigs);
  }

  FixtureSignature SignedLayer(const std::string& payload,
                               const testing::TestKeyPair* keys = nullptr) {
    auto signature = (keys ? keys : &*keys_)->signer->Sign(payload);
    EXPECT_TRUE(signature.ok());
    return FixtureSignature{
        std::string(kSimpleSigningMediaType),
        payload,
        {{std::string(kSignatureAnnotation), crypto::Base64Encode(*signature)}}};
  }

  static void ExpectCode(const Result<VerificationResult>& result, ErrorCode code) {
    ASSERT_FALSE(result.ok()) << "verification unexpectedly passed";
    EXPECT_EQ(result.error().code(), code) << result.error().message();
  }

  testing::InMemoryRegistry registry_;
  oci::Repository repo_{"registry.test:5000", "team/app"};
};

TEST_F(VerifyTest, SignedImageVerifiesByTagAndByDigest) {
  const auto image = Push();
  Sign(image.DigestReference());
  for (const std::string& reference : {image.TagReference(), image.DigestReference()}) {
    auto result = Verify(reference);
    ASSERT_TRUE(result.ok()) << result.error().message();
    EXPECT_EQ(result->digest, image.digest);
    EXPECT_EQ(result->reference_with_digest, image.DigestReference());
    ASSERT_EQ(result->signatures.size(), 1u);
    EXPECT_EQ(result->signatures[0].parsed.docker_manifest_digest, image.digest);
    EXPECT_EQ(result->signatures[0].parsed.docker_reference, repo_.Name());
    EXPECT_EQ(result->signatures[0].payload, MarshalPayload(repo_.Name(), image.digest, {}));
  }
}

// The "digest already known" entry: a digest the caller just resolved is not
// looked up again, so only the signature manifest is fetched.
TEST_F(VerifyTest, AResolvedDigestIsNotLookedUpAgain) {
  const auto image = Push();
  Sign(image.DigestReference());
  int before = registry_.manifest_gets();
  auto known = VerifyResolvedImage(registry_, Ref(image.TagReference()), image.digest, Options());
  ASSERT_TRUE(known.ok()) << known.error().message();
  EXPECT_EQ(known->reference_with_digest, image.DigestReference());
  EXPECT_EQ(registry_.manifest_gets() - before, 1);  // the signature manifest only
  // Positive control: the resolving entry looks the tag up first.
  before = registry_.manifest_gets();
  ASSERT_TRUE(Verify(image.TagReference()).ok());
  EXPECT_EQ(registry_.manifest_gets() - before, 2);
  // A digest other than the one the reference names is refused.
  auto other = VerifyResolvedImage(registry_, Ref(image.DigestReference()),
                                   "sha256:" + std::string(64, '0'), Options());
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code(), ErrorCode::kInvalidArgument) << other.error().message();
}

TEST_F(VerifyTest, GenuineCosignAndSkopeoSignaturesVerify) {
  const std::string manifest =
      testing::ReadFile(testing::TestDataDir() +
                        "/cosign/containers-image-fixtures-dir-img-cosign-valid_manifest.json");
  auto pushed =
      registry_.PutManifest(repo_, "fixture", std::string(oci::kDockerManifestMediaType), manifest);
  ASSERT_TRUE(pushed.ok());
  ASSERT_EQ(*pushed, kFixtureDigest);
  RewriteSignatures(
      kFixtureDigest,
      {ReadSigstoreJsonFixture(
           "containers-image-fixtures-dir-img-cosign-other-attachment_signature-1"),
       ReadSigstoreJsonFixture("containers-image-fixtures-dir-img-cosign-valid_signature-1"),
       ReadSigstoreJsonFixture(
           "containers-image-fixtures-dir-img-cosign-valid-with-tag_signature-1"),
       ReadSigstoreJsonFixture("containers-image-fixtures-dir-img-cosign-valid-2_signature-2")});
  VerifyOptions options;
  options.keys.push_back(PublicKeyFixture("containers-image-fixtures-cosign.pub"));
  auto result = VerifyImage(registry_, Ref(repo_.Name() + ":fixture"), options);
  ASSERT_TRUE(result.ok()) << result.error().message();
  ASSERT_EQ(result->signatures.size(), 3u);  // the text/plain attachment is skipped
  EXPECT_EQ(result->signatures[0].parsed.docker_reference,
            "192.168.64.2:5000/cosign-signed-single-sample");
  EXPECT_EQ(result->signatures[1].parsed.docker_reference, "192.168.64.2:5000/skopeo-signed:tag");
  EXPECT_EQ(result->signatures[1].parsed.optional->at("creator"), "containers/image 5.21.2-dev");

  // The same signatures with the other fixture key: nothing matches.
  options.keys = {PublicKeyFixture("containers-image-fixtures-cosign2.pub")};
  ExpectCode(VerifyImage(registry_, Ref(repo_.Name() + ":fixture"), options),
             ErrorCode::kNoMatchingSignatures);
}

TEST_F(VerifyTest, GenuineCosignSignatureWithRekorBundleVerifies) {
  const std::string manifest = testing::ReadFile(
      testing::TestDataDir() +
      "/cosign/containers-image-fixtures-dir-img-cosign-key-rekor-valid_manifest.json");
  auto pushed =
      registry_.PutManifest(repo_, "rekor", std::string(oci::kDockerManifestMediaType), manifest);
  ASSERT_TRUE(pushed.ok());
  ASSERT_EQ(*pushed, kRekorFixtureDigest);
  RewriteSignatures(kRekorFixtureDigest,
                    {ReadSigstoreJsonFixture("containers-image-fixtures-dir-img-cosign-key-rekor-"
                                             "valid_signature-1")});
  VerifyOptions options;
  options.keys.push_back(PublicKeyFixture("containers-image-fixtures-cosign2.pub"));
  auto result = VerifyImage(registry_, Ref(repo_.Name() + "@" + kRekorFixtureDigest), options);
  ASSERT_TRUE(result.ok()) << result.error().message();
  EXPECT_EQ(result->signatures.size(), 1u);
}

TEST_F(VerifyTest, AnyOfSeveralKeysSuffices) {
  const auto image = Push();
  Sign(image.DigestReference(), {}, &*other_keys_);
  VerifyOptions options = Options();
  options.keys.push_back(other_keys_->verifier);
  EXPECT_TRUE(VerifyImage(registry_, Ref(image.TagReference()), options).ok());
}

TEST_F(VerifyTest, ResultDoesNotDependOnLayerOrder) {
  const auto image = Push();
  const FixtureSignature good = SignedLayer(MarshalPayload(repo_.Name(), image.digest, {}));
  const FixtureSignature bad =
      SignedLayer(MarshalPayload(repo_.Name(), image.digest, {}), &*other_keys_);
  const FixtureSignature good_annotated =
      SignedLayer(MarshalPayload(repo_.Name(), image.digest, {{"k", "v"}}));
  std::vector<std::vector<FixtureSignature>> orders = {
      {good, bad, good_annotated}, {bad, good_annotated, good}, {good_annotated, good, bad}};
  for (const auto& order : orders) {
    RewriteSignatures(image.digest, order);
    auto result = Verify(image.DigestReference());
    ASSERT_TRUE(result.ok()) << result.error().message();
    ASSERT_EQ(result->signatures.size(), 2u);
    std::vector<std::string> expected;
    for (const auto& layer : order) {
      if (layer.annotations == bad.annotations) continue;
      expected.push_back(layer.payload);
    }
    EXPECT_EQ(result->signatures[0].payload, expected[0]);
    EXPECT_EQ(result->signatures[1].payload, expected[1]);
  }
}

TEST_F(VerifyTest, SignatureRepositoryIsUsedWhenSet) {
  const auto image = Push();
  SignOptions sign_options;
  sign_options.signature_repository = oci::Repository{"sigs.test", "team/signatures"};
  Sign(image.DigestReference(), sign_options);
  ExpectCode(Verify(image.DigestReference()), ErrorCode::kNoSignatures);
  VerifyOptions options = Options();
  options.signature_repository = sign_options.signature_repository;
  auto result = VerifyImage(registry_, Ref(image.DigestReference()), options);
  ASSERT_TRUE(result.ok()) << result.error().message();
  EXPECT_EQ(result->signatures[0].parsed.docker_reference, repo_.Name());
}

TEST_F(VerifyTest, RequiredAnnotationsMustMatchExactly) {
  const auto image = Push();
  SignOptions sign_options;
  sign_options.annotations = {{"env", "prod"}, {"team", "a<b"}};
  Sign(image.DigestReference(), sign_options);
  VerifyOptions options = Options();
  options.annotations = {{"env", "prod"}, {"team", "a<b"}};
  EXPECT_TRUE(VerifyImage(registry_, Ref(image.DigestReference()), options).ok());
  options.annotations = {{"env", "prod"}};
  EXPECT_TRUE(VerifyImage(registry_, Ref(image.DigestReference()), options).ok());
}

// --- negative cases -------------------------------------------------------

TEST_F(VerifyTest, UnsignedImageHasNoSignatures) {
  const auto image = Push();
  ExpectCode(Verify(image.TagReference()), ErrorCode::kNoSignatures);
}

TEST_F(VerifyTest, SignatureManifestWithoutSimpleSigningLayersHasNoSignatures) {
  const auto image = Push();
  RewriteSignatures(image.digest, {ReadSigstoreJsonFixture(
                                      "containers-image-fixtures-dir-img-cosign-other-attachment_"
                                      "signature-1")});
  ExpectCode(Verify(image.TagReference()), ErrorCode::kNoSignatures);
}

TEST_F(VerifyTest, NonexistentImageIsNotFound) {
  ExpectCode(Verify(repo_.Name() + ":missing"), ErrorCode::kImageNotFound);
  ExpectCode(Verify(repo_.Name() + "@sha256:" + std::string(64, 'a')), ErrorCode::kImageNotFound);
}

TEST_F(VerifyTest, WrongKeyDoesNotMatch) {
  const auto image = Push();
  Sign(image.DigestReference(), {}, &*other_keys_);
  ExpectCode(Verify(image.DigestReference()), ErrorCode::kNoMatchingSignatures);
}

TEST_F(VerifyTest, TamperedPayloadDoesNotMatch) {
  const auto image = Push();
  FixtureSignature layer = SignedLayer(MarshalPayload(repo_.Name(), image.digest, {}));
  layer.payload = MarshalPayload(repo_.Name() + "x", image.digest, {});  // signature kept
  RewriteSignatures(image.digest, {layer});
  auto result = Verify(image.DigestReference());
  ExpectCode(result, ErrorCode::kNoMatchingSignatures);
  EXPECT_NE(result.error().message().find("does not verify"), std::string::npos);
}

TEST_F(VerifyTest, TamperedSignatureDoesNotMatch) {
  const auto image = Push();
  FixtureSignature layer = SignedLayer(MarshalPayload(repo_.Name(), image.digest, {}));
  auto raw = crypto::Base64Decode(layer.annotations.at(std::string(kSignatureAnnotation)));
  ASSERT_TRUE(raw.ok());
  (*raw)[raw->size() - 3] ^= 0x01;
  layer.annotations[std::string(kSignatureAnnotation)] = crypto::Base64Encode(*raw);
  RewriteSignatures(image.digest, {layer});
  ExpectCode(Verify(image.DigestReference()), ErrorCode::kNoMatchingSignatures);
}

TEST_F(VerifyTest, SignatureCopiedFromAnotherImageDoesNotMatch) {
  const auto signed_image = Push("signed");
  const auto other_image = Push("other");
  Sign(signed_image.DigestReference());
  // Copy the genuine .sig manifest of the signed image to the other image's tag.
  auto sig =
      registry_.GetManifest(repo_, ArtifactTag(signed_image.digest, ArtifactType::kSignature));
  ASSERT_TRUE(sig.ok());
  registry_.ForceManifest(repo_, ArtifactTag(other_image.digest, ArtifactType::kSignature),
                          sig->media_type, sig->bytes);
  auto result = Verify(other_image.DigestReference());
  ExpectCode(result, ErrorCode::kNoMatchingSignatures);
  EXPECT_NE(result.error().message().find("docker-manifest-digest"), std::string::npos);
}

TEST_F(VerifyTest, TagMovedAfterSigningVerifiesTheNewImageOnly) {
  const auto first = Push("release");
  Sign(first.TagReference());
  ASSERT_TRUE(Verify(first.TagReference()).ok());
  const auto second = Push("release");  // the tag now points at an unsigned image
  ExpectCode(Verify(second.TagReference()), ErrorCode::kNoSignatures);
  // Copying the old signature manifest to the new digest does not help.
  auto sig = registry_.GetManifest(repo_, ArtifactTag(first.digest, ArtifactType::kSignature));
  ASSERT_TRUE(sig.ok());
  registry_.ForceManifest(repo_, ArtifactTag(second.digest, ArtifactType::kSignature),
                          sig->media_type, sig->bytes);
  ExpectCode(Verify(second.TagReference()), ErrorCode::kNoMatchingSignatures);
}

TEST_F(VerifyTest, MissingAnnotationDoesNotMatch) {
  const auto image = Push();
  SignOptions sign_options;
  sign_options.annotations = {{"env", "dev"}};
  Sign(image.DigestReference(), sign_options);
  VerifyOptions options = Options();
  options.annotations = {{"env", "prod"}};
  ExpectCode(VerifyImage(registry_, Ref(image.DigestReference()), options),
             ErrorCode::kNoMatchingSignatures);
  options.annotations = {{"owner", "x"}};
  ExpectCode(VerifyImage(registry_, Ref(image.DigestReference()), options),
             ErrorCode::kNoMatchingSignatures);
}

TEST_F(VerifyTest, NonStringAnnotationValueDoesNotMatch) {
  const auto image = Push();
  const std::string payload =
      R"({"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":")" +
      image.digest + R"("},"type":"cosign container image signature"},"optional":{"n":1}})";
  RewriteSignatures(image.digest, {SignedLayer(payload)});
  VerifyOptions options = Options();
  options.annotations = {{"n", "1"}};
  ExpectCode(VerifyImage(registry_, Ref(image.DigestReference()), options),
             ErrorCode::kNoMatchingSignatures);
}

TEST_F(VerifyTest, NonBase64SignatureDoesNotMatch) {
  const auto image = Push();
  FixtureSignature layer = SignedLayer(MarshalPayload(repo_.Name(), image.digest, {}));
  layer.annotations[std::string(kSignatureAnnotation)] = "not base64 !!";
  RewriteSignatures(image.digest, {layer});
  auto result = Verify(image.DigestReference());
  ExpectCode(result, ErrorCode::kNoMatchingSignatures);
  EXPECT_NE(result.error().message().find("base64"), std::string::npos);
}

TEST_F(VerifyTest, EmptySignatureDoesNotMatch) {
  const auto image = Push();
  FixtureSignature layer = SignedLayer(MarshalPayload(repo_.Name(), image.digest, {}));
  layer.annotations[std::string(kSignatureAnnotation)] = "";
  RewriteSignatures(image.digest, {layer});
  ExpectCode(Verify(image.DigestReference()), ErrorCode::kNoMatchingSignatures);
}

TEST_F(VerifyTest, MissingSignatureAnnotationDoesNotMatch) {
  const auto image = Push();
  FixtureSignature layer = SignedLayer(MarshalPayload(repo_.Name(), image.digest, {}));
  layer.annotations.clear();
  RewriteSignatures(image.digest, {layer});
  ExpectCode(Verify(image.DigestReference()), ErrorCode::kNoMatchingSignatures);
}

TEST_F(VerifyTest, PayloadOverTheCapIsRejected) {
  const auto image = Push();
  // A genuinely signed payload, padded with whitespace past 4 MiB.
  std::string payload = MarshalPayload(repo_.Name(), image.digest, {});
  payload.insert(payload.size() - 1, std::string(kMaxPayloadBytes, ' '));
  RewriteSignatures(image.digest, {SignedLayer(payload)});
  const int gets_before = registry_.blob_gets();
  auto result = Verify(image.DigestReference());
  ExpectCode(result, ErrorCode::kNoMatchingSignatures);
  EXPECT_NE(result.error().message().find("exceeds the limit"), std::string::npos);
  EXPECT_EQ(registry_.blob_gets(), gets_before);  // never downloaded
}

TEST_F(VerifyTest, TooManyLayersIsRejected) {
  const auto image = Push();
  const FixtureSignature layer = SignedLayer(MarshalPayload(repo_.Name(), image.digest, {}));
  SignatureManifest manifest;
  for (std::size_t i = 0; i <= kMaxSignatureLayers; ++i) {
    manifest.layers.push_back(MakeSignatureLayer(layer.payload, layer.annotations.begin()->second));
  }
  ASSERT_TRUE(registry_.PutBlob(repo_, manifest.layers[0].digest, layer.payload).ok());
  registry_.ForceManifest(repo_, ArtifactTag(image.digest, ArtifactType::kSignature),
                          std::string(oci::kOciManifestMediaType),
                          MarshalSignatureManifest(manifest, "sha256:00", 2));
  ExpectCode(Verify(image.DigestReference()), ErrorCode::kTooLarge);
}

// 1,000 layers naming one bogus blob used to cost 1,000 fetches of it.
TEST_F(VerifyTest, EachDistinctBlobIsFetchedOncePerVerification) {
  const auto image = Push();
  const FixtureSignature bogus = SignedLayer(MarshalPayload(repo_.Name(), image.digest, {}));
  const std::string wrong_signature = crypto::Base64Encode("not a signature");
  auto manifest_with = [&](std::optional<FixtureSignature> good) {
    SignatureManifest manifest;
    for (std::size_t i = 0; i < kMaxSignatureLayers - 1; ++i) {
      manifest.layers.push_back(MakeSignatureLayer(bogus.payload, wrong_signature));
    }
    if (good) {
      manifest.layers.push_back(
          MakeSignatureLayer(good->payload, good->annotations.begin()->second));
      EXPECT_TRUE(registry_.PutBlob(repo_, manifest.layers.back().digest, good->payload).ok());
    }
    EXPECT_TRUE(registry_.PutBlob(repo_, manifest.layers[0].digest, bogus.payload).ok());
    registry_.ForceManifest(repo_, ArtifactTag(image.digest, ArtifactType::kSignature),
                            std::string(oci::kOciManifestMediaType),
                            MarshalSignatureManifest(manifest, "sha256:00", 2));
  };
  manifest_with(std::nullopt);
  int gets_before = registry_.blob_gets();
  auto result = Verify(image.DigestReference());
  ExpectCode(result, ErrorCode::kNoMatchingSignatures);
  EXPECT_EQ(registry_.blob_gets() - gets_before, 1);

  // Positive control: a good signature among them verifies; two blobs fetched.
  manifest_with(SignedLayer(MarshalPayload(repo_.Name(), image.digest, {{"n", "1"}})));
  gets_before = registry_.blob_gets();
  result = Verify(image.DigestReference());
  ASSERT_TRUE(result.ok()) << result.error().message();
  EXPECT_EQ(result->signatures.size(), 1u);
  EXPECT_EQ(registry_.blob_gets() - gets_before, 2);
}

// A signature manifest nested 200,000 deep fails verification with a reason
// (it used to crash the process).
TEST_F(VerifyTest, DeeplyNestedSignatureManifestIsAnErrorNotACrash) {
  const auto image = Push();
  Sign(image.DigestReference());
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  registry_.ForceManifest(repo_, ArtifactTag(image.digest, ArtifactType::kSignature),
                          std::string(oci::kOciManifestMediaType),
                          R"({"schemaVersion":2,"layers":[],"annotations":{"a":)" + deep + "}}");
  auto result = Verify(image.DigestReference());
  ExpectCode(result, ErrorCode::kTooLarge);
  EXPECT_NE(result.error().message().find("exceeds max nesting depth 64"), std::string::npos);
}

TEST_F(VerifyTest, BlobWithWrongDigestIsAnError) {
  const auto image = Push();
  Sign(image.DigestReference());
  const SignatureManifest stored = StoredSignatures(image.digest);
  // The registry now serves a different (validly signed!) payload under the old digest.
  const FixtureSignature forged =
      SignedLayer(MarshalPayload(repo_.Name(), image.digest, {{"x", "y"}}));
  registry_.CorruptBlob(repo_, stored.layers[0].digest, forged.payload);
  ExpectCode(Verify(image.DigestReference()), ErrorCode::kDigestMismatch);
}

TEST_F(VerifyTest, RegistryDownIsANetworkError) {
  const auto image = Push();
  Sign(image.DigestReference());
  registry_.SetDown(true);
  ExpectCode(Verify(image.DigestReference()), ErrorCode::kNetwork);
}

TEST_F(VerifyTest, OneBadLayerDoesNotHideAGoodOne) {
  const auto image = Push();
  FixtureSignature broken = SignedLayer(MarshalPayload(repo_.Name(), image.digest, {}));
  broken.annotations[std::string(kSignatureAnnotation)] = "%%%";
  RewriteSignatures(image.digest,
                    {broken, SignedLayer(MarshalPayload(repo_.Name(), image.digest, {}))});
  auto result = Verify(image.DigestReference());
  ASSERT_TRUE(result.ok()) << result.error().message();
  EXPECT_EQ(result->signatures.size(), 1u);
}

TEST_F(VerifyTest, RejectsMissingKeys) {
  const auto image = Push();
  ExpectCode(VerifyImage(registry_, Ref(image.DigestReference()), VerifyOptions{}),
             ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace signet::cosign

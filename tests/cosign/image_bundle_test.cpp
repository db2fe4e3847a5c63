#include "signet/cosign/image_bundle.h"

#include <gtest/gtest.h>

#include <regex>

#include "signet/crypto/encoding.h"
#include "support/in_memory_registry.h"
#include "support/signature_fixtures.h"
#include "support/test_images.h"

namespace signet::cosign {
namespace {

oci::ImageReference Ref(const std::string& text) { return testing::ParseReferenceForTest(text); }

class ImageBundleTest : public testing::TwoKeyPairsTest {
 protected:
  // A DSSE envelope over cosign's sign statement for `digest`.
  DsseEnvelope SignedStatement(const std::string& digest,
                               const std::map<std::string, std::string>& annotations = {},
                               const crypto::Signer* signer = nullptr,
                               std::string_view payload_type = kInTotoPayloadType) {
    auto payload = MarshalStatement(MakeCosignSignStatement(digest, annotations));
    EXPECT_TRUE(payload.ok());
    auto envelope =
        SignDsse(signer ? *signer : *keys_->signer, payload_type, payload.ok() ? *payload : "");
    EXPECT_TRUE(envelope.ok());
    return envelope.ok() ? *envelope : DsseEnvelope{};
  }

  AttachedBundle Attach(const testing::PushedImage& image, const DsseEnvelope& envelope,
                        std::string_view predicate_type = kCosignSignPredicateType) {
    AttachOptions options;
    options.created = "2026-12-02T13:00:00Z";
    auto attached = AttachDsseBundle(registry_, Ref(image.DigestReference()), envelope,
                                     keys_->public_pem, predicate_type, options);
    EXPECT_TRUE(attached.ok()) << attached.error().message();
    return attached.ok() ? *attached : AttachedBundle{};
  }

  BundleDiscovery Discover(const std::string& digest) {
    auto found = DiscoverBundles(registry_, repo_, digest, std::nullopt, nullptr);
    EXPECT_TRUE(found.ok()) << found.error().message();
    return found.ok() ? *found : BundleDiscovery{};
  }

  Result<VerifiedBundle> Verify(const FoundBundle& found, const std::string& digest,
                                const std::map<std::string, std::string>& annotations = {},
                                std::vector<std::shared_ptr<const crypto::Verifier>> keys = {}) {
    if (keys.empty()) keys.push_back(keys_->verifier);
    return VerifyImageBundle(found, keys, digest, annotations, TlogPolicy::kInsecureIgnore);
  }

  // Pushes a hand-made referrer of `subject` with the given layers
  // (media type, bytes) and lists it in the fallback tag.
  std::string PushCustomReferrer(const testing::PushedImage& subject,
                                 const std::vector<std::pair<std::string, std::string>>& layers) {
    EXPECT_TRUE(registry_.PutBlob(repo_, std::string(kEmptyConfigDigest), "{}").ok());
    std::string manifest =
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
        "\"config\":{\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"size\":2,\"digest\":\"" +
        std::string(kEmptyConfigDigest) + "\"},\"layers\":[";
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const std::string digest = crypto::Sha256Digest(layers[i].second);
      EXPECT_TRUE(registry_.PutBlob(repo_, digest, layers[i].second).ok());
      if (i > 0) manifest += ',';
      manifest += "{\"mediaType\":\"" + layers[i].first +
                  "\",\"size\":" + std::to_string(layers[i].second.size()) + ",\"digest\":\"" +
                  digest + "\"}";
    }
    manifest += "],\"subject\":{\"mediaType\":\"" + subject.media_type +
                "\",\"size\":" + std::to_string(subject.manifest.size()) + ",\"digest\":\"" +
                subject.digest + "\"}}";
    auto pushed = registry_.PushReferrer(repo_, manifest, std::nullopt);
    EXPECT_TRUE(pushed.ok()) << pushed.error().message();
    return pushed.ok() ? pushed->digest : "";
  }

  std::string BundleJson(const DsseEnvelope& envelope, const std::string& media_type) {
    Bundle bundle;
    bundle.media_type = media_type;
    bundle.public_key_hint = "x";
    bundle.content = envelope;
    return MarshalBundle(bundle);
  }

  testing::InMemoryRegistry registry_;
  oci::Repository repo_{"registry.test:5000", "team/app"};
};

TEST_F(ImageBundleTest, ReferrerManifestIsByteForByteWhatCosignWrites) {
  oci::ManifestHead subject{"application/vnd.oci.image.index.v1+json",
                            "sha256:" + std::string(64, 'a'), 1234};
  const std::string bundle_digest = "sha256:" + std::string(64, 'b');
  EXPECT_EQ(
      MarshalBundleReferrerManifest(bundle_digest, 4321, kCosignSignPredicateType,
                                    "2026-07-24T18:31:58Z", subject),
      "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
      "\"config\":{\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"size\":2,"
      "\"digest\":\"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\","
      "\"artifactType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\"},"
      "\"layers\":[{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\",\"size\":4321,"
      "\"digest\":\"" +
          bundle_digest +
          "\"}],"
          "\"annotations\":{\"dev.sigstore.bundle.content\":\"dsse-envelope\","
          "\"dev.sigstore.bundle.predicateType\":\"https://sigstore.dev/cosign/sign/v1\","
          "\"org.opencontainers.image.created\":\"2026-07-24T18:31:58Z\"},"
          "\"subject\":{\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"size\":1234,"
          "\"digest\":\"" +
          subject.digest +
          "\"},"
          "\"artifactType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\"}");
  EXPECT_EQ(crypto::Sha256Digest(kEmptyConfig), kEmptyConfigDigest);
}

TEST_F(ImageBundleTest, AttachWritesBlobsManifestAndFallbackTagAndVerifies) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  const DsseEnvelope envelope = SignedStatement(image.digest, {{"env", "prod"}});
  const AttachedBundle attached = Attach(image, envelope);
  EXPECT_FALSE(attached.listed_by_registry);
  EXPECT_EQ(attached.referrer_reference, repo_.Name() + "@" + attached.referrer_digest);

  // The stored manifest is the one the spec describes, its layer the bundle.
  auto manifest = registry_.GetManifest(repo_, attached.referrer_digest);
  ASSERT_TRUE(manifest.ok()) << manifest.error().message();
  oci::ManifestHead subject{image.media_type, image.digest, image.manifest.size()};
  EXPECT_EQ(manifest->bytes,
            MarshalBundleReferrerManifest(crypto::Sha256Digest(attached.bundle_json),
                                          attached.bundle_json.size(), kCosignSignPredicateType,
                                          "2026-12-02T13:00:00Z", subject));
  auto bundle = ParseBundle(attached.bundle_json);
  ASSERT_TRUE(bundle.ok()) << bundle.error().message();
  auto hint = PublicKeyHint(keys_->public_pem);
  ASSERT_TRUE(hint.ok());
  EXPECT_EQ(bundle->public_key_hint, *hint);
  EXPECT_EQ(bundle->tlog_entries, 0u);
  EXPECT_EQ(registry_.GetBlob(repo_, std::string(kEmptyConfigDigest)).value(), "{}");

  // Listed in the fallback tag sha256-<hex>.
  auto tag = registry_.ReadReferrersTag(repo_, image.digest, std::nullopt);
  ASSERT_TRUE(tag.ok());
  ASSERT_EQ(tag->index.manifests.size(), 1u);
  EXPECT_EQ(tag->index.manifests[0].digest, attached.referrer_digest);

  const BundleDiscovery discovery = Discover(image.digest);
  EXPECT_FALSE(discovery.referrers_api);
  ASSERT_EQ(discovery.bundles.size(), 1u);
  EXPECT_TRUE(discovery.skipped.empty());
  EXPECT_EQ(discovery.bundles[0].manifest_annotations.at(std::string(kBundleContentAnnotation)),
            "dsse-envelope");
  auto verified = Verify(discovery.bundles[0], image.digest, {{"env", "prod"}});
  ASSERT_TRUE(verified.ok()) << verified.error().message();
  EXPECT_EQ(verified->predicate_type, kCosignSignPredicateType);
  EXPECT_EQ(verified->payload, envelope.payload);
  EXPECT_EQ(verified->referrer_digest, attached.referrer_digest);
  EXPECT_EQ(verified->subject_annotations, nlohmann::json({{"env", "prod"}}));
}

TEST_F(ImageBundleTest, RegistryWithReferrersApiKeepsTheListAndNoTagIsWritten) {
  registry_.EnableReferrersApi(true);
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  const AttachedBundle attached = Attach(image, SignedStatement(image.digest));
  EXPECT_TRUE(attached.listed_by_registry);
  auto tag = registry_.ReadReferrersTag(repo_, image.digest, std::nullopt);
  ASSERT_TRUE(tag.ok());
  EXPECT_EQ(tag->answer, oci::ReferrersTagAnswer::kAbsent);
  const BundleDiscovery discovery = Discover(image.digest);
  EXPECT_TRUE(discovery.referrers_api);
  ASSERT_EQ(discovery.bundles.size(), 1u);
  EXPECT_TRUE(Verify(discovery.bundles[0], image.digest).ok());
}

TEST_F(ImageBundleTest, CreatedDefaultsToNowInRfc3339Seconds) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  auto attached =
      AttachDsseBundle(registry_, Ref(image.DigestReference()), SignedStatement(image.digest),
                       keys_->public_pem, kCosignSignPredicateType, AttachOptions{});
  ASSERT_TRUE(attached.ok()) << attached.error().message();
  const BundleDiscovery discovery = Discover(image.digest);
  ASSERT_EQ(discovery.bundles.size(), 1u);
  const std::string created =
      discovery.bundles[0].manifest_annotations.at(std::string(kCreatedAnnotation));
  EXPECT_TRUE(std::regex_match(created, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")))
      << created;
}

TEST_F(ImageBundleTest, AttachNeedsADigestAndAnExistingImage) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  const DsseEnvelope envelope = SignedStatement(image.digest);
  auto by_tag = AttachDsseBundle(registry_, Ref(image.TagReference()), envelope, keys_->public_pem,
                                 kCosignSignPredicateType, {});
  ASSERT_FALSE(by_tag.ok());
  EXPECT_EQ(by_tag.error().code(), ErrorCode::kInvalidArgument);
  auto missing = AttachDsseBundle(registry_, Ref(repo_.Name() + "@sha256:" + std::string(64, 'c')),
                                  envelope, keys_->public_pem, kCosignSignPredicateType, {});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kImageNotFound);
  // Control: by digest it works.
  EXPECT_TRUE(AttachDsseBundle(registry_, Ref(image.DigestReference()), envelope, keys_->public_pem,
                               kCosignSignPredicateType, {})
                  .ok());
}

TEST_F(ImageBundleTest, BundleSignedByAnotherKeyFailsAndTheRightKeyAmongSeveralPasses) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  Attach(image, SignedStatement(image.digest, {}, other_keys_->signer.get()));
  const BundleDiscovery discovery = Discover(image.digest);
  ASSERT_EQ(discovery.bundles.size(), 1u);
  auto wrong = Verify(discovery.bundles[0], image.digest);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code(), ErrorCode::kVerificationFailed);
  EXPECT_NE(wrong.error().message().find("DSSE signature does not verify"), std::string::npos)
      << wrong.error().message();
  // Control: the signer's key, listed after a stranger's, passes.
  EXPECT_TRUE(
      Verify(discovery.bundles[0], image.digest, {}, {keys_->verifier, other_keys_->verifier})
          .ok());
}

TEST_F(ImageBundleTest, ReferrerOfAnotherImageListedUnderThisImagesTagIsSkipped) {
  const auto image_a = testing::PushRandomImage(registry_, repo_, "a");
  const auto image_b = testing::PushRandomImage(registry_, repo_, "b");
  const AttachedBundle for_a = Attach(image_a, SignedStatement(image_a.digest));
  // Someone copies A's referrer into B's fallback tag.
  auto manifest = registry_.GetManifest(repo_, for_a.referrer_digest);
  ASSERT_TRUE(manifest.ok());
  const std::string index =
      "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
      "\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"size\":" +
      std::to_string(manifest->bytes.size()) + ",\"digest\":\"" + for_a.referrer_digest + "\"}]}";
  ASSERT_TRUE(registry_
                  .PutManifest(repo_, oci::ReferrersTagFor(image_b.digest),
                               std::string(oci::kOciIndexMediaType), index)
                  .ok());
  const BundleDiscovery under_b = Discover(image_b.digest);
  EXPECT_TRUE(under_b.bundles.empty());
  ASSERT_EQ(under_b.skipped.size(), 1u);
  EXPECT_NE(under_b.skipped[0].find("subject is " + image_a.digest), std::string::npos)
      << under_b.skipped[0];
  // Control: under A it is found and verifies.
  const BundleDiscovery under_a = Discover(image_a.digest);
  ASSERT_EQ(under_a.bundles.size(), 1u);
  EXPECT_TRUE(Verify(under_a.bundles[0], image_a.digest).ok());
}

TEST_F(ImageBundleTest, StatementNamingAnotherImageFails) {
  const auto image_a = testing::PushRandomImage(registry_, repo_, "a");
  const auto image_b = testing::PushRandomImage(registry_, repo_, "b");
  // A bundle over B's digest, attached to A.
  Attach(image_a, SignedStatement(image_b.digest));
  Attach(image_b, SignedStatement(image_b.digest));
  const BundleDiscovery under_a = Discover(image_a.digest);
  ASSERT_EQ(under_a.bundles.size(), 1u);
  auto result = Verify(under_a.bundles[0], image_a.digest);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message().find("no subject"), std::string::npos)
      << result.error().message();
  // Control: B's own bundle verifies for B.
  const BundleDiscovery under_b = Discover(image_b.digest);
  ASSERT_EQ(under_b.bundles.size(), 1u);
  EXPECT_TRUE(Verify(under_b.bundles[0], image_b.digest).ok());
}

TEST_F(ImageBundleTest, WrongPayloadTypeIsRefused) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  const DsseEnvelope wrong = SignedStatement(image.digest, {}, nullptr, "application/json");
  Attach(image, wrong);
  const BundleDiscovery discovery = Discover(image.digest);
  EXPECT_TRUE(discovery.bundles.empty());
  ASSERT_EQ(discovery.skipped.size(), 1u);
  EXPECT_NE(discovery.skipped[0].find("payloadType"), std::string::npos) << discovery.skipped[0];
  // The check in VerifyImageBundle itself, for a bundle that got past parsing.
  FoundBundle found{"sha256:" + std::string(64, 'd'), {}, Bundle{}};
  found.bundle.content = wrong;
  auto result = Verify(found, image.digest);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message().find("payloadType"), std::string::npos);
  // Control: the in-toto type passes.
  found.bundle.content = SignedStatement(image.digest);
  EXPECT_TRUE(Verify(found, image.digest).ok());
}

TEST_F(ImageBundleTest, OtherBundleVersionsUnknownLayerTypesAndTwoLayersAreSkipped) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  const DsseEnvelope envelope = SignedStatement(image.digest);
  const std::string v03 = std::string(kBundleMediaTypeV03);
  const std::string v04 = "application/vnd.dev.sigstore.bundle.v0.4+json";
  const std::string good = BundleJson(envelope, v03);
  PushCustomReferrer(image, {{v04, BundleJson(envelope, v04)}});
  PushCustomReferrer(image, {{"application/vnd.example.sbom+json", good}});
  PushCustomReferrer(image, {{v03, good}, {v03, good + " "}});
  const std::string control = PushCustomReferrer(image, {{v03, good}});
  const BundleDiscovery discovery = Discover(image.digest);
  ASSERT_EQ(discovery.skipped.size(), 3u);
  std::string all;
  for (const std::string& reason : discovery.skipped) all += reason + "\n";
  EXPECT_NE(all.find("version 0.4 is not supported"), std::string::npos) << all;
  EXPECT_NE(all.find("is not a Sigstore bundle"), std::string::npos) << all;
  EXPECT_NE(all.find("2 layers"), std::string::npos) << all;
  // Control: the well-formed one-layer v0.3 referrer is found and verifies.
  ASSERT_EQ(discovery.bundles.size(), 1u);
  EXPECT_EQ(discovery.bundles[0].referrer_digest, control);
  EXPECT_TRUE(Verify(discovery.bundles[0], image.digest).ok());
}

TEST_F(ImageBundleTest, AnnotationsMustBeOnTheSubject) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  Attach(image, SignedStatement(image.digest, {{"env", "prod"}, {"team", "a"}}));
  const BundleDiscovery discovery = Discover(image.digest);
  ASSERT_EQ(discovery.bundles.size(), 1u);
  for (const auto& wanted : std::vector<std::map<std::string, std::string>>{
           {{"env", "dev"}}, {{"env", "prod"}, {"other", "x"}}}) {
    auto result = Verify(discovery.bundles[0], image.digest, wanted);
    ASSERT_FALSE(result.ok());
    EXPECT_NE(result.error().message().find("annotations"), std::string::npos);
  }
  // Controls: none, and a subset.
  EXPECT_TRUE(Verify(discovery.bundles[0], image.digest).ok());
  EXPECT_TRUE(Verify(discovery.bundles[0], image.digest, {{"team", "a"}}).ok());
}

TEST_F(ImageBundleTest, MessageSignatureBundlesAndMissingTlogAreRefused) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  FoundBundle found{"sha256:" + std::string(64, 'e'), {}, Bundle{}};
  found.bundle.content = MessageSignature{std::string(kHashSha256), "d", "s"};
  auto message = Verify(found, image.digest);
  ASSERT_FALSE(message.ok());
  EXPECT_NE(message.error().message().find("does not contain a DSSE envelope"), std::string::npos);

  found.bundle.content = SignedStatement(image.digest);
  auto strict = VerifyImageBundle(found, {keys_->verifier}, image.digest, {}, TlogPolicy::kRequire);
  ASSERT_FALSE(strict.ok());
  EXPECT_NE(strict.error().message().find("--insecure-ignore-tlog=true"), std::string::npos)
      << strict.error().message();
  // Control: the same bundle without the log requirement.
  EXPECT_TRUE(Verify(found, image.digest).ok());
}

TEST_F(ImageBundleTest, ListingErrorsAreErrorsAndAnEmptyRepositoryHasNoBundles) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  EXPECT_TRUE(Discover(image.digest).bundles.empty());
  registry_.ForceManifest(repo_, oci::ReferrersTagFor(image.digest),
                          std::string(oci::kOciManifestMediaType), image.manifest);
  auto not_index = DiscoverBundles(registry_, repo_, image.digest, std::nullopt, nullptr);
  ASSERT_FALSE(not_index.ok());
  EXPECT_EQ(not_index.error().code(), ErrorCode::kParse);
  registry_.SetDown(true);
  auto down = DiscoverBundles(registry_, repo_, image.digest, std::nullopt, nullptr);
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().code(), ErrorCode::kNetwork);
}

}  // namespace
}  // namespace signet::cosign

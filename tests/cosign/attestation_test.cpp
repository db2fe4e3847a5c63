#include "signet/cosign/attestation.h"

#include <gtest/gtest.h>

#include <set>

#include "signet/cosign/dsse.h"
#include "signet/cosign/image_bundle.h"
#include "signet/cosign/signature_manifest.h"
#include "signet/cosign/triangulate.h"
#include "signet/crypto/encoding.h"
#include "support/in_memory_registry.h"
#include "support/signature_fixtures.h"
#include "support/test_images.h"

namespace signet::cosign {
namespace {

oci::ImageReference Ref(const std::string& text) { return testing::ParseReferenceForTest(text); }

constexpr char kTimestamp[] = "2026-12-02T13:18:22Z";

TEST(MakeAttestationStatementTest, CustomWrapsTheFileTextAsCosignDoes) {
  // The statement cosign v3.1.2 signed for `attest --type custom` with a
  // predicate file "hello text\n" (decoded from a real run; protojson's
  // random spaces removed).
  const std::string digest =
      "sha256:ab13b55cc8867713cece9e6e8aa688f83c18890753a0d1d47de19fc80215a73e";
  auto statement = MakeAttestationStatement(
      "custom", "hello text\n", oci::Repository{"localhost:5077", "app2"}, digest, kTimestamp);
  ASSERT_TRUE(statement.ok()) << statement.error().message();
  auto bytes = MarshalStatement(*statement);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes,
            "{\"_type\":\"https://in-toto.io/Statement/v0.1\",\"subject\":[{\"name\":"
            "\"localhost:5077/app2\",\"digest\":{\"sha256\":"
            "\"ab13b55cc8867713cece9e6e8aa688f83c18890753a0d1d47de19fc80215a73e\"}}],"
            "\"predicateType\":\"https://cosign.sigstore.dev/attestation/v1\",\"predicate\":{"
            "\"Data\":\"hello text\\n\",\"Timestamp\":\"2026-12-02T13:18:22Z\"}}");
  // cosign wraps whenever the URI is its custom one, however it was spelled.
  auto by_uri =
      MakeAttestationStatement("https://cosign.sigstore.dev/attestation/v1", "hello text\n",
                               oci::Repository{"localhost:5077", "app2"}, digest, kTimestamp);
  ASSERT_TRUE(by_uri.ok());
  EXPECT_EQ(MarshalStatement(*by_uri).value(), *bytes);
}

TEST(MakeAttestationStatementTest, OtherTypesTakeTheFilesJsonObject) {
  const std::string digest = "sha256:" + std::string(64, 'a');
  const oci::Repository repo{"registry.test:5000", "team/app"};
  for (const auto& [type, uri] : std::vector<std::pair<std::string, std::string>>{
           {"slsaprovenance", "https://slsa.dev/provenance/v0.2"},
           {"slsaprovenance1", "https://slsa.dev/provenance/v1"},
           {"spdxjson", "https://spdx.dev/Document"},
           {"cyclonedx", "https://cyclonedx.org/bom"},
           {"vuln", "https://cosign.sigstore.dev/attestation/vuln/v1"},
           {"openvex", "https://openvex.dev/ns"},
           {"https://example.com/predicate/v1", "https://example.com/predicate/v1"}}) {
    auto statement = MakeAttestationStatement(type, R"({"b":{"id":"x"},"a":[1,2.5,"<&>"]})", repo,
                                              digest, kTimestamp);
    ASSERT_TRUE(statement.ok()) << type << ": " << statement.error().message();
    auto bytes = MarshalStatement(*statement);
    ASSERT_TRUE(bytes.ok());
    EXPECT_EQ(*bytes,
              "{\"_type\":\"https://in-toto.io/Statement/v0.1\",\"subject\":[{\"name\":"
              "\"registry.test:5000/team/app\",\"digest\":{\"sha256\":\"" +
                  std::string(64, 'a') + "\"}}],\"predicateType\":\"" + uri +
                  "\",\"predicate\":{\"a\":[1,2.5,\"<&>\"],\"b\":{\"id\":\"x\"}}}")
        << type;
  }
}

TEST(MakeAttestationStatementTest, RefusesWhatCosignRefusesOrSignetDoesNotWrite) {
  const std::string digest = "sha256:" + std::string(64, 'a');
  const oci::Repository repo{"registry.test:5000", "team/app"};
  // Positive control: the same inputs with a good type and content.
  EXPECT_TRUE(MakeAttestationStatement("cyclonedx", "{}", repo, digest, kTimestamp).ok());
  for (const auto& [type, content] : std::vector<std::pair<std::string, std::string>>{
           {"no-such-type", "{}"},
           {"spdx", "{}"},
           {"cyclonedx", "[1,2]"},
           {"cyclonedx", "not json"},
           {"custom", std::string("bad \xff utf-8")}}) {
    auto statement = MakeAttestationStatement(type, content, repo, digest, kTimestamp);
    ASSERT_FALSE(statement.ok()) << type << " " << content;
    EXPECT_EQ(statement.error().code(), ErrorCode::kInvalidArgument);
  }
  EXPECT_FALSE(MakeAttestationStatement("custom", "x", repo, "sha256:abc", kTimestamp).ok());
}

class AttestationTest : public testing::TwoKeyPairsTest {
 protected:
  AttestResult Attest(const std::string& reference, const std::string& type,
                      const std::string& predicate, const crypto::Signer* signer = nullptr,
                      AttestationFormat format = AttestationFormat::kLegacy) {
    AttestOptions options;
    options.format = format;
    options.type = type;
    options.predicate = predicate;
    options.timestamp = kTimestamp;
    auto result =
        AttestImage(registry_, Ref(reference), signer ? *signer : *keys_->signer, options);
    EXPECT_TRUE(result.ok()) << result.error().message();
    return result.ok() ? *result : AttestResult{};
  }

  Result<AttestationVerification> Verify(const std::string& reference, const std::string& type,
                                         const std::shared_ptr<const crypto::Verifier>& key) {
    VerifyAttestationOptions options;
    options.keys = {key};
    options.type = type;
    options.discovery = AttestationDiscovery::kLegacyOnly;
    return VerifyImageAttestations(registry_, Ref(reference), options);
  }

  SignatureManifest StoredAttestations(const std::string& digest) {
    auto manifest = registry_.GetManifest(repo_, ArtifactTag(digest, ArtifactType::kAttestation));
    EXPECT_TRUE(manifest.ok());
    if (!manifest.ok()) return {};
    auto parsed = ParseSignatureManifest(manifest->bytes, 1000);
    EXPECT_TRUE(parsed.ok());
    return parsed.ok() ? *parsed : SignatureManifest{};
  }

  // Writes `layers` (each an envelope JSON and its predicateType annotation)
  // as the ".att" manifest of `digest`, as cosign would.
  void PushAttestations(const std::string& digest,
                        const std::vector<std::pair<std::string, std::string>>& layers) {
    SignatureManifest manifest;
    for (const auto& [envelope, type] : layers) {
      SignatureLayer layer;
      layer.media_type = std::string(kDsseEnvelopeMediaType);
      layer.size = envelope.size();
      layer.digest = crypto::Sha256Digest(envelope);
      layer.annotations = {{std::string(kSignatureAnnotation), ""},
                           {std::string(kPredicateTypeAnnotation), type}};
      ASSERT_TRUE(registry_.PutBlob(repo_, layer.digest, envelope).ok());
      manifest.layers.push_back(layer);
    }
    const std::string config = MarshalSignatureConfig(manifest.layers);
    ASSERT_TRUE(registry_.PutBlob(repo_, crypto::Sha256Digest(config), config).ok());
    ASSERT_TRUE(registry_
                    .PutManifest(repo_, ArtifactTag(digest, ArtifactType::kAttestation),
                                 std::string(oci::kOciManifestMediaType),
                                 MarshalSignatureManifest(manifest, crypto::Sha256Digest(config),
                                                          config.size()))
                    .ok());
  }

  // An envelope over `statement`'s bytes signed by `signer`.
  std::string SignedEnvelope(const Statement& statement, const crypto::Signer& signer,
                             std::string_view payload_type = kInTotoPayloadType) {
    auto payload = MarshalStatement(statement);
    EXPECT_TRUE(payload.ok());
    auto envelope = SignDsse(signer, payload_type, *payload);
    EXPECT_TRUE(envelope.ok());
    return MarshalDsseEnvelope(*envelope);
  }

  testing::InMemoryRegistry registry_;
  oci::Repository repo_{"registry.test:5000", "team/app"};
};

TEST_F(AttestationTest, LegacyWritesCosignsAttLayerAndAppends) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  const AttestResult first = Attest(image.DigestReference(), "custom", "hello");
  EXPECT_EQ(first.digest, image.digest);
  EXPECT_EQ(first.predicate_type, kCosignCustomPredicateType);
  EXPECT_EQ(first.stored_at, repo_.Name() + ":sha256-" + image.digest.substr(7) + ".att");
  const AttestResult second =
      Attest(image.TagReference(), "slsaprovenance", R"({"builder":{"id":"b"}})");
  EXPECT_FALSE(second.tag_warning.empty());

  const SignatureManifest stored = StoredAttestations(image.digest);
  ASSERT_EQ(stored.layers.size(), 2u);
  const std::vector<std::pair<const AttestResult*, std::string>> expected = {
      {&first, "https://cosign.sigstore.dev/attestation/v1"},
      {&second, "https://slsa.dev/provenance/v0.2"}};
  for (std::size_t i = 0; i < 2; ++i) {
    const SignatureLayer& layer = stored.layers[i];
    EXPECT_EQ(layer.media_type, kDsseEnvelopeMediaType);
    EXPECT_EQ(layer.annotations,
              (std::map<std::string, std::string>{{"dev.cosignproject.cosign/signature", ""},
                                                  {"predicateType", expected[i].second}}));
    auto blob = registry_.GetBlob(repo_, layer.digest);
    ASSERT_TRUE(blob.ok());
    EXPECT_EQ(*blob, expected[i].first->envelope_json);
    auto json = nlohmann::json::parse(*blob);
    auto envelope = ParseDsseEnvelope(json, "envelope");
    ASSERT_TRUE(envelope.ok());
    EXPECT_EQ(envelope->payload, expected[i].first->payload);
    EXPECT_TRUE(VerifyDsseEnvelope(*envelope, *keys_->verifier).ok());
    EXPECT_FALSE(VerifyDsseEnvelope(*envelope, *other_keys_->verifier).ok());
  }
}

TEST_F(AttestationTest, VerifiesAndFiltersByPredicateType) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  Attest(image.DigestReference(), "custom", "hello");
  const AttestResult slsa =
      Attest(image.DigestReference(), "slsaprovenance", R"({"builder":{"id":"b"}})");

  auto verified = Verify(image.TagReference(), "slsaprovenance", keys_->verifier);
  ASSERT_TRUE(verified.ok()) << verified.error().message();
  EXPECT_EQ(verified->digest, image.digest);
  EXPECT_FALSE(verified->from_bundles);
  ASSERT_EQ(verified->matched.size(), 1u);
  EXPECT_EQ(verified->matched[0].envelope_json, slsa.envelope_json);
  EXPECT_EQ(verified->matched[0].payload, slsa.payload);
  EXPECT_EQ(verified->found_types,
            (std::vector<std::string>{"https://cosign.sigstore.dev/attestation/v1",
                                      "https://slsa.dev/provenance/v0.2"}));
  // The full URI selects the same one.
  auto by_uri =
      Verify(image.DigestReference(), "https://slsa.dev/provenance/v0.2", keys_->verifier);
  ASSERT_TRUE(by_uri.ok());
  ASSERT_EQ(by_uri->matched.size(), 1u);
  EXPECT_EQ(by_uri->matched[0].payload, slsa.payload);

  // Wrong type: the signatures verify, the type does not match.
  auto wrong = Verify(image.DigestReference(), "vuln", keys_->verifier);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code(), ErrorCode::kNoMatchingSignatures);
  EXPECT_EQ(wrong.error().message(),
            "none of the attestations matched the predicate type: vuln, found: "
            "https://cosign.sigstore.dev/attestation/v1,https://slsa.dev/provenance/v0.2");
}

TEST_F(AttestationTest, AnotherKeyFails) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  Attest(image.DigestReference(), "custom", "hello");
  ASSERT_TRUE(Verify(image.DigestReference(), "custom", keys_->verifier).ok());
  auto other = Verify(image.DigestReference(), "custom", other_keys_->verifier);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code(), ErrorCode::kNoMatchingSignatures);
  EXPECT_NE(other.error().message().find("no matching attestations:"), std::string::npos);
  EXPECT_NE(other.error().message().find("does not verify"), std::string::npos);
}

TEST_F(AttestationTest, NoAttestationsAtAll) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  auto none = Verify(image.DigestReference(), "custom", keys_->verifier);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), ErrorCode::kNoSignatures);
  // Positive control on the same image.
  Attest(image.DigestReference(), "custom", "hello");
  EXPECT_TRUE(Verify(image.DigestReference(), "custom", keys_->verifier).ok());
}

TEST_F(AttestationTest, StatementAboutAnotherImageFails) {
  const auto a = testing::PushRandomImage(registry_, repo_, "a");
  const auto b = testing::PushRandomImage(registry_, repo_, "b");
  const AttestResult of_a = Attest(a.DigestReference(), "custom", "about a");
  ASSERT_TRUE(Verify(a.DigestReference(), "custom", keys_->verifier).ok());
  // A's valid attestation copied under B's ".att" tag.
  PushAttestations(b.digest, {{of_a.envelope_json, of_a.predicate_type}});
  auto copied = Verify(b.DigestReference(), "custom", keys_->verifier);
  ASSERT_FALSE(copied.ok());
  EXPECT_EQ(copied.error().code(), ErrorCode::kNoMatchingSignatures);
  EXPECT_NE(copied.error().message().find("no subject with sha256 digest " + b.digest),
            std::string::npos)
      << copied.error().message();
}

TEST_F(AttestationTest, PredicateTypeComesFromTheSignedStatementNotTheAnnotation) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  auto statement = MakeAttestationStatement("custom", "x", repo_, image.digest, kTimestamp);
  ASSERT_TRUE(statement.ok());
  // The unsigned layer annotation claims SLSA provenance; the statement is custom.
  PushAttestations(image.digest, {{SignedEnvelope(*statement, *keys_->signer),
                                   "https://slsa.dev/provenance/v0.2"}});
  auto slsa = Verify(image.DigestReference(), "slsaprovenance", keys_->verifier);
  ASSERT_FALSE(slsa.ok());
  EXPECT_NE(slsa.error().message().find("found: https://cosign.sigstore.dev/attestation/v1"),
            std::string::npos);
  EXPECT_TRUE(Verify(image.DigestReference(), "custom", keys_->verifier).ok());
}

// cosign 2.x's `attest --type spdx` signs the predicate file as a JSON
// string (these bytes are its field order and escaping); cosign 2.x reads
// such an attestation back from the ".att" tag, and so does signet, for the
// CLI and for a policy that requires it.
TEST_F(AttestationTest, Cosign2SpdxTextPredicatesVerifyFromTheAttTag) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  auto statement_with = [&](const std::string& predicate) {
    return R"({"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://spdx.dev/)"
           R"(Document","subject":[{"name":"registry.test:5000/team/app","digest":{"sha256":")" +
           image.digest.substr(7) + R"("}}],"predicate":)" + predicate + "}";
  };
  auto envelope_of = [&](const std::string& payload) {
    auto envelope = SignDsse(*keys_->signer, kInTotoPayloadType, payload);
    EXPECT_TRUE(envelope.ok());
    return envelope.ok() ? MarshalDsseEnvelope(*envelope) : std::string();
  };
  VerifyAttestationOptions require;
  require.keys = {keys_->verifier};
  require.discovery = AttestationDiscovery::kLegacyOnly;

  // A predicate that is neither an object nor a string is still refused.
  PushAttestations(image.digest, {{envelope_of(statement_with("42")), "https://spdx.dev/Document"}});
  auto number = Verify(image.DigestReference(), "spdx", keys_->verifier);
  ASSERT_FALSE(number.ok());
  EXPECT_NE(number.error().message().find("neither a JSON object nor a string"), std::string::npos)
      << number.error().message();
  EXPECT_FALSE(RequireAttestations(registry_, Ref(image.DigestReference()), {"spdx"}, require).ok());

  PushAttestations(image.digest,
                   {{envelope_of(statement_with(R"("SPDXVersion: SPDX-2.3\nName: \u003cx\u003e\n")")),
                     "https://spdx.dev/Document"}});
  auto text = Verify(image.DigestReference(), "spdx", keys_->verifier);
  ASSERT_TRUE(text.ok()) << text.error().message();
  ASSERT_EQ(text->matched.size(), 1u);
  EXPECT_EQ(text->matched[0].statement.predicate, "SPDXVersion: SPDX-2.3\nName: <x>\n");
  EXPECT_TRUE(RequireAttestations(registry_, Ref(image.DigestReference()), {"spdx"}, require).ok());
  // Another key still fails.
  EXPECT_FALSE(Verify(image.DigestReference(), "spdx", other_keys_->verifier).ok());
}

TEST_F(AttestationTest, WrongPayloadTypeFails) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  auto statement = MakeAttestationStatement("custom", "x", repo_, image.digest, kTimestamp);
  ASSERT_TRUE(statement.ok());
  PushAttestations(image.digest, {{SignedEnvelope(*statement, *keys_->signer, "application/json"),
                                   std::string(kCosignCustomPredicateType)}});
  auto wrong = Verify(image.DigestReference(), "custom", keys_->verifier);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message().find("payloadType \"application/json\""), std::string::npos);
  // Control: the same statement with the in-toto payload type.
  PushAttestations(image.digest, {{SignedEnvelope(*statement, *keys_->signer),
                                   std::string(kCosignCustomPredicateType)}});
  EXPECT_TRUE(Verify(image.DigestReference(), "custom", keys_->verifier).ok());
}

TEST_F(AttestationTest, TamperedBlobIsARegistryFailure) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  const AttestResult result = Attest(image.DigestReference(), "custom", "hello");
  ASSERT_TRUE(Verify(image.DigestReference(), "custom", keys_->verifier).ok());
  std::string tampered = result.envelope_json;
  tampered.back() = ' ';
  registry_.CorruptBlob(repo_, crypto::Sha256Digest(result.envelope_json), tampered);
  auto bad = Verify(image.DigestReference(), "custom", keys_->verifier);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kDigestMismatch) << bad.error().message();
}

TEST_F(AttestationTest, BadTypeAndMissingKeyAreRefused) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  Attest(image.DigestReference(), "custom", "hello");
  EXPECT_EQ(Verify(image.DigestReference(), "not a type", keys_->verifier).error().code(),
            ErrorCode::kInvalidArgument);
  VerifyAttestationOptions options;
  options.type = "custom";
  EXPECT_EQ(
      VerifyImageAttestations(registry_, Ref(image.DigestReference()), options).error().code(),
      ErrorCode::kInvalidArgument);
}

// The bundle form, on a registry with the referrers API and on one without
// (the fallback tag).
class BundleAttestationTest : public AttestationTest, public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override { registry_.EnableReferrersApi(GetParam()); }

  AttestResult AttestBundle(const std::string& reference, const std::string& type,
                            const std::string& predicate, const crypto::Signer* signer = nullptr) {
    return Attest(reference, type, predicate, signer, AttestationFormat::kBundle);
  }

  Result<AttestationVerification> VerifyBundles(const std::string& reference,
                                                const std::string& type,
                                                const std::shared_ptr<const crypto::Verifier>& key,
                                                bool ignore_tlog = true) {
    VerifyAttestationOptions options;
    options.keys = {key};
    options.type = type;
    options.insecure_ignore_tlog = ignore_tlog;
    return VerifyImageAttestations(registry_, Ref(reference), options);
  }

  // Attaches `statement`, signed by `signer`, as a bundle referrer of `subject`.
  void AttachStatement(const std::string& subject, const Statement& statement,
                       const crypto::Signer& signer) {
    auto payload = MarshalStatement(statement);
    ASSERT_TRUE(payload.ok());
    auto envelope = SignDsse(signer, kInTotoPayloadType, *payload);
    ASSERT_TRUE(envelope.ok());
    auto attached = AttachDsseBundle(registry_, Ref(subject), *envelope, signer.PublicKeyPem(),
                                     statement.predicate_type, {});
    ASSERT_TRUE(attached.ok()) << attached.error().message();
  }
};

TEST_P(BundleAttestationTest, RoundTripAndTypeFilter) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  const AttestResult custom = AttestBundle(image.DigestReference(), "custom", "hello");
  EXPECT_EQ(custom.stored_at.rfind(repo_.Name() + "@sha256:", 0), 0u) << custom.stored_at;
  const AttestResult slsa =
      AttestBundle(image.DigestReference(), "slsaprovenance", R"({"builder":{"id":"b"}})");
  // No ".att" tag is written.
  EXPECT_EQ(registry_.GetManifest(repo_, ArtifactTag(image.digest, ArtifactType::kAttestation))
                .error()
                .code(),
            ErrorCode::kNotFound);
  // The referrer manifest names the predicate type, as cosign's does.
  auto discovery = DiscoverBundles(registry_, repo_, image.digest, std::nullopt, nullptr);
  ASSERT_TRUE(discovery.ok());
  ASSERT_EQ(discovery->bundles.size(), 2u);
  std::set<std::string> annotated;
  for (const FoundBundle& found : discovery->bundles) {
    annotated.insert(found.manifest_annotations.at("dev.sigstore.bundle.predicateType"));
  }
  EXPECT_EQ(annotated, (std::set<std::string>{"https://cosign.sigstore.dev/attestation/v1",
                                              "https://slsa.dev/provenance/v0.2"}));

  auto verified = VerifyBundles(image.TagReference(), "slsaprovenance", keys_->verifier);
  ASSERT_TRUE(verified.ok()) << verified.error().message();
  EXPECT_TRUE(verified->from_bundles);
  ASSERT_EQ(verified->matched.size(), 1u);
  EXPECT_EQ(verified->matched[0].payload, slsa.payload);
  EXPECT_EQ(verified->matched[0].envelope_json, slsa.envelope_json);
  EXPECT_EQ(verified->found_types.size(), 2u);

  auto wrong = VerifyBundles(image.DigestReference(), "vuln", keys_->verifier);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().message().rfind(
                "none of the attestations matched the predicate type: vuln, found: ", 0),
            0u)
      << wrong.error().message();
  // Without --insecure-ignore-tlog the bundles (which have no log entry) fail.
  auto strict = VerifyBundles(image.DigestReference(), "slsaprovenance", keys_->verifier, false);
  ASSERT_FALSE(strict.ok());
  EXPECT_NE(strict.error().message().find("--insecure-ignore-tlog"), std::string::npos)
      << strict.error().message();
}

TEST_P(BundleAttestationTest, SignBundleIsNoSlsaProvenance) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  AttachStatement(image.DigestReference(), MakeCosignSignStatement(image.digest, {}),
                  *keys_->signer);
  auto only_sign = VerifyBundles(image.DigestReference(), "slsaprovenance", keys_->verifier);
  ASSERT_FALSE(only_sign.ok());
  EXPECT_EQ(only_sign.error().message(),
            "none of the attestations matched the predicate type: slsaprovenance, found: "
            "https://sigstore.dev/cosign/sign/v1");
  // Positive control: with a provenance attestation beside it, only that one matches.
  const AttestResult slsa =
      AttestBundle(image.DigestReference(), "slsaprovenance", R"({"builder":{"id":"b"}})");
  auto both = VerifyBundles(image.DigestReference(), "slsaprovenance", keys_->verifier);
  ASSERT_TRUE(both.ok()) << both.error().message();
  ASSERT_EQ(both->matched.size(), 1u);
  EXPECT_EQ(both->matched[0].payload, slsa.payload);
}

TEST_P(BundleAttestationTest, AnotherKeyFails) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  AttestBundle(image.DigestReference(), "slsaprovenance", R"({"builder":{"id":"b"}})",
               other_keys_->signer.get());
  auto other = VerifyBundles(image.DigestReference(), "slsaprovenance", keys_->verifier);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code(), ErrorCode::kNoMatchingSignatures);
  EXPECT_EQ(other.error().message().rfind("no matching attestations: ", 0), 0u);
  EXPECT_TRUE(VerifyBundles(image.DigestReference(), "slsaprovenance", other_keys_->verifier).ok());
}

TEST_P(BundleAttestationTest, StatementAboutAnotherImageFails) {
  const auto a = testing::PushRandomImage(registry_, repo_, "a");
  const auto b = testing::PushRandomImage(registry_, repo_, "b");
  auto about_a = MakeAttestationStatement("slsaprovenance", R"({"builder":{"id":"b"}})", repo_,
                                          a.digest, kTimestamp);
  ASSERT_TRUE(about_a.ok());
  // A's statement, validly signed, attached as a referrer of B.
  AttachStatement(b.DigestReference(), *about_a, *keys_->signer);
  auto copied = VerifyBundles(b.DigestReference(), "slsaprovenance", keys_->verifier);
  ASSERT_FALSE(copied.ok());
  EXPECT_EQ(copied.error().code(), ErrorCode::kNoMatchingSignatures);
  // Control: the same statement attached to A verifies.
  AttachStatement(a.DigestReference(), *about_a, *keys_->signer);
  EXPECT_TRUE(VerifyBundles(a.DigestReference(), "slsaprovenance", keys_->verifier).ok());
}

TEST_P(BundleAttestationTest, BundlesTakePrecedenceOverTheAttTagAsInCosign) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  Attest(image.DigestReference(), "custom", "legacy");  // the ".att" tag
  ASSERT_TRUE(VerifyBundles(image.DigestReference(), "custom", keys_->verifier).ok());
  AttestBundle(image.DigestReference(), "slsaprovenance", R"({"builder":{"id":"b"}})");
  // Once a bundle exists only bundles count; --new-bundle-format=false reads the tag.
  auto bundles_only = VerifyBundles(image.DigestReference(), "custom", keys_->verifier);
  ASSERT_FALSE(bundles_only.ok());
  EXPECT_NE(bundles_only.error().message().find("found: https://slsa.dev/provenance/v0.2"),
            std::string::npos);
  auto legacy = Verify(image.DigestReference(), "custom", keys_->verifier);
  ASSERT_TRUE(legacy.ok()) << legacy.error().message();
  EXPECT_FALSE(legacy->from_bundles);
}

TEST_P(BundleAttestationTest, RequireAttestationsNeedsEveryType) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  AttachStatement(image.DigestReference(), MakeCosignSignStatement(image.digest, {}),
                  *keys_->signer);
  VerifyAttestationOptions options;
  options.keys = {keys_->verifier};
  options.insecure_ignore_tlog = true;
  const auto ref = Ref(image.DigestReference());
  // A signature alone is no provenance.
  auto before = RequireAttestations(registry_, ref, {"slsaprovenance"}, options);
  ASSERT_FALSE(before.ok());
  EXPECT_NE(before.error().message().find("predicate type: slsaprovenance, found: "
                                          "https://sigstore.dev/cosign/sign/v1"),
            std::string::npos)
      << before.error().message();
  AttestBundle(image.DigestReference(), "slsaprovenance", R"({"builder":{"id":"b"}})");
  EXPECT_TRUE(RequireAttestations(registry_, ref, {"slsaprovenance"}, options).ok());
  EXPECT_TRUE(
      RequireAttestations(registry_, ref, {"https://slsa.dev/provenance/v0.2"}, options).ok());
  EXPECT_TRUE(RequireAttestations(registry_, ref, {}, options).ok());
  auto two = RequireAttestations(registry_, ref, {"slsaprovenance", "cyclonedx"}, options);
  ASSERT_FALSE(two.ok());
  EXPECT_NE(two.error().message().find("predicate type: cyclonedx"), std::string::npos);
  EXPECT_EQ(RequireAttestations(registry_, ref, {"no such type"}, options).error().code(),
            ErrorCode::kInvalidArgument);
  // The policy's keys decide: with another key nothing verifies.
  options.keys = {other_keys_->verifier};
  auto other = RequireAttestations(registry_, ref, {"slsaprovenance"}, options);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().message().rfind("no matching attestations: ", 0), 0u);
}

TEST_P(BundleAttestationTest, FailedDiscoveryDecidesWhenAskedAndNoLegacyAttestationVerifies) {
  const auto attested = testing::PushRandomImage(registry_, repo_, "v1");
  Attest(attested.DigestReference(), "slsaprovenance", R"({"builder":{"id":"b"}})");
  const auto bare = testing::PushRandomImage(registry_, repo_, "v2");
  VerifyAttestationOptions cosign_options;
  cosign_options.keys = {keys_->verifier};
  cosign_options.insecure_ignore_tlog = true;
  VerifyAttestationOptions provider_options = cosign_options;
  provider_options.discovery_failure_fails = true;
  // Control: with the referrers route answering, the bare image has no
  // attestations in both modes.
  for (const VerifyAttestationOptions& options : {cosign_options, provider_options}) {
    auto none =
        RequireAttestations(registry_, Ref(bare.DigestReference()), {"slsaprovenance"}, options);
    ASSERT_FALSE(none.ok());
    EXPECT_EQ(none.error().code(), ErrorCode::kNoSignatures) << none.error().message();
  }
  registry_.FailReferrers(true);
  // The legacy ".att" attestation still verifies in both modes.
  for (const VerifyAttestationOptions& options : {cosign_options, provider_options}) {
    auto found = RequireAttestations(registry_, Ref(attested.DigestReference()), {"slsaprovenance"},
                                     options);
    EXPECT_TRUE(found.ok()) << found.error().message();
  }
  // cosign's behaviour: the legacy result decides and names the failure.
  auto cosign_like = RequireAttestations(registry_, Ref(bare.DigestReference()), {"slsaprovenance"},
                                         cosign_options);
  ASSERT_FALSE(cosign_like.ok());
  EXPECT_EQ(cosign_like.error().code(), ErrorCode::kNoSignatures);
  EXPECT_NE(cosign_like.error().message().find("bundle discovery failed too"), std::string::npos)
      << cosign_like.error().message();
  // The provider's: the registry failure decides, never "no attestations".
  auto strict = RequireAttestations(registry_, Ref(bare.DigestReference()), {"slsaprovenance"},
                                    provider_options);
  ASSERT_FALSE(strict.ok());
  EXPECT_EQ(strict.error().code(), ErrorCode::kNetwork) << strict.error().message();
  EXPECT_NE(strict.error().message().find("discovering Sigstore bundle attestations of"),
            std::string::npos)
      << strict.error().message();
}

TEST_P(BundleAttestationTest, UnavailableAttestationLookupsKeepTheStatus) {
  const auto image = testing::PushRandomImage(registry_, repo_, "v1");
  Attest(image.DigestReference(), "slsaprovenance", R"({"builder":{"id":"b"}})");
  VerifyAttestationOptions cosign_options;
  cosign_options.keys = {keys_->verifier};
  cosign_options.insecure_ignore_tlog = true;
  VerifyAttestationOptions provider_options = cosign_options;
  provider_options.discovery_failure_fails = true;
  // Control: reachable, the ".att" attestation verifies in both modes.
  for (const VerifyAttestationOptions& options : {cosign_options, provider_options}) {
    auto found =
        RequireAttestations(registry_, Ref(image.DigestReference()), {"slsaprovenance"}, options);
    EXPECT_TRUE(found.ok()) << found.error().message();
  }
  // Every sha256-... tag answers 503 (the ".att" tag, and the fallback tag
  // where there is no referrers API): the 503 reaches the caller in both
  // modes, so that the provider sees an unavailable registry.
  registry_.FailArtifactTags(503);
  for (const VerifyAttestationOptions& options : {cosign_options, provider_options}) {
    auto failed =
        RequireAttestations(registry_, Ref(image.DigestReference()), {"slsaprovenance"}, options);
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.error().http_status(), 503) << failed.error().message();
  }
}

INSTANTIATE_TEST_SUITE_P(ReferrersApi, BundleAttestationTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "WithReferrersApi" : "FallbackTag";
                         });

}  // namespace
}  // namespace signet::cosign

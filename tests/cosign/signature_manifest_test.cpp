#include "signet/cosign/signature_manifest.h"

#include <gtest/gtest.h>

#include "signet/crypto/encoding.h"
#include "signet/crypto/keys.h"
#include "support/paths.h"
#include "support/process.h"
#include "support/signature_fixtures.h"

namespace signet::cosign {
namespace {

std::string Data(const std::string& name) {
  return testing::ReadFile(testing::TestDataDir() + "/cosign/" + name);
}

std::unique_ptr<crypto::Verifier> FixtureKey() {
  auto key = crypto::LoadPublicKeyFile(testing::TestDataDir() +
                                       "/cosign/containers-image-fixtures-cosign.pub");
  EXPECT_TRUE(key.ok()) << key.error().message();
  return std::move(*key);
}

TEST(SignatureManifestTest, ReproducesCosignConfigAndManifestByteForByte) {
  const auto fixture = testing::ReadSigstoreJsonFixture(
      "containers-image-fixtures-dir-img-cosign-valid_signature-1");
  const std::string* signature = nullptr;
  ASSERT_EQ(fixture.annotations.count(std::string(kSignatureAnnotation)), 1u);
  signature = &fixture.annotations.at(std::string(kSignatureAnnotation));

  SignatureManifest manifest;
  auto appended = AppendSignatureLayer(manifest, MakeSignatureLayer(fixture.payload, *signature),
                                       fixture.payload, *FixtureKey(), 1000);
  ASSERT_TRUE(appended.ok());
  EXPECT_TRUE(*appended);

  const std::string config = MarshalSignatureConfig(manifest.layers);
  EXPECT_EQ(config, Data("reconstructed-cosign-layout.config.json"));
  EXPECT_EQ(crypto::Sha256Digest(config),
            "sha256:be321600a5bd794947dce257829a2f08c21b05dde3edf84706faf6f2ae0f5f60");
  EXPECT_EQ(config.size(), 233u);

  const std::string bytes =
      MarshalSignatureManifest(manifest, crypto::Sha256Digest(config), config.size());
  EXPECT_EQ(bytes, Data("reconstructed-cosign-layout.manifest.json"));
  EXPECT_EQ(crypto::Sha256Digest(bytes),
            "sha256:4e9e18b27581f5046e09644e683cae2a55187345ca64be139bc2d53e12be04c0");
}

TEST(SignatureManifestTest, ParseAndReserialiseIsIdentityForCosignManifest) {
  const std::string original = Data("reconstructed-cosign-layout.manifest.json");
  auto parsed = ParseSignatureManifest(original, 1000);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  ASSERT_EQ(parsed->layers.size(), 1u);
  EXPECT_EQ(parsed->layers[0].size, 261u);
  EXPECT_EQ(
      MarshalSignatureManifest(
          *parsed, "sha256:be321600a5bd794947dce257829a2f08c21b05dde3edf84706faf6f2ae0f5f60", 233),
      original);
}

TEST(SignatureManifestTest, AppendKeepsExistingLayersByteForByte) {
  const std::string original = Data("reconstructed-cosign-layout.manifest.json");
  auto manifest = ParseSignatureManifest(original, 1000);
  ASSERT_TRUE(manifest.ok());
  const auto pair = testing::GenerateTestKeyPair();
  const std::string payload = "{\"other\":true}";
  auto signature = pair.signer->Sign(payload);
  ASSERT_TRUE(signature.ok());
  auto appended =
      AppendSignatureLayer(*manifest, MakeSignatureLayer(payload, crypto::Base64Encode(*signature)),
                           payload, *pair.verifier, 1000);
  ASSERT_TRUE(appended.ok());
  EXPECT_TRUE(*appended);
  ASSERT_EQ(manifest->layers.size(), 2u);

  const std::string config = MarshalSignatureConfig(manifest->layers);
  const std::string bytes =
      MarshalSignatureManifest(*manifest, crypto::Sha256Digest(config), config.size());
  // The first layer descriptor is the original text, followed by the new one.
  const std::string first_layer = original.substr(original.find("\"layers\":[") + 10);
  const std::string first_descriptor = first_layer.substr(0, first_layer.size() - 2);  // "]}"
  EXPECT_NE(bytes.find("\"layers\":[" + first_descriptor + ",{\"mediaType\":"), std::string::npos)
      << bytes;
  EXPECT_NE(config.find("\"history\":[{\"created\":\"0001-01-01T00:00:00Z\"},{\"created\":"
                        "\"0001-01-01T00:00:00Z\"}]"),
            std::string::npos);
}

TEST(SignatureManifestTest, ReorderedForeignDescriptorIsReEmittedInCosignOrder) {
  const std::string containers_image = Data("reconstructed-containers-image-layout.manifest.json");
  auto parsed = ParseSignatureManifest(containers_image, 1000);
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(parsed->layers.size(), 1u);
  EXPECT_EQ(parsed->layers[0].descriptor_json.rfind("{\"mediaType\":", 0), 0u);
  EXPECT_LT(parsed->layers[0].descriptor_json.find("\"size\""),
            parsed->layers[0].descriptor_json.find("\"digest\""));
}

TEST(SignatureManifestTest, IdenticalSignatureIsNotAppendedTwice) {
  const auto fixture = testing::ReadSigstoreJsonFixture(
      "containers-image-fixtures-dir-img-cosign-valid_signature-1");
  const auto second = testing::ReadSigstoreJsonFixture(
      "containers-image-fixtures-dir-img-cosign-valid-2_signature-2");
  ASSERT_EQ(fixture.payload, second.payload);
  auto manifest = ParseSignatureManifest(Data("reconstructed-cosign-layout.manifest.json"), 1000);
  ASSERT_TRUE(manifest.ok());
  const auto key = FixtureKey();
  // Same payload, a different (randomised) signature by the same key: cosign dedupes.
  auto appended = AppendSignatureLayer(
      *manifest,
      MakeSignatureLayer(second.payload, second.annotations.at(std::string(kSignatureAnnotation))),
      second.payload, *key, 1000);
  ASSERT_TRUE(appended.ok());
  EXPECT_FALSE(*appended);
  EXPECT_EQ(manifest->layers.size(), 1u);

  // The same payload signed by another key is a new signature.
  const auto other = testing::GenerateTestKeyPair();
  auto signature = other.signer->Sign(second.payload);
  ASSERT_TRUE(signature.ok());
  appended = AppendSignatureLayer(
      *manifest, MakeSignatureLayer(second.payload, crypto::Base64Encode(*signature)),
      second.payload, *other.verifier, 1000);
  ASSERT_TRUE(appended.ok());
  EXPECT_TRUE(*appended);
  EXPECT_EQ(manifest->layers.size(), 2u);
}

// cosign answers "exceeded max depth"; signet used to recurse until SIGSEGV
// re-serialising annotations or a layer's platform.
TEST(SignatureManifestTest, DeepNestingIsRefusedNotRecursedInto) {
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  const std::string layer =
      R"({"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","size":1,)"
      R"("digest":"sha256:00")";
  for (const std::string& bytes :
       {R"({"schemaVersion":2,"layers":[],"annotations":{"a":)" + deep + "}}",
        R"({"schemaVersion":2,"layers":[)" + layer + R"(,"platform":{"x":)" + deep + "}}]}"}) {
    auto parsed = ParseSignatureManifest(bytes, 1000);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.error().code(), ErrorCode::kTooLarge);
    EXPECT_EQ(parsed.error().message(), "signature manifest: exceeds max nesting depth 64");
  }
  // Positive control: nesting within the limit is re-marshalled as Go does.
  auto parsed = ParseSignatureManifest(R"({"schemaVersion":2,"layers":[)" + layer +
                                           R"(,"platform":{"x":[[{"b":1,"a":2}]]}}],)"
                                           R"("annotations":{"n":[[["v"]]]}})",
                                       1000);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_EQ(parsed->annotations_json, R"({"n":[[["v"]]]})");
  EXPECT_NE(parsed->layers[0].descriptor_json.find(R"("platform":{"x":[[{"a":2,"b":1}]]})"),
            std::string::npos)
      << parsed->layers[0].descriptor_json;
}

TEST(SignatureManifestTest, LayerCapOnParseAndAppend) {
  SignatureManifest manifest;
  for (int i = 0; i < 1000; ++i) {
    manifest.layers.push_back(MakeSignatureLayer("payload " + std::to_string(i), "c2ln"));
  }
  const std::string bytes = MarshalSignatureManifest(manifest, "sha256:00", 2);
  EXPECT_TRUE(ParseSignatureManifest(bytes, 1000).ok());
  auto too_many = ParseSignatureManifest(bytes, 999);
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.error().code(), ErrorCode::kTooLarge);

  const auto pair = testing::GenerateTestKeyPair();
  auto appended = AppendSignatureLayer(manifest, MakeSignatureLayer("new", "c2ln"), "new",
                                       *pair.verifier, 1000);
  ASSERT_FALSE(appended.ok());
  EXPECT_EQ(appended.error().code(), ErrorCode::kTooLarge);
}

TEST(SignatureManifestTest, RejectsMalformedManifests) {
  EXPECT_EQ(ParseSignatureManifest("{", 10).error().code(), ErrorCode::kParse);
  EXPECT_EQ(ParseSignatureManifest(R"({"layers":{}})", 10).error().code(), ErrorCode::kParse);
  EXPECT_EQ(ParseSignatureManifest(R"({"layers":[{"size":-1}]})", 10).error().code(),
            ErrorCode::kParse);
  EXPECT_EQ(ParseSignatureManifest(R"({"layers":[{"annotations":{"a":1}}]})", 10).error().code(),
            ErrorCode::kParse);
}

}  // namespace
}  // namespace signet::cosign

#include "signet/oci/manifest.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "support/paths.h"

namespace signet::oci {
namespace {

std::string ReadVector(const std::string& name) {
  std::ifstream in(signet::testing::TestDataDir() + "/cosign/" + name, std::ios::binary);
  EXPECT_TRUE(in) << name;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

const std::string kHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const std::string kDigest = "sha256:" + kHex;

std::string ManifestWithLayer(const std::string& layer) {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
         R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":2,"digest":")" +
         kDigest + R"("},"layers":[)" + layer + "]}";
}

TEST(ManifestTest, ParsesDockerManifestVector) {
  auto m = ParseImageManifest(
      ReadVector("containers-image-fixtures-dir-img-cosign-key-rekor-valid_manifest.json"));
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(m->schema_version, 2);
  EXPECT_EQ(m->media_type, kDockerManifestMediaType);
  EXPECT_EQ(m->config.media_type, "application/vnd.docker.container.image.v1+json");
  EXPECT_EQ(m->config.size, 1508);
  EXPECT_EQ(m->config.digest,
            "sha256:3b0f78b718417dfa432fd8da26d0e3ac4ca3566d0825b0d2b056ccc4dd29e644");
  ASSERT_EQ(m->layers.size(), 1u);
  EXPECT_EQ(m->layers[0].size, 2568440);
  EXPECT_TRUE(m->layers[0].annotations.empty());
}

TEST(ManifestTest, ParsesCosignSignatureManifestVector) {
  auto m = ParseImageManifest(ReadVector("reconstructed-cosign-layout.manifest.json"));
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(m->media_type, kOciManifestMediaType);
  EXPECT_EQ(m->config.media_type, kOciConfigMediaType);
  ASSERT_EQ(m->layers.size(), 1u);
  const Descriptor& layer = m->layers[0];
  EXPECT_EQ(layer.media_type, "application/vnd.dev.cosign.simplesigning.v1+json");
  EXPECT_EQ(layer.size, 261);
  EXPECT_EQ(layer.digest,
            "sha256:cf482371b51a7633b3f02e29b87fc3f4a18b3f127af61cb114af5f2c04fcdd75");
  ASSERT_EQ(layer.annotations.count("dev.cosignproject.cosign/signature"), 1u);
  EXPECT_EQ(layer.annotations.at("dev.cosignproject.cosign/signature").substr(0, 8), "MEYCIQDm");
  EXPECT_FALSE(layer.platform.has_value());
}

TEST(ManifestTest, ManifestVectorIsNotAnIndex) {
  std::string bytes = ReadVector("reconstructed-containers-image-layout.manifest.json");
  auto is_index = IsIndexDocument("", bytes);
  ASSERT_TRUE(is_index.ok());
  EXPECT_FALSE(*is_index);
  auto as_index = ParseImageIndex(bytes);
  ASSERT_FALSE(as_index.ok());
  EXPECT_NE(as_index.error().message().find("mediaType"), std::string::npos);
}

TEST(ManifestTest, ParsesIndexWithPlatforms) {
  std::string index =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)"
      R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","size":500,"digest":")" +
      kDigest +
      R"(","platform":{"architecture":"amd64","os":"linux"}},)"
      R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","size":501,"digest":")" +
      kDigest +
      R"(","platform":{"architecture":"arm64","os":"linux","variant":"v8"},"annotations":{"k":"v"}}]})";
  auto parsed = ParseImageIndex(index);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  ASSERT_EQ(parsed->manifests.size(), 2u);
  ASSERT_TRUE(parsed->manifests[1].platform.has_value());
  EXPECT_EQ(parsed->manifests[1].platform->architecture, "arm64");
  EXPECT_EQ(parsed->manifests[1].platform->variant, "v8");
  EXPECT_EQ(parsed->manifests[1].annotations.at("k"), "v");
  EXPECT_EQ(parsed->manifests[0].platform->variant, "");
  auto is_index = IsIndexDocument("", index);
  ASSERT_TRUE(is_index.ok());
  EXPECT_TRUE(*is_index);
  EXPECT_TRUE(*IsIndexDocument("application/vnd.docker.distribution.manifest.list.v2+json", "{}"));

  auto as_manifest = ParseImageManifest(index);
  ASSERT_FALSE(as_manifest.ok());
}

TEST(ManifestTest, IndexWithoutMediaTypeIsDetectedByManifestsField) {
  std::string index = R"({"schemaVersion":2,"manifests":[]})";
  EXPECT_TRUE(*IsIndexDocument("application/json", index));
  EXPECT_TRUE(ParseImageIndex(index).ok());
}

struct BadManifestCase {
  std::string name;
  std::string bytes;
  ErrorCode code;
  std::string message_part;
};

class BadManifestTest : public ::testing::TestWithParam<BadManifestCase> {};

TEST_P(BadManifestTest, Rejected) {
  const BadManifestCase& c = GetParam();
  auto m = ParseImageManifest(c.bytes, ManifestLimits{4096, 3});
  ASSERT_FALSE(m.ok()) << c.name;
  EXPECT_EQ(m.error().code(), c.code) << c.name << ": " << m.error().message();
  EXPECT_NE(m.error().message().find(c.message_part), std::string::npos)
      << c.name << ": " << m.error().message();
}

const std::string kLayer =
    R"({"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","size":3,"digest":")" +
    kDigest + R"("})";

INSTANTIATE_TEST_SUITE_P(
    Table, BadManifestTest,
    ::testing::Values(
        BadManifestCase{"not json", "{", ErrorCode::kParse, "invalid JSON"},
        BadManifestCase{"array", "[]", ErrorCode::kParse, "not a JSON object"},
        BadManifestCase{"schema 1", R"({"schemaVersion":1,"config":{},"layers":[]})",
                        ErrorCode::kParse, "\"schemaVersion\" must be 2"},
        BadManifestCase{"schema string", R"({"schemaVersion":"2"})", ErrorCode::kParse,
                        "schemaVersion"},
        BadManifestCase{"no schema", R"({"layers":[]})", ErrorCode::kParse,
                        "\"schemaVersion\" is required"},
        BadManifestCase{"no config", R"({"schemaVersion":2,"layers":[]})", ErrorCode::kParse,
                        "\"config\" is required"},
        BadManifestCase{"no layers",
                        R"({"schemaVersion":2,"config":{"mediaType":"a","size":1,"digest":")" +
                            kDigest + R"("}})",
                        ErrorCode::kParse, "\"layers\" is required"},
        BadManifestCase{"layers not array",
                        R"({"schemaVersion":2,"config":{"mediaType":"a","size":1,"digest":")" +
                            kDigest + R"("},"layers":{}})",
                        ErrorCode::kParse, "must be an array"},
        BadManifestCase{"wrong media type",
                        R"({"schemaVersion":2,"mediaType":"text/plain","config":{},"layers":[]})",
                        ErrorCode::kParse, "unexpected \"mediaType\" \"text/plain\""},
        BadManifestCase{
            "negative size",
            ManifestWithLayer(R"({"mediaType":"a","size":-1,"digest":")" + kDigest + R"("})"),
            ErrorCode::kParse, "layers[0]: \"size\" must not be negative"},
        BadManifestCase{
            "float size",
            ManifestWithLayer(R"({"mediaType":"a","size":1.5,"digest":")" + kDigest + R"("})"),
            ErrorCode::kParse, "\"size\" must be an integer"},
        BadManifestCase{
            "string size",
            ManifestWithLayer(R"({"mediaType":"a","size":"1","digest":")" + kDigest + R"("})"),
            ErrorCode::kParse, "\"size\" must be an integer"},
        BadManifestCase{"missing size",
                        ManifestWithLayer(R"({"mediaType":"a","digest":")" + kDigest + R"("})"),
                        ErrorCode::kParse, "\"size\" is required"},
        BadManifestCase{"short digest",
                        ManifestWithLayer(R"({"mediaType":"a","size":1,"digest":"sha256:abc"})"),
                        ErrorCode::kParse, "layers[0]: \"digest\" \"sha256:abc\""},
        BadManifestCase{"uppercase digest",
                        ManifestWithLayer(R"({"mediaType":"a","size":1,"digest":"sha256:)" +
                                          std::string(64, 'A') + R"("})"),
                        ErrorCode::kParse, "\"digest\""},
        BadManifestCase{"missing media type",
                        ManifestWithLayer(R"({"size":1,"digest":")" + kDigest + R"("})"),
                        ErrorCode::kParse, "\"mediaType\" is required"},
        BadManifestCase{"annotation not string",
                        ManifestWithLayer(R"({"mediaType":"a","size":1,"digest":")" + kDigest +
                                          R"(","annotations":{"k":1}})"),
                        ErrorCode::kParse, "annotation \"k\" must have a string value"},
        BadManifestCase{"annotations not object",
                        ManifestWithLayer(R"({"mediaType":"a","size":1,"digest":")" + kDigest +
                                          R"(","annotations":[]})"),
                        ErrorCode::kParse, "\"annotations\" must be an object"},
        BadManifestCase{"layer not object", ManifestWithLayer("7"), ErrorCode::kParse,
                        "layers[0]: descriptor must be an object"},
        BadManifestCase{"second layer bad", ManifestWithLayer(kLayer + ",{}"), ErrorCode::kParse,
                        "layers[1]"},
        BadManifestCase{"too many layers",
                        ManifestWithLayer(kLayer + "," + kLayer + "," + kLayer + "," + kLayer),
                        ErrorCode::kTooLarge, "4 entries in \"layers\", over the cap of 3"},
        BadManifestCase{"too many bytes", ManifestWithLayer(std::string(5000, ' ') + kLayer),
                        ErrorCode::kTooLarge, "over the cap of 4096"},
        BadManifestCase{"is an index",
                        R"({"schemaVersion":2,"manifests":[],"config":{},"layers":[]})",
                        ErrorCode::kParse, "it is an index"}));

// A registry's manifest nested 200,000 deep (in the header, a platform or
// annotations) is refused before any DOM is built, never walked recursively.
TEST(ManifestTest, DeepNestingIsRefusedBeforeParsing) {
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  const std::string documents[] = {
      R"({"schemaVersion":)" + deep + "}",
      ManifestWithLayer(R"({"mediaType":"a","size":1,"digest":")" + kDigest +
                        R"(","platform":{"architecture":"amd64","os":"linux","x":)" + deep + "}}"),
  };
  for (const std::string& bytes : documents) {
    for (auto parse : {+[](std::string_view b) { return ParseImageManifest(b).ok(); },
                       +[](std::string_view b) { return ParseImageIndex(b).ok(); },
                       +[](std::string_view b) { return IsIndexDocument("", b).ok(); }}) {
      EXPECT_FALSE(parse(bytes));
    }
    auto m = ParseImageManifest(bytes);
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.error().code(), ErrorCode::kTooLarge);
    EXPECT_EQ(m.error().message(), "image manifest: exceeds max nesting depth 64");
  }
  // Within the limit, a container in schemaVersion is named, not printed.
  auto shallow = ParseImageManifest(R"({"schemaVersion":[[2]]})");
  ASSERT_FALSE(shallow.ok());
  EXPECT_EQ(shallow.error().message(), "image manifest: \"schemaVersion\" must be 2, got array");
  // Positive control: a platform nested within the limit still parses.
  auto ok = ParseImageManifest(
      ManifestWithLayer(R"({"mediaType":"a","size":1,"digest":")" + kDigest +
                        R"(","platform":{"architecture":"amd64","os":"linux","x":[[[[{}]]]]}})"));
  EXPECT_TRUE(ok.ok()) << ok.error().message();
}

TEST(ManifestTest, AcceptsManifestWithinCaps) {
  auto m = ParseImageManifest(ManifestWithLayer(kLayer + "," + kLayer + "," + kLayer),
                              ManifestLimits{4096, 3});
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(m->layers.size(), 3u);
}

TEST(ManifestTest, IndexPlatformRequiresArchitectureAndOs) {
  std::string index = R"({"schemaVersion":2,"manifests":[{"mediaType":"a","size":1,"digest":")" +
                      kDigest + R"(","platform":{"os":"linux"}}]})";
  auto parsed = ParseImageIndex(index);
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().message().find("manifests[0] platform"), std::string::npos)
      << parsed.error().message();
}

TEST(ManifestTest, UnsupportedMediaTypeIsNotGuessed) {
  auto kind = IsIndexDocument("", R"({"schemaVersion":2,"mediaType":"application/x-foo"})");
  ASSERT_FALSE(kind.ok());
  EXPECT_EQ(kind.error().code(), ErrorCode::kUnsupported);
}

}  // namespace
}  // namespace signet::oci

#include "signet/cosign/payload.h"

#include <gtest/gtest.h>

#include "signet/cosign/go_json.h"
#include "support/paths.h"
#include "support/process.h"

namespace signet::cosign {
namespace {

constexpr char kDigest[] =
    "sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00";

TEST(PayloadTest, NoAnnotationsGivesOptionalNull) {
  EXPECT_EQ(MarshalPayload("index.docker.io/namespace/image", kDigest, {}),
            std::string(
                R"({"critical":{"identity":{"docker-reference":"index.docker.io/namespace/image"},)"
                R"("image":{"docker-manifest-digest":")") +
                kDigest + R"("},"type":"cosign container image signature"},"optional":null})");
}

TEST(PayloadTest, ReproducesGenuineCosignPayloadBytes) {
  const std::string expected = testing::ReadFile(
      testing::TestDataDir() + "/cosign/reconstructed-cosign-layout.payload.json");
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(MarshalPayload("192.168.64.2:5000/cosign-signed-single-sample", kDigest, {}), expected);
}

TEST(PayloadTest, AnnotationsAreEscapedLikeGo) {
  const std::string payload = MarshalPayload("r/x", kDigest, {{"a", "x<y>&"}});
  EXPECT_NE(payload.find(R"("optional":{"a":"x\u003cy\u003e\u0026"}})"), std::string::npos)
      << payload;
}

TEST(PayloadTest, AnnotationKeysSortedBytewise) {
  const std::string payload =
      MarshalPayload("r/x", kDigest, {{"b", "2"}, {"B", "1"}, {"a", "3"}, {"\xc3\xa9", "4"}});
  EXPECT_NE(payload.find("\"optional\":{\"B\":\"1\",\"a\":\"3\",\"b\":\"2\",\"\xc3\xa9\":\"4\"}}"),
            std::string::npos)
      << payload;
}

TEST(GoJsonTest, QuotesLikeEncodingJson) {
  EXPECT_EQ(GoJsonQuote("plain"), "\"plain\"");
  EXPECT_EQ(GoJsonQuote("q\"b\\"), R"("q\"b\\")");
  EXPECT_EQ(GoJsonQuote("\n\r\t\b\f"), R"("\n\r\t\b\f")");
  EXPECT_EQ(GoJsonQuote(std::string("\x01\x1f\x7f", 3)), "\"\\u0001\\u001f\x7f\"");
  EXPECT_EQ(GoJsonQuote(std::string("\0", 1)), R"("\u0000")");
  EXPECT_EQ(GoJsonQuote("<>&"), R"("\u003c\u003e\u0026")");
  EXPECT_EQ(GoJsonQuote("\xe2\x80\xa8\xe2\x80\xa9"), R"("\u2028\u2029")");
  EXPECT_EQ(GoJsonQuote("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"),
            "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");       // valid UTF-8 stays raw
  EXPECT_EQ(GoJsonQuote("\xef\xbf\xbd"), "\"\xef\xbf\xbd\"");  // a real U+FFFD stays raw
}

TEST(GoJsonTest, InvalidUtf8BecomesReplacementPerByte) {
  EXPECT_EQ(GoJsonQuote("a\xff"
                        "b"),
            R"("a\ufffdb")");
  EXPECT_EQ(GoJsonQuote("\xe2\x82"), R"("\ufffd\ufffd")");                      // truncated
  EXPECT_EQ(GoJsonQuote("\xc0\xaf"), R"("\ufffd\ufffd")");                      // overlong
  EXPECT_EQ(GoJsonQuote("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");            // surrogate
  EXPECT_EQ(GoJsonQuote("\xf4\x90\x80\x80"), R"("\ufffd\ufffd\ufffd\ufffd")");  // > U+10FFFF
}

TEST(GoJsonTest, MarshalsInterfaceValuesLikeGo) {
  const auto value = nlohmann::json::parse(
      R"({"z":1657296609,"a":[true,null,8.314],"m":{"y":"<","b":0.0000001},"big":1e21})");
  EXPECT_EQ(GoMarshal(value).value(),
            R"({"a":[true,null,8.314],"big":1e+21,"m":{"b":1e-7,"y":"\u003c"},"z":1657296609})");
}

TEST(PayloadParseTest, ReadsCosignPayload) {
  auto parsed = ParsePayload(MarshalPayload("reg/repo", kDigest, {{"k", "v"}}));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_EQ(parsed->docker_reference, "reg/repo");
  EXPECT_EQ(parsed->docker_manifest_digest, kDigest);
  EXPECT_EQ(parsed->type, kSimpleSigningType);
  ASSERT_TRUE(parsed->optional.has_value());
  EXPECT_EQ(parsed->optional->at("k"), "v");
}

TEST(PayloadParseTest, KeysAreCaseInsensitiveAndUnknownFieldsIgnored) {
  auto parsed = ParsePayload(
      R"({"CRITICAL":{"Identity":{"Docker-Reference":"r/x"},"IMAGE":{"docker-MANIFEST-digest":"sha256:aa"},"Type":"cosign container image signature","extra":1},"other":[1],"Optional":null})");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_EQ(parsed->docker_reference, "r/x");
  EXPECT_EQ(parsed->docker_manifest_digest, "sha256:aa");
  EXPECT_EQ(parsed->type, kSimpleSigningType);
  EXPECT_FALSE(parsed->optional.has_value());
}

// Go's encoding/json matches a struct field through U+017F and U+212A too.
TEST(PayloadParseTest, KeysFoldLikeGoIncludingLongSAndKelvin) {
  auto parsed = ParsePayload(
      "{\"critical\":{\"identity\":{\"doc\xe2\x84\xaa"
      "er-reference\":\"r/x\"},"
      "\"image\":{\"docker-manife\xc5\xbft-digest\":\"sha256:aa\"},"
      "\"type\":\"cosign container image signature\"}}");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_EQ(parsed->docker_reference, "r/x");
  EXPECT_EQ(parsed->docker_manifest_digest, "sha256:aa");
}

// The three layouts cosign (Go: last match in document order, duplicate
// objects merged) reads differently from a sorted-key DOM: all refused.
TEST(PayloadParseTest, KeysThatFoldAlikeAreRefusedAtEveryLevel) {
  const std::string kType = R"("type":"cosign container image signature")";
  const std::string kIdentity = R"("identity":{"docker-reference":"r/x"})";
  const std::string layouts[] = {
      // exact docker-manifest-digest followed by Docker-Manifest-Digest
      R"({"critical":{)" + kIdentity +
          R"(,"image":{"docker-manifest-digest":"sha256:aa","Docker-Manifest-Digest":"sha256:bb"},)" +
          kType + "}}",
      // image{...} followed by Image{...}
      R"({"critical":{)" + kIdentity +
          R"(,"image":{"docker-manifest-digest":"sha256:aa"},"Image":{"docker-manifest-digest":"sha256:bb"},)" +
          kType + "}}",
      // critical{...} followed by Critical{...}
      R"({"critical":{)" + kIdentity + R"(,"image":{"docker-manifest-digest":"sha256:aa"},)" +
          kType + R"(},"Critical":{"image":{"docker-manifest-digest":"sha256:bb"}}})",
      // the same through U+017F, and a duplicate inside optional
      "{\"critical\":{" + kIdentity +
          ",\"image\":{\"docker-manifest-digest\":\"sha256:aa\","
          "\"docker-manife\xc5\xbft-digest\":\"sha256:bb\"}," +
          kType + "}}",
      R"({"critical":{)" + kIdentity + R"(,"image":{"docker-manifest-digest":"sha256:aa"},)" +
          kType + R"(},"optional":{"k":"1","K":"2"}})",
  };
  for (const std::string& layout : layouts) {
    auto parsed = ParsePayload(layout);
    ASSERT_FALSE(parsed.ok()) << layout;
    EXPECT_EQ(parsed.error().code(), ErrorCode::kParse);
    EXPECT_NE(parsed.error().message().find("payload: duplicate key"), std::string::npos)
        << parsed.error().message();
  }
  // Positive control: the same document without the second key.
  auto parsed = ParsePayload(R"({"critical":{)" + kIdentity +
                             R"(,"image":{"docker-manifest-digest":"sha256:aa"},)" + kType +
                             R"(},"optional":{"k":"1","kk":"2"}})");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_EQ(parsed->docker_manifest_digest, "sha256:aa");
}

TEST(PayloadParseTest, CriticalTypeMustBeCosignContainerImageSignature) {
  const std::string kRest =
      R"("identity":{"docker-reference":"r/x"},"image":{"docker-manifest-digest":"sha256:aa"})";
  for (const std::string& type : {std::string(R"(,"type":"atomic container signature")"),
                                  std::string(R"(,"type":"")"), std::string()}) {
    auto parsed = ParsePayload(R"({"critical":{)" + kRest + type + "}}");
    ASSERT_FALSE(parsed.ok()) << type;
    EXPECT_EQ(parsed.error().code(), ErrorCode::kParse);
    EXPECT_NE(parsed.error().message().find("critical.type"), std::string::npos);
  }
  EXPECT_FALSE(ParsePayload(R"({"optional":null})").ok());  // no critical at all
  auto parsed =
      ParsePayload(R"({"critical":{)" + kRest + R"(,"type":"cosign container image signature"}})");
  EXPECT_TRUE(parsed.ok()) << parsed.error().message();
}

TEST(PayloadParseTest, DeeplyNestedOptionalIsRefusedNotRecursedInto) {
  const std::string prefix = MarshalPayload("r/x", "sha256:aa", {});
  std::string payload = prefix.substr(0, prefix.size() - std::string("null}").size());
  payload += R"({"x":)" + std::string(200000, '[') + std::string(200000, ']') + "}}";
  auto parsed = ParsePayload(payload);
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().message().find("exceeds max nesting depth"), std::string::npos);
  // Positive control: a nested optional value within the limit.
  payload =
      prefix.substr(0, prefix.size() - std::string("null}").size()) + R"({"x":[[[{"y":1}]]]}})";
  auto ok = ParsePayload(payload);
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  EXPECT_EQ(ok->optional_json, R"({"x":[[[{"y":1}]]]})");
}

TEST(PayloadParseTest, ReMarshalNormalisesContainersImagePayload) {
  const std::string input =
      R"({"critical":{"type":"cosign container image signature","image":{"docker-manifest-digest":"sha256:aa"},"identity":{"docker-reference":"r/x:tag"}},"optional":{"timestamp":1657296609,"creator":"containers/image 5.21.2-dev"}})";
  auto parsed = ParsePayload(input);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->optional->count("timestamp"), 0u);  // not a string: cannot match -a
  EXPECT_EQ(
      MarshalPayload(*parsed),
      R"({"critical":{"identity":{"docker-reference":"r/x:tag"},"image":{"docker-manifest-digest":"sha256:aa"},"type":"cosign container image signature"},"optional":{"creator":"containers/image 5.21.2-dev","timestamp":1657296609}})");
}

TEST(PayloadParseTest, RejectsWrongTypes) {
  EXPECT_EQ(ParsePayload("not json").error().code(), ErrorCode::kParse);
  EXPECT_EQ(ParsePayload("[1]").error().code(), ErrorCode::kParse);
  EXPECT_EQ(ParsePayload(R"({"critical":"x"})").error().code(), ErrorCode::kParse);
  EXPECT_EQ(ParsePayload(R"({"critical":{"image":{"docker-manifest-digest":5}}})").error().code(),
            ErrorCode::kParse);
  EXPECT_EQ(ParsePayload(R"({"optional":"x"})").error().code(), ErrorCode::kParse);
}

}  // namespace
}  // namespace signet::cosign

// ParseBoundedJson: the shared parse of every untrusted JSON document.
#include "signet/bounded_json.h"

#include <gtest/gtest.h>

#include "signet/cosign/go_json.h"

namespace signet {
namespace {

std::string Nested(std::size_t depth, std::string_view inner = "") {
  return std::string(depth, '[') + std::string(inner) + std::string(depth, ']');
}

TEST(BoundedJsonTest, NestingAtTheLimitParses) {
  auto parsed = ParseBoundedJson(Nested(kMaxJsonDepth, "1"), "doc");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_TRUE(parsed->is_array());
}

TEST(BoundedJsonTest, NestingPastTheLimitIsRefusedWithItsReason) {
  for (const std::string& text :
       {Nested(kMaxJsonDepth + 1), std::string(200000, '['), std::string(1 << 20, '['),
        R"({"a":)" + Nested(kMaxJsonDepth) + "}"}) {
    auto parsed = ParseBoundedJson(text, "doc");
    ASSERT_FALSE(parsed.ok()) << text.size();
    EXPECT_EQ(parsed.error().code(), ErrorCode::kTooLarge);
    EXPECT_EQ(parsed.error().message(),
              "doc: exceeds max nesting depth " + std::to_string(kMaxJsonDepth));
  }
}

TEST(BoundedJsonTest, BracketsInsideStringsAreNotNesting) {
  const std::string text = R"({"a":")" + std::string(1000, '[') + R"(\"[{"})";
  auto parsed = ParseBoundedJson(text, "doc");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_EQ(parsed->at("a").get<std::string>().size(), 1003u);  // 1000 + "\"[{"
}

TEST(BoundedJsonTest, TokenCountIsCapped) {
  const JsonLimits limits{.max_depth = kMaxJsonDepth, .max_tokens = 10};
  const JsonParseOptions options{.limits = limits, .duplicate_keys = DuplicateKeys::kAllow};
  EXPECT_TRUE(ParseBoundedJson(R"({"a":[1,2,3],"b":true})", "doc", options).ok());  // 8 tokens
  auto parsed = ParseBoundedJson(R"([1,2,3,4,5,6,7,8,9,10])", "doc", options);      // 11
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code(), ErrorCode::kTooLarge);
  EXPECT_EQ(parsed.error().message(), "doc: has more than 10 JSON tokens");
}

TEST(BoundedJsonTest, SyntaxErrorsAreParseErrors) {
  auto parsed = ParseBoundedJson("{", "doc");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code(), ErrorCode::kParse);
  EXPECT_EQ(parsed.error().message().rfind("doc: invalid JSON: ", 0), 0u);
  EXPECT_FALSE(ParseBoundedJson("]]]]", "doc").ok());
}

TEST(BoundedJsonTest, GoFoldedDuplicateKeysAreRefusedOnlyWhenAsked) {
  const JsonParseOptions strict{.limits = {}, .duplicate_keys = DuplicateKeys::kRejectGoFolded};
  const char* duplicates[] = {
      R"({"a":1,"a":2})",
      R"({"x":{"Key":1,"kEY":2}})",
      R"([{"ok":1},{"s":1,"\u017f":2}])",  // U+017F long s folds to s
      "{\"k\":1,\"\xe2\x84\xaa\":2}",      // U+212A Kelvin sign folds to k
      R"({"o":{"a":1},"O":{"b":2}})",
  };
  for (const char* text : duplicates) {
    auto parsed = ParseBoundedJson(text, "doc", strict);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.error().code(), ErrorCode::kParse);
    EXPECT_NE(parsed.error().message().find("duplicate key"), std::string::npos);
    EXPECT_TRUE(ParseBoundedJson(text, "doc").ok()) << text;  // the default keeps JSON's rule
  }
  // Positive control: equal keys in different objects, and keys that differ.
  for (const char* text : {R"({"a":{"a":1},"b":[{"a":1},{"a":2}],"A1":{"ab":1,"ba":2}})",
                           "{\"s\":1,\"\xc5\xbf\xc5\xbf\":2,\"\xc3\xa9\":3,\"\xc3\x89\":4}"}) {
    auto parsed = ParseBoundedJson(text, "doc", strict);
    EXPECT_TRUE(parsed.ok()) << text << ": " << parsed.error().message();
  }
}

TEST(BoundedJsonTest, GoFoldKeyFoldsAsciiLongSAndKelvin) {
  EXPECT_EQ(GoFoldKey("Docker-Manifest-Digest"), "docker-manifest-digest");
  EXPECT_EQ(GoFoldKey("docker-manife\xc5\xbft-digest"), "docker-manifest-digest");
  EXPECT_EQ(GoFoldKey("\xe2\x84\xaa"), "k");
  EXPECT_EQ(GoFoldKey("\xc3\x89"), "\xc3\x89");
}

TEST(GoMarshalDepthTest, DeepValuesAreRefusedNotRecursedInto) {
  nlohmann::json deep = nlohmann::json::array();
  for (std::size_t i = 0; i < 100000; ++i) {
    nlohmann::json outer = nlohmann::json::array();
    outer.push_back(std::move(deep));
    deep = std::move(outer);
  }
  auto marshalled = cosign::GoMarshal(deep);
  ASSERT_FALSE(marshalled.ok());
  EXPECT_EQ(marshalled.error().message(),
            "exceeds max nesting depth " + std::to_string(cosign::kMaxGoMarshalDepth));
  // Positive control: the deepest a bounded parse lets through.
  auto bounded = ParseBoundedJson(Nested(kMaxJsonDepth, "1"), "doc");
  ASSERT_TRUE(bounded.ok());
  auto ok = cosign::GoMarshal(*bounded);
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  EXPECT_EQ(*ok, Nested(kMaxJsonDepth, "1"));
}

}  // namespace
}  // namespace signet

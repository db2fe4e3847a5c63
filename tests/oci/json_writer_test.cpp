// DumpJson / AppendJsonString: the same bytes as nlohmann's dump(-1, ' ',
// false, replace), for the strings that take the fast path and for those
// that nlohmann escapes.
#include "signet/json_writer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace signet {
namespace {

std::string Reference(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

const std::vector<std::string>& Strings() {
  static const std::vector<std::string> strings = {
      "",
      "registry.example/team/app@sha256:" + std::string(64, 'a'),
      "plain text with spaces ~!#$%&'()*+,-./:;<=>?@[]^_`{|}",
      "quote \" inside",
      "back\\slash",
      "tab\tnew\nline\rform\fback\b",
      std::string("nul \0 byte", 10),
      "\x01\x1f control",
      "del \x7f",
      "caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x94\x91",  // valid UTF-8, 2, 3 and 4 bytes
      "bad \xc3\x28 utf8",                          // invalid continuation byte
      "\xff\xfe lone bytes",
      "truncated \xe2\x82",  // sequence cut at the end
      "\xed\xa0\x80 surrogate",
  };
  return strings;
}

TEST(JsonWriterTest, StringsAreTheBytesNlohmannWrites) {
  for (const std::string& text : Strings()) {
    std::string out = "prefix";
    AppendJsonString(out, text);
    EXPECT_EQ(out, "prefix" + Reference(nlohmann::json(text))) << text;
  }
}

TEST(JsonWriterTest, FastPathCopiesPrintableAscii) {
  std::string out;
  AppendJsonString(out, "a/b:c@sha256:0");
  EXPECT_EQ(out, "\"a/b:c@sha256:0\"");
  // Negative control: a quote is escaped, not copied.
  out.clear();
  AppendJsonString(out, "a\"b");
  EXPECT_EQ(out, "\"a\\\"b\"");
}

TEST(JsonWriterTest, EveryByteAtEveryPositionIsEscapedAsNlohmannDoes) {
  // Strings are scanned eight bytes at a time: every byte value, in every
  // lane and in the tail of a 19-byte string.
  for (int byte = 0; byte < 256; ++byte) {
    for (std::size_t position = 0; position < 19; ++position) {
      std::string text(19, 'a');
      text[position] = static_cast<char>(byte);
      std::string out;
      AppendJsonString(out, text);
      ASSERT_EQ(out, Reference(nlohmann::json(text))) << byte << " at " << position;
    }
  }
}

TEST(JsonWriterTest, ValuesAreTheBytesNlohmannWrites) {
  nlohmann::json images = nlohmann::json::array();
  for (const std::string& text : Strings()) {
    images.push_back({{"key", text}, {"cached", true}, {"decision", "valid"}, {text, text}});
  }
  const std::vector<nlohmann::json> values = {
      nullptr,
      true,
      false,
      0,
      -42,
      std::uint64_t{18446744073709551615u},
      std::int64_t{-9223372036854775807 - 1},
      0.1,
      1.5e300,
      -0.0,
      12.345678901234,
      nlohmann::json::object(),
      nlohmann::json::array(),
      nlohmann::json::array({nlohmann::json::object(), nlohmann::json::array(), 1, "x"}),
      {{"event", "provider_request"},
       {"duration_ms", 0.123},
       {"images", images},
       {"nested", {{"a", {{"b", {1, 2, {{"c", nullptr}}}}}}}}},
      nlohmann::json::binary({1, 2, 3}),
  };
  for (const auto& value : values) {
    EXPECT_EQ(DumpJson(value), Reference(value)) << Reference(value);
  }
}

}  // namespace
}  // namespace signet

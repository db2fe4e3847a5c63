#include "signet/provider/protocol.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/paths.h"
#include "support/process.h"

namespace signet::provider {
namespace {

std::string GatekeeperFile(const std::string& name) {
  return signet::testing::ReadFile(signet::testing::TestDataDir() + "/gatekeeper/" + name);
}

TEST(ProtocolTest, ParsesV1beta1RequestFromTestData) {
  const std::string body = GatekeeperFile("provider-request-v1beta1.json");
  ASSERT_FALSE(body.empty());
  auto request = ParseProviderRequest(body, 1000);
  ASSERT_TRUE(request.ok()) << request.error().message();
  EXPECT_EQ(request->api_version, "externaldata.gatekeeper.sh/v1beta1");
  EXPECT_EQ(request->keys,
            (std::vector<std::string>{"nginx:1.25", "docker.io/library/busybox:latest",
                                      "error_test/image:latest"}));
}

TEST(ProtocolTest, ParsesLegacyV1alpha1Request) {
  const std::string body = GatekeeperFile("provider-request-v1alpha1-legacy.json");
  ASSERT_FALSE(body.empty());
  auto request = ParseProviderRequest(body, 1000);
  ASSERT_TRUE(request.ok()) << request.error().message();
  EXPECT_EQ(request->api_version, "externaldata.gatekeeper.sh/v1alpha1");
  EXPECT_EQ(request->keys, std::vector<std::string>{"nginx:1.25"});
}

TEST(ProtocolTest, NeverRejectsOnApiVersion) {
  auto request = ParseProviderRequest(
      R"({"apiVersion":"externaldata.gatekeeper.sh/v9","kind":"Whatever","request":{"keys":["a"]}})",
      10);
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->keys.size(), 1u);
}

TEST(ProtocolTest, KeepsOrderAndDuplicatesAndDecodesEscapes) {
  auto request = ParseProviderRequest(R"({"request":{"keys":["b","a","b","x\u003cy"]}})", 10);
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->keys, (std::vector<std::string>{"b", "a", "b", "x<y"}));
}

TEST(ProtocolTest, WholeRequestFailures) {
  struct Case {
    std::string body;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {"not json", "unable to unmarshal request body"},
      {"[1,2]", "unable to unmarshal request body"},
      {R"({"request":{"keys":"nginx"}})", "unable to unmarshal request body"},
      {R"({"request":{"keys":[1]}})", "request.keys[0] is not a string"},
      {R"({"request":{"keys":[]}})", "request has no keys"},
      {R"({"request":{}})", "request has no keys"},
      {R"({"apiVersion":"externaldata.gatekeeper.sh/v1beta1"})", "request has no keys"},
      {R"({"request":{"keys":["a","b","c"]}})", "too many keys: 3 (the limit is 2)"},
  };
  for (const auto& c : cases) {
    auto request = ParseProviderRequest(c.body, 2);
    ASSERT_FALSE(request.ok()) << c.body;
    EXPECT_NE(request.error().message().find(c.message_part), std::string::npos)
        << c.body << " -> " << request.error().message();
  }
}

TEST(ProtocolTest, SerialisesItemsInOrderWithValuesAndErrors) {
  ProviderResponse response;
  response.items.push_back({"b", std::string("reg/b@sha256:1"), ""});
  response.items.push_back({"a", std::nullopt, "a_invalid: no signatures found"});
  response.items.push_back({"b", std::string("reg/b@sha256:1"), ""});
  const auto json = nlohmann::json::parse(SerializeProviderResponse(response));
  EXPECT_EQ(json["apiVersion"], "externaldata.gatekeeper.sh/v1beta1");
  EXPECT_EQ(json["kind"], "ProviderResponse");
  ASSERT_EQ(json["response"]["items"].size(), 3u);
  EXPECT_EQ(json["response"]["items"][0]["key"], "b");
  EXPECT_EQ(json["response"]["items"][0]["value"], "reg/b@sha256:1");
  EXPECT_FALSE(json["response"]["items"][0].contains("error"));
  EXPECT_EQ(json["response"]["items"][1]["error"], "a_invalid: no signatures found");
  EXPECT_FALSE(json["response"]["items"][1].contains("value"));
  EXPECT_FALSE(json["response"].contains("systemError"));
  EXPECT_FALSE(json["response"].contains("idempotent"));
}

// The answer's bytes are those of the equivalent nlohmann::json, dumped
// compactly (members sorted by key, invalid UTF-8 replaced).
std::string DomSerialised(const ProviderResponse& response) {
  nlohmann::json inner = nlohmann::json::object();
  if (response.idempotent) inner["idempotent"] = true;
  nlohmann::json items = nlohmann::json::array();
  for (const auto& item : response.items) {
    nlohmann::json entry = {{"key", item.key}};
    if (!item.error.empty()) {
      entry["error"] = item.error;
    } else if (item.value) {
      entry["value"] = *item.value;
    }
    items.push_back(std::move(entry));
  }
  if (!response.items.empty()) inner["items"] = std::move(items);
  if (!response.system_error.empty()) inner["systemError"] = response.system_error;
  const nlohmann::json document = {
      {"apiVersion", kResponseApiVersion}, {"kind", kResponseKind}, {"response", std::move(inner)}};
  return document.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

TEST(ProtocolTest, SerialisedBytesAreThoseOfTheJsonDocument) {
  std::vector<ProviderResponse> responses;
  responses.emplace_back();  // nothing at all: "response":{}
  responses.push_back(SystemErrorResponse("too many keys: 3 (the limit is 2)"));
  responses.push_back(SystemErrorResponse("quote \" and \x01", true));
  ProviderResponse mixed;
  mixed.idempotent = true;
  mixed.items.push_back({"reg/a:1", std::string("reg/a@sha256:" + std::string(64, 'e')), ""});
  mixed.items.push_back({"bad \xc3\x28 key", std::nullopt, "bad \xc3\x28 key_invalid: x"});
  mixed.items.push_back({"caf\xc3\xa9\t\"", std::nullopt, ""});  // neither value nor error
  mixed.items.push_back({"", std::string(""), ""});
  mixed.system_error = "and a system error";
  responses.push_back(mixed);
  for (const auto& response : responses) {
    EXPECT_EQ(SerializeProviderResponse(response), DomSerialised(response));
  }
  // Positive control of the comparison: a change in one byte is seen.
  ProviderResponse changed = mixed;
  changed.items[0].key = "reg/a:2";
  EXPECT_NE(SerializeProviderResponse(changed), DomSerialised(mixed));
}

TEST(ProtocolTest, SystemErrorResponseMatchesTestDataShape) {
  const auto expected =
      nlohmann::json::parse(GatekeeperFile("provider-response-system-error.json"));
  const auto actual = nlohmann::json::parse(
      SerializeProviderResponse(SystemErrorResponse("testing system error", true)));
  EXPECT_EQ(actual, expected);
}

TEST(ProtocolTest, MutationResponseMatchesTestDataShape) {
  const auto expected =
      nlohmann::json::parse(GatekeeperFile("provider-response-mutation-assign-image.json"));
  ProviderResponse response;
  response.idempotent = true;
  response.items.push_back({"nginx", std::string("nginx:v1.2.3"), ""});
  EXPECT_EQ(nlohmann::json::parse(SerializeProviderResponse(response)), expected);
}

// A body of nested brackets is refused by a scan, before any DOM is built
// (a megabyte of '[' used to cost ~64 bytes of memory per byte).
TEST(ProtocolTest, DeeplyNestedBodyIsRefusedBeforeParsing) {
  for (const std::string& body :
       {std::string(1 << 20, '['),
        R"({"request":{"keys":["a"],"x":)" + std::string(65, '[') + std::string(65, ']') + "}}"}) {
    auto request = ParseProviderRequest(body, 1000);
    ASSERT_FALSE(request.ok());
    EXPECT_EQ(request.error().code(), ErrorCode::kTooLarge);
    EXPECT_EQ(request.error().message(),
              "unable to unmarshal request body: exceeds max nesting depth 64");
  }
  // Positive control: nesting within the limit is accepted.
  auto request = ParseProviderRequest(
      R"({"request":{"keys":["a"],"x":)" + std::string(60, '[') + std::string(60, ']') + "}}",
      1000);
  ASSERT_TRUE(request.ok()) << request.error().message();
  EXPECT_EQ(request->keys, std::vector<std::string>{"a"});
}

}  // namespace
}  // namespace signet::provider

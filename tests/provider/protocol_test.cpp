#include "signet/provider/protocol.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "signet/bounded_json.h"

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

// The body as it was read before the event reader: a whole DOM, then the
// checks on it. The reader must answer every body exactly as this does.
Result<ProviderRequest> DomParsed(std::string_view body, std::size_t max_keys) {
  using nlohmann::json;
  auto parsed = ParseBoundedJson(body, "unable to unmarshal request body");
  if (!parsed.ok()) {
    if (parsed.error().code() == ErrorCode::kTooLarge) return parsed.error();
    return Error(ErrorCode::kParse, "unable to unmarshal request body: not valid JSON");
  }
  const json& document = *parsed;
  const auto shape = [](const std::string& why) {
    return Error(ErrorCode::kParse, "unable to unmarshal request body: " + why);
  };
  if (!document.is_object()) return shape("expected a JSON object");
  ProviderRequest request;
  if (auto it = document.find("apiVersion"); it != document.end()) {
    if (!it->is_string()) return shape("apiVersion must be a string");
    request.api_version = it->get<std::string>();
  }
  if (auto it = document.find("kind"); it != document.end() && !it->is_string()) {
    return shape("kind must be a string");
  }
  auto inner = document.find("request");
  if (inner == document.end() || inner->is_null()) {
    return Error(ErrorCode::kInvalidArgument, "request has no keys");
  }
  if (!inner->is_object()) return shape("request must be an object");
  auto keys = inner->find("keys");
  if (keys == inner->end() || keys->is_null()) {
    return Error(ErrorCode::kInvalidArgument, "request has no keys");
  }
  if (!keys->is_array()) return shape("request.keys must be an array of strings");
  if (keys->empty()) return Error(ErrorCode::kInvalidArgument, "request has no keys");
  if (keys->size() > max_keys) {
    return Error(ErrorCode::kTooLarge, "too many keys: " + std::to_string(keys->size()) +
                                           " (the limit is " + std::to_string(max_keys) + ")");
  }
  for (std::size_t i = 0; i < keys->size(); ++i) {
    if (!(*keys)[i].is_string()) {
      return shape("request.keys[" + std::to_string(i) + "] is not a string");
    }
    request.keys.push_back((*keys)[i].get<std::string>());
  }
  return request;
}

std::string Describe(const Result<ProviderRequest>& result) {
  if (!result.ok()) {
    return "error " + std::to_string(static_cast<int>(result.error().code())) + " " +
           result.error().message();
  }
  std::string out = "ok apiVersion=" + result->api_version + " keys=";
  for (const auto& key : result->keys) out += "[" + key + "]";
  return out;
}

// Bodies of every shape the checks tell apart: each member absent, null, or
// of each JSON type; names repeated (the last one counts); members nested
// where they do not count; key lists of every length around the limit with a
// non-string anywhere; and every prefix of each (syntax errors at every
// point).
std::vector<std::string> RequestBodies() {
  const std::vector<std::string> values = {
      "null", "true", "1", "-2.5e3", R"("s")", "{}", "[]", R"({"keys":["x"]})", R"(["a"])"};
  const std::vector<std::string> key_lists = {
      "[]", R"(["a"])", R"(["a","b"])", R"(["a","b","c"])", R"(["a",1])", R"([null,"b"])",
      R"(["a",{"k":"v"}])", R"([["a"],"b","c"])", R"(["a","b",true])", R"(["a\u0041","\n"])",
      "null", R"("a")", R"({"0":"a"})", "7"};
  std::vector<std::string> requests;
  for (const auto& keys : key_lists) {
    requests.push_back(R"({"keys":)" + keys + "}");
    requests.push_back(R"({"keys":["z"],"keys":)" + keys + "}");
    requests.push_back(R"({"keys":)" + keys + R"(,"keys":["y"]})");
    requests.push_back(R"({"other":{"keys":["n"]},"keys":)" + keys + R"(,"x":[1,{"keys":2}]})");
  }
  for (const auto& value : values) requests.push_back(value);
  requests.push_back("{}");
  std::vector<std::string> bodies;
  for (const auto& request : requests) {
    bodies.push_back(R"({"request":)" + request + "}");
    bodies.push_back(R"({"apiVersion":"v9","kind":"ProviderRequest","request":)" + request + "}");
    bodies.push_back(R"({"request":{"keys":["first"]},"request":)" + request + "}");
    bodies.push_back(R"({"request":)" + request + R"(,"request":null})");
    bodies.push_back(R"({"nested":{"request":{"keys":["n"]}},"request":)" + request + "}");
    bodies.push_back(R"({"request":)" + request + R"(,"after":{"keys":["late"]}})");
  }
  for (const auto& value : values) {
    bodies.push_back(R"({"apiVersion":)" + value + R"(,"request":{"keys":["a"]}})");
    bodies.push_back(R"({"kind":)" + value + R"(,"request":{"keys":["a"]}})");
    bodies.push_back(R"({"apiVersion":1,"apiVersion":)" + value + R"(,"request":{"keys":["a"]}})");
    bodies.push_back(value);
    bodies.push_back("[" + value + "]");
  }
  bodies.push_back(R"({"request":{"keys":["a"]}} {})");
  bodies.push_back(R"({"request":{"keys":["a"]}})" + std::string(" \n\t"));
  bodies.push_back(R"({"request":{"keys":["\ud800"]}})");
  bodies.push_back("{\"request\":{\"keys\":[\"\xc3\x28\"]}}");
  bodies.push_back(R"({"request":{"keys":["a"]},"x":)" + std::string(65, '[') + "}");
  bodies.push_back(R"({"request":{"keys":["a"]},"x":1e999})");
  bodies.push_back("");
  const std::size_t whole = bodies.size();
  for (std::size_t i = 0; i < whole; i += 3) {
    for (std::size_t cut = 0; cut < bodies[i].size(); ++cut) {
      bodies.push_back(bodies[i].substr(0, cut));
    }
  }
  return bodies;
}

TEST(ProtocolTest, TheEventReaderAnswersEveryBodyAsTheDomDid) {
  const auto bodies = RequestBodies();
  std::size_t accepted = 0;
  std::size_t refused = 0;
  for (const std::size_t max_keys : {std::size_t{2}, std::size_t{3}}) {
    for (const auto& body : bodies) {
      const auto expected = DomParsed(body, max_keys);
      EXPECT_EQ(Describe(ParseProviderRequest(body, max_keys)), Describe(expected))
          << "body: " << body << " (limit " << max_keys << ")";
      (expected.ok() ? accepted : refused) += 1;
    }
  }
  // The bodies reach both outcomes, and every distinct message of each.
  EXPECT_GT(accepted, 50u);
  EXPECT_GT(refused, 1000u);
  std::set<std::string> messages;
  for (const auto& body : bodies) {
    if (auto r = DomParsed(body, 2); !r.ok()) {
      std::string message = r.error().message();
      if (auto bracket = message.find('['); bracket != std::string::npos) {
        message.resize(bracket);
      }
      messages.insert(message.substr(0, message.find(':', 35)));
    }
  }
  EXPECT_GE(messages.size(), 9u) << ::testing::PrintToString(messages);
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

// DSSE (PAE, envelope, sign/verify), in-toto Statements and the
// predicate-type table, against the DSSE spec's PAE vector, cosign v3.1.2's
// statement bytes (spec cosign-bundle.md §1.1) and a statement cosign v3.1.2
// wrote (tests/data/cosign-v3).
#include <gtest/gtest.h>

#include "signet/cosign/bundle.h"
#include "signet/cosign/dsse.h"
#include "signet/cosign/go_json.h"
#include "signet/cosign/predicate_types.h"
#include "signet/cosign/statement.h"
#include "signet/crypto/encoding.h"
#include "support/paths.h"
#include "support/process.h"
#include "support/signature_fixtures.h"

namespace signet::cosign {
namespace {

constexpr char kDigestHex[] = "4e8b2f1a9a3c8d7e6f5b4a392817161514131211100f0e0d0c0b0a0908070605";

class DsseTest : public testing::TwoKeyPairsTest {};

TEST(DssePae, MatchesTheDsseSpecVector) {
  // secure-systems-lab/dsse protocol.md, "Test cases".
  EXPECT_EQ(DssePae("http://example.com/HelloWorld", "hello world"),
            "DSSEv1 29 http://example.com/HelloWorld 11 hello world");
  EXPECT_EQ(DssePae(kInTotoPayloadType, "{}"), "DSSEv1 28 application/vnd.in-toto+json 2 {}");
}

TEST(DssePae, CountsBytesNotCharacters) {
  EXPECT_EQ(DssePae("t", "\xc3\xa9"), "DSSEv1 1 t 2 \xc3\xa9");
  EXPECT_EQ(DssePae("", ""), "DSSEv1 0  0 ");
}

TEST_F(DsseTest, SignedEnvelopeVerifiesOnlyWithItsKey) {
  auto envelope = SignDsse(*keys_->signer, kInTotoPayloadType, "{\"a\":1}");
  ASSERT_TRUE(envelope.ok()) << envelope.error().message();
  ASSERT_EQ(envelope->signatures.size(), 1u);
  EXPECT_TRUE(envelope->signatures[0].keyid.empty());
  EXPECT_TRUE(VerifyDsseEnvelope(*envelope, *keys_->verifier).ok());
  // The signature covers the PAE, not the bare payload.
  EXPECT_TRUE(
      keys_->verifier->Verify(envelope->signatures[0].sig, DssePae(kInTotoPayloadType, "{\"a\":1}"))
          .ok());

  const Status other = VerifyDsseEnvelope(*envelope, *other_keys_->verifier);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code(), ErrorCode::kVerificationFailed);
}

TEST_F(DsseTest, TamperedPayloadOrTypeFails) {
  auto envelope = SignDsse(*keys_->signer, kInTotoPayloadType, "{\"a\":1}");
  ASSERT_TRUE(envelope.ok());
  ASSERT_TRUE(VerifyDsseEnvelope(*envelope, *keys_->verifier).ok());  // control
  DsseEnvelope payload = *envelope;
  payload.payload = "{\"a\":2}";
  EXPECT_FALSE(VerifyDsseEnvelope(payload, *keys_->verifier).ok());
  DsseEnvelope type = *envelope;
  type.payload_type = "application/json";
  EXPECT_FALSE(VerifyDsseEnvelope(type, *keys_->verifier).ok());
}

TEST_F(DsseTest, ExactlyOneSignatureIsRequired) {
  auto envelope = SignDsse(*keys_->signer, kInTotoPayloadType, "x");
  ASSERT_TRUE(envelope.ok());
  ASSERT_TRUE(VerifyDsseEnvelope(*envelope, *keys_->verifier).ok());  // control
  DsseEnvelope two = *envelope;
  two.signatures.push_back(two.signatures[0]);  // even two good ones
  const Status both = VerifyDsseEnvelope(two, *keys_->verifier);
  ASSERT_FALSE(both.ok());
  EXPECT_NE(both.error().message().find("2 signatures; exactly one"), std::string::npos);
  DsseEnvelope none = *envelope;
  none.signatures.clear();
  EXPECT_FALSE(VerifyDsseEnvelope(none, *keys_->verifier).ok());
}

TEST(DsseEnvelopeJson, MarshalsAsCosignAndRoundTrips) {
  DsseEnvelope envelope{"{}", std::string(kInTotoPayloadType), {{"\x30\x01\xff", ""}}};
  const std::string json = MarshalDsseEnvelope(envelope);
  EXPECT_EQ(json,
            "{\"payload\":\"e30=\",\"payloadType\":\"application/vnd.in-toto+json\","
            "\"signatures\":[{\"sig\":\"MAH/\"}]}");
  auto parsed = ParseDsseEnvelope(nlohmann::json::parse(json), "envelope");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_EQ(parsed->payload, "{}");
  EXPECT_EQ(parsed->payload_type, kInTotoPayloadType);
  ASSERT_EQ(parsed->signatures.size(), 1u);
  EXPECT_EQ(parsed->signatures[0].sig, "\x30\x01\xff");

  envelope.signatures[0].keyid = "k1";
  EXPECT_NE(MarshalDsseEnvelope(envelope).find(",\"keyid\":\"k1\"}"), std::string::npos);
}

TEST(DsseEnvelopeJson, RefusesUnknownFieldsAndBadBase64) {
  auto good = nlohmann::json::parse(
      R"({"payload":"e30=","payloadType":"t","signatures":[{"sig":"MAH/"}]})");
  ASSERT_TRUE(ParseDsseEnvelope(good, "e").ok());  // control
  auto extra = good;
  extra["extra"] = 1;
  EXPECT_FALSE(ParseDsseEnvelope(extra, "e").ok());
  auto sig_extra = good;
  sig_extra["signatures"][0]["cert"] = "x";
  EXPECT_FALSE(ParseDsseEnvelope(sig_extra, "e").ok());
  auto bad = good;
  bad["payload"] = "e30";  // unpadded
  EXPECT_FALSE(ParseDsseEnvelope(bad, "e").ok());
  auto missing = good;
  missing.erase("payloadType");
  EXPECT_FALSE(ParseDsseEnvelope(missing, "e").ok());
}

TEST(Statement, CosignSignStatementBytesMatchCosignV312) {
  auto bytes = MarshalStatement(MakeCosignSignStatement(std::string("sha256:") + kDigestHex, {}));
  ASSERT_TRUE(bytes.ok()) << bytes.error().message();
  EXPECT_EQ(*bytes, std::string("{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{"
                                "\"digest\":{\"sha256\":\"") +
                        kDigestHex +
                        "\"},\"annotations\":{}}],\"predicateType\":\"https://sigstore.dev/"
                        "cosign/sign/v1\",\"predicate\":{}}");
  auto annotated = MarshalStatement(MakeCosignSignStatement(std::string("sha256:") + kDigestHex,
                                                            {{"z", "last"}, {"env", "<prod&>"}}));
  ASSERT_TRUE(annotated.ok());
  // Keys sorted; protojson leaves <, > and & alone.
  EXPECT_NE(annotated->find("\"annotations\":{\"env\":\"<prod&>\",\"z\":\"last\"}"),
            std::string::npos)
      << *annotated;
}

TEST(Statement, RoundTripsWithNamePredicateAndV01Type) {
  Statement statement;
  statement.type = std::string(kStatementTypeV01);
  statement.subjects.push_back({"registry.test/app", {{"sha256", kDigestHex}}, std::nullopt});
  statement.predicate_type = "https://slsa.dev/provenance/v1";
  statement.predicate = nlohmann::json::parse(R"({"builder":{"id":"ci"},"n":1.5})");
  auto bytes = MarshalStatement(statement);
  ASSERT_TRUE(bytes.ok()) << bytes.error().message();
  EXPECT_NE(bytes->find("{\"name\":\"registry.test/app\",\"digest\":"), std::string::npos);
  auto parsed = ParseStatement(*bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_EQ(parsed->type, kStatementTypeV01);
  ASSERT_EQ(parsed->subjects.size(), 1u);
  EXPECT_EQ(parsed->subjects[0].name, "registry.test/app");
  EXPECT_EQ(parsed->subjects[0].digest.at("sha256"), kDigestHex);
  EXPECT_FALSE(parsed->subjects[0].annotations.has_value());
  EXPECT_EQ(parsed->predicate_type, "https://slsa.dev/provenance/v1");
  EXPECT_EQ(parsed->predicate, statement.predicate);
  auto again = MarshalStatement(*parsed);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *bytes);
}

TEST(Statement, MarshalRefusesWhatCosignCannotHaveWritten) {
  Statement statement = MakeCosignSignStatement(std::string("sha256:") + kDigestHex, {});
  ASSERT_TRUE(MarshalStatement(statement).ok());  // control
  Statement no_subject = statement;
  no_subject.subjects.clear();
  EXPECT_FALSE(MarshalStatement(no_subject).ok());
  Statement bad_utf8 = statement;
  bad_utf8.subjects[0].annotations = nlohmann::json{{"k", "\xff"}};
  EXPECT_FALSE(MarshalStatement(bad_utf8).ok());
  Statement array_predicate = statement;
  array_predicate.predicate = nlohmann::json::array();
  EXPECT_FALSE(MarshalStatement(array_predicate).ok());
}

TEST(Statement, ParsesCosignOutputWithProtojsonSpaces) {
  auto bundle =
      ParseBundle(testing::ReadFile(testing::TestDataDir() + "/cosign-v3/blob.dsse.sigstore.json"));
  ASSERT_TRUE(bundle.ok()) << bundle.error().message();
  const auto& payload = std::get<DsseEnvelope>(bundle->content).payload;
  ASSERT_NE(payload.find(", \"subject\""), std::string::npos);  // cosign's spaces are there
  auto statement = ParseStatement(payload);
  ASSERT_TRUE(statement.ok()) << statement.error().message();
  EXPECT_EQ(statement->type, kStatementTypeV01);
  EXPECT_EQ(statement->predicate_type, "https://example.com/fixture/v1");
  EXPECT_EQ(statement->predicate, nlohmann::json::parse(R"({"note":"fixture"})"));
  const std::string blob = testing::ReadFile(testing::TestDataDir() + "/cosign-v3/blob.txt");
  EXPECT_TRUE(StatementHasSubject(*statement, "sha256", crypto::Sha256Hex(blob)));
  EXPECT_FALSE(StatementHasSubject(*statement, "sha256", crypto::Sha256Hex(blob + "x")));
}

// A string predicate (cosign 2.x's --type spdx) is read only when asked for;
// no other kind of predicate is read either way.
TEST(Statement, StringPredicatesOnlyWhenAskedFor) {
  auto make = [](const std::string& predicate) {
    return std::string(R"({"_type":"https://in-toto.io/Statement/v0.1","predicateType":)") +
           R"("https://spdx.dev/Document","subject":[{"name":"r/a","digest":{"sha256":")" +
           kDigestHex + "\"}}],\"predicate\":" + predicate + "}";
  };
  const std::string text = make(R"("SPDXVersion: SPDX-2.3\nName: \u003ca\u0026b\u003e\n")");
  auto refused = ParseStatement(text);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kParse);
  EXPECT_NE(refused.error().message().find("predicate is not a JSON object"), std::string::npos);
  auto read = ParseStatement(text, PredicateForm::kObjectOrString);
  ASSERT_TRUE(read.ok()) << read.error().message();
  EXPECT_EQ(read->predicate, "SPDXVersion: SPDX-2.3\nName: <a&b>\n");
  EXPECT_EQ(read->predicate_type, "https://spdx.dev/Document");
  EXPECT_TRUE(StatementHasSubject(*read, "sha256", kDigestHex));
  // Controls: an object is read in both forms; nothing else in either.
  EXPECT_TRUE(ParseStatement(make("{}")).ok());
  EXPECT_TRUE(ParseStatement(make("{}"), PredicateForm::kObjectOrString).ok());
  for (const std::string other : {"42", "[]", "[\"a\"]", "true", "null"}) {
    EXPECT_FALSE(ParseStatement(make(other)).ok()) << other;
    auto also = ParseStatement(make(other), PredicateForm::kObjectOrString);
    ASSERT_FALSE(also.ok()) << other;
    EXPECT_NE(also.error().message().find("neither a JSON object nor a string"),
              std::string::npos)
        << also.error().message();
  }
}

TEST(Statement, ParseRefusesUnknownFieldsTypesAndLimits) {
  const std::string subject = std::string(R"({"digest":{"sha256":")") + kDigestHex + "\"}}";
  auto make = [&](const std::string& extra, const std::string& type, const std::string& subjects) {
    return "{\"_type\":\"" + type + "\",\"subject\":[" + subjects +
           "],\"predicateType\":\"p\",\"predicate\":{}" + extra + "}";
  };
  ASSERT_TRUE(ParseStatement(make("", std::string(kStatementTypeV1), subject)).ok());  // control
  EXPECT_FALSE(ParseStatement(make(",\"extra\":1", std::string(kStatementTypeV1), subject)).ok());
  EXPECT_FALSE(ParseStatement(make("", "https://in-toto.io/Statement/v2", subject)).ok());
  EXPECT_FALSE(ParseStatement(make("", std::string(kStatementTypeV1), "")).ok());
  EXPECT_FALSE(
      ParseStatement(make("", std::string(kStatementTypeV1), R"({"digest":{},"x":1})")).ok());
  std::string many = subject;
  for (std::size_t i = 0; i < kMaxStatementSubjects; ++i) many += "," + subject;
  EXPECT_FALSE(ParseStatement(make("", std::string(kStatementTypeV1), many)).ok());
  std::string digests = "{\"digest\":{";
  for (std::size_t i = 0; i <= kMaxSubjectDigests; ++i) {
    digests += (i ? ",\"a" : "\"a") + std::to_string(i) + "\":\"00\"";
  }
  digests += "}}";
  EXPECT_FALSE(ParseStatement(make("", std::string(kStatementTypeV1), digests)).ok());
  // Duplicate keys would let two parsers disagree.
  EXPECT_FALSE(
      ParseStatement(make(",\"predicateType\":\"q\"", std::string(kStatementTypeV1), subject))
          .ok());
  // Deep nesting is refused before a DOM is built.
  const std::string deep =
      make(",\"predicate\":" + std::string(100000, '['), std::string(kStatementTypeV1), subject);
  auto refused = ParseStatement(deep);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kTooLarge);
}

TEST(Statement, SubjectMatchChecksDigestAndAnnotations) {
  auto statement =
      ParseStatement(*MarshalStatement(MakeCosignSignStatement(kDigestHex, {{"env", "prod"}})));
  ASSERT_TRUE(statement.ok());
  EXPECT_TRUE(StatementHasSubject(*statement, "sha256", kDigestHex));
  EXPECT_TRUE(StatementHasSubject(*statement, "sha256", kDigestHex, {{"env", "prod"}}));
  EXPECT_FALSE(StatementHasSubject(*statement, "sha256", kDigestHex, {{"env", "dev"}}));
  EXPECT_FALSE(StatementHasSubject(*statement, "sha256", kDigestHex, {{"team", "x"}}));
  EXPECT_FALSE(StatementHasSubject(*statement, "sha512", kDigestHex));
  std::string upper = kDigestHex;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_TRUE(StatementHasSubject(*statement, "sha256", upper));
  EXPECT_FALSE(StatementHasSubject(*statement, "sha256", ""));
}

TEST(ProtoJson, QuotesAsProtojsonNotAsEncodingJson) {
  EXPECT_EQ(*ProtoJsonQuote("<a&b>\x7f"), "\"<a&b>\x7f\"");
  EXPECT_EQ(GoJsonQuote("<a&b>"), "\"\\u003ca\\u0026b\\u003e\"");  // unchanged
  EXPECT_EQ(*ProtoJsonQuote("\"\\\n\x01\xe2\x80\xa8"), "\"\\\"\\\\\\n\\u0001\xe2\x80\xa8\"");
  EXPECT_FALSE(ProtoJsonQuote("\xc0\xaf").ok());
  EXPECT_EQ(*ProtoJsonMarshalValue(nlohmann::json::parse(R"({"b":[1,2.5,"x"],"a":null})")),
            "{\"a\":null,\"b\":[1,2.5,\"x\"]}");
}

TEST(PredicateTypes, ShorthandsMapAsCosignV312) {
  const std::pair<const char*, const char*> expected[] = {
      {"custom", "https://cosign.sigstore.dev/attestation/v1"},
      {"slsaprovenance", "https://slsa.dev/provenance/v0.2"},
      {"slsaprovenance02", "https://slsa.dev/provenance/v0.2"},
      {"slsaprovenance1", "https://slsa.dev/provenance/v1"},
      {"spdx", "https://spdx.dev/Document"},
      {"spdxjson", "https://spdx.dev/Document"},
      {"cyclonedx", "https://cyclonedx.org/bom"},
      {"link", "https://in-toto.io/Link/v1"},
      {"vuln", "https://cosign.sigstore.dev/attestation/vuln/v1"},
      {"openvex", "https://openvex.dev/ns"},
  };
  EXPECT_EQ(PredicateTypeShorthands().size(), std::size(expected));
  for (const auto& [name, uri] : expected) {
    auto resolved = ResolvePredicateType(name);
    ASSERT_TRUE(resolved.ok()) << name;
    EXPECT_EQ(*resolved, uri) << name;
  }
}

TEST(PredicateTypes, FullUrisPassAndOtherWordsAreRefused) {
  EXPECT_EQ(*ResolvePredicateType("https://example.com/my/v1"), "https://example.com/my/v1");
  EXPECT_EQ(*ResolvePredicateType("urn:example:thing"), "urn:example:thing");
  EXPECT_EQ(*ResolvePredicateType("/abs/path"), "/abs/path");
  for (const char* bad : {"", "slsa", "SLSAProvenance", "1http://x", "https://a b", "http:"}) {
    auto refused = ResolvePredicateType(bad);
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_NE(refused.error().message().find("invalid predicate type"), std::string::npos);
  }
}

}  // namespace
}  // namespace signet::cosign

// Sigstore bundle v0.3: byte layout (spec cosign-bundle.md §1.1 item 5, and
// bundles cosign v3.1.2 wrote in tests/data/cosign-v3), the key hint vectors
// of spec §1.1 item 3, hostile-input refusals (each beside a positive
// control), and blob bundles signed and verified.
#include "signet/cosign/bundle.h"

#include <gtest/gtest.h>

#include "signet/cosign/blob_bundle.h"
#include "signet/cosign/statement.h"
#include "signet/crypto/encoding.h"
#include "signet/crypto/keys.h"
#include "support/paths.h"
#include "support/process.h"
#include "support/signature_fixtures.h"

namespace signet::cosign {
namespace {

std::string Data(const std::string& name) {
  return testing::ReadFile(testing::TestDataDir() + "/" + name);
}

std::string WithoutProtojsonSpaces(std::string text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == ' ' && i > 0 && text[i - 1] == ',') continue;
    out += text[i];
  }
  return out;
}

std::unique_ptr<crypto::Verifier> CosignV3Key() {
  auto key = crypto::LoadPublicKey(Data("cosign-v3/cosign-v3.pub"), "cosign-v3.pub");
  EXPECT_TRUE(key.ok()) << key.error().message();
  return key.ok() ? std::move(*key) : nullptr;
}

class BundleTest : public testing::TwoKeyPairsTest {
 protected:
  // A valid DSSE bundle signed by keys_, as JSON to mutate.
  static nlohmann::json DsseBundleJson() {
    auto statement =
        MarshalStatement(MakeCosignSignStatement("sha256:" + std::string(64, 'a'), {}));
    auto envelope = SignDsse(*keys_->signer, kInTotoPayloadType, *statement);
    Bundle bundle;
    bundle.public_key_hint = *PublicKeyHint(keys_->public_pem);
    bundle.content = std::move(*envelope);
    return nlohmann::json::parse(MarshalBundle(bundle));
  }
  static nlohmann::json MessageBundleJson() {
    return nlohmann::json::parse(*SignBlobBundle(*keys_->signer, "blob"));
  }
  static void ExpectRefused(const nlohmann::json& bundle, ErrorCode code,
                            const std::string& words) {
    auto parsed = ParseBundle(bundle.dump());
    ASSERT_FALSE(parsed.ok()) << bundle.dump();
    EXPECT_EQ(parsed.error().code(), code) << parsed.error().message();
    EXPECT_NE(parsed.error().message().find(words), std::string::npos) << parsed.error().message();
  }
};

TEST(BundleHint, MatchesTheSpecVectors) {
  EXPECT_EQ(*PublicKeyHint(Data("cosign/cosign-keys_test-pemsigstorekey.derived.pub")),
            "8QV788EU1UhvC9s8cCWW1hVBWCSJgNS+SfbGH9xixZE=");
  EXPECT_EQ(*PublicKeyHint(Data("cosign/containers-image-fixtures-cosign.pub")),
            "yHp5AY80bMAkgkSLdylrC+oUPvLMq5mwR3b7D2OPMB8=");
  EXPECT_FALSE(PublicKeyHint("no pem here").ok());
}

TEST(BundleLayout, DsseBundleHasCosignsExactShape) {
  Bundle bundle;
  bundle.public_key_hint = "aGludA==";
  bundle.content = DsseEnvelope{"{}", std::string(kInTotoPayloadType), {{"sig", ""}}};
  EXPECT_EQ(MarshalBundle(bundle),
            "{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\","
            "\"verificationMaterial\":{\"publicKey\":{\"hint\":\"aGludA==\"}},"
            "\"dsseEnvelope\":{\"payload\":\"e30=\",\"payloadType\":\"application/"
            "vnd.in-toto+json\",\"signatures\":[{\"sig\":\"c2ln\"}]}}");
}

TEST(BundleLayout, CosignV3BundlesReMarshalToTheirOwnBytes) {
  // cosign's bytes differ from signet's only by protojson's spaces.
  for (const char* name :
       {"cosign-v3/blob.message.sigstore.json", "cosign-v3/blob.dsse.sigstore.json"}) {
    const std::string text = Data(name);
    auto bundle = ParseBundle(text);
    ASSERT_TRUE(bundle.ok()) << name << ": " << bundle.error().message();
    EXPECT_EQ(bundle->tlog_entries, 0u);
    EXPECT_EQ(bundle->public_key_hint, *PublicKeyHint(Data("cosign-v3/cosign-v3.pub")));
    EXPECT_EQ(MarshalBundle(*bundle), WithoutProtojsonSpaces(text)) << name;
  }
}

TEST(BlobBundle, CosignV3BundlesVerifyAndOnlyOverTheirBlob) {
  const auto key = CosignV3Key();
  ASSERT_NE(key, nullptr);
  const std::string blob = Data("cosign-v3/blob.txt");
  for (const char* name :
       {"cosign-v3/blob.message.sigstore.json", "cosign-v3/blob.dsse.sigstore.json"}) {
    auto bundle = ParseBundle(Data(name));
    ASSERT_TRUE(bundle.ok()) << name;
    EXPECT_TRUE(VerifyBlobBundle(*bundle, *key, blob, TlogPolicy::kInsecureIgnore).ok()) << name;
    const Status other = VerifyBlobBundle(*bundle, *key, blob + "x", TlogPolicy::kInsecureIgnore);
    ASSERT_FALSE(other.ok()) << name;
    EXPECT_EQ(other.error().code(), ErrorCode::kDigestMismatch) << other.error().message();
    // Without --insecure-ignore-tlog a bundle with no log entry fails, as in cosign.
    const Status tlog = VerifyBlobBundle(*bundle, *key, blob, TlogPolicy::kRequire);
    ASSERT_FALSE(tlog.ok());
    EXPECT_NE(tlog.error().message().find("--insecure-ignore-tlog=true"), std::string::npos);
  }
}

TEST_F(BundleTest, SignedBlobBundleVerifiesOnlyWithItsKey) {
  auto json = SignBlobBundle(*keys_->signer, "the blob");
  ASSERT_TRUE(json.ok()) << json.error().message();
  auto bundle = ParseBundle(*json);
  ASSERT_TRUE(bundle.ok()) << bundle.error().message();
  const auto& message = std::get<MessageSignature>(bundle->content);
  EXPECT_EQ(message.digest_algorithm, kHashSha256);
  EXPECT_EQ(message.digest, crypto::Sha256("the blob"));
  EXPECT_EQ(bundle->public_key_hint, *PublicKeyHint(keys_->public_pem));
  EXPECT_TRUE(
      VerifyBlobBundle(*bundle, *keys_->verifier, "the blob", TlogPolicy::kInsecureIgnore).ok());
  const Status other =
      VerifyBlobBundle(*bundle, *other_keys_->verifier, "the blob", TlogPolicy::kInsecureIgnore);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code(), ErrorCode::kVerificationFailed);
}

TEST_F(BundleTest, TamperedBlobBundlesFail) {
  auto good = ParseBundle(*SignBlobBundle(*keys_->signer, "the blob"));
  ASSERT_TRUE(good.ok());
  ASSERT_TRUE(
      VerifyBlobBundle(*good, *keys_->verifier, "the blob", TlogPolicy::kInsecureIgnore).ok());
  // A digest that names another blob, with the signature left alone.
  Bundle digest = *good;
  std::get<MessageSignature>(digest.content).digest = crypto::Sha256("another blob");
  EXPECT_FALSE(
      VerifyBlobBundle(digest, *keys_->verifier, "another blob", TlogPolicy::kInsecureIgnore).ok());
  // A flipped signature byte.
  Bundle signature = *good;
  std::get<MessageSignature>(signature.content).signature.back() ^= 1;
  EXPECT_FALSE(
      VerifyBlobBundle(signature, *keys_->verifier, "the blob", TlogPolicy::kInsecureIgnore).ok());
  // The key hint is not trusted: a bundle claiming another key's hint still
  // verifies only with the key that signed it.
  Bundle hint = *good;
  hint.public_key_hint = *PublicKeyHint(other_keys_->public_pem);
  EXPECT_TRUE(
      VerifyBlobBundle(hint, *keys_->verifier, "the blob", TlogPolicy::kInsecureIgnore).ok());
  EXPECT_FALSE(
      VerifyBlobBundle(hint, *other_keys_->verifier, "the blob", TlogPolicy::kInsecureIgnore).ok());
}

TEST_F(BundleTest, DsseBundleOverABlobNeedsASubjectWithItsDigest) {
  Statement statement;
  statement.subjects.push_back({"f", {{"sha256", crypto::Sha256Hex("blob")}}, std::nullopt});
  statement.predicate_type = "https://example.com/p";
  Bundle bundle;
  bundle.content = *SignDsse(*keys_->signer, kInTotoPayloadType, *MarshalStatement(statement));
  EXPECT_TRUE(VerifyBlobBundle(bundle, *keys_->verifier, "blob", TlogPolicy::kInsecureIgnore).ok());
  EXPECT_EQ(VerifyBlobBundle(bundle, *keys_->verifier, "blob2", TlogPolicy::kInsecureIgnore)
                .error()
                .code(),
            ErrorCode::kDigestMismatch);
  EXPECT_FALSE(
      VerifyBlobBundle(bundle, *other_keys_->verifier, "blob", TlogPolicy::kInsecureIgnore).ok());
}

TEST(BlobBundleKeys, RsaSignsWithSha256AndEd25519IsRefused) {
  auto rsa_pair =
      crypto::ImportKeyPair(Data("cosign/cosign-keys_test-validrsapkcs8.pem"), "pw", "rsa");
  ASSERT_TRUE(rsa_pair.ok()) << rsa_pair.error().message();
  auto rsa = crypto::LoadPrivateKey(rsa_pair->private_pem, "pw", "rsa");
  ASSERT_TRUE(rsa.ok());
  auto bundle = ParseBundle(*SignBlobBundle(**rsa, "b"));
  ASSERT_TRUE(bundle.ok());
  EXPECT_EQ(std::get<MessageSignature>(bundle->content).digest_algorithm, kHashSha256);
  EXPECT_TRUE(
      VerifyBlobBundle(*bundle, *(*rsa)->MakeVerifier(), "b", TlogPolicy::kInsecureIgnore).ok());

  auto ed_pair =
      crypto::ImportKeyPair(Data("cosign/cosign-keys_test-ed25519.pkcs8.pem"), "pw", "ed25519");
  ASSERT_TRUE(ed_pair.ok()) << ed_pair.error().message();
  auto ed = crypto::LoadPrivateKey(ed_pair->private_pem, "pw", "ed25519");
  ASSERT_TRUE(ed.ok());
  auto refused = SignBlobBundle(**ed, "b");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kUnsupported);
}

TEST_F(BundleTest, MediaTypesOtherThanV03AreRefused) {
  auto bundle = DsseBundleJson();
  ASSERT_TRUE(ParseBundle(bundle.dump()).ok());  // control
  bundle["mediaType"] = std::string(kBundleMediaTypeV03Legacy);
  ASSERT_TRUE(ParseBundle(bundle.dump()).ok());  // the older spelling of v0.3
  bundle["mediaType"] = "application/vnd.dev.sigstore.bundle.v0.3.1+json";
  ASSERT_TRUE(ParseBundle(bundle.dump()).ok());  // a v0.3 patch version
  bundle["mediaType"] = "application/vnd.dev.sigstore.bundle.v0.4+json";
  ExpectRefused(bundle, ErrorCode::kUnsupported, "version 0.4 is not supported");
  bundle["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.2";
  ExpectRefused(bundle, ErrorCode::kUnsupported, "version 0.2 is not supported");
  bundle["mediaType"] = "application/vnd.dev.sigstore.bundle.v1.0+json";
  ExpectRefused(bundle, ErrorCode::kUnsupported, "version 1.0 is not supported");
  for (const char* unknown : {"application/json", "application/vnd.dev.sigstore.bundle.v0.3", "",
                              "application/vnd.dev.sigstore.bundle.vX+json"}) {
    bundle["mediaType"] = unknown;
    ExpectRefused(bundle, ErrorCode::kUnsupported, "unknown media type");
  }
  bundle.erase("mediaType");
  ExpectRefused(bundle, ErrorCode::kParse, "missing field \"mediaType\"");
}

TEST_F(BundleTest, WrongPayloadTypeIsRefused) {
  auto bundle = DsseBundleJson();
  ASSERT_TRUE(ParseBundle(bundle.dump()).ok());  // control
  bundle["dsseEnvelope"]["payloadType"] = "application/vnd.dev.cosign.simplesigning.v1+json";
  ExpectRefused(bundle, ErrorCode::kParse, "is not application/vnd.in-toto+json");
}

TEST_F(BundleTest, DsseSignatureCountMustBeOne) {
  auto bundle = DsseBundleJson();
  ASSERT_TRUE(ParseBundle(bundle.dump()).ok());  // control
  auto two = bundle;
  two["dsseEnvelope"]["signatures"].push_back(two["dsseEnvelope"]["signatures"][0]);
  ExpectRefused(two, ErrorCode::kParse, "has 2 signatures; exactly one is required");
  auto none = bundle;
  none["dsseEnvelope"]["signatures"] = nlohmann::json::array();
  ExpectRefused(none, ErrorCode::kParse, "has 0 signatures");
}

TEST_F(BundleTest, ContentMustBeExactlyOneKind) {
  auto bundle = DsseBundleJson();
  auto message = MessageBundleJson();
  ASSERT_TRUE(ParseBundle(message.dump()).ok());  // control
  auto both = bundle;
  both["messageSignature"] = message["messageSignature"];
  ExpectRefused(both, ErrorCode::kParse, "exactly one of dsseEnvelope and messageSignature");
  auto neither = bundle;
  neither.erase("dsseEnvelope");
  ExpectRefused(neither, ErrorCode::kParse, "exactly one of dsseEnvelope and messageSignature");
  auto algorithm = message;
  algorithm["messageSignature"]["messageDigest"]["algorithm"] = "MD5";
  ExpectRefused(algorithm, ErrorCode::kUnsupported, "unsupported algorithm");
}

TEST_F(BundleTest, UnknownFieldsAreRefusedEverywhere) {
  auto bundle = DsseBundleJson();
  ASSERT_TRUE(ParseBundle(bundle.dump()).ok());  // control
  auto top = bundle;
  top["extra"] = true;
  ExpectRefused(top, ErrorCode::kParse, "unknown field \"extra\"");
  auto material = bundle;
  material["verificationMaterial"]["extra"] = 1;
  ExpectRefused(material, ErrorCode::kParse, "unknown field \"extra\"");
  auto key = bundle;
  key["verificationMaterial"]["publicKey"]["rawBytes"] = "AA==";
  ExpectRefused(key, ErrorCode::kParse, "unknown field \"rawBytes\"");
  auto envelope = bundle;
  envelope["dsseEnvelope"]["signatures"][0]["extra"] = "x";
  ExpectRefused(envelope, ErrorCode::kParse, "unknown field \"extra\"");
  auto snake = bundle;
  snake["media_type"] = snake["mediaType"];
  snake.erase("mediaType");
  ExpectRefused(snake, ErrorCode::kParse, "unknown field \"media_type\"");
}

TEST_F(BundleTest, OnlyPublicKeyVerificationMaterialIsAccepted) {
  auto bundle = DsseBundleJson();
  ASSERT_TRUE(ParseBundle(bundle.dump()).ok());  // control
  auto certificate = bundle;
  certificate["verificationMaterial"].erase("publicKey");
  certificate["verificationMaterial"]["certificate"] = {{"rawBytes", "AA=="}};
  ExpectRefused(certificate, ErrorCode::kUnsupported, "key-based bundles only");
  auto chain = bundle;
  chain["verificationMaterial"].erase("publicKey");
  chain["verificationMaterial"]["x509CertificateChain"] = nlohmann::json::object();
  ExpectRefused(chain, ErrorCode::kParse, "must not use x509CertificateChain");
  auto two = bundle;
  two["verificationMaterial"]["certificate"] = {{"rawBytes", "AA=="}};
  ExpectRefused(two, ErrorCode::kParse, "exactly one of publicKey");
  auto none = bundle;
  none["verificationMaterial"].erase("publicKey");
  ExpectRefused(none, ErrorCode::kParse, "exactly one of publicKey");
}

TEST_F(BundleTest, TlogEntriesAreCountedAndNeverTrusted) {
  auto bundle = DsseBundleJson();
  bundle["verificationMaterial"]["tlogEntries"] = nlohmann::json::array({{{"logIndex", "1"}}});
  auto parsed = ParseBundle(bundle.dump());
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_EQ(parsed->tlog_entries, 1u);
  EXPECT_TRUE(CheckTlogPolicy(*parsed, TlogPolicy::kInsecureIgnore).ok());
  const Status required = CheckTlogPolicy(*parsed, TlogPolicy::kRequire);
  ASSERT_FALSE(required.ok());
  EXPECT_NE(required.error().message().find("cannot verify"), std::string::npos);
  bundle["verificationMaterial"]["tlogEntries"] = "nope";
  ExpectRefused(bundle, ErrorCode::kParse, "tlogEntries is not a list");
}

TEST_F(BundleTest, DuplicateKeysDeepJsonAndHugeInputAreRefused) {
  const std::string good = DsseBundleJson().dump();
  ASSERT_TRUE(ParseBundle(good).ok());  // control
  // A second mediaType after the first: parsers could disagree on which wins.
  const std::string duplicate =
      good.substr(0, good.size() - 1) + ",\"mediaType\":\"application/json\"}";
  auto dup = ParseBundle(duplicate);
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.error().message().find("duplicate key"), std::string::npos)
      << dup.error().message();

  const std::string deep = good.substr(0, good.size() - 1) + ",\"x\":" + std::string(200000, '[') +
                           std::string(200000, ']') + "}";
  auto nested = ParseBundle(deep);
  ASSERT_FALSE(nested.ok());
  EXPECT_EQ(nested.error().code(), ErrorCode::kTooLarge);
  EXPECT_NE(nested.error().message().find("nesting depth"), std::string::npos);

  std::string huge =
      good.substr(0, good.size() - 1) + ",\"x\":\"" + std::string(kMaxBundleBytes, 'a') + "\"}";
  auto large = ParseBundle(huge);
  ASSERT_FALSE(large.ok());
  EXPECT_EQ(large.error().code(), ErrorCode::kTooLarge);

  EXPECT_FALSE(ParseBundle("").ok());
  EXPECT_FALSE(ParseBundle("[]").ok());
  EXPECT_FALSE(ParseBundle("{").ok());
}

}  // namespace
}  // namespace signet::cosign

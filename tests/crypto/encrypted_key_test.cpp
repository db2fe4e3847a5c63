#include "signet/crypto/encrypted_key.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "key_test_data.h"
#include "signet/crypto/encoding.h"
#include "signet/crypto/keys.h"
#include "signet/crypto/pem_block.h"

namespace signet::crypto {
namespace {

using test::ReadVector;

constexpr char kSigstoreType[] = "ENCRYPTED SIGSTORE PRIVATE KEY";

// The decrypted PKCS#8 plaintext of the pemsigstorekey vector.
std::string VectorPlaintext() {
  auto block = DecodeFirstPemBlock(ReadVector("cosign-keys_test-pemsigstorekey.key"), "v");
  EXPECT_TRUE(block.ok());
  auto plaintext = DecryptKeyEnvelope(block->der, "hello", "v");
  EXPECT_TRUE(plaintext.ok()) << plaintext.error().message();
  return std::string(plaintext->view());
}

// Re-armours an edited envelope and loads it as a private key.
Result<std::unique_ptr<Signer>> LoadEnvelope(const nlohmann::json& envelope,
                                             std::string_view password) {
  return LoadPrivateKey(EncodePemBlock(kSigstoreType, envelope.dump()), password, "edited.key");
}

nlohmann::json FreshEnvelope(const std::string& plaintext, const std::string& password) {
  auto envelope = EncryptKeyEnvelope(plaintext, password);
  EXPECT_TRUE(envelope.ok());
  return nlohmann::json::parse(*envelope);
}

TEST(EncryptedKey, EnvelopeHasCosignByteLayout) {
  const std::string plaintext = VectorPlaintext();
  ASSERT_EQ(plaintext.size(), 138u);
  auto envelope = EncryptKeyEnvelope(plaintext, "pw");
  ASSERT_TRUE(envelope.ok());
  const std::regex layout(
      R"re(\{"kdf":\{"name":"scrypt","params":\{"N":65536,"r":8,"p":1\},)re"
      R"re("salt":"[A-Za-z0-9+/]{43}="\},"cipher":\{"name":"nacl/secretbox",)re"
      R"re("nonce":"[A-Za-z0-9+/]{32}"\},"ciphertext":"([A-Za-z0-9+/=]+)"\})re");
  std::smatch match;
  ASSERT_TRUE(std::regex_match(*envelope, match, layout)) << *envelope;
  EXPECT_EQ(Base64Decode(match[1].str())->size(), 138u + 16u);
  auto decrypted = DecryptKeyEnvelope(*envelope, "pw", "x");
  ASSERT_TRUE(decrypted.ok());
  EXPECT_EQ(decrypted->view(), plaintext);
  // Salt and nonce are fresh every time.
  auto again = EncryptKeyEnvelope(plaintext, "pw");
  ASSERT_TRUE(again.ok());
  EXPECT_NE(*again, *envelope);
}

TEST(EncryptedKey, AcceptsExactlyTheCosignScryptSets) {
  EXPECT_TRUE(IsAcceptedScryptParams({32768, 8, 1}));
  EXPECT_TRUE(IsAcceptedScryptParams({65536, 8, 1}));
  EXPECT_TRUE(IsAcceptedScryptParams({131072, 8, 1}));
  EXPECT_FALSE(IsAcceptedScryptParams({16384, 8, 1}));
  EXPECT_FALSE(IsAcceptedScryptParams({65536, 16, 1}));
  EXPECT_FALSE(IsAcceptedScryptParams({65536, 8, 2}));
  // A genuinely N=131072-encrypted key loads.
  const std::string plaintext = VectorPlaintext();
  auto envelope = EncryptKeyEnvelope(plaintext, "pw", {131072, 8, 1});
  ASSERT_TRUE(envelope.ok());
  auto signer = LoadPrivateKey(EncodePemBlock(kSigstoreType, *envelope), "pw", "n131072.key");
  ASSERT_TRUE(signer.ok()) << signer.error().message();
}

TEST(EncryptedKey, RejectsOtherScryptParametersEvenWhenTheyDecrypt) {
  const std::string plaintext = VectorPlaintext();
  for (const ScryptParams params :
       {ScryptParams{16384, 8, 1}, ScryptParams{16384, 16, 1}, ScryptParams{32768, 8, 2}}) {
    auto envelope = EncryptKeyEnvelope(plaintext, "pw", params);
    ASSERT_TRUE(envelope.ok());
    auto signer = LoadPrivateKey(EncodePemBlock(kSigstoreType, *envelope), "pw", "weak.key");
    ASSERT_FALSE(signer.ok());
    EXPECT_EQ(signer.error().code(), ErrorCode::kUnsupported);
    EXPECT_NE(signer.error().message().find("weak.key"), std::string::npos);
    EXPECT_NE(signer.error().message().find("scrypt parameters"), std::string::npos)
        << signer.error().message();
  }
  // Editing the vector's parameters is rejected before any decryption.
  auto block = DecodeFirstPemBlock(ReadVector("cosign-keys_test-pemsigstorekey.key"), "v");
  ASSERT_TRUE(block.ok());
  auto envelope = nlohmann::json::parse(block->der);
  envelope["kdf"]["params"]["r"] = 16;
  auto signer = LoadEnvelope(envelope, "hello");
  ASSERT_FALSE(signer.ok());
  EXPECT_EQ(signer.error().code(), ErrorCode::kUnsupported);
}

TEST(EncryptedKey, RejectsWrongAlgorithmNamesAndShapes) {
  const std::string plaintext = VectorPlaintext();
  const nlohmann::json good = FreshEnvelope(plaintext, "pw");
  ASSERT_TRUE(LoadEnvelope(good, "pw").ok());

  struct Case {
    const char* what;
    std::function<void(nlohmann::json&)> edit;
    ErrorCode code;
  };
  const std::vector<Case> cases = {
      {"kdf name", [](nlohmann::json& e) { e["kdf"]["name"] = "pbkdf2"; }, ErrorCode::kUnsupported},
      {"cipher name", [](nlohmann::json& e) { e["cipher"]["name"] = "aes-gcm"; },
       ErrorCode::kUnsupported},
      {"short nonce",
       [](nlohmann::json& e) { e["cipher"]["nonce"] = Base64Encode(std::string(12, 'n')); },
       ErrorCode::kParse},
      {"long nonce",
       [](nlohmann::json& e) { e["cipher"]["nonce"] = Base64Encode(std::string(32, 'n')); },
       ErrorCode::kParse},
      {"nonce not base64", [](nlohmann::json& e) { e["cipher"]["nonce"] = "%%%"; },
       ErrorCode::kParse},
      {"missing salt", [](nlohmann::json& e) { e["kdf"].erase("salt"); }, ErrorCode::kParse},
      {"N as string", [](nlohmann::json& e) { e["kdf"]["params"]["N"] = "65536"; },
       ErrorCode::kParse},
      {"missing ciphertext", [](nlohmann::json& e) { e.erase("ciphertext"); }, ErrorCode::kParse},
      {"not an object", [](nlohmann::json& e) { e = nlohmann::json::array(); }, ErrorCode::kParse},
      {"ciphertext flipped bit",
       [](nlohmann::json& e) {
         std::string c = *Base64Decode(e["ciphertext"].get<std::string>());
         c[40] ^= 1;
         e["ciphertext"] = Base64Encode(c);
       },
       ErrorCode::kDecryptionFailed},
      {"ciphertext truncated",
       [](nlohmann::json& e) {
         std::string c = *Base64Decode(e["ciphertext"].get<std::string>());
         e["ciphertext"] = Base64Encode(c.substr(0, 10));
       },
       ErrorCode::kDecryptionFailed},
      {"salt changed",
       [](nlohmann::json& e) { e["kdf"]["salt"] = Base64Encode(std::string(32, 's')); },
       ErrorCode::kDecryptionFailed},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    nlohmann::json edited = good;
    c.edit(edited);
    auto signer = LoadEnvelope(edited, "pw");
    ASSERT_FALSE(signer.ok());
    EXPECT_EQ(signer.error().code(), c.code) << signer.error().message();
    EXPECT_EQ(signer.error().message().rfind("edited.key: ", 0), 0u) << signer.error().message();
  }
}

TEST(EncryptedKey, KeyOfTheWrongKindInsideTheEnvelope) {
  // Valid encryption around a plaintext that is not a private key at all.
  auto envelope = EncryptKeyEnvelope("definitely not DER", "pw");
  ASSERT_TRUE(envelope.ok());
  auto signer = LoadPrivateKey(EncodePemBlock(kSigstoreType, *envelope), "pw", "odd.key");
  ASSERT_FALSE(signer.ok());
  EXPECT_EQ(signer.error().code(), ErrorCode::kUnsupported);
  // A PKCS#8 X25519 key (a key exchange key, not a signing key).
  auto x25519 = signet::testing::RunCommand(
      {"openssl", "genpkey", "-algorithm", "X25519", "-outform", "DER"});
  ASSERT_EQ(x25519.exit_code, 0);
  auto x_env = EncryptKeyEnvelope(x25519.out, "pw");
  ASSERT_TRUE(x_env.ok());
  auto x_signer = LoadPrivateKey(EncodePemBlock(kSigstoreType, *x_env), "pw", "x25519.key");
  ASSERT_FALSE(x_signer.ok());
  EXPECT_EQ(x_signer.error().code(), ErrorCode::kUnsupported);
  EXPECT_NE(x_signer.error().message().find("x25519.key"), std::string::npos);
}

TEST(EncryptedKey, Sec1VectorHoldsTheValidecp256Key) {
  // pemcosigneckey decrypts to a SEC1 key; re-armoured as EC PRIVATE KEY it imports
  // to the same public key as the validecp256 import vector.
  auto block = DecodeFirstPemBlock(ReadVector("cosign-keys_test-pemcosigneckey.key"), "v");
  ASSERT_TRUE(block.ok());
  auto plaintext = DecryptKeyEnvelope(block->der, "hello", "v");
  ASSERT_TRUE(plaintext.ok()) << plaintext.error().message();
  EXPECT_EQ(plaintext->size(), 121u);
  auto from_envelope =
      ImportKeyPair(EncodePemBlock("EC PRIVATE KEY", plaintext->view()), "a", "sec1");
  ASSERT_TRUE(from_envelope.ok()) << from_envelope.error().message();
  auto from_vector =
      ImportKeyPair(ReadVector("cosign-keys_test-validecp256.sec1.pem"), "b", "validecp256");
  ASSERT_TRUE(from_vector.ok());
  EXPECT_EQ(from_envelope->public_pem, from_vector->public_pem);
}

}  // namespace
}  // namespace signet::crypto

#include "signet/crypto/keys.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "key_test_data.h"
#include "signet/crypto/encoding.h"

namespace signet::crypto {
namespace {

using test::ReadVector;
using test::Vector;

struct PasswordVector {
  const char* key;
  const char* password;
  const char* derived_pub;
};

const PasswordVector kLoadableVectors[] = {
    {"cosign-keys_test-pemsigstorekey.key", "hello", "cosign-keys_test-pemsigstorekey.derived.pub"},
    {"cosign-keys_test-pemcosignkey.key", "hello", "cosign-keys_test-pemcosignkey.derived.pub"},
    {"conforma-cli-vsa_test-emptypw-N65536.key", "",
     "conforma-cli-vsa_test-emptypw-N65536.derived.pub"},
};

TEST(LoadPrivateKey, VectorsLoadAndGiveDerivedPublicKey) {
  for (const auto& v : kLoadableVectors) {
    SCOPED_TRACE(v.key);
    auto signer = LoadPrivateKeyFile(Vector(v.key), v.password);
    ASSERT_TRUE(signer.ok()) << signer.error().message();
    EXPECT_EQ((*signer)->algorithm(), KeyAlgorithm::kEcdsaP256);
    const std::string expected = ReadVector(v.derived_pub);
    ASSERT_FALSE(expected.empty());
    EXPECT_EQ((*signer)->PublicKeyPem(), expected);
    // The loaded key signs, and the derived public key file verifies it.
    auto signature = (*signer)->Sign("payload");
    ASSERT_TRUE(signature.ok()) << signature.error().message();
    auto verifier = LoadPublicKeyFile(Vector(v.derived_pub));
    ASSERT_TRUE(verifier.ok()) << verifier.error().message();
    EXPECT_TRUE((*verifier)->Verify(*signature, "payload").ok());
    EXPECT_FALSE((*verifier)->Verify(*signature, "payloaD").ok());
  }
}

TEST(LoadPrivateKey, WrongPasswordsFailWithDecryptionFailed) {
  for (const auto& v : kLoadableVectors) {
    for (const char* wrong : {"Hello", "hello\n", "x", " "}) {
      if (std::string(wrong) == v.password) continue;
      SCOPED_TRACE(std::string(v.key) + " / " + wrong);
      auto signer = LoadPrivateKeyFile(Vector(v.key), wrong);
      ASSERT_FALSE(signer.ok());
      EXPECT_EQ(signer.error().code(), ErrorCode::kDecryptionFailed);
      EXPECT_NE(signer.error().message().find(Vector(v.key)), std::string::npos)
          << signer.error().message();
    }
  }
  // The empty-password vector refuses "hello", the others refuse "".
  auto empty = LoadPrivateKeyFile(Vector("cosign-keys_test-pemsigstorekey.key"), "");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code(), ErrorCode::kDecryptionFailed);
  auto hello = LoadPrivateKeyFile(Vector("conforma-cli-vsa_test-emptypw-N65536.key"), "hello");
  ASSERT_FALSE(hello.ok());
  EXPECT_EQ(hello.error().code(), ErrorCode::kDecryptionFailed);
}

TEST(LoadPrivateKey, Sec1PlaintextIsRejected) {
  auto signer = LoadPrivateKeyFile(Vector("cosign-keys_test-pemcosigneckey.key"), "hello");
  ASSERT_FALSE(signer.ok());
  EXPECT_EQ(signer.error().code(), ErrorCode::kUnsupported);
  EXPECT_NE(signer.error().message().find("PKCS#8"), std::string::npos) << signer.error().message();
  // With the wrong password it is still a decryption failure, not a format error.
  auto wrong = LoadPrivateKeyFile(Vector("cosign-keys_test-pemcosigneckey.key"), "nope");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code(), ErrorCode::kDecryptionFailed);
}

TEST(LoadPrivateKey, UnsupportedPemTypes) {
  for (const char* name :
       {"cosign-keys_test-validecpkcs8.pem", "cosign-keys_test-validecp256.sec1.pem",
        "containers-image-fixtures-cosign.pub"}) {
    SCOPED_TRACE(name);
    auto signer = LoadPrivateKeyFile(Vector(name), "hello");
    ASSERT_FALSE(signer.ok());
    EXPECT_EQ(signer.error().code(), ErrorCode::kUnsupported);
    EXPECT_NE(signer.error().message().find("unsupported PEM type"), std::string::npos);
    EXPECT_NE(signer.error().message().find(name), std::string::npos);
  }
}

TEST(LoadPrivateKey, TruncatedAndGarbageFilesAreParseErrors) {
  const std::string good = ReadVector("cosign-keys_test-pemsigstorekey.key");
  const std::vector<std::string> bad = {
      "",
      "garbage\n",
      good.substr(0, good.size() / 2),  // no END line
      good.substr(0, good.find('\n') + 1) + "-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
      "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n!!!!\n"
      "-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
      // Valid PEM armour around bytes that are not JSON.
      "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n" + Base64Encode("not json") +
          "\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
  };
  for (const auto& text : bad) {
    SCOPED_TRACE(text);
    auto signer = LoadPrivateKey(text, "hello", "bad.key");
    ASSERT_FALSE(signer.ok());
    EXPECT_EQ(signer.error().code(), ErrorCode::kParse);
    EXPECT_EQ(signer.error().message().rfind("bad.key: ", 0), 0u) << signer.error().message();
  }
}

TEST(LoadPrivateKey, MissingFileNamesThePath) {
  auto signer = LoadPrivateKeyFile("/nonexistent/signet/cosign.key", "x");
  ASSERT_FALSE(signer.ok());
  EXPECT_EQ(signer.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(signer.error().message().find("/nonexistent/signet/cosign.key"), std::string::npos);
}

TEST(GenerateKeyPair, ProducesLoadableP256PairWithCosignLayout) {
  auto pair = GenerateKeyPair("pw");
  ASSERT_TRUE(pair.ok()) << pair.error().message();
  EXPECT_EQ(pair->private_pem.rfind("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n", 0), 0u);
  EXPECT_EQ(pair->public_pem.rfind("-----BEGIN PUBLIC KEY-----\n", 0), 0u);
  EXPECT_EQ(pair->public_pem.size(), 178u);  // 91-byte PKIX DER for P-256
  auto signer = LoadPrivateKey(pair->private_pem, "pw", "generated");
  ASSERT_TRUE(signer.ok()) << signer.error().message();
  EXPECT_EQ((*signer)->algorithm(), KeyAlgorithm::kEcdsaP256);
  EXPECT_EQ((*signer)->PublicKeyPem(), pair->public_pem);
  auto wrong = LoadPrivateKey(pair->private_pem, "pw2", "generated");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code(), ErrorCode::kDecryptionFailed);
  // Two generated pairs differ.
  auto other = GenerateKeyPair("pw");
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->public_pem, pair->public_pem);
}

TEST(GenerateKeyPair, EmptyPasswordIsAPassword) {
  auto pair = GenerateKeyPair("");
  ASSERT_TRUE(pair.ok()) << pair.error().message();
  EXPECT_TRUE(LoadPrivateKey(pair->private_pem, "", "k").ok());
  auto wrong = LoadPrivateKey(pair->private_pem, "\n", "k");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code(), ErrorCode::kDecryptionFailed);
}

struct ImportVector {
  const char* file;
  KeyAlgorithm algorithm;
};

TEST(ImportKeyPair, ImportVectorsImportAndSign) {
  const ImportVector vectors[] = {
      {"cosign-keys_test-validecp256.sec1.pem", KeyAlgorithm::kEcdsaP256},
      {"cosign-keys_test-validecpkcs8.pem", KeyAlgorithm::kEcdsaP256},
      {"cosign-keys_test-validrsapkcs8.pem", KeyAlgorithm::kRsa2048},
      {"cosign-keys_test-ed25519.pkcs8.pem", KeyAlgorithm::kEd25519},
  };
  for (const auto& v : vectors) {
    SCOPED_TRACE(v.file);
    auto pair = ImportKeyPair(ReadVector(v.file), "imported", v.file);
    ASSERT_TRUE(pair.ok()) << pair.error().message();
    EXPECT_EQ(pair->private_pem.rfind("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n", 0), 0u);
    auto signer = LoadPrivateKey(pair->private_pem, "imported", "imported.key");
    ASSERT_TRUE(signer.ok()) << signer.error().message();
    EXPECT_EQ((*signer)->algorithm(), v.algorithm);
    EXPECT_EQ((*signer)->PublicKeyPem(), pair->public_pem);
    auto verifier = LoadPublicKey(pair->public_pem, "imported.pub");
    ASSERT_TRUE(verifier.ok()) << verifier.error().message();
    EXPECT_EQ((*verifier)->algorithm(), v.algorithm);
    auto signature = (*signer)->Sign("blob");
    ASSERT_TRUE(signature.ok()) << signature.error().message();
    EXPECT_TRUE((*verifier)->Verify(*signature, "blob").ok());
    EXPECT_FALSE((*verifier)->Verify(*signature, "blob2").ok());
  }
}

TEST(ImportKeyPair, RejectsWrongPemTypesAndGarbage) {
  auto encrypted = ImportKeyPair(ReadVector("cosign-keys_test-pemsigstorekey.key"), "x", "enc.key");
  ASSERT_FALSE(encrypted.ok());
  EXPECT_EQ(encrypted.error().code(), ErrorCode::kUnsupported);
  EXPECT_NE(encrypted.error().message().find("enc.key"), std::string::npos);

  auto pub = ImportKeyPair(ReadVector("containers-image-fixtures-cosign.pub"), "x", "k.pub");
  ASSERT_FALSE(pub.ok());
  EXPECT_EQ(pub.error().code(), ErrorCode::kUnsupported);

  // An RSA key labelled as an EC key is refused.
  std::string mislabelled = ReadVector("cosign-keys_test-validrsapkcs8.pem");
  for (const std::string from : {"BEGIN PRIVATE KEY", "END PRIVATE KEY"}) {
    const std::string to = from.substr(0, from.find(' ')) + " EC PRIVATE KEY";
    mislabelled.replace(mislabelled.find(from), from.size(), to);
  }
  auto wrong_kind = ImportKeyPair(mislabelled, "x", "mislabelled.pem");
  ASSERT_FALSE(wrong_kind.ok());
  EXPECT_EQ(wrong_kind.error().code(), ErrorCode::kParse);
  EXPECT_NE(wrong_kind.error().message().find("mislabelled.pem"), std::string::npos);

  auto garbage = ImportKeyPair("hello", "x", "garbage.pem");
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error().code(), ErrorCode::kParse);
}

// Runs the openssl CLI and returns its stdout (a PEM).
std::string OpenSsl(const std::vector<std::string>& args, const std::string& input = "") {
  std::vector<std::string> argv = {"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = signet::testing::RunCommand(argv, {}, input);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

TEST(ImportKeyPair, RefusesWeakOrUnsupportedKeys) {
  const std::string rsa1024 =
      OpenSsl({"genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"});
  auto rsa = ImportKeyPair(rsa1024, "x", "rsa1024.pem");
  ASSERT_FALSE(rsa.ok());
  EXPECT_EQ(rsa.error().code(), ErrorCode::kUnsupported);
  EXPECT_NE(rsa.error().message().find("1024"), std::string::npos) << rsa.error().message();

  const std::string p224 =
      OpenSsl({"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-224"});
  auto ec = ImportKeyPair(p224, "x", "p224.pem");
  ASSERT_FALSE(ec.ok());
  EXPECT_EQ(ec.error().code(), ErrorCode::kUnsupported);
  EXPECT_NE(ec.error().message().find("curve"), std::string::npos) << ec.error().message();

  const std::string x25519 = OpenSsl({"genpkey", "-algorithm", "X25519"});
  auto x = ImportKeyPair(x25519, "x", "x25519.pem");
  ASSERT_FALSE(x.ok());
  EXPECT_EQ(x.error().code(), ErrorCode::kUnsupported);
}

TEST(ImportKeyPair, AcceptsPkcs1RsaAndOtherCurves) {
  const std::string pkcs8 = ReadVector("cosign-keys_test-validrsapkcs8.pem");
  const std::string pkcs1 = OpenSsl({"pkey", "-traditional"}, pkcs8);
  ASSERT_EQ(pkcs1.rfind("-----BEGIN RSA PRIVATE KEY-----", 0), 0u) << pkcs1;
  auto from_pkcs1 = ImportKeyPair(pkcs1, "x", "rsa.pem");
  ASSERT_TRUE(from_pkcs1.ok()) << from_pkcs1.error().message();
  auto from_pkcs8 = ImportKeyPair(pkcs8, "x", "rsa8.pem");
  ASSERT_TRUE(from_pkcs8.ok());
  EXPECT_EQ(from_pkcs1->public_pem, from_pkcs8->public_pem);

  for (const auto& [curve, algorithm] : {std::pair{"P-384", KeyAlgorithm::kEcdsaP384},
                                         std::pair{"P-521", KeyAlgorithm::kEcdsaP521}}) {
    SCOPED_TRACE(curve);
    const std::string sec1 =
        OpenSsl({"ecparam", "-name", curve == std::string("P-384") ? "secp384r1" : "secp521r1",
                 "-genkey", "-noout"});
    auto pair = ImportKeyPair(sec1, "x", "ec.pem");
    ASSERT_TRUE(pair.ok()) << pair.error().message();
    auto signer = LoadPrivateKey(pair->private_pem, "x", "ec.key");
    ASSERT_TRUE(signer.ok());
    EXPECT_EQ((*signer)->algorithm(), algorithm);
  }
}

TEST(LoadPublicKey, PkixAndPkcs1RsaPemTypes) {
  const std::string rsa_pkcs8 = ReadVector("cosign-keys_test-validrsapkcs8.pem");
  const std::string pkix = OpenSsl({"pkey", "-pubout"}, rsa_pkcs8);
  const std::string pkcs1 = OpenSsl({"rsa", "-RSAPublicKey_out"}, rsa_pkcs8);
  ASSERT_EQ(pkcs1.rfind("-----BEGIN RSA PUBLIC KEY-----", 0), 0u) << pkcs1;
  auto a = LoadPublicKey(pkix, "pkix.pub");
  ASSERT_TRUE(a.ok()) << a.error().message();
  auto b = LoadPublicKey(pkcs1, "pkcs1.pub");
  ASSERT_TRUE(b.ok()) << b.error().message();
  EXPECT_EQ((*a)->algorithm(), KeyAlgorithm::kRsa2048);
  EXPECT_EQ((*b)->algorithm(), KeyAlgorithm::kRsa2048);
  EXPECT_EQ((*a)->PublicKeyPem(), pkix);  // re-encodes byte-identically
  EXPECT_EQ((*b)->PublicKeyPem(), pkix);  // PKCS#1 input is re-encoded as PKIX

  for (const char* name :
       {"containers-image-fixtures-cosign.pub", "containers-image-fixtures-cosign2.pub",
        "containers-image-internal-testdata-rekor.pub"}) {
    auto v = LoadPublicKeyFile(Vector(name));
    ASSERT_TRUE(v.ok()) << name << ": " << v.error().message();
    EXPECT_EQ((*v)->algorithm(), KeyAlgorithm::kEcdsaP256);
  }
}

TEST(LoadPublicKey, RejectsOtherPemTypesAndGarbage) {
  auto priv = LoadPublicKeyFile(Vector("cosign-keys_test-pemsigstorekey.key"));
  ASSERT_FALSE(priv.ok());
  EXPECT_EQ(priv.error().code(), ErrorCode::kUnsupported);
  EXPECT_NE(priv.error().message().find("cosign-keys_test-pemsigstorekey.key"), std::string::npos);

  const std::string pub = ReadVector("containers-image-fixtures-cosign.pub");
  auto truncated = LoadPublicKey(pub.substr(0, 60), "t.pub");
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.error().code(), ErrorCode::kParse);

  // Valid base64 but not a SubjectPublicKeyInfo.
  auto junk = LoadPublicKey(
      "-----BEGIN PUBLIC KEY-----\n" + Base64Encode("0123456789") + "\n-----END PUBLIC KEY-----\n",
      "junk.pub");
  ASSERT_FALSE(junk.ok());
  EXPECT_EQ(junk.error().code(), ErrorCode::kParse);
  EXPECT_NE(junk.error().message().find("junk.pub"), std::string::npos);
}

}  // namespace
}  // namespace signet::crypto

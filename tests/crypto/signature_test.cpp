#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "key_test_data.h"
#include "signet/crypto/encoding.h"
#include "signet/crypto/keys.h"

namespace signet::crypto {
namespace {

using signet::testing::RunCommand;
using signet::testing::TempDir;
using signet::testing::WriteFile;
using test::ReadVector;
using test::Vector;

// A containers/image "sigstore-json" signature blob: 0x00 "sigstore-json\n"
// then {"mimeType":..,"payload":<b64>,"annotations":{..}}.
struct SigstoreBlob {
  std::string mime_type;
  std::string payload;
  std::string signature_b64;
};

SigstoreBlob ParseSigstoreBlob(const std::string& name) {
  const std::string bytes = ReadVector(name);
  const std::string prefix("\0sigstore-json\n", 15);
  EXPECT_EQ(bytes.substr(0, prefix.size()), prefix) << name;
  const auto json = nlohmann::json::parse(bytes.substr(prefix.size()));
  SigstoreBlob blob;
  blob.mime_type = json.at("mimeType").get<std::string>();
  blob.payload = *Base64Decode(json.at("payload").get<std::string>());
  const auto& annotations = json.at("annotations");
  if (annotations.contains("dev.cosignproject.cosign/signature")) {
    blob.signature_b64 = annotations.at("dev.cosignproject.cosign/signature").get<std::string>();
  }
  return blob;
}

struct Fixture {
  const char* signature;
  const char* key;
  const char* other_key;
};

const Fixture kFixtures[] = {
    {"containers-image-fixtures-dir-img-cosign-valid_signature-1",
     "containers-image-fixtures-cosign.pub", "containers-image-fixtures-cosign2.pub"},
    {"containers-image-fixtures-dir-img-cosign-valid-2_signature-2",
     "containers-image-fixtures-cosign.pub", "containers-image-fixtures-cosign2.pub"},
    {"containers-image-fixtures-dir-img-cosign-valid-with-tag_signature-1",
     "containers-image-fixtures-cosign.pub", "containers-image-fixtures-cosign2.pub"},
    {"containers-image-fixtures-dir-img-cosign-key-rekor-valid_signature-1",
     "containers-image-fixtures-cosign2.pub", "containers-image-fixtures-cosign.pub"},
};

TEST(GenuineSignatures, VerifyWithTheirKeyOnly) {
  for (const auto& f : kFixtures) {
    SCOPED_TRACE(f.signature);
    const SigstoreBlob blob = ParseSigstoreBlob(f.signature);
    EXPECT_EQ(blob.mime_type, "application/vnd.dev.cosign.simplesigning.v1+json");
    auto signature = Base64Decode(blob.signature_b64);
    ASSERT_TRUE(signature.ok());
    auto key = LoadPublicKeyFile(Vector(f.key));
    ASSERT_TRUE(key.ok());
    const Status ok = (*key)->Verify(*signature, blob.payload);
    EXPECT_TRUE(ok.ok()) << ok.error().message();

    auto other = LoadPublicKeyFile(Vector(f.other_key));
    ASSERT_TRUE(other.ok());
    const Status wrong_key = (*other)->Verify(*signature, blob.payload);
    ASSERT_FALSE(wrong_key.ok());
    EXPECT_EQ(wrong_key.error().code(), ErrorCode::kVerificationFailed);

    std::string tampered_payload = blob.payload;
    tampered_payload[tampered_payload.size() / 2] ^= 0x20;
    EXPECT_FALSE((*key)->Verify(*signature, tampered_payload).ok());

    std::string tampered_sig = *signature;
    tampered_sig[tampered_sig.size() - 3] ^= 0x01;
    EXPECT_FALSE((*key)->Verify(tampered_sig, blob.payload).ok());
    EXPECT_FALSE((*key)->Verify(signature->substr(0, signature->size() - 1), blob.payload).ok());
    EXPECT_FALSE((*key)->Verify("", blob.payload).ok());
  }
}

TEST(GenuineSignatures, OtherAttachmentIsNotASignature) {
  const SigstoreBlob blob =
      ParseSigstoreBlob("containers-image-fixtures-dir-img-cosign-other-attachment_signature-1");
  // Not a simple-signing payload, so a verifier must skip it whatever its annotations say.
  EXPECT_EQ(blob.mime_type, "text/plain");
  EXPECT_EQ(blob.payload.rfind("this is not a signature", 0), 0u) << blob.payload;
}

// DER ECDSA-Sig-Value → fixed-width r||s.
std::string DerToRaw(const std::string& der, size_t width) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  EXPECT_NE(sig, nullptr);
  std::string raw(2 * width, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), out, static_cast<int>(width));
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), out + width, static_cast<int>(width));
  ECDSA_SIG_free(sig);
  return raw;
}

TEST(EcdsaSignatures, RawRsIsAccepted) {
  const SigstoreBlob blob = ParseSigstoreBlob(kFixtures[0].signature);
  const std::string der = *Base64Decode(blob.signature_b64);
  const std::string raw = DerToRaw(der, 32);
  auto key = LoadPublicKeyFile(Vector(kFixtures[0].key));
  ASSERT_TRUE(key.ok());
  EXPECT_TRUE((*key)->Verify(raw, blob.payload).ok());
  std::string bad = raw;
  bad[5] ^= 0x40;
  EXPECT_FALSE((*key)->Verify(bad, blob.payload).ok());
  EXPECT_FALSE((*key)->Verify(raw.substr(0, 63), blob.payload).ok());  // odd length
  EXPECT_FALSE((*key)->Verify(raw, blob.payload + " ").ok());
}

// Signs with signet and checks the signature with the openssl CLI, so the
// scheme (digest, padding, encoding) is checked independently.
void CheckWithOpenSsl(const Signer& signer, const std::vector<std::string>& verify_args) {
  TempDir dir;
  const std::string data = "signet blob \x01\x02\n";
  auto signature = signer.Sign(data);
  ASSERT_TRUE(signature.ok()) << signature.error().message();
  WriteFile(dir.File("data"), data);
  WriteFile(dir.File("sig"), *signature);
  WriteFile(dir.File("pub.pem"), signer.PublicKeyPem());
  std::vector<std::string> argv = {"openssl"};
  argv.insert(argv.end(), verify_args.begin(), verify_args.end());
  for (const char* extra : {"-pubin", "-inkey"}) argv.push_back(extra);
  argv.push_back(dir.File("pub.pem"));
  argv.insert(argv.end(), {"-sigfile", dir.File("sig"), "-in", dir.File("data")});
  auto r = RunCommand(argv);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Signature Verified Successfully"), std::string::npos) << r.out;
  // And signet's own verifier agrees; a flipped data bit fails.
  auto verifier = signer.MakeVerifier();
  EXPECT_TRUE(verifier->Verify(*signature, data).ok());
  EXPECT_FALSE(verifier->Verify(*signature, "x" + data).ok());
}

std::unique_ptr<Signer> ImportAndLoad(const std::string& unencrypted_pem) {
  auto pair = ImportKeyPair(unencrypted_pem, "pw", "test key");
  EXPECT_TRUE(pair.ok()) << pair.error().message();
  auto signer = LoadPrivateKey(pair->private_pem, "pw", "test key");
  EXPECT_TRUE(signer.ok()) << signer.error().message();
  return std::move(signer).value();
}

std::string GenerateWithOpenSsl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"openssl", "genpkey"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = RunCommand(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

TEST(SigningSchemes, MatchCosignPerAlgorithm) {
  CheckWithOpenSsl(*ImportAndLoad(ReadVector("cosign-keys_test-validecpkcs8.pem")),
                   {"pkeyutl", "-verify", "-digest", "sha256", "-rawin"});
  CheckWithOpenSsl(*ImportAndLoad(GenerateWithOpenSsl(
                       {"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"})),
                   {"pkeyutl", "-verify", "-digest", "sha384", "-rawin"});
  CheckWithOpenSsl(*ImportAndLoad(GenerateWithOpenSsl(
                       {"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"})),
                   {"pkeyutl", "-verify", "-digest", "sha512", "-rawin"});
  CheckWithOpenSsl(
      *ImportAndLoad(ReadVector("cosign-keys_test-validrsapkcs8.pem")),
      {"pkeyutl", "-verify", "-digest", "sha256", "-rawin", "-pkeyopt", "rsa_padding_mode:pkcs1"});
  CheckWithOpenSsl(*ImportAndLoad(ReadVector("cosign-keys_test-ed25519.pkcs8.pem")),
                   {"pkeyutl", "-verify", "-rawin"});
}

TEST(SigningSchemes, EcdsaSignaturesAreRandomizedDer) {
  auto signer = ImportAndLoad(ReadVector("cosign-keys_test-validecpkcs8.pem"));
  auto a = signer->Sign("same");
  auto b = signer->Sign("same");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_EQ(static_cast<unsigned char>((*a)[0]), 0x30);  // ASN.1 SEQUENCE
}

TEST(SigningSchemes, CrossAlgorithmSignaturesFail) {
  auto ec = ImportAndLoad(ReadVector("cosign-keys_test-validecpkcs8.pem"));
  auto ed = ImportAndLoad(ReadVector("cosign-keys_test-ed25519.pkcs8.pem"));
  auto rsa = ImportAndLoad(ReadVector("cosign-keys_test-validrsapkcs8.pem"));
  auto ec_sig = ec->Sign("m");
  auto ed_sig = ed->Sign("m");
  auto rsa_sig = rsa->Sign("m");
  ASSERT_TRUE(ec_sig.ok() && ed_sig.ok() && rsa_sig.ok());
  EXPECT_FALSE(ec->MakeVerifier()->Verify(*ed_sig, "m").ok());
  EXPECT_FALSE(ec->MakeVerifier()->Verify(*rsa_sig, "m").ok());
  EXPECT_FALSE(ed->MakeVerifier()->Verify(*ec_sig, "m").ok());
  EXPECT_FALSE(rsa->MakeVerifier()->Verify(*ec_sig, "m").ok());
  const Status status = rsa->MakeVerifier()->Verify(*ed_sig, "m");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kVerificationFailed);
}

}  // namespace
}  // namespace signet::crypto

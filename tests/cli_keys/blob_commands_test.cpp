#include <gtest/gtest.h>

#include "cli_test_env.h"
#include "signet/crypto/encoding.h"
#include "signet/crypto/keys.h"

namespace signet::cli {
namespace {

using signet::testing::ReadFile;
using signet::testing::TempDir;
using signet::testing::WriteFile;
using test::Signet;

class BlobCommands : public ::testing::Test {
 protected:
  void SetUp() override {
    auto gen = Signet({"generate-key-pair", "--output-key-prefix", dir_.File("k")}, "pw");
    ASSERT_EQ(gen.exit_code, 0) << gen.err;
    WriteFile(dir_.File("blob"), "the blob\n");
  }
  std::string File(const std::string& name) const { return dir_.File(name); }
  TempDir dir_;
};

TEST_F(BlobCommands, SignToStdoutAndVerify) {
  auto sign = Signet({"sign-blob", "--key", File("k.key"), File("blob")}, "pw");
  ASSERT_EQ(sign.exit_code, 0) << sign.err;
  ASSERT_FALSE(sign.out.empty());
  EXPECT_EQ(sign.out.back(), '\n');
  const std::string b64 = sign.out.substr(0, sign.out.size() - 1);
  auto der = crypto::Base64Decode(b64);
  ASSERT_TRUE(der.ok()) << sign.out;
  EXPECT_EQ(static_cast<unsigned char>((*der)[0]), 0x30);
  // The signature checks out with the library too (independent of verify-blob).
  auto verifier = crypto::LoadPublicKeyFile(File("k.pub"));
  ASSERT_TRUE(verifier.ok());
  EXPECT_TRUE((*verifier)->Verify(*der, "the blob\n").ok());

  WriteFile(File("sig"), sign.out);  // with its trailing newline
  auto verify = Signet(
      {"verify-blob", "--key", File("k.pub"), "--signature", File("sig"), File("blob")}, nullptr);
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_NE(verify.err.find("Verified OK"), std::string::npos) << verify.err;
}

TEST_F(BlobCommands, OutputSignatureFileAndStdinBlob) {
  auto sign = Signet({"sign-blob", "--key", File("k.key"), "--output-signature", File("sig"), "-"},
                     "pw", "the blob\n");
  ASSERT_EQ(sign.exit_code, 0) << sign.err;
  EXPECT_TRUE(sign.out.empty());
  EXPECT_TRUE(crypto::Base64Decode(ReadFile(File("sig"))).ok());
  // Signed stdin bytes == file bytes, so the file verifies...
  auto verify = Signet(
      {"verify-blob", "--key", File("k.pub"), "--signature", File("sig"), File("blob")}, nullptr);
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  // ...and so does the blob given on stdin to verify-blob.
  auto verify_stdin = Signet({"verify-blob", "--key", File("k.pub"), "--signature", File("sig"),
                              "--insecure-ignore-tlog=true", "-"},
                             nullptr, "the blob\n");
  EXPECT_EQ(verify_stdin.exit_code, 0) << verify_stdin.err;
}

TEST_F(BlobCommands, PasswordFromStdinForSignBlob) {
  auto sign = Signet({"sign-blob", "--key", File("k.key"), File("blob")}, nullptr, "pw");
  ASSERT_EQ(sign.exit_code, 0) << sign.err;
  auto wrong = Signet({"sign-blob", "--key", File("k.key"), File("blob")}, nullptr, "pw\n");
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_NE(wrong.err.find(File("k.key")), std::string::npos) << wrong.err;
  EXPECT_NE(wrong.err.find("wrong password"), std::string::npos) << wrong.err;
  EXPECT_TRUE(wrong.out.empty());
  // Blob on stdin needs the password elsewhere.
  auto both = Signet({"sign-blob", "--key", File("k.key"), "-"}, nullptr, "pw");
  EXPECT_NE(both.exit_code, 0);
  EXPECT_NE(both.err.find("COSIGN_PASSWORD"), std::string::npos) << both.err;
}

TEST_F(BlobCommands, RawRsSignatureIsAccepted) {
  auto signer = crypto::LoadPrivateKeyFile(File("k.key"), "pw");
  ASSERT_TRUE(signer.ok());
  auto der = (*signer)->Sign("the blob\n");
  ASSERT_TRUE(der.ok());
  // Convert DER (30 len 02 rlen r 02 slen s) to fixed 32-byte r||s.
  const std::string& d = *der;
  size_t pos = 2;
  auto take_int = [&](std::string& out) {
    const size_t len = static_cast<unsigned char>(d[pos + 1]);
    std::string v = d.substr(pos + 2, len);
    pos += 2 + len;
    while (v.size() > 32 && v[0] == '\0') v.erase(0, 1);
    out = std::string(32 - v.size(), '\0') + v;
  };
  std::string r, s;
  take_int(r);
  take_int(s);
  WriteFile(File("raw.sig"), crypto::Base64Encode(r + s));
  auto verify =
      Signet({"verify-blob", "--key", File("k.pub"), "--signature", File("raw.sig"), File("blob")},
             nullptr);
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
}

TEST_F(BlobCommands, VerifyFailuresNameTheCause) {
  auto sign = Signet({"sign-blob", "--key", File("k.key"), File("blob")}, "pw");
  ASSERT_EQ(sign.exit_code, 0);
  WriteFile(File("sig"), sign.out);
  WriteFile(File("other"), "the blob!\n");
  auto tampered = Signet(
      {"verify-blob", "--key", File("k.pub"), "--signature", File("sig"), File("other")}, nullptr);
  EXPECT_EQ(tampered.exit_code, 1);
  EXPECT_NE(tampered.err.find("invalid signature"), std::string::npos) << tampered.err;
  EXPECT_NE(tampered.err.find(File("other")), std::string::npos) << tampered.err;
  EXPECT_EQ(tampered.err.find("Verified OK"), std::string::npos);

  // A signature from another key.
  ASSERT_EQ(Signet({"generate-key-pair", "--output-key-prefix", File("k2")}, "pw").exit_code, 0);
  auto other_key = Signet(
      {"verify-blob", "--key", File("k2.pub"), "--signature", File("sig"), File("blob")}, nullptr);
  EXPECT_NE(other_key.exit_code, 0);

  WriteFile(File("notb64"), "not base64 at all!");
  auto garbage =
      Signet({"verify-blob", "--key", File("k.pub"), "--signature", File("notb64"), File("blob")},
             nullptr);
  EXPECT_NE(garbage.exit_code, 0);
  EXPECT_NE(garbage.err.find("base64"), std::string::npos) << garbage.err;

  auto missing_sig = Signet(
      {"verify-blob", "--key", File("k.pub"), "--signature", File("nosig"), File("blob")}, nullptr);
  EXPECT_NE(missing_sig.exit_code, 0);
  EXPECT_NE(missing_sig.err.find(File("nosig")), std::string::npos) << missing_sig.err;

  auto private_as_pub = Signet(
      {"verify-blob", "--key", File("k.key"), "--signature", File("sig"), File("blob")}, nullptr);
  EXPECT_NE(private_as_pub.exit_code, 0);
  EXPECT_NE(private_as_pub.err.find(File("k.key")), std::string::npos) << private_as_pub.err;
  EXPECT_NE(private_as_pub.err.find("unsupported public key PEM type"), std::string::npos);

  auto missing_blob = Signet(
      {"verify-blob", "--key", File("k.pub"), "--signature", File("sig"), File("noblob")}, nullptr);
  EXPECT_NE(missing_blob.exit_code, 0);
  EXPECT_NE(missing_blob.err.find(File("noblob")), std::string::npos) << missing_blob.err;
}

}  // namespace
}  // namespace signet::cli

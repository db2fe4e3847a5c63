// Interop with the reference cosign 2.5.0, both ways, for key files and blob
// signatures. Everything is offline: no transparency log, no TUF.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "signet/crypto/keys.h"
#include "support/paths.h"
#include "support/process.h"

namespace signet {
namespace {

using signet::testing::CommandResult;
using signet::testing::ReadFile;
using signet::testing::RunCommand;
using signet::testing::TempDir;
using signet::testing::TestDataDir;
using signet::testing::WriteFile;

class CosignInterop : public ::testing::Test {
 protected:
  // cosign keeps state under $HOME (~/.sigstore); point it at the temp dir.
  std::vector<std::string> Env(const std::string& password) const {
    return {"COSIGN_PASSWORD=" + password, "HOME=" + dir_.File("home"),
            "TUF_ROOT=" + dir_.File("home/tuf"), "SIGSTORE_NO_CACHE=true"};
  }

  CommandResult Cosign(const std::vector<std::string>& args, const std::string& password) const {
    std::vector<std::string> argv = {signet::testing::CosignBinary()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, Env(password));
  }

  CommandResult Signet(const std::vector<std::string>& args, const std::string& password) const {
    std::vector<std::string> argv = {signet::testing::SignetBinary()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, Env(password));
  }

  std::string File(const std::string& name) const { return dir_.File(name); }

  void SetUp() override {
    ASSERT_FALSE(ReadFile(signet::testing::CosignBinary()).empty())
        << "reference cosign missing; run scripts/install-deps.sh";
    WriteFile(File("blob"), "signet <-> cosign interop blob\n\x01\x02\xff");
  }

  TempDir dir_;
};

TEST_F(CosignInterop, CosignReadsSignetGeneratedKey) {
  auto gen = Signet({"generate-key-pair", "--output-key-prefix", File("s")}, "sig-pw");
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  auto pub = Cosign({"public-key", "--key", File("s.key")}, "sig-pw");
  ASSERT_EQ(pub.exit_code, 0) << pub.err;
  EXPECT_EQ(pub.out, ReadFile(File("s.pub")));
  // And cosign rejects the wrong password for it.
  auto wrong = Cosign({"public-key", "--key", File("s.key")}, "other");
  EXPECT_NE(wrong.exit_code, 0);
}

TEST_F(CosignInterop, SignetReadsCosignGeneratedKey) {
  auto gen = Cosign({"generate-key-pair", "--output-key-prefix", File("c")}, "cos-pw");
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  auto pub = Signet({"public-key", "--key", File("c.key")}, "cos-pw");
  ASSERT_EQ(pub.exit_code, 0) << pub.err;
  EXPECT_EQ(pub.out, ReadFile(File("c.pub")));
  auto signer = crypto::LoadPrivateKeyFile(File("c.key"), "cos-pw");
  ASSERT_TRUE(signer.ok()) << signer.error().message();
  EXPECT_EQ((*signer)->algorithm(), crypto::KeyAlgorithm::kEcdsaP256);
  auto wrong = crypto::LoadPrivateKeyFile(File("c.key"), "cos-pw ");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code(), ErrorCode::kDecryptionFailed);
}

TEST_F(CosignInterop, EmptyPasswordKeysWorkBothWays) {
  ASSERT_EQ(Cosign({"generate-key-pair", "--output-key-prefix", File("ce")}, "").exit_code, 0);
  auto pub = Signet({"public-key", "--key", File("ce.key")}, "");
  ASSERT_EQ(pub.exit_code, 0) << pub.err;
  EXPECT_EQ(pub.out, ReadFile(File("ce.pub")));
  ASSERT_EQ(Signet({"generate-key-pair", "--output-key-prefix", File("se")}, "").exit_code, 0);
  auto cpub = Cosign({"public-key", "--key", File("se.key")}, "");
  ASSERT_EQ(cpub.exit_code, 0) << cpub.err;
  EXPECT_EQ(cpub.out, ReadFile(File("se.pub")));
}

TEST_F(CosignInterop, SignetSignatureVerifiesInCosign) {
  ASSERT_EQ(Signet({"generate-key-pair", "--output-key-prefix", File("s")}, "pw").exit_code, 0);
  auto sign = Signet(
      {"sign-blob", "--key", File("s.key"), "--output-signature", File("sig"), File("blob")}, "pw");
  ASSERT_EQ(sign.exit_code, 0) << sign.err;
  auto verify = Cosign({"verify-blob", "--key", File("s.pub"), "--signature", File("sig"),
                        "--insecure-ignore-tlog=true", File("blob")},
                       "");
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_NE(verify.err.find("Verified OK"), std::string::npos) << verify.err;

  // cosign rejects the same signature over different bytes.
  WriteFile(File("other"), "another blob");
  auto bad = Cosign({"verify-blob", "--key", File("s.pub"), "--signature", File("sig"),
                     "--insecure-ignore-tlog=true", File("other")},
                    "");
  EXPECT_NE(bad.exit_code, 0);
}

TEST_F(CosignInterop, SignetStdoutSignatureVerifiesInCosign) {
  ASSERT_EQ(Cosign({"generate-key-pair", "--output-key-prefix", File("c")}, "pw").exit_code, 0);
  // signet signs with cosign's key and prints the signature on stdout.
  auto sign = Signet({"sign-blob", "--key", File("c.key"), File("blob")}, "pw");
  ASSERT_EQ(sign.exit_code, 0) << sign.err;
  WriteFile(File("sig"), sign.out);
  auto verify = Cosign({"verify-blob", "--key", File("c.pub"), "--signature", File("sig"),
                        "--insecure-ignore-tlog=true", File("blob")},
                       "");
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
}

TEST_F(CosignInterop, CosignSignatureVerifiesInSignet) {
  ASSERT_EQ(Cosign({"generate-key-pair", "--output-key-prefix", File("c")}, "pw").exit_code, 0);
  auto sign = Cosign({"sign-blob", "--key", File("c.key"), "--tlog-upload=false", "--yes",
                      "--output-signature", File("sig"), File("blob")},
                     "pw");
  ASSERT_EQ(sign.exit_code, 0) << sign.err;
  auto verify =
      Signet({"verify-blob", "--key", File("c.pub"), "--signature", File("sig"), File("blob")}, "");
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_NE(verify.err.find("Verified OK"), std::string::npos) << verify.err;

  // Same signature, modified blob: signet refuses.
  WriteFile(File("blob2"), ReadFile(File("blob")) + "x");
  auto bad = Signet(
      {"verify-blob", "--key", File("c.pub"), "--signature", File("sig"), File("blob2")}, "");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_EQ(bad.err.find("Verified OK"), std::string::npos);
}

TEST_F(CosignInterop, SignetImportedKeysSignInCosign) {
  const std::string data = TestDataDir() + "/cosign/";
  for (const char* name :
       {"cosign-keys_test-validecp256.sec1.pem", "cosign-keys_test-validecpkcs8.pem",
        "cosign-keys_test-validrsapkcs8.pem"}) {
    SCOPED_TRACE(name);
    const std::string prefix = File(std::string("imp-") + name);
    auto imp = Signet({"import-key-pair", "--key", data + name, "-o", prefix}, "ipw");
    ASSERT_EQ(imp.exit_code, 0) << imp.err;
    auto pub = Cosign({"public-key", "--key", prefix + ".key"}, "ipw");
    ASSERT_EQ(pub.exit_code, 0) << pub.err;
    EXPECT_EQ(pub.out, ReadFile(prefix + ".pub"));
    const std::string sig = prefix + ".sig";
    auto sign = Cosign({"sign-blob", "--key", prefix + ".key", "--tlog-upload=false", "--yes",
                        "--output-signature", sig, File("blob")},
                       "ipw");
    ASSERT_EQ(sign.exit_code, 0) << sign.err;
    auto verify =
        Signet({"verify-blob", "--key", prefix + ".pub", "--signature", sig, File("blob")}, "");
    EXPECT_EQ(verify.exit_code, 0) << verify.err;
    // And the other direction with the same imported key.
    const std::string ssig = prefix + ".ssig";
    auto ssign = Signet(
        {"sign-blob", "--key", prefix + ".key", "--output-signature", ssig, File("blob")}, "ipw");
    ASSERT_EQ(ssign.exit_code, 0) << ssign.err;
    auto cverify = Cosign({"verify-blob", "--key", prefix + ".pub", "--signature", ssig,
                           "--insecure-ignore-tlog=true", File("blob")},
                          "");
    EXPECT_EQ(cverify.exit_code, 0) << cverify.err;
  }
}

}  // namespace
}  // namespace signet

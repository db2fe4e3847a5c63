// Interop with the reference cosign v3.1.2 for Sigstore bundles over blobs,
// both ways: `signet sign-blob --bundle` then `cosign verify-blob --bundle`,
// and `cosign sign-blob --bundle` (and `attest-blob`) then `signet
// verify-blob --bundle`, each with negative controls (another key, a changed
// blob, a tampered bundle). Offline: key-based, no transparency log, no TUF
// (cosign needs --use-signing-config=false --tlog-upload=false to sign and
// --insecure-ignore-tlog=true to verify such a bundle).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/paths.h"
#include "support/process.h"

namespace signet {
namespace {

using signet::testing::CommandResult;
using signet::testing::ReadFile;
using signet::testing::RunCommand;
using signet::testing::TempDir;
using signet::testing::WriteFile;

constexpr char kCosignOfflineSign[] = "--use-signing-config=false";
constexpr char kCosignNoTlog[] = "--tlog-upload=false";
constexpr char kIgnoreTlog[] = "--insecure-ignore-tlog=true";

class CosignV3BundleInterop : public ::testing::Test {
 protected:
  std::vector<std::string> Env() const {
    return {"COSIGN_PASSWORD=pw", "HOME=" + dir_.File("home"), "TUF_ROOT=" + dir_.File("home/tuf"),
            "SIGSTORE_NO_CACHE=true"};
  }
  CommandResult Cosign(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {signet::testing::CosignV3Binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, Env());
  }
  CommandResult Signet(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {signet::testing::SignetBinary()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, Env());
  }
  std::string File(const std::string& name) const { return dir_.File(name); }

  CommandResult CosignVerify(const std::string& pub, const std::string& bundle,
                             const std::string& blob) const {
    return Cosign(
        {"verify-blob", "--key", File(pub), "--bundle", File(bundle), kIgnoreTlog, File(blob)});
  }
  CommandResult SignetVerify(const std::string& pub, const std::string& bundle,
                             const std::string& blob) const {
    return Signet(
        {"verify-blob", "--key", File(pub), "--bundle", File(bundle), kIgnoreTlog, File(blob)});
  }

  // A copy of `bundle` with its signature's first base64 character changed.
  void WriteTampered(const std::string& bundle, const std::string& out) const {
    auto json = nlohmann::json::parse(ReadFile(File(bundle)));
    std::string* sig = json.contains("messageSignature")
                           ? json["messageSignature"]["signature"].get_ptr<std::string*>()
                           : json["dsseEnvelope"]["signatures"][0]["sig"].get_ptr<std::string*>();
    ASSERT_NE(sig, nullptr);
    // Inside the DER's integer bytes, so the structure stays parseable.
    (*sig)[20] = (*sig)[20] == 'A' ? 'B' : 'A';
    WriteFile(File(out), json.dump());
  }

  void SetUp() override {
    ASSERT_FALSE(ReadFile(signet::testing::CosignV3Binary()).empty())
        << "reference cosign v3 missing; run scripts/install-deps.sh";
    auto version = Cosign({"version"});
    ASSERT_EQ(version.exit_code, 0) << version.err;
    ASSERT_NE(version.out.find("v3.1.2"), std::string::npos) << version.out;
    WriteFile(File("blob"), "signet <-> cosign v3 bundle blob\n\x01\x02\xff");
    WriteFile(File("other-blob"), "signet <-> cosign v3 bundle blob\n\x01\x02\xfe");
    for (const char* prefix : {"s", "c", "x"}) {
      auto gen = Cosign({"generate-key-pair", "--output-key-prefix", File(prefix)});
      ASSERT_EQ(gen.exit_code, 0) << gen.err;
    }
  }

  TempDir dir_;
};

TEST_F(CosignV3BundleInterop, SignetBundleVerifiesInCosignV3) {
  auto sign =
      Signet({"sign-blob", "--key", File("s.key"), "--bundle", File("s.bundle"), File("blob")});
  ASSERT_EQ(sign.exit_code, 0) << sign.err;
  EXPECT_TRUE(sign.out.empty()) << sign.out;
  EXPECT_NE(sign.err.find("Wrote bundle to file " + File("s.bundle")), std::string::npos);

  auto verify = CosignVerify("s.pub", "s.bundle", "blob");
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_NE(verify.err.find("Verified OK"), std::string::npos) << verify.err;

  auto other_key = CosignVerify("x.pub", "s.bundle", "blob");
  EXPECT_NE(other_key.exit_code, 0);
  EXPECT_EQ(other_key.err.find("Verified OK"), std::string::npos) << other_key.err;
  auto other_blob = CosignVerify("s.pub", "s.bundle", "other-blob");
  EXPECT_NE(other_blob.exit_code, 0);
  EXPECT_EQ(other_blob.err.find("Verified OK"), std::string::npos) << other_blob.err;
  WriteTampered("s.bundle", "s.tampered");
  auto tampered = CosignVerify("s.pub", "s.tampered", "blob");
  EXPECT_NE(tampered.exit_code, 0);
  EXPECT_EQ(tampered.err.find("Verified OK"), std::string::npos) << tampered.err;
}

TEST_F(CosignV3BundleInterop, SignetAcceptsCosignsOfflineSigningFlags) {
  // The command line cosign v3 itself needs for an offline key bundle.
  auto sign = Signet({"sign-blob", "--key", File("s.key"), kCosignOfflineSign, kCosignNoTlog,
                      "--bundle", File("s.bundle"), File("blob")});
  ASSERT_EQ(sign.exit_code, 0) << sign.err;
  auto verify = CosignVerify("s.pub", "s.bundle", "blob");
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
}

TEST_F(CosignV3BundleInterop, CosignV3BundleVerifiesInSignet) {
  auto sign = Cosign({"sign-blob", "--key", File("c.key"), kCosignOfflineSign, kCosignNoTlog,
                      "--bundle", File("c.bundle"), File("blob")});
  ASSERT_EQ(sign.exit_code, 0) << sign.err;
  ASSERT_NE(ReadFile(File("c.bundle")).find("\"messageSignature\""), std::string::npos);

  auto verify = SignetVerify("c.pub", "c.bundle", "blob");
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_NE(verify.err.find("Verified OK"), std::string::npos) << verify.err;
  EXPECT_NE(verify.err.find("Skipping tlog verification"), std::string::npos) << verify.err;

  auto other_key = SignetVerify("x.pub", "c.bundle", "blob");
  EXPECT_EQ(other_key.exit_code, 1) << other_key.err;
  EXPECT_NE(other_key.err.find("signature does not verify"), std::string::npos) << other_key.err;
  auto other_blob = SignetVerify("c.pub", "c.bundle", "other-blob");
  EXPECT_EQ(other_blob.exit_code, 1) << other_blob.err;
  EXPECT_NE(other_blob.err.find("does not match"), std::string::npos) << other_blob.err;
  WriteTampered("c.bundle", "c.tampered");
  auto tampered = SignetVerify("c.pub", "c.tampered", "blob");
  EXPECT_EQ(tampered.exit_code, 1) << tampered.err;
  EXPECT_EQ(tampered.err.find("Verified OK"), std::string::npos) << tampered.err;

  // As cosign: without --insecure-ignore-tlog a bundle without log entries
  // is not accepted, and no skip warning is printed.
  auto no_flag =
      Signet({"verify-blob", "--key", File("c.pub"), "--bundle", File("c.bundle"), File("blob")});
  EXPECT_EQ(no_flag.exit_code, 1) << no_flag.err;
  EXPECT_NE(no_flag.err.find("--insecure-ignore-tlog=true"), std::string::npos) << no_flag.err;
  EXPECT_EQ(no_flag.err.find("Skipping tlog verification"), std::string::npos) << no_flag.err;
}

TEST_F(CosignV3BundleInterop, CosignV3AttestBlobBundleVerifiesInSignet) {
  WriteFile(File("predicate.json"), R"({"builder":{"id":"https://ci.example/x"}})");
  auto attest = Cosign({"attest-blob", "--key", File("c.key"), kCosignOfflineSign, kCosignNoTlog,
                        "--predicate", File("predicate.json"), "--type", "slsaprovenance1",
                        "--bundle", File("a.bundle"), File("blob")});
  ASSERT_EQ(attest.exit_code, 0) << attest.err;
  ASSERT_NE(ReadFile(File("a.bundle")).find("\"dsseEnvelope\""), std::string::npos);

  auto verify = SignetVerify("c.pub", "a.bundle", "blob");
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  auto other_blob = SignetVerify("c.pub", "a.bundle", "other-blob");
  EXPECT_EQ(other_blob.exit_code, 1) << other_blob.err;
  EXPECT_NE(other_blob.err.find("no subject"), std::string::npos) << other_blob.err;
  auto other_key = SignetVerify("x.pub", "a.bundle", "blob");
  EXPECT_EQ(other_key.exit_code, 1) << other_key.err;
  WriteTampered("a.bundle", "a.tampered");
  auto tampered = SignetVerify("c.pub", "a.tampered", "blob");
  EXPECT_EQ(tampered.exit_code, 1) << tampered.err;
}

TEST_F(CosignV3BundleInterop, P384BundlesUseSha384BothWays) {
  // cosign v3.1.2 signs P-384 with SHA-384 but verifies with SHA-256 unless
  // told otherwise (cosign issue #5092, fixed after v3.1.2), even its own
  // bundles; signet hashes by curve.
  auto key = RunCommand(
      {"openssl", "ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", File("p384.pem")});
  ASSERT_EQ(key.exit_code, 0) << key.err;
  auto import =
      Signet({"import-key-pair", "--key", File("p384.pem"), "--output-key-prefix", File("p384")});
  ASSERT_EQ(import.exit_code, 0) << import.err;

  ASSERT_EQ(
      Signet({"sign-blob", "--key", File("p384.key"), "--bundle", File("s.bundle"), File("blob")})
          .exit_code,
      0);
  EXPECT_NE(ReadFile(File("s.bundle")).find("\"algorithm\":\"SHA2_384\""), std::string::npos);
  auto verify = Cosign({"verify-blob", "--key", File("p384.pub"), "--bundle", File("s.bundle"),
                        kIgnoreTlog, "--signature-digest-algorithm", "sha384", File("blob")});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  auto other_blob =
      Cosign({"verify-blob", "--key", File("p384.pub"), "--bundle", File("s.bundle"), kIgnoreTlog,
              "--signature-digest-algorithm", "sha384", File("other-blob")});
  EXPECT_NE(other_blob.exit_code, 0);

  ASSERT_EQ(Cosign({"sign-blob", "--key", File("p384.key"), kCosignOfflineSign, kCosignNoTlog,
                    "--bundle", File("c.bundle"), File("blob")})
                .exit_code,
            0);
  EXPECT_EQ(SignetVerify("p384.pub", "c.bundle", "blob").exit_code, 0);
  EXPECT_EQ(SignetVerify("p384.pub", "c.bundle", "other-blob").exit_code, 1);
  EXPECT_EQ(SignetVerify("c.pub", "c.bundle", "blob").exit_code, 1);
}

TEST_F(CosignV3BundleInterop, BundlesMatchCosignsBytesExceptProtojsonSpaces) {
  // Same key, same blob: the two bundles differ only in the (randomised)
  // ECDSA signature and protojson's spaces after commas.
  ASSERT_EQ(
      Signet({"sign-blob", "--key", File("c.key"), "--bundle", File("s.bundle"), File("blob")})
          .exit_code,
      0);
  ASSERT_EQ(Cosign({"sign-blob", "--key", File("c.key"), kCosignOfflineSign, kCosignNoTlog,
                    "--bundle", File("c.bundle"), File("blob")})
                .exit_code,
            0);
  auto normalise = [](std::string text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == ' ' && i > 0 && text[i - 1] == ',') continue;
      out += text[i];
    }
    const auto sig = out.find("\"signature\":\"");
    if (sig != std::string::npos) {
      out.replace(sig, out.find('"', sig + 13) - sig, "\"signature\":\"<sig>");
    }
    return out;
  };
  const std::string signet_bytes = ReadFile(File("s.bundle"));
  EXPECT_EQ(signet_bytes.find(", "), std::string::npos) << signet_bytes;
  EXPECT_EQ(normalise(signet_bytes), normalise(ReadFile(File("c.bundle"))));
}

}  // namespace
}  // namespace signet

// sigstore-js (@sigstore/verify, from npm, pinned in sigstore-js/package.json)
// as a second, independent verifier of the bundles `signet sign-blob
// --bundle` writes: key-based, offline, with negative controls (another key,
// a changed blob, a tampered bundle).
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

class SigstoreJsInterop : public ::testing::Test {
 protected:
  std::string File(const std::string& name) const { return dir_.File(name); }

  CommandResult Signet(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {signet::testing::SignetBinary()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, {"COSIGN_PASSWORD=pw"});
  }

  CommandResult SigstoreJsVerify(const std::string& bundle, const std::string& pub,
                                 const std::string& blob) const {
    return RunCommand({"node",
                       signet::testing::SourceDir() + "/tests/interop_blob/sigstore-js/"
                                                      "verify-bundle.cjs",
                       File(bundle), File(pub), File(blob)},
                      {"NODE_PATH=" + signet::testing::SigstoreJsDir() + "/node_modules"});
  }

  void SetUp() override {
    ASSERT_FALSE(
        ReadFile(signet::testing::SigstoreJsDir() + "/node_modules/@sigstore/verify/package.json")
            .empty())
        << "sigstore-js missing; run scripts/install-deps.sh";
    for (const char* prefix : {"k", "x"}) {
      auto gen = Signet({"generate-key-pair", "--output-key-prefix", File(prefix)});
      ASSERT_EQ(gen.exit_code, 0) << gen.err;
    }
    WriteFile(File("blob"), "signet -> sigstore-js\n\x01\x02\xff");
    WriteFile(File("other-blob"), "signet -> sigstore-js\n\x01\x02\xfe");
    auto sign =
        Signet({"sign-blob", "--key", File("k.key"), "--bundle", File("b.json"), File("blob")});
    ASSERT_EQ(sign.exit_code, 0) << sign.err;
  }

  TempDir dir_;
};

TEST_F(SigstoreJsInterop, VerifiesSignetsBlobBundle) {
  auto verify = SigstoreJsVerify("b.json", "k.pub", "blob");
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_NE(verify.out.find("sigstore-js: verified"), std::string::npos) << verify.out;
}

TEST_F(SigstoreJsInterop, RefusesAnotherKeyAChangedBlobAndATamperedBundle) {
  ASSERT_EQ(SigstoreJsVerify("b.json", "k.pub", "blob").exit_code, 0);  // control
  auto other_key = SigstoreJsVerify("b.json", "x.pub", "blob");
  EXPECT_EQ(other_key.exit_code, 1) << other_key.out;
  EXPECT_EQ(other_key.out.find("verified"), std::string::npos);
  auto other_blob = SigstoreJsVerify("b.json", "k.pub", "other-blob");
  EXPECT_EQ(other_blob.exit_code, 1) << other_blob.out;
  EXPECT_EQ(other_blob.out.find("verified"), std::string::npos);

  auto json = nlohmann::json::parse(ReadFile(File("b.json")));
  std::string& sig = json["messageSignature"]["signature"].get_ref<std::string&>();
  sig[20] = sig[20] == 'A' ? 'B' : 'A';
  WriteFile(File("tampered.json"), json.dump());
  auto tampered = SigstoreJsVerify("tampered.json", "k.pub", "blob");
  EXPECT_EQ(tampered.exit_code, 1) << tampered.out;
  EXPECT_EQ(tampered.out.find("verified"), std::string::npos);
}

}  // namespace
}  // namespace signet

// --insecure-ignore-tlog: signet cannot verify a transparency log, so the flag
// is accepted alone or as =true, and a false value is refused before anything
// is verified, on every command that takes it (verify, verify-blob).
#include <gtest/gtest.h>

#include "cli_test_env.h"
#include "signet/cli/command.h"

namespace signet::cli {
namespace {

using signet::testing::TempDir;
using signet::testing::WriteFile;
using test::Signet;

constexpr const char* kRefusal = "signet cannot verify a transparency log yet";

class TlogFlag : public ::testing::Test {
 protected:
  void SetUp() override {
    auto gen = Signet({"generate-key-pair", "--output-key-prefix", File("k")}, "pw");
    ASSERT_EQ(gen.exit_code, 0) << gen.err;
    WriteFile(File("blob"), "the blob\n");
    auto sign = Signet(
        {"sign-blob", "--key", File("k.key"), "--output-signature", File("sig"), File("blob")},
        "pw");
    ASSERT_EQ(sign.exit_code, 0) << sign.err;
  }
  std::string File(const std::string& name) const { return dir_.File(name); }
  signet::testing::CommandResult VerifyBlob(const std::string& flag) const {
    return Signet(
        {"verify-blob", "--key", File("k.pub"), "--signature", File("sig"), flag, File("blob")},
        nullptr);
  }
  // `verify` against a registry port nothing listens on: it fails, but only
  // after the flags were accepted.
  static signet::testing::CommandResult VerifyImage(const std::string& key,
                                                    const std::string& flag) {
    return Signet({"verify", "--key", key, flag, "--timeout", "5s", "127.0.0.1:1/none/app:1"},
                  nullptr);
  }
  TempDir dir_;
};

TEST_F(TlogFlag, VerifyBlobRefusesAFalseValue) {
  for (const char* flag :
       {"--insecure-ignore-tlog=false", "--insecure-ignore-tlog=0", "--insecure-ignore-tlog=no"}) {
    const auto result = VerifyBlob(flag);
    EXPECT_EQ(result.exit_code, kExitUsage) << flag << "\n" << result.err;
    EXPECT_NE(result.err.find(kRefusal), std::string::npos) << flag << "\n" << result.err;
    EXPECT_EQ(result.err.find("Verified OK"), std::string::npos) << flag;
  }
}

TEST_F(TlogFlag, VerifyBlobAcceptsTheFlagAloneOrTrue) {
  for (const char* flag : {"--insecure-ignore-tlog", "--insecure-ignore-tlog=true"}) {
    const auto result = VerifyBlob(flag);
    EXPECT_EQ(result.exit_code, 0) << flag << "\n" << result.err;
    EXPECT_NE(result.err.find("Verified OK"), std::string::npos) << flag << "\n" << result.err;
  }
}

TEST_F(TlogFlag, VerifyRefusesAFalseValueBeforeContactingAnyRegistry) {
  const auto result = VerifyImage(File("k.pub"), "--insecure-ignore-tlog=false");
  EXPECT_EQ(result.exit_code, kExitUsage) << result.err;
  EXPECT_NE(result.err.find(kRefusal), std::string::npos) << result.err;
  EXPECT_EQ(result.err.find("127.0.0.1:1"), std::string::npos) << result.err;
}

TEST_F(TlogFlag, VerifyAcceptsTheFlagAloneOrTrue) {
  for (const char* flag : {"--insecure-ignore-tlog", "--insecure-ignore-tlog=true"}) {
    const auto result = VerifyImage(File("k.pub"), flag);
    // Past flag parsing: the tlog warning is printed and the registry is tried.
    EXPECT_EQ(result.exit_code, kExitError) << flag << "\n" << result.err;
    EXPECT_EQ(result.err.find(kRefusal), std::string::npos) << flag << "\n" << result.err;
    EXPECT_NE(result.err.find("Skipping tlog verification"), std::string::npos) << flag << "\n"
                                                                                << result.err;
  }
}

}  // namespace
}  // namespace signet::cli

// sign-blob / verify-blob with --bundle: cosign v3's flag rules (--bundle
// required for the new format, --tlog-upload and --use-signing-config only
// false, --insecure-ignore-tlog=true needed to verify a bundle without log
// entries, the skip warning only when that flag was passed), next to the
// legacy base64 form that stays the default without --bundle.
#include <gtest/gtest.h>

#include "cli_test_env.h"
#include "signet/cli/command.h"
#include "signet/cosign/bundle.h"
#include "signet/crypto/encoding.h"

namespace signet::cli {
namespace {

using signet::testing::ReadFile;
using signet::testing::TempDir;
using signet::testing::WriteFile;
using test::FileExists;
using test::FileMode;
using test::Signet;

constexpr char kSkipWarning[] = "Skipping tlog verification";

class BlobBundleFlags : public ::testing::Test {
 protected:
  void SetUp() override {
    auto gen = Signet({"generate-key-pair", "--output-key-prefix", File("k")}, "pw");
    ASSERT_EQ(gen.exit_code, 0) << gen.err;
    WriteFile(File("blob"), "the blob\n");
  }
  std::string File(const std::string& name) const { return dir_.File(name); }
  signet::testing::CommandResult SignBundle(const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> args = {"sign-blob", "--key", File("k.key"), "--bundle",
                                     File("b.json")};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(File("blob"));
    return Signet(args, "pw");
  }
  signet::testing::CommandResult VerifyBundle(const std::vector<std::string>& extra) const {
    std::vector<std::string> args = {"verify-blob", "--key", File("k.pub"), "--bundle",
                                     File("b.json")};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(File("blob"));
    return Signet(args, nullptr);
  }
  TempDir dir_;
};

TEST_F(BlobBundleFlags, SignWritesAPrivateV03BundleAndNothingOnStdout) {
  auto sign = SignBundle();
  ASSERT_EQ(sign.exit_code, 0) << sign.err;
  EXPECT_TRUE(sign.out.empty()) << sign.out;
  EXPECT_NE(sign.err.find("Wrote bundle to file " + File("b.json")), std::string::npos);
  EXPECT_EQ(FileMode(File("b.json")), 0600);
  auto bundle = cosign::ParseBundle(ReadFile(File("b.json")));
  ASSERT_TRUE(bundle.ok()) << bundle.error().message();
  EXPECT_EQ(bundle->media_type, cosign::kBundleMediaTypeV03);
  EXPECT_TRUE(std::holds_alternative<cosign::MessageSignature>(bundle->content));
  EXPECT_EQ(bundle->tlog_entries, 0u);
}

TEST_F(BlobBundleFlags, VerifyNeedsInsecureIgnoreTlogAndWarnsOnlyWhenGiven) {
  ASSERT_EQ(SignBundle().exit_code, 0);
  auto with_flag = VerifyBundle({"--insecure-ignore-tlog=true"});
  EXPECT_EQ(with_flag.exit_code, 0) << with_flag.err;
  EXPECT_NE(with_flag.err.find("Verified OK"), std::string::npos);
  EXPECT_NE(with_flag.err.find(kSkipWarning), std::string::npos) << with_flag.err;

  auto without = VerifyBundle({});
  EXPECT_EQ(without.exit_code, kExitError) << without.err;
  EXPECT_EQ(without.err.find("Verified OK"), std::string::npos);
  EXPECT_EQ(without.err.find(kSkipWarning), std::string::npos) << without.err;
  EXPECT_NE(without.err.find("no transparency log entry"), std::string::npos) << without.err;
}

TEST_F(BlobBundleFlags, LegacySignatureVerifyWarnsOnlyWhenTheFlagIsGiven) {
  auto sign = Signet(
      {"sign-blob", "--key", File("k.key"), "--output-signature", File("sig"), File("blob")}, "pw");
  ASSERT_EQ(sign.exit_code, 0) << sign.err;
  auto plain = Signet(
      {"verify-blob", "--key", File("k.pub"), "--signature", File("sig"), File("blob")}, nullptr);
  EXPECT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(plain.err.find(kSkipWarning), std::string::npos) << plain.err;
  auto flagged = Signet({"verify-blob", "--key", File("k.pub"), "--signature", File("sig"),
                         "--insecure-ignore-tlog", File("blob")},
                        nullptr);
  EXPECT_EQ(flagged.exit_code, 0) << flagged.err;
  EXPECT_NE(flagged.err.find(kSkipWarning), std::string::npos) << flagged.err;
}

TEST_F(BlobBundleFlags, WithoutBundleTheLegacyBase64FormStays) {
  auto legacy = Signet({"sign-blob", "--key", File("k.key"), File("blob")}, "pw");
  ASSERT_EQ(legacy.exit_code, 0) << legacy.err;
  ASSERT_FALSE(legacy.out.empty());
  EXPECT_TRUE(crypto::Base64Decode(legacy.out.substr(0, legacy.out.size() - 1)).ok());
  auto explicit_legacy = Signet(
      {"sign-blob", "--key", File("k.key"), "--new-bundle-format=false", File("blob")}, "pw");
  EXPECT_EQ(explicit_legacy.exit_code, 0) << explicit_legacy.err;
  EXPECT_FALSE(explicit_legacy.out.empty());
  // As cosign v3: asking for the new format requires --bundle.
  auto needs_bundle =
      Signet({"sign-blob", "--key", File("k.key"), "--new-bundle-format", File("blob")}, "pw");
  EXPECT_EQ(needs_bundle.exit_code, kExitError);
  EXPECT_NE(needs_bundle.err.find("must specify --bundle with --new-bundle-format"),
            std::string::npos)
      << needs_bundle.err;
  EXPECT_TRUE(needs_bundle.out.empty());
}

TEST_F(BlobBundleFlags, TlogUploadAndSigningConfigAcceptOnlyFalse) {
  auto accepted = SignBundle({"--tlog-upload=false", "--use-signing-config=false"});
  EXPECT_EQ(accepted.exit_code, 0) << accepted.err;
  EXPECT_TRUE(FileExists(File("b.json")));
  for (const char* flag : {"--tlog-upload", "--tlog-upload=true", "--tlog-upload=1"}) {
    auto refused = SignBundle({flag});
    EXPECT_EQ(refused.exit_code, kExitUsage) << flag << "\n" << refused.err;
    EXPECT_NE(refused.err.find("never uploads to a transparency log"), std::string::npos)
        << refused.err;
  }
  for (const char* flag : {"--use-signing-config", "--use-signing-config=true"}) {
    auto refused = SignBundle({flag});
    EXPECT_EQ(refused.exit_code, kExitUsage) << flag << "\n" << refused.err;
    EXPECT_NE(refused.err.find("never fetches a signing config"), std::string::npos) << refused.err;
  }
}

TEST_F(BlobBundleFlags, ConflictingFormsAreRefusedBeforeSigning) {
  auto legacy_bundle = SignBundle({"--new-bundle-format=false"});
  EXPECT_NE(legacy_bundle.exit_code, 0);
  EXPECT_NE(legacy_bundle.err.find("legacy bundle"), std::string::npos) << legacy_bundle.err;
  auto with_signature = SignBundle({"--output-signature", File("sig")});
  EXPECT_NE(with_signature.exit_code, 0);
  EXPECT_NE(with_signature.err.find("--output-signature cannot be combined"), std::string::npos);
  EXPECT_FALSE(FileExists(File("b.json")));
  EXPECT_FALSE(FileExists(File("sig")));

  ASSERT_EQ(SignBundle().exit_code, 0);  // control for the verify refusals
  auto both = VerifyBundle({"--signature", File("b.json"), "--insecure-ignore-tlog"});
  EXPECT_NE(both.exit_code, 0);
  EXPECT_NE(both.err.find("exactly one of --signature"), std::string::npos) << both.err;
  auto neither = Signet(
      {"verify-blob", "--key", File("k.pub"), "--insecure-ignore-tlog", File("blob")}, nullptr);
  EXPECT_NE(neither.exit_code, 0);
  EXPECT_NE(neither.err.find("exactly one of --signature"), std::string::npos) << neither.err;
  auto old_format = VerifyBundle({"--new-bundle-format=false", "--insecure-ignore-tlog"});
  EXPECT_NE(old_format.exit_code, 0);
  EXPECT_EQ(old_format.err.find("Verified OK"), std::string::npos);
}

TEST_F(BlobBundleFlags, HostileBundleFilesFailWithTheReason) {
  ASSERT_EQ(SignBundle().exit_code, 0);
  ASSERT_EQ(VerifyBundle({"--insecure-ignore-tlog"}).exit_code, 0);  // control
  std::string text = ReadFile(File("b.json"));
  const std::string v03 = "bundle.v0.3+json";
  text.replace(text.find(v03), v03.size(), "bundle.v0.4+json");
  WriteFile(File("b.json"), text);
  auto v04 = VerifyBundle({"--insecure-ignore-tlog"});
  EXPECT_EQ(v04.exit_code, kExitError);
  EXPECT_NE(v04.err.find("version 0.4 is not supported"), std::string::npos) << v04.err;
  WriteFile(File("b.json"), std::string(100000, '['));
  auto deep = VerifyBundle({"--insecure-ignore-tlog"});
  EXPECT_NE(deep.exit_code, 0);
  EXPECT_NE(deep.err.find("nesting depth"), std::string::npos) << deep.err;
  auto missing = Signet({"verify-blob", "--key", File("k.pub"), "--bundle", File("none.json"),
                         "--insecure-ignore-tlog", File("blob")},
                        nullptr);
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find(File("none.json")), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace signet::cli

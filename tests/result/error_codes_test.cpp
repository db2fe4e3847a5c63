// The one table of error codes (src/signet/result.h): every code's name,
// CLI exit status and provider reason.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "signet/result.h"

namespace signet {
namespace {

TEST(ErrorCodesTest, NamesAreTheStableLabelsLogsAndMetricsUse) {
  const std::vector<std::pair<ErrorCode, std::string>> expected = {
      {ErrorCode::kInvalidArgument, "invalid_argument"},
      {ErrorCode::kNotFound, "not_found"},
      {ErrorCode::kAlreadyExists, "already_exists"},
      {ErrorCode::kPermissionDenied, "permission_denied"},
      {ErrorCode::kIo, "io"},
      {ErrorCode::kParse, "parse"},
      {ErrorCode::kUnsupported, "unsupported"},
      {ErrorCode::kCrypto, "crypto"},
      {ErrorCode::kDecryptionFailed, "decryption_failed"},
      {ErrorCode::kVerificationFailed, "verification_failed"},
      {ErrorCode::kAuth, "auth"},
      {ErrorCode::kNetwork, "network"},
      {ErrorCode::kTimeout, "timeout"},
      {ErrorCode::kTooLarge, "too_large"},
      {ErrorCode::kDigestMismatch, "digest_mismatch"},
      {ErrorCode::kRegistry, "registry"},
      {ErrorCode::kImageNotFound, "image_not_found"},
      {ErrorCode::kNoSignatures, "no_signatures"},
      {ErrorCode::kNoMatchingSignatures, "no_matching_signatures"},
      {ErrorCode::kInternal, "internal"},
  };
  for (const auto& [code, name] : expected) {
    EXPECT_EQ(ErrorCodeName(code), name);
    EXPECT_EQ(InfoOf(code).code, code) << name;
  }
}

TEST(ErrorCodesTest, ExitStatusesAreCosignsForItsThreeCodesAndOneOtherwise) {
  EXPECT_EQ(InfoOf(ErrorCode::kNoSignatures).exit_code, 10);
  EXPECT_EQ(InfoOf(ErrorCode::kImageNotFound).exit_code, 11);
  EXPECT_EQ(InfoOf(ErrorCode::kNoMatchingSignatures).exit_code, 12);
  for (ErrorCode code :
       {ErrorCode::kInvalidArgument, ErrorCode::kNotFound, ErrorCode::kAuth, ErrorCode::kNetwork,
        ErrorCode::kTimeout, ErrorCode::kVerificationFailed, ErrorCode::kInternal}) {
    EXPECT_EQ(InfoOf(code).exit_code, 1) << ErrorCodeName(code);
  }
}

TEST(ErrorCodesTest, DenialReasonsAppendTheMessageOnlyWhereTheTableSays) {
  EXPECT_EQ(DenialReason(Error(ErrorCode::kNoSignatures, "none at repo:sha256-x.sig")),
            "no signatures found");
  EXPECT_EQ(DenialReason(Error(ErrorCode::kNoMatchingSignatures, "layer 0: bad")),
            "no matching signatures");
  EXPECT_EQ(DenialReason(Error(ErrorCode::kImageNotFound, "x")), "image not found");
  EXPECT_EQ(DenialReason(Error(ErrorCode::kNotFound, "x")), "image not found");
  EXPECT_EQ(DenialReason(Error(ErrorCode::kTimeout, "deadline")), "verification timed out");
  EXPECT_EQ(DenialReason(Error(ErrorCode::kAuth, "401", 401)), "registry authentication failed");
  EXPECT_EQ(DenialReason(Error(ErrorCode::kNetwork, "connection refused")),
            "registry unreachable: connection refused");
  EXPECT_EQ(DenialReason(Error(ErrorCode::kDigestMismatch, "sha256:a != sha256:b")),
            "verification failed: sha256:a != sha256:b");
  EXPECT_EQ(DenialReason(Error(ErrorCode::kVerificationFailed, "policy \"p\": no key")),
            "verification failed: policy \"p\": no key");
}

}  // namespace
}  // namespace signet

#include "signet/result.h"

#include <cstddef>
#include <iterator>

namespace signet {

namespace {

using Reason = ErrorCodeInfo::Reason;

// In the order of the enum (checked below). Exit statuses 10, 11 and 12 are
// cosign's; the reasons are what Gatekeeper shows for a denied image.
constexpr ErrorCodeInfo kErrorCodes[] = {
    {ErrorCode::kInvalidArgument, "invalid_argument", 1, "verification failed",
     Reason::kWithMessage},
    {ErrorCode::kNotFound, "not_found", 1, "image not found", Reason::kAsIs},
    {ErrorCode::kAlreadyExists, "already_exists", 1, "verification failed", Reason::kWithMessage},
    {ErrorCode::kPermissionDenied, "permission_denied", 1, "verification failed",
     Reason::kWithMessage},
    {ErrorCode::kIo, "io", 1, "verification failed", Reason::kWithMessage},
    {ErrorCode::kParse, "parse", 1, "verification failed", Reason::kWithMessage},
    {ErrorCode::kUnsupported, "unsupported", 1, "verification failed", Reason::kWithMessage},
    {ErrorCode::kCrypto, "crypto", 1, "verification failed", Reason::kWithMessage},
    {ErrorCode::kDecryptionFailed, "decryption_failed", 1, "verification failed",
     Reason::kWithMessage},
    {ErrorCode::kVerificationFailed, "verification_failed", 1, "verification failed",
     Reason::kWithMessage},
    {ErrorCode::kAuth, "auth", 1, "registry authentication failed", Reason::kAsIs},
    {ErrorCode::kNetwork, "network", 1, "registry unreachable", Reason::kWithMessage},
    {ErrorCode::kTimeout, "timeout", 1, "verification timed out", Reason::kAsIs},
    {ErrorCode::kTooLarge, "too_large", 1, "verification failed", Reason::kWithMessage},
    {ErrorCode::kDigestMismatch, "digest_mismatch", 1, "verification failed", Reason::kWithMessage},
    {ErrorCode::kRegistry, "registry", 1, "verification failed", Reason::kWithMessage},
    {ErrorCode::kImageNotFound, "image_not_found", 11, "image not found", Reason::kAsIs},
    {ErrorCode::kNoSignatures, "no_signatures", 10, "no signatures found", Reason::kAsIs},
    {ErrorCode::kNoMatchingSignatures, "no_matching_signatures", 12, "no matching signatures",
     Reason::kAsIs},
    {ErrorCode::kInternal, "internal", 1, "verification failed", Reason::kWithMessage},
};

constexpr bool InEnumOrder() {
  for (std::size_t i = 0; i < std::size(kErrorCodes); ++i) {
    if (static_cast<std::size_t>(kErrorCodes[i].code) != i) return false;
  }
  return true;
}
static_assert(InEnumOrder(), "kErrorCodes must list every ErrorCode in enum order");
static_assert(std::size(kErrorCodes) == static_cast<std::size_t>(ErrorCode::kInternal) + 1,
              "kErrorCodes must list every ErrorCode");

}  // namespace

const ErrorCodeInfo& InfoOf(ErrorCode code) { return kErrorCodes[static_cast<std::size_t>(code)]; }

std::string_view ErrorCodeName(ErrorCode code) { return InfoOf(code).name; }

std::string DenialReason(const Error& error) {
  const ErrorCodeInfo& info = InfoOf(error.code());
  std::string reason(info.reason);
  if (info.reason_form == Reason::kWithMessage) reason += ": " + error.message();
  return reason;
}

}  // namespace signet

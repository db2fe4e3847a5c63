#include "signet/result.h"

namespace signet {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kAlreadyExists:
      return "already_exists";
    case ErrorCode::kPermissionDenied:
      return "permission_denied";
    case ErrorCode::kIo:
      return "io";
    case ErrorCode::kParse:
      return "parse";
    case ErrorCode::kUnsupported:
      return "unsupported";
    case ErrorCode::kCrypto:
      return "crypto";
    case ErrorCode::kDecryptionFailed:
      return "decryption_failed";
    case ErrorCode::kVerificationFailed:
      return "verification_failed";
    case ErrorCode::kAuth:
      return "auth";
    case ErrorCode::kNetwork:
      return "network";
    case ErrorCode::kTimeout:
      return "timeout";
    case ErrorCode::kTooLarge:
      return "too_large";
    case ErrorCode::kDigestMismatch:
      return "digest_mismatch";
    case ErrorCode::kRegistry:
      return "registry";
    case ErrorCode::kImageNotFound:
      return "image_not_found";
    case ErrorCode::kNoSignatures:
      return "no_signatures";
    case ErrorCode::kNoMatchingSignatures:
      return "no_matching_signatures";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "unknown";
}

}  // namespace signet

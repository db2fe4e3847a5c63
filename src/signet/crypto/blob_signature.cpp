#include "signet/crypto/blob_signature.h"

#include "signet/crypto/encoding.h"

namespace signet::crypto {
namespace {

std::string_view TrimWhitespace(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n";
  const size_t begin = text.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return text.substr(begin, text.find_last_not_of(kSpace) - begin + 1);
}

}  // namespace

Result<std::string> SignBlob(const Signer& signer, std::string_view blob) {
  auto signature = signer.Sign(blob);
  if (!signature.ok()) return signature.error();
  return Base64Encode(*signature);
}

Status VerifyBlob(const Verifier& verifier, std::string_view signature_base64,
                  std::string_view blob) {
  const std::string_view text = TrimWhitespace(signature_base64);
  if (text.empty()) return Error(ErrorCode::kVerificationFailed, "the signature is empty");
  auto signature = Base64Decode(text);
  if (!signature.ok()) {
    return Error(ErrorCode::kVerificationFailed,
                 "the signature is not base64: " + signature.error().message());
  }
  return verifier.Verify(*signature, blob);
}

}  // namespace signet::crypto

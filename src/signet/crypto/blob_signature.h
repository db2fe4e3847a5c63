// cosign key-based blob signatures: the signature travels as standard base64
// (with padding) of the raw signature bytes (DER for ECDSA), as
// `cosign sign-blob --key` prints it and `cosign verify-blob --key` reads it.
//
// Stateless functions; thread-safety is that of the Signer / Verifier used.
#pragma once

#include <string>
#include <string_view>

#include "signet/crypto/signer.h"
#include "signet/result.h"

namespace signet::crypto {

// Signs `blob` and returns the base64 signature (no trailing newline).
Result<std::string> SignBlob(const Signer& signer, std::string_view blob);

// Verifies a base64 signature text over `blob`. Surrounding whitespace (a
// trailing newline from a signature file) is ignored; anything else that is
// not strict base64 is kVerificationFailed, as is a signature that does not
// match.
Status VerifyBlob(const Verifier& verifier, std::string_view signature_base64,
                  std::string_view blob);

}  // namespace signet::crypto

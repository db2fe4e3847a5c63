// Bridges OpenSSL EVP_PKEY values to signet's Signer / Verifier interfaces.
// Internal to src/signet/crypto; keys.cpp parses key files into EVP_PKEYs and
// hands them here.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "signet/crypto/openssl_handles.h"
#include "signet/crypto/signer.h"
#include "signet/result.h"

namespace signet::crypto {

// Which cosign-supported algorithm `key` is: RSA 2048/3072/4096, ECDSA
// P-256/384/521 or Ed25519. Anything else is kUnsupported, naming the key.
Result<KeyAlgorithm> ClassifyKey(const EVP_PKEY* key, std::string_view source_name);

// PKIX SubjectPublicKeyInfo DER of the public half of `key`.
Result<std::string> PublicKeyDer(const EVP_PKEY* key);

// Take ownership of a classified key. `key` must hold a private key for the
// signer; the verifier only uses its public half.
std::unique_ptr<Signer> MakeEvpSigner(EvpPkeyPtr key, KeyAlgorithm algorithm);
std::unique_ptr<Verifier> MakeEvpVerifier(EvpPkeyPtr key, KeyAlgorithm algorithm);

}  // namespace signet::crypto

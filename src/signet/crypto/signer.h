// Signature primitives. A Signer signs bytes with a private key using that
// key's cosign signing scheme; a Verifier checks a signature over bytes with a
// public key. Both are created by the factories in keys.h, are immutable after
// construction and safe to share between threads (const methods only).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "signet/result.h"

namespace signet::crypto {

enum class KeyAlgorithm {
  kEcdsaP256,
  kEcdsaP384,
  kEcdsaP521,
  kRsa2048,
  kRsa3072,
  kRsa4096,
  kEd25519
};

std::string_view KeyAlgorithmName(KeyAlgorithm algorithm);

class Verifier {
 public:
  virtual ~Verifier() = default;
  // OK when `signature` is a valid signature over `data`. ECDSA accepts ASN.1
  // DER and raw r||s; the hash follows the curve (P-256: SHA-256, P-384:
  // SHA-384, P-521: SHA-512); RSA is PKCS#1 v1.5 with SHA-256; Ed25519 is pure.
  // Any failure is ErrorCode::kVerificationFailed with the reason.
  virtual Status Verify(std::string_view signature, std::string_view data) const = 0;
  virtual KeyAlgorithm algorithm() const = 0;
  // PKIX "PUBLIC KEY" PEM, as cosign writes it.
  virtual std::string PublicKeyPem() const = 0;
};

class Signer {
 public:
  virtual ~Signer() = default;
  // Raw signature bytes (DER for ECDSA) over `data`, with the scheme of
  // Verifier::Verify.
  virtual Result<std::string> Sign(std::string_view data) const = 0;
  virtual KeyAlgorithm algorithm() const = 0;
  virtual std::string PublicKeyPem() const = 0;
  // A verifier for this signer's public key.
  virtual std::unique_ptr<Verifier> MakeVerifier() const = 0;
};

}  // namespace signet::crypto

// cosign key files: encrypted private keys (scrypt + nacl/secretbox JSON
// envelope around PKCS#8, PEM type "ENCRYPTED SIGSTORE PRIVATE KEY" or the
// older "ENCRYPTED COSIGN PRIVATE KEY") and PKIX / PKCS#1 public keys.
//
// Every error names the source (a file name, or the name given by the caller)
// and the cause. A wrong password is ErrorCode::kDecryptionFailed and never
// yields a key. Passwords are bytes, used verbatim; "" is a valid password.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "signet/crypto/signer.h"
#include "signet/result.h"

namespace signet::crypto {

// PEM texts of a cosign key pair.
struct KeyPairPem {
  std::string private_pem;  // ENCRYPTED SIGSTORE PRIVATE KEY
  std::string public_pem;   // PUBLIC KEY
};

// A new ECDSA P-256 key pair, encrypted with scrypt N=65536, r=8, p=1.
Result<KeyPairPem> GenerateKeyPair(std::string_view password);

// Encrypts an unencrypted PEM key (PKCS#1 RSA, SEC1 EC or PKCS#8 RSA/ECDSA/
// Ed25519) as a cosign key pair. Only RSA 2048/3072/4096 and P-256/384/521
// (and Ed25519) are accepted.
Result<KeyPairPem> ImportKeyPair(std::string_view unencrypted_pem, std::string_view password,
                                 std::string_view source_name);

// Decrypts an encrypted cosign private key.
Result<std::unique_ptr<Signer>> LoadPrivateKey(std::string_view pem, std::string_view password,
                                               std::string_view source_name);
Result<std::unique_ptr<Signer>> LoadPrivateKeyFile(const std::string& path,
                                                   std::string_view password);

// Parses a "PUBLIC KEY" (PKIX) or "RSA PUBLIC KEY" (PKCS#1) PEM.
Result<std::unique_ptr<Verifier>> LoadPublicKey(std::string_view pem, std::string_view source_name);
Result<std::unique_ptr<Verifier>> LoadPublicKeyFile(const std::string& path);

}  // namespace signet::crypto

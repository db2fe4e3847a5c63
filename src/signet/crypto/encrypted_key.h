// The cosign private key envelope (go-securesystemslib "encrypted" format):
// JSON {"kdf":{"name":"scrypt","params":{"N":..,"r":..,"p":..},"salt":..},
// "cipher":{"name":"nacl/secretbox","nonce":..},"ciphertext":..} where the
// key is scrypt(password, salt, N, r, p, 32) and the ciphertext is NaCl
// secretbox (XSalsa20-Poly1305, tag first). Internal to src/signet/crypto.
//
// Stateless functions; safe to call from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "signet/crypto/secret_bytes.h"
#include "signet/result.h"

namespace signet::crypto {

struct ScryptParams {
  uint64_t n;
  uint32_t r;
  uint32_t p;
};

// What cosign writes today.
inline constexpr ScryptParams kDefaultScryptParams{65536, 8, 1};

// True for the only sets cosign accepts: (32768|65536|131072, 8, 1).
bool IsAcceptedScryptParams(const ScryptParams& params);

// Encrypts `plaintext` under `password` with a fresh random salt (32 bytes)
// and nonce (24 bytes), returning the envelope JSON bytes exactly as Go's
// json.Marshal lays them out.
Result<std::string> EncryptKeyEnvelope(std::string_view plaintext, std::string_view password,
                                       const ScryptParams& params = kDefaultScryptParams);

// Parses and decrypts an envelope. Rejects unknown kdf/cipher names, scrypt
// sets other than the accepted ones and nonces that are not 24 bytes
// (kUnsupported / kParse); a failed MAC is kDecryptionFailed. `source_name`
// prefixes every error message.
Result<SecretBytes> DecryptKeyEnvelope(std::string_view envelope_json, std::string_view password,
                                       std::string_view source_name);

}  // namespace signet::crypto

// libFuzzer target: PEM public keys and encrypted cosign private keys.
// The private key is decrypted with the fixed password "hello" (the password
// of most seed keys), so mutations reach the scrypt/secretbox/PKCS#8 stages.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "signet/crypto/keys.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)signet::crypto::LoadPublicKey(input, "fuzz");
  (void)signet::crypto::LoadPrivateKey(input, "hello", "fuzz");
  return 0;
}

#include "signet/crypto/encrypted_key.h"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "signet/bounded_json.h"
#include "signet/crypto/encoding.h"

namespace signet::crypto {
namespace {

constexpr size_t kSaltSize = 32;
constexpr size_t kKeySize = crypto_secretbox_KEYBYTES;
constexpr size_t kNonceSize = crypto_secretbox_NONCEBYTES;
static_assert(kKeySize == 32 && kNonceSize == 24 && crypto_secretbox_MACBYTES == 16);

Status EnsureSodium() {
  static const int rc = sodium_init();
  if (rc < 0) return Error(ErrorCode::kCrypto, "libsodium failed to initialise");
  return OkStatus();
}

Result<SecretBytes> DeriveKey(std::string_view password, std::string_view salt,
                              const ScryptParams& params) {
  SecretBytes key(kKeySize);
  if (crypto_pwhash_scryptsalsa208sha256_ll(
          reinterpret_cast<const uint8_t*>(password.data()), password.size(),
          reinterpret_cast<const uint8_t*>(salt.data()), salt.size(), params.n, params.r, params.p,
          key.data(), key.size()) != 0) {
    return Error(ErrorCode::kCrypto, "scrypt key derivation failed (out of memory?)");
  }
  return key;
}

// Go's encoding/json matches object keys case-insensitively; do the same.
const nlohmann::json* Member(const nlohmann::json& object, std::string_view name) {
  if (!object.is_object()) return nullptr;
  if (auto it = object.find(name); it != object.end()) return &*it;
  for (auto it = object.begin(); it != object.end(); ++it) {
    const std::string& key = it.key();
    if (key.size() == name.size() &&
        std::equal(key.begin(), key.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return &*it;
    }
  }
  return nullptr;
}

Result<std::string> StringMember(const nlohmann::json& object, std::string_view name,
                                 std::string_view where) {
  const nlohmann::json* value = Member(object, name);
  if (value == nullptr || !value->is_string()) {
    return Error(ErrorCode::kParse, "encrypted key envelope: missing string field " +
                                        std::string(where) + std::string(name));
  }
  return value->get<std::string>();
}

Result<std::string> BytesMember(const nlohmann::json& object, std::string_view name,
                                std::string_view where) {
  auto text = StringMember(object, name, where);
  if (!text.ok()) return text.error();
  auto bytes = Base64Decode(*text);
  if (!bytes.ok()) {
    return Error(ErrorCode::kParse, "encrypted key envelope: field " + std::string(where) +
                                        std::string(name) + ": " + bytes.error().message());
  }
  return bytes;
}

Result<uint64_t> UintMember(const nlohmann::json& object, std::string_view name) {
  const nlohmann::json* value = Member(object, name);
  if (value == nullptr || !value->is_number_unsigned()) {
    return Error(ErrorCode::kParse, "encrypted key envelope: scrypt parameter " +
                                        std::string(name) +
                                        " is missing or not an unsigned integer");
  }
  return value->get<uint64_t>();
}

Result<ScryptParams> ParseScrypt(const nlohmann::json& kdf) {
  const nlohmann::json* params = Member(kdf, "params");
  if (params == nullptr || !params->is_object()) {
    return Error(ErrorCode::kParse, "encrypted key envelope: kdf.params is missing");
  }
  auto n = UintMember(*params, "N");
  if (!n.ok()) return n.error();
  auto r = UintMember(*params, "r");
  if (!r.ok()) return r.error();
  auto p = UintMember(*params, "p");
  if (!p.ok()) return p.error();
  if (*r > UINT32_MAX || *p > UINT32_MAX) {
    return Error(ErrorCode::kUnsupported, "unsupported scrypt parameters (r or p out of range)");
  }
  return ScryptParams{*n, static_cast<uint32_t>(*r), static_cast<uint32_t>(*p)};
}

std::string ParamsText(const ScryptParams& params) {
  return "N=" + std::to_string(params.n) + ", r=" + std::to_string(params.r) +
         ", p=" + std::to_string(params.p);
}

Result<SecretBytes> Decrypt(std::string_view envelope_json, std::string_view password) {
  auto parsed = ParseBoundedJson(envelope_json, "encrypted key envelope");
  if (!parsed.ok()) return parsed.error();
  const nlohmann::json& doc = *parsed;
  if (!doc.is_object())
    return Error(ErrorCode::kParse, "encrypted key envelope is not a JSON object");
  const nlohmann::json* kdf = Member(doc, "kdf");
  const nlohmann::json* cipher = Member(doc, "cipher");
  if (kdf == nullptr || !kdf->is_object() || cipher == nullptr || !cipher->is_object()) {
    return Error(ErrorCode::kParse, "encrypted key envelope: missing kdf or cipher object");
  }
  auto kdf_name = StringMember(*kdf, "name", "kdf.");
  if (!kdf_name.ok()) return kdf_name.error();
  if (*kdf_name != "scrypt") {
    return Error(ErrorCode::kUnsupported, "unsupported key derivation function \"" + *kdf_name +
                                              "\" (only scrypt is supported)");
  }
  auto cipher_name = StringMember(*cipher, "name", "cipher.");
  if (!cipher_name.ok()) return cipher_name.error();
  if (*cipher_name != "nacl/secretbox") {
    return Error(ErrorCode::kUnsupported,
                 "unsupported cipher \"" + *cipher_name + "\" (only nacl/secretbox is supported)");
  }
  auto params = ParseScrypt(*kdf);
  if (!params.ok()) return params.error();
  if (!IsAcceptedScryptParams(*params)) {
    return Error(ErrorCode::kUnsupported,
                 "unsupported scrypt parameters " + ParamsText(*params) +
                     " (accepted: N=32768, 65536 or 131072 with r=8, p=1)");
  }
  auto salt = BytesMember(*kdf, "salt", "kdf.");
  if (!salt.ok()) return salt.error();
  auto nonce = BytesMember(*cipher, "nonce", "cipher.");
  if (!nonce.ok()) return nonce.error();
  if (nonce->size() != kNonceSize) {
    return Error(ErrorCode::kParse, "encrypted key envelope: nonce is " +
                                        std::to_string(nonce->size()) + " bytes, expected 24");
  }
  auto ciphertext = BytesMember(doc, "ciphertext", "");
  if (!ciphertext.ok()) return ciphertext.error();
  if (ciphertext->size() < crypto_secretbox_MACBYTES) {
    return Error(ErrorCode::kDecryptionFailed,
                 "decryption failed: ciphertext is shorter than the authentication tag");
  }
  if (auto status = EnsureSodium(); !status.ok()) return status.error();
  auto key = DeriveKey(password, *salt, *params);
  if (!key.ok()) return key.error();
  SecretBytes plaintext(ciphertext->size() - crypto_secretbox_MACBYTES);
  if (crypto_secretbox_open_easy(
          plaintext.data(), reinterpret_cast<const uint8_t*>(ciphertext->data()),
          ciphertext->size(), reinterpret_cast<const uint8_t*>(nonce->data()), key->data()) != 0) {
    return Error(ErrorCode::kDecryptionFailed,
                 "decryption failed: wrong password, or the key file was modified");
  }
  return plaintext;
}

}  // namespace

bool IsAcceptedScryptParams(const ScryptParams& params) {
  return (params.n == 32768 || params.n == 65536 || params.n == 131072) && params.r == 8 &&
         params.p == 1;
}

Result<std::string> EncryptKeyEnvelope(std::string_view plaintext, std::string_view password,
                                       const ScryptParams& params) {
  if (auto status = EnsureSodium(); !status.ok()) return status.error();
  std::string salt(kSaltSize, '\0');
  std::string nonce(kNonceSize, '\0');
  randombytes_buf(salt.data(), salt.size());
  randombytes_buf(nonce.data(), nonce.size());
  auto key = DeriveKey(password, salt, params);
  if (!key.ok()) return key.error();
  std::string ciphertext(plaintext.size() + crypto_secretbox_MACBYTES, '\0');
  if (crypto_secretbox_easy(reinterpret_cast<uint8_t*>(ciphertext.data()),
                            reinterpret_cast<const uint8_t*>(plaintext.data()), plaintext.size(),
                            reinterpret_cast<const uint8_t*>(nonce.data()), key->data()) != 0) {
    return Error(ErrorCode::kCrypto, "secretbox encryption failed");
  }
  return std::string(R"({"kdf":{"name":"scrypt","params":{"N":)") + std::to_string(params.n) +
         R"(,"r":)" + std::to_string(params.r) + R"(,"p":)" + std::to_string(params.p) +
         R"(},"salt":")" + Base64Encode(salt) +
         R"("},"cipher":{"name":"nacl/secretbox","nonce":")" + Base64Encode(nonce) +
         R"("},"ciphertext":")" + Base64Encode(ciphertext) + R"("})";
}

Result<SecretBytes> DecryptKeyEnvelope(std::string_view envelope_json, std::string_view password,
                                       std::string_view source_name) {
  auto plaintext = Decrypt(envelope_json, password);
  if (!plaintext.ok()) return plaintext.error().WithContext(source_name);
  return plaintext;
}

}  // namespace signet::crypto

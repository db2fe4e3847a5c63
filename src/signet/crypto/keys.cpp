#include "signet/crypto/keys.h"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <fstream>
#include <sstream>

#include "signet/crypto/encrypted_key.h"
#include "signet/crypto/evp_keys.h"
#include "signet/crypto/pem_block.h"

namespace signet::crypto {
namespace {

constexpr std::string_view kSigstorePrivateKeyType = "ENCRYPTED SIGSTORE PRIVATE KEY";
constexpr std::string_view kCosignPrivateKeyType = "ENCRYPTED COSIGN PRIVATE KEY";
constexpr size_t kMaxKeyFileSize = 1 << 20;

struct Pkcs8Deleter {
  void operator()(PKCS8_PRIV_KEY_INFO* p) const { PKCS8_PRIV_KEY_INFO_free(p); }
};
using Pkcs8Ptr = std::unique_ptr<PKCS8_PRIV_KEY_INFO, Pkcs8Deleter>;

Result<std::string> ReadKeyFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error(ErrorCode::kNotFound, path + ": cannot open key file (missing or unreadable)");
  }
  std::string text;
  char buffer[4096];
  while (in.read(buffer, sizeof(buffer)) || in.gcount() > 0) {
    text.append(buffer, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxKeyFileSize) {
      return Error(ErrorCode::kTooLarge, path + ": key file is larger than 1 MiB");
    }
  }
  if (in.bad()) return Error(ErrorCode::kIo, path + ": error reading key file");
  return text;
}

// Parses DER that must be consumed completely by `parse`.
template <typename Parse>
EvpPkeyPtr ParseWholeDer(std::string_view der, Parse parse) {
  const auto* begin = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* p = begin;
  EvpPkeyPtr key(parse(&p, static_cast<long>(der.size())));
  if (key && p != begin + der.size()) key.reset();
  ERR_clear_error();
  return key;
}

EvpPkeyPtr ParsePkcs8(std::string_view der) {
  const auto* begin = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* p = begin;
  Pkcs8Ptr info(d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(der.size())));
  EvpPkeyPtr key;
  if (info && p == begin + der.size()) key.reset(EVP_PKCS82PKEY(info.get()));
  ERR_clear_error();
  return key;
}

Result<std::string> Pkcs8Der(const EVP_PKEY* key) {
  Pkcs8Ptr info(EVP_PKEY2PKCS8(key));
  if (!info) return Error(ErrorCode::kCrypto, "encoding PKCS#8: " + LastOpenSslError());
  unsigned char* der = nullptr;
  const int size = i2d_PKCS8_PRIV_KEY_INFO(info.get(), &der);
  if (size <= 0) return Error(ErrorCode::kCrypto, "encoding PKCS#8: " + LastOpenSslError());
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(size));
  OPENSSL_clear_free(der, static_cast<size_t>(size));
  return out;
}

// Encrypts `key` as a cosign key pair with the default scrypt parameters.
Result<KeyPairPem> EncryptKeyPair(const EVP_PKEY* key, std::string_view password) {
  auto pkcs8 = Pkcs8Der(key);
  if (!pkcs8.ok()) return pkcs8.error();
  const SecretBytes plaintext(*pkcs8);
  sodium_memzero(pkcs8->data(), pkcs8->size());
  auto envelope = EncryptKeyEnvelope(plaintext.view(), password);
  if (!envelope.ok()) return envelope.error();
  auto public_der = PublicKeyDer(key);
  if (!public_der.ok()) return public_der.error();
  return KeyPairPem{EncodePemBlock(kSigstorePrivateKeyType, *envelope),
                    EncodePemBlock("PUBLIC KEY", *public_der)};
}

}  // namespace

Result<KeyPairPem> GenerateKeyPair(std::string_view password) {
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return Error(ErrorCode::kCrypto, "generating P-256 key: " + LastOpenSslError());
  return EncryptKeyPair(key.get(), password);
}

Result<KeyPairPem> ImportKeyPair(std::string_view unencrypted_pem, std::string_view password,
                                 std::string_view source_name) {
  const std::string source(source_name);
  auto block = DecodeFirstPemBlock(unencrypted_pem, source_name);
  if (!block.ok()) return block.error();
  const SecretBytes der(block->der);
  sodium_memzero(block->der.data(), block->der.size());
  EvpPkeyPtr key;
  std::string format;
  if (block->type == "RSA PRIVATE KEY") {
    format = "PKCS#1 RSA";
    key = ParseWholeDer(der.view(), [](const unsigned char** p, long n) {
      return d2i_PrivateKey(EVP_PKEY_RSA, nullptr, p, n);
    });
  } else if (block->type == "EC PRIVATE KEY") {
    format = "SEC1 EC";
    key = ParseWholeDer(der.view(), [](const unsigned char** p, long n) {
      return d2i_PrivateKey(EVP_PKEY_EC, nullptr, p, n);
    });
  } else if (block->type == "PRIVATE KEY") {
    format = "PKCS#8";
    key = ParsePkcs8(der.view());
  } else {
    return Error(ErrorCode::kUnsupported,
                 source + ": unsupported PEM type \"" + block->type +
                     "\" (expected an unencrypted RSA PRIVATE KEY, EC PRIVATE KEY or PRIVATE KEY)");
  }
  // OpenSSL's decoders also accept other encodings; the PEM label must
  // still match the kind of key found.
  const int base_id = key ? EVP_PKEY_get_base_id(key.get()) : EVP_PKEY_NONE;
  if (!key || (block->type == "RSA PRIVATE KEY" && base_id != EVP_PKEY_RSA) ||
      (block->type == "EC PRIVATE KEY" && base_id != EVP_PKEY_EC)) {
    return Error(ErrorCode::kParse,
                 source + ": the \"" + block->type + "\" block is not a valid " + format + " key");
  }
  auto algorithm = ClassifyKey(key.get(), source_name);
  if (!algorithm.ok()) return algorithm.error();
  auto pair = EncryptKeyPair(key.get(), password);
  if (!pair.ok()) return pair.error().WithContext(source);
  return pair;
}

Result<std::unique_ptr<Signer>> LoadPrivateKey(std::string_view pem, std::string_view password,
                                               std::string_view source_name) {
  const std::string source(source_name);
  auto block = DecodeFirstPemBlock(pem, source_name);
  if (!block.ok()) return block.error();
  if (block->type != kSigstorePrivateKeyType && block->type != kCosignPrivateKeyType) {
    return Error(
        ErrorCode::kUnsupported,
        source + ": unsupported PEM type \"" + block->type +
            "\" (expected ENCRYPTED SIGSTORE PRIVATE KEY or ENCRYPTED COSIGN PRIVATE KEY)");
  }
  auto plaintext = DecryptKeyEnvelope(block->der, password, source_name);
  if (!plaintext.ok()) return plaintext.error();
  EvpPkeyPtr key = ParsePkcs8(plaintext->view());
  if (!key) {
    return Error(ErrorCode::kUnsupported,
                 source +
                     ": the decrypted key is not a PKCS#8 private key (SEC1 or PKCS#1 "
                     "plaintext is not accepted; re-create it with import-key-pair)");
  }
  auto algorithm = ClassifyKey(key.get(), source_name);
  if (!algorithm.ok()) return algorithm.error();
  return MakeEvpSigner(std::move(key), *algorithm);
}

Result<std::unique_ptr<Signer>> LoadPrivateKeyFile(const std::string& path,
                                                   std::string_view password) {
  auto text = ReadKeyFile(path);
  if (!text.ok()) return text.error();
  return LoadPrivateKey(*text, password, path);
}

Result<std::unique_ptr<Verifier>> LoadPublicKey(std::string_view pem,
                                                std::string_view source_name) {
  const std::string source(source_name);
  auto block = DecodeFirstPemBlock(pem, source_name);
  if (!block.ok()) return block.error();
  EvpPkeyPtr key;
  if (block->type == "PUBLIC KEY") {
    key = ParseWholeDer(block->der,
                        [](const unsigned char** p, long n) { return d2i_PUBKEY(nullptr, p, n); });
  } else if (block->type == "RSA PUBLIC KEY") {
    key = ParseWholeDer(block->der, [](const unsigned char** p, long n) {
      return d2i_PublicKey(EVP_PKEY_RSA, nullptr, p, n);
    });
  } else {
    return Error(ErrorCode::kUnsupported, source + ": unsupported public key PEM type \"" +
                                              block->type +
                                              "\" (expected PUBLIC KEY or RSA PUBLIC KEY)");
  }
  if (!key) {
    return Error(ErrorCode::kParse,
                 source + ": the \"" + block->type + "\" block is not a valid public key");
  }
  auto algorithm = ClassifyKey(key.get(), source_name);
  if (!algorithm.ok()) return algorithm.error();
  return MakeEvpVerifier(std::move(key), *algorithm);
}

Result<std::unique_ptr<Verifier>> LoadPublicKeyFile(const std::string& path) {
  auto text = ReadKeyFile(path);
  if (!text.ok()) return text.error();
  return LoadPublicKey(*text, path);
}

}  // namespace signet::crypto

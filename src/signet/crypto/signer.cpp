#include "signet/crypto/signer.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include <array>
#include <mutex>

#include "signet/crypto/evp_keys.h"
#include "signet/crypto/pem_block.h"

namespace signet::crypto {
namespace {

bool IsEcdsa(KeyAlgorithm algorithm) {
  return algorithm == KeyAlgorithm::kEcdsaP256 || algorithm == KeyAlgorithm::kEcdsaP384 ||
         algorithm == KeyAlgorithm::kEcdsaP521;
}

// The message digest of the algorithm's signing scheme; nullptr for Ed25519
// (pure EdDSA hashes internally).
const EVP_MD* DigestFor(KeyAlgorithm algorithm) {
  switch (algorithm) {
    case KeyAlgorithm::kEcdsaP384:
      return EVP_sha384();
    case KeyAlgorithm::kEcdsaP521:
      return EVP_sha512();
    case KeyAlgorithm::kEd25519:
      return nullptr;
    default:
      return EVP_sha256();
  }
}

std::string PemOf(const EVP_PKEY* key) {
  auto der = PublicKeyDer(key);
  return der.ok() ? EncodePemBlock("PUBLIC KEY", *der) : std::string();
}

// An ECDSA signature as DER: DER input is returned unchanged; a raw r||s
// (IEEE P1363, even length up to 132 bytes) is converted, as sigstore does.
Result<std::string> EcdsaSignatureDer(std::string_view signature) {
  const auto* p = reinterpret_cast<const unsigned char*>(signature.data());
  EcdsaSigPtr parsed(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(signature.size())));
  if (parsed && p == reinterpret_cast<const unsigned char*>(signature.data()) + signature.size()) {
    return std::string(signature);
  }
  ERR_clear_error();
  if (signature.empty() || signature.size() % 2 != 0 || signature.size() > 132) {
    return Error(ErrorCode::kVerificationFailed, "signature is neither ASN.1 DER nor raw r||s (" +
                                                     std::to_string(signature.size()) + " bytes)");
  }
  const size_t half = signature.size() / 2;
  const auto* bytes = reinterpret_cast<const unsigned char*>(signature.data());
  BignumPtr r(BN_bin2bn(bytes, static_cast<int>(half), nullptr));
  BignumPtr s(BN_bin2bn(bytes + half, static_cast<int>(half), nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    return Error(ErrorCode::kCrypto, "converting r||s signature: " + LastOpenSslError());
  }
  r.release();  // now owned by sig
  s.release();
  unsigned char* der = nullptr;
  const int size = i2d_ECDSA_SIG(sig.get(), &der);
  if (size <= 0) return Error(ErrorCode::kCrypto, "encoding r||s signature: " + LastOpenSslError());
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(size));
  OPENSSL_free(der);
  return out;
}

class EvpVerifier final : public Verifier {
 public:
  EvpVerifier(EvpPkeyPtr key, KeyAlgorithm algorithm)
      : key_(std::move(key)), algorithm_(algorithm) {}

  Status Verify(std::string_view signature, std::string_view data) const override {
    std::string sig(signature);
    if (IsEcdsa(algorithm_)) {
      auto der = EcdsaSignatureDer(signature);
      if (!der.ok()) return der.error();
      sig = std::move(der).value();
    }
    EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    if (!ctx ||
        EVP_DigestVerifyInit(ctx.get(), nullptr, DigestFor(algorithm_), nullptr, key_.get()) != 1) {
      return Error(ErrorCode::kCrypto, "initialising verification: " + LastOpenSslError());
    }
    const int rc =
        EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                         reinterpret_cast<const unsigned char*>(data.data()), data.size());
    ERR_clear_error();
    if (rc != 1) {
      return Error(ErrorCode::kVerificationFailed,
                   "invalid signature: it does not match the data and the " +
                       std::string(KeyAlgorithmName(algorithm_)) + " public key");
    }
    return OkStatus();
  }

  KeyAlgorithm algorithm() const override { return algorithm_; }
  // Encoded on first use: verification never needs the PEM, and OpenSSL
  // 3.0's encoder set-up cost 3.5 M instructions, 11% of a `signet verify`
  // (bench/results/cli-startup.md).
  std::string PublicKeyPem() const override {
    std::call_once(pem_once_, [this] { pem_ = PemOf(key_.get()); });
    return pem_;
  }

 private:
  EvpPkeyPtr key_;
  KeyAlgorithm algorithm_;
  mutable std::once_flag pem_once_;
  mutable std::string pem_;
};

class EvpSigner final : public Signer {
 public:
  EvpSigner(EvpPkeyPtr key, KeyAlgorithm algorithm)
      : key_(std::move(key)), algorithm_(algorithm), pem_(PemOf(key_.get())) {}

  Result<std::string> Sign(std::string_view data) const override {
    EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    if (!ctx ||
        EVP_DigestSignInit(ctx.get(), nullptr, DigestFor(algorithm_), nullptr, key_.get()) != 1) {
      return Error(ErrorCode::kCrypto, "initialising signature: " + LastOpenSslError());
    }
    const auto* in = reinterpret_cast<const unsigned char*>(data.data());
    size_t size = 0;
    if (EVP_DigestSign(ctx.get(), nullptr, &size, in, data.size()) != 1) {
      return Error(ErrorCode::kCrypto, "signing: " + LastOpenSslError());
    }
    std::string signature(size, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size, in,
                       data.size()) != 1) {
      return Error(ErrorCode::kCrypto, "signing: " + LastOpenSslError());
    }
    signature.resize(size);
    return signature;
  }

  KeyAlgorithm algorithm() const override { return algorithm_; }
  std::string PublicKeyPem() const override { return pem_; }

  // The verifier shares this signer's key (reference counted by OpenSSL);
  // verification only reads its public half.
  std::unique_ptr<Verifier> MakeVerifier() const override {
    EVP_PKEY_up_ref(key_.get());
    return MakeEvpVerifier(EvpPkeyPtr(key_.get()), algorithm_);
  }

 private:
  EvpPkeyPtr key_;
  KeyAlgorithm algorithm_;
  std::string pem_;
};

}  // namespace

std::string LastOpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  std::array<char, 256> buffer{};
  ERR_error_string_n(code, buffer.data(), buffer.size());
  return buffer.data();
}

std::string_view KeyAlgorithmName(KeyAlgorithm algorithm) {
  switch (algorithm) {
    case KeyAlgorithm::kEcdsaP256:
      return "ECDSA P-256";
    case KeyAlgorithm::kEcdsaP384:
      return "ECDSA P-384";
    case KeyAlgorithm::kEcdsaP521:
      return "ECDSA P-521";
    case KeyAlgorithm::kRsa2048:
      return "RSA-2048";
    case KeyAlgorithm::kRsa3072:
      return "RSA-3072";
    case KeyAlgorithm::kRsa4096:
      return "RSA-4096";
    case KeyAlgorithm::kEd25519:
      return "Ed25519";
  }
  return "unknown";
}

Result<KeyAlgorithm> ClassifyKey(const EVP_PKEY* key, std::string_view source_name) {
  const std::string source(source_name);
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_EC: {
      std::array<char, 64> group{};
      size_t size = 0;
      if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group.data(),
                                         group.size(), &size) != 1) {
        ERR_clear_error();
        return Error(ErrorCode::kUnsupported,
                     source + ": EC key without a named curve is not supported");
      }
      const std::string_view name(group.data(), size);
      if (name == "prime256v1") return KeyAlgorithm::kEcdsaP256;
      if (name == "secp384r1") return KeyAlgorithm::kEcdsaP384;
      if (name == "secp521r1") return KeyAlgorithm::kEcdsaP521;
      return Error(ErrorCode::kUnsupported, source + ": unsupported elliptic curve " +
                                                std::string(name) +
                                                " (only P-256, P-384 and P-521 are supported)");
    }
    case EVP_PKEY_RSA: {
      const int bits = EVP_PKEY_get_bits(key);
      if (bits == 2048) return KeyAlgorithm::kRsa2048;
      if (bits == 3072) return KeyAlgorithm::kRsa3072;
      if (bits == 4096) return KeyAlgorithm::kRsa4096;
      return Error(ErrorCode::kUnsupported, source + ": unsupported RSA key size " +
                                                std::to_string(bits) +
                                                " bits (only 2048, 3072 and 4096 are supported)");
    }
    case EVP_PKEY_ED25519:
      return KeyAlgorithm::kEd25519;
    default:
      return Error(
          ErrorCode::kUnsupported,
          source + ": unsupported key type " +
              std::string(EVP_PKEY_get0_type_name(key) ? EVP_PKEY_get0_type_name(key) : "unknown") +
              " (supported: ECDSA, RSA, Ed25519)");
  }
}

Result<std::string> PublicKeyDer(const EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int size = i2d_PUBKEY(key, &der);
  if (size <= 0) return Error(ErrorCode::kCrypto, "encoding public key: " + LastOpenSslError());
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(size));
  OPENSSL_free(der);
  return out;
}

std::unique_ptr<Signer> MakeEvpSigner(EvpPkeyPtr key, KeyAlgorithm algorithm) {
  return std::make_unique<EvpSigner>(std::move(key), algorithm);
}

std::unique_ptr<Verifier> MakeEvpVerifier(EvpPkeyPtr key, KeyAlgorithm algorithm) {
  return std::make_unique<EvpVerifier>(std::move(key), algorithm);
}

}  // namespace signet::crypto

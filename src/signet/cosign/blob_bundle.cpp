#include "signet/cosign/blob_bundle.h"

#include <openssl/evp.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "signet/cosign/statement.h"
#include "signet/crypto/encoding.h"
#include "signet/crypto/key_files.h"

namespace signet::cosign {
namespace {

struct HashChoice {
  std::string_view proto_name;      // messageDigest.algorithm
  std::string_view statement_name;  // in-toto digest key
  const EVP_MD* (*md)();
};

const std::array<HashChoice, 3> kHashes = {{
    {kHashSha256, "sha256", EVP_sha256},
    {kHashSha384, "sha384", EVP_sha384},
    {kHashSha512, "sha512", EVP_sha512},
}};

Result<std::string> Digest(const HashChoice& hash, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), out, &length, hash.md(), nullptr) != 1) {
    return Error(ErrorCode::kCrypto, "computing " + std::string(hash.statement_name) + " failed");
  }
  return std::string(reinterpret_cast<const char*>(out), length);
}

const HashChoice* HashByProtoName(std::string_view name) {
  for (const HashChoice& hash : kHashes) {
    if (hash.proto_name == name) return &hash;
  }
  return nullptr;
}

Result<const HashChoice*> HashForKey(crypto::KeyAlgorithm algorithm) {
  switch (algorithm) {
    case crypto::KeyAlgorithm::kEcdsaP256:
    case crypto::KeyAlgorithm::kRsa2048:
    case crypto::KeyAlgorithm::kRsa3072:
    case crypto::KeyAlgorithm::kRsa4096:
      return &kHashes[0];
    case crypto::KeyAlgorithm::kEcdsaP384:
      return &kHashes[1];
    case crypto::KeyAlgorithm::kEcdsaP521:
      return &kHashes[2];
    case crypto::KeyAlgorithm::kEd25519:
      break;
  }
  return Error(ErrorCode::kUnsupported,
               "Ed25519 keys cannot sign blob bundles yet (cosign signs them without a "
               "message digest, a form signet does not write); use an ECDSA or RSA key, or "
               "sign without --bundle");
}

Status VerifyMessageSignature(const MessageSignature& message, const crypto::Verifier& verifier,
                              std::string_view blob) {
  const HashChoice* hash = HashByProtoName(message.digest_algorithm);
  if (hash == nullptr) {
    return Error(ErrorCode::kVerificationFailed,
                 "unsupported message digest algorithm " + message.digest_algorithm);
  }
  auto digest = Digest(*hash, blob);
  if (!digest.ok()) return digest.error();
  if (*digest != message.digest) {
    return Error(ErrorCode::kDigestMismatch,
                 "the blob's " + std::string(hash->statement_name) +
                     " digest does not match the bundle's message digest");
  }
  if (auto status = verifier.Verify(message.signature, blob); !status.ok()) {
    return Error(ErrorCode::kVerificationFailed,
                 "message signature does not verify: " + status.error().message());
  }
  return OkStatus();
}

Status VerifyEnvelopeOverBlob(const DsseEnvelope& envelope, const crypto::Verifier& verifier,
                              std::string_view blob) {
  if (envelope.payload_type != kInTotoPayloadType) {
    return Error(ErrorCode::kVerificationFailed, "DSSE payloadType \"" + envelope.payload_type +
                                                     "\" is not " +
                                                     std::string(kInTotoPayloadType));
  }
  if (auto status = VerifyDsseEnvelope(envelope, verifier); !status.ok()) return status;
  auto statement = ParseStatement(envelope.payload);
  if (!statement.ok()) {
    return Error(ErrorCode::kVerificationFailed, statement.error().message());
  }
  for (const HashChoice& hash : kHashes) {
    auto digest = Digest(hash, blob);
    if (!digest.ok()) return digest.error();
    if (StatementHasSubject(*statement, hash.statement_name, crypto::HexEncode(*digest))) {
      return OkStatus();
    }
  }
  return Error(ErrorCode::kDigestMismatch,
               "no subject of the bundle's in-toto statement has the blob's digest");
}

}  // namespace

Result<std::string> SignBlobBundle(const crypto::Signer& signer, std::string_view blob) {
  auto hash = HashForKey(signer.algorithm());
  if (!hash.ok()) return hash.error();
  auto digest = Digest(**hash, blob);
  if (!digest.ok()) return digest.error();
  auto signature = signer.Sign(blob);
  if (!signature.ok()) return signature.error();
  auto hint = PublicKeyHint(signer.PublicKeyPem());
  if (!hint.ok()) return hint.error().WithContext("the signing key's public key");
  Bundle bundle;
  bundle.public_key_hint = std::move(*hint);
  bundle.content =
      MessageSignature{std::string((*hash)->proto_name), std::move(*digest), std::move(*signature)};
  return MarshalBundle(bundle);
}

Status VerifyBlobBundle(const Bundle& bundle, const crypto::Verifier& verifier,
                        std::string_view blob, TlogPolicy tlog_policy) {
  const Status content =
      std::holds_alternative<MessageSignature>(bundle.content)
          ? VerifyMessageSignature(std::get<MessageSignature>(bundle.content), verifier, blob)
          : VerifyEnvelopeOverBlob(std::get<DsseEnvelope>(bundle.content), verifier, blob);
  if (!content.ok()) return content;
  return CheckTlogPolicy(bundle, tlog_policy);
}

Result<Bundle> LoadBundleFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error(ErrorCode::kNotFound, path + ": cannot open bundle: " + std::strerror(errno));
  }
  std::string text(kMaxBundleBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return Error(ErrorCode::kIo, path + ": error reading bundle");
  text.resize(static_cast<std::size_t>(in.gcount()));
  auto bundle = ParseBundle(text);
  if (!bundle.ok()) return bundle.error().WithContext(path);
  return bundle;
}

Status WriteBundleFile(const std::string& path, std::string_view bundle_json) {
  constexpr bool kOverwrite = true;
  return crypto::WriteFileAtomically(path, bundle_json, 0600, kOverwrite);
}

}  // namespace signet::cosign

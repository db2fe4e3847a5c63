#include "signet/cosign/bundle.h"

#include "signet/bounded_json.h"
#include "signet/cosign/go_json.h"
#include "signet/cosign/strict_json.h"
#include "signet/crypto/encoding.h"

namespace signet::cosign {
namespace {

constexpr std::string_view kWhat = "sigstore bundle";

// Accepted v0.3 spellings: "...bundle.v0.3+json", "...bundle.v0.3.<n>+json"
// and "...bundle+json;version=0.3" (sigstore-go reads any 0.3.x).
constexpr std::string_view kVersionedPrefix = "application/vnd.dev.sigstore.bundle.v";
constexpr std::string_view kVersionedSuffix = "+json";
constexpr std::string_view kParameterPrefix = "application/vnd.dev.sigstore.bundle+json;version=";

bool IsDigits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// The version a Sigstore bundle media type names ("0.3", "0.3.1", "0.4"), or
// "" when it is not a Sigstore bundle media type.
std::string BundleVersion(std::string_view media_type) {
  std::string_view version;
  if (media_type.starts_with(kVersionedPrefix) && media_type.ends_with(kVersionedSuffix)) {
    version =
        media_type.substr(kVersionedPrefix.size(),
                          media_type.size() - kVersionedPrefix.size() - kVersionedSuffix.size());
  } else if (media_type.starts_with(kParameterPrefix)) {
    version = media_type.substr(kParameterPrefix.size());
  } else {
    return "";
  }
  std::size_t parts = 0;
  std::string_view rest = version;
  while (true) {
    const auto dot = rest.find('.');
    if (!IsDigits(rest.substr(0, dot))) return "";
    ++parts;
    if (dot == std::string_view::npos) break;
    rest = rest.substr(dot + 1);
  }
  return parts >= 2 && parts <= 3 ? std::string(version) : "";
}

Status CheckMediaType(std::string_view media_type) {
  const std::string version = BundleVersion(media_type);
  if (version.empty()) {
    return Error(ErrorCode::kUnsupported, std::string(kWhat) + ": unknown media type \"" +
                                              std::string(media_type) + "\" (expected " +
                                              std::string(kBundleMediaTypeV03) + ")");
  }
  if (version == "0.3" || version.starts_with("0.3.")) return OkStatus();
  return Error(ErrorCode::kUnsupported, std::string(kWhat) + ": version " + version +
                                            " is not supported; signet reads v0.3 bundles (" +
                                            std::string(kBundleMediaTypeV03) + ")");
}

Result<std::string> ParsePublicKey(const nlohmann::json& material) {
  const std::string what = std::string(kWhat) + ": verificationMaterial";
  if (auto status = strict_json::RequireObject(material, what,
                                               {"publicKey", "x509CertificateChain", "certificate",
                                                "tlogEntries", "timestampVerificationData"});
      !status.ok()) {
    return status.error();
  }
  const int kinds = static_cast<int>(material.contains("publicKey")) +
                    static_cast<int>(material.contains("certificate")) +
                    static_cast<int>(material.contains("x509CertificateChain"));
  if (kinds != 1) {
    return Error(ErrorCode::kParse, what +
                                        " must hold exactly one of publicKey, certificate, "
                                        "x509CertificateChain (it holds " +
                                        std::to_string(kinds) + ")");
  }
  if (material.contains("x509CertificateChain")) {
    return Error(ErrorCode::kParse, what + ": a v0.3 bundle must not use x509CertificateChain");
  }
  if (material.contains("certificate")) {
    return Error(ErrorCode::kUnsupported,
                 what +
                     " holds a certificate (keyless signing); signet verifies key-based "
                     "bundles only");
  }
  const nlohmann::json& key = material.at("publicKey");
  const std::string key_what = what + ".publicKey";
  if (auto status = strict_json::RequireObject(key, key_what, {"hint"}); !status.ok()) {
    return status.error();
  }
  return strict_json::OptionalString(key, "hint", key_what);
}

Result<MessageSignature> ParseMessageSignature(const nlohmann::json& value) {
  const std::string what = std::string(kWhat) + ": messageSignature";
  if (auto status = strict_json::RequireObject(value, what, {"messageDigest", "signature"});
      !status.ok()) {
    return status.error();
  }
  MessageSignature message;
  auto signature = strict_json::RequiredBytes(value, "signature", what);
  if (!signature.ok()) return signature.error();
  message.signature = std::move(*signature);
  const auto digest = value.find("messageDigest");
  if (digest == value.end()) {
    return Error(ErrorCode::kParse, what + ": missing field \"messageDigest\"");
  }
  const std::string digest_what = what + ".messageDigest";
  if (auto status = strict_json::RequireObject(*digest, digest_what, {"algorithm", "digest"});
      !status.ok()) {
    return status.error();
  }
  auto algorithm = strict_json::RequiredString(*digest, "algorithm", digest_what);
  if (!algorithm.ok()) return algorithm.error();
  if (*algorithm != kHashSha256 && *algorithm != kHashSha384 && *algorithm != kHashSha512) {
    return Error(ErrorCode::kUnsupported,
                 digest_what + ": unsupported algorithm \"" + *algorithm + "\"");
  }
  message.digest_algorithm = std::move(*algorithm);
  auto bytes = strict_json::RequiredBytes(*digest, "digest", digest_what);
  if (!bytes.ok()) return bytes.error();
  message.digest = std::move(*bytes);
  return message;
}

Result<DsseEnvelope> ParseBundleEnvelope(const nlohmann::json& value) {
  const std::string what = std::string(kWhat) + ": dsseEnvelope";
  auto envelope = ParseDsseEnvelope(value, what);
  if (!envelope.ok()) return envelope.error();
  if (envelope->payload_type != kInTotoPayloadType) {
    return Error(ErrorCode::kParse, what + ": payloadType \"" + envelope->payload_type +
                                        "\" is not " + std::string(kInTotoPayloadType));
  }
  if (envelope->signatures.size() != 1) {
    return Error(ErrorCode::kParse, what + " has " + std::to_string(envelope->signatures.size()) +
                                        " signatures; exactly one is required");
  }
  return envelope;
}

// The first PUBLIC KEY block's DER.
Result<std::string> PublicKeyDer(std::string_view pem) {
  constexpr std::string_view kBegin = "-----BEGIN PUBLIC KEY-----";
  constexpr std::string_view kEnd = "-----END PUBLIC KEY-----";
  const auto begin = pem.find(kBegin);
  const auto end = begin == std::string_view::npos ? begin : pem.find(kEnd, begin);
  if (end == std::string_view::npos) {
    return Error(ErrorCode::kParse, "public key: no PUBLIC KEY PEM block");
  }
  std::string body;
  for (char c : pem.substr(begin + kBegin.size(), end - begin - kBegin.size())) {
    if (c != '\n' && c != '\r') body += c;
  }
  auto der = crypto::Base64Decode(body);
  if (!der.ok()) return Error(ErrorCode::kParse, "public key: PEM body is not base64");
  return std::move(*der);
}

}  // namespace

Result<std::string> PublicKeyHint(std::string_view public_key_pem) {
  auto der = PublicKeyDer(public_key_pem);
  if (!der.ok()) return der.error();
  return crypto::Base64Encode(crypto::Sha256(*der));
}

std::string MarshalBundle(const Bundle& bundle) {
  std::string out = "{\"mediaType\":" + GoJsonQuote(bundle.media_type) +
                    ",\"verificationMaterial\":{\"publicKey\":{";
  if (!bundle.public_key_hint.empty()) out += "\"hint\":" + GoJsonQuote(bundle.public_key_hint);
  out += "}}";
  if (const auto* envelope = std::get_if<DsseEnvelope>(&bundle.content)) {
    out += ",\"dsseEnvelope\":" + MarshalDsseEnvelope(*envelope);
  } else {
    const auto& message = std::get<MessageSignature>(bundle.content);
    out += ",\"messageSignature\":{\"messageDigest\":{\"algorithm\":" +
           GoJsonQuote(message.digest_algorithm) + ",\"digest\":\"" +
           crypto::Base64Encode(message.digest) + "\"},\"signature\":\"" +
           crypto::Base64Encode(message.signature) + "\"}";
  }
  out += '}';
  return out;
}

Result<Bundle> ParseBundle(std::string_view text) {
  if (text.size() > kMaxBundleBytes) {
    return Error(ErrorCode::kTooLarge, std::string(kWhat) + ": larger than " +
                                           std::to_string(kMaxBundleBytes) + " bytes");
  }
  JsonParseOptions options;
  options.duplicate_keys = DuplicateKeys::kRejectGoFolded;
  auto document = ParseBoundedJson(text, kWhat, options);
  if (!document.ok()) return document.error();
  if (auto status = strict_json::RequireObject(
          *document, kWhat,
          {"mediaType", "verificationMaterial", "dsseEnvelope", "messageSignature"});
      !status.ok()) {
    return status.error();
  }
  Bundle bundle;
  auto media_type = strict_json::RequiredString(*document, "mediaType", kWhat);
  if (!media_type.ok()) return media_type.error();
  if (auto status = CheckMediaType(*media_type); !status.ok()) return status.error();
  bundle.media_type = std::move(*media_type);

  const auto material = document->find("verificationMaterial");
  if (material == document->end()) {
    return Error(ErrorCode::kParse, std::string(kWhat) + ": missing verificationMaterial");
  }
  auto hint = ParsePublicKey(*material);
  if (!hint.ok()) return hint.error();
  bundle.public_key_hint = std::move(*hint);
  if (const auto entries = material->find("tlogEntries"); entries != material->end()) {
    if (!entries->is_array()) {
      return Error(ErrorCode::kParse, std::string(kWhat) + ": tlogEntries is not a list");
    }
    bundle.tlog_entries = entries->size();
  }
  if (const auto timestamps = material->find("timestampVerificationData");
      timestamps != material->end()) {
    if (!timestamps->is_object()) {
      return Error(ErrorCode::kParse,
                   std::string(kWhat) + ": timestampVerificationData is not an object");
    }
    bundle.has_timestamp_data = true;
  }

  const bool dsse = document->contains("dsseEnvelope");
  const bool message = document->contains("messageSignature");
  if (dsse == message) {
    return Error(ErrorCode::kParse, std::string(kWhat) +
                                        " must hold exactly one of "
                                        "dsseEnvelope and messageSignature");
  }
  if (dsse) {
    auto envelope = ParseBundleEnvelope(document->at("dsseEnvelope"));
    if (!envelope.ok()) return envelope.error();
    bundle.content = std::move(*envelope);
  } else {
    auto signature = ParseMessageSignature(document->at("messageSignature"));
    if (!signature.ok()) return signature.error();
    bundle.content = std::move(*signature);
  }
  return bundle;
}

Status CheckTlogPolicy(const Bundle& bundle, TlogPolicy policy) {
  if (policy == TlogPolicy::kInsecureIgnore) return OkStatus();
  if (bundle.tlog_entries == 0) {
    return Error(ErrorCode::kVerificationFailed,
                 "the bundle has no transparency log entry (not enough verified log entries: "
                 "0 < 1); pass --insecure-ignore-tlog=true to verify a bundle signed without "
                 "a transparency log");
  }
  return Error(ErrorCode::kVerificationFailed,
               "the bundle has " + std::to_string(bundle.tlog_entries) +
                   " transparency log entries, which signet cannot verify yet; pass "
                   "--insecure-ignore-tlog=true to verify the signature alone");
}

}  // namespace signet::cosign

#include "signet/cosign/dsse.h"

#include "signet/cosign/go_json.h"
#include "signet/cosign/strict_json.h"
#include "signet/crypto/encoding.h"

namespace signet::cosign {

std::string DssePae(std::string_view payload_type, std::string_view payload) {
  std::string pae = "DSSEv1 ";
  pae += std::to_string(payload_type.size());
  pae += ' ';
  pae += payload_type;
  pae += ' ';
  pae += std::to_string(payload.size());
  pae += ' ';
  pae += payload;
  return pae;
}

Result<DsseEnvelope> SignDsse(const crypto::Signer& signer, std::string_view payload_type,
                              std::string payload) {
  auto sig = signer.Sign(DssePae(payload_type, payload));
  if (!sig.ok()) return sig.error().WithContext("signing the DSSE envelope");
  DsseEnvelope envelope;
  envelope.payload = std::move(payload);
  envelope.payload_type = std::string(payload_type);
  envelope.signatures.push_back(DsseSignature{std::move(*sig), ""});
  return envelope;
}

std::string MarshalDsseEnvelope(const DsseEnvelope& envelope) {
  std::string out = "{\"payload\":\"" + crypto::Base64Encode(envelope.payload) + "\"";
  out += ",\"payloadType\":" + GoJsonQuote(envelope.payload_type);
  out += ",\"signatures\":[";
  for (std::size_t i = 0; i < envelope.signatures.size(); ++i) {
    const DsseSignature& signature = envelope.signatures[i];
    if (i > 0) out += ',';
    out += "{\"sig\":\"" + crypto::Base64Encode(signature.sig) + "\"";
    if (!signature.keyid.empty()) out += ",\"keyid\":" + GoJsonQuote(signature.keyid);
    out += '}';
  }
  out += "]}";
  return out;
}

Result<DsseEnvelope> ParseDsseEnvelope(const nlohmann::json& value, std::string_view what) {
  if (auto status =
          strict_json::RequireObject(value, what, {"payload", "payloadType", "signatures"});
      !status.ok()) {
    return status.error();
  }
  DsseEnvelope envelope;
  auto payload = strict_json::RequiredBytes(value, "payload", what);
  if (!payload.ok()) return payload.error();
  envelope.payload = std::move(*payload);
  auto payload_type = strict_json::RequiredString(value, "payloadType", what);
  if (!payload_type.ok()) return payload_type.error();
  envelope.payload_type = std::move(*payload_type);
  const auto signatures = value.find("signatures");
  if (signatures == value.end()) return envelope;
  if (!signatures->is_array()) {
    return Error(ErrorCode::kParse, std::string(what) + ": field \"signatures\" is not a list");
  }
  const std::string signature_what = std::string(what) + ": signature";
  for (const nlohmann::json& entry : *signatures) {
    if (auto status = strict_json::RequireObject(entry, signature_what, {"sig", "keyid"});
        !status.ok()) {
      return status.error();
    }
    auto sig = strict_json::RequiredBytes(entry, "sig", signature_what);
    if (!sig.ok()) return sig.error();
    auto keyid = strict_json::OptionalString(entry, "keyid", signature_what);
    if (!keyid.ok()) return keyid.error();
    envelope.signatures.push_back(DsseSignature{std::move(*sig), std::move(*keyid)});
  }
  return envelope;
}

Status VerifyDsseEnvelope(const DsseEnvelope& envelope, const crypto::Verifier& verifier) {
  if (envelope.signatures.size() != 1) {
    return Error(ErrorCode::kVerificationFailed, "DSSE envelope has " +
                                                     std::to_string(envelope.signatures.size()) +
                                                     " signatures; exactly one is required");
  }
  if (auto status = verifier.Verify(envelope.signatures.front().sig,
                                    DssePae(envelope.payload_type, envelope.payload));
      !status.ok()) {
    return Error(ErrorCode::kVerificationFailed,
                 "DSSE signature does not verify: " + status.error().message());
  }
  return OkStatus();
}

}  // namespace signet::cosign

// DSSE (Dead Simple Signing Envelope) as cosign v3 and sigstore-go use it:
// the pre-authentication encoding (PAE) that is actually signed, the envelope
// JSON, and signing / verifying an envelope with signet's key signers.
//
//   PAE = "DSSEv1 " + len(type) + " " + type + " " + len(payload) + " " + payload
//
// with decimal byte lengths. The envelope JSON is
// {"payload":"<b64>","payloadType":"<type>","signatures":[{"sig":"<b64>"}]}
// (protojson and Go encoding/json print the same bytes for it; "keyid" only
// when non-empty; cosign writes none and neither does signet).
//
// Values are plain data; functions are pure apart from the Signer/Verifier
// they are given and are thread-safe when those are (signet's are).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "signet/crypto/signer.h"
#include "signet/result.h"

namespace signet::cosign {

inline constexpr std::string_view kInTotoPayloadType = "application/vnd.in-toto+json";

struct DsseSignature {
  std::string sig;    // raw signature bytes (DER for ECDSA)
  std::string keyid;  // empty when absent
};

struct DsseEnvelope {
  std::string payload;  // raw payload bytes (base64 only on the wire)
  std::string payload_type;
  std::vector<DsseSignature> signatures;
};

// The bytes a DSSE signature covers.
std::string DssePae(std::string_view payload_type, std::string_view payload);

// An envelope over `payload` with one signature by `signer` over the PAE and
// no keyid. kCrypto when the signer fails.
Result<DsseEnvelope> SignDsse(const crypto::Signer& signer, std::string_view payload_type,
                              std::string payload);

// The envelope's JSON, byte for byte as cosign writes it.
std::string MarshalDsseEnvelope(const DsseEnvelope& envelope);

// Reads an envelope from a parsed JSON object, strictly (unknown fields,
// missing payload/payloadType, non-base64 bytes => kParse; an absent or empty
// "signatures" list gives an envelope with no signatures, which
// VerifyDsseEnvelope refuses). `what` prefixes error messages.
Result<DsseEnvelope> ParseDsseEnvelope(const nlohmann::json& value, std::string_view what);

// OK when the envelope has exactly one signature (Sigstore bundles' rule;
// DSSE itself allows several, cosign v3 and sigstore-go refuse them) and
// `verifier` accepts it over the PAE. Errors: kVerificationFailed
// "DSSE envelope has N signatures; exactly one is required" or "DSSE
// signature does not verify: <reason>".
Status VerifyDsseEnvelope(const DsseEnvelope& envelope, const crypto::Verifier& verifier);

}  // namespace signet::cosign

// Sigstore bundle v0.3 JSON (protobuf-specs dev.sigstore.bundle.v1.Bundle), as
// cosign v3 writes it for key-based signing without a transparency log:
//
//   {"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json",
//    "verificationMaterial":{"publicKey":{"hint":"<b64 SHA-256(SPKI DER)>"}},
//    "dsseEnvelope":{...}}                      (images, attestations)
//   or "messageSignature":{"messageDigest":{"algorithm":"SHA2_256",
//       "digest":"<b64>"},"signature":"<b64>"}  (sign-blob)
//
// MarshalBundle prints exactly that (protojson field order, compact, no
// tlogEntries). ParseBundle reads a bundle as hostile input: size cap, bounded
// JSON without duplicate keys, strict fields (unknown ones refused, as
// sigstore-go's strict protojson does), only the v0.3 media types (v0.1, v0.2,
// v0.4 and anything else refused), exactly one of publicKey / certificate /
// x509CertificateChain (only publicKey is supported: signet verifies
// key-based bundles), exactly one content, a DSSE payloadType of
// application/vnd.in-toto+json and exactly one DSSE signature. tlogEntries
// and timestampVerificationData are counted but not interpreted: signet does
// not verify transparency logs or timestamps (see TlogPolicy).
//
// Pure functions over values; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

#include "signet/cosign/dsse.h"
#include "signet/result.h"

namespace signet::cosign {

inline constexpr std::string_view kBundleMediaTypeV03 =
    "application/vnd.dev.sigstore.bundle.v0.3+json";
// The same version in the older spelling, which sigstore-go also accepts.
inline constexpr std::string_view kBundleMediaTypeV03Legacy =
    "application/vnd.dev.sigstore.bundle+json;version=0.3";

// Larger bundle files are refused before parsing (kTooLarge).
inline constexpr std::size_t kMaxBundleBytes = 8 << 20;

// protobuf-specs HashAlgorithm names signet reads and writes.
inline constexpr std::string_view kHashSha256 = "SHA2_256";
inline constexpr std::string_view kHashSha384 = "SHA2_384";
inline constexpr std::string_view kHashSha512 = "SHA2_512";

struct MessageSignature {
  std::string digest_algorithm;  // kHashSha256 / kHashSha384 / kHashSha512
  std::string digest;            // raw digest bytes of the signed message
  std::string signature;         // raw signature bytes
};

struct Bundle {
  std::string media_type = std::string(kBundleMediaTypeV03);
  std::string public_key_hint;  // verificationMaterial.publicKey.hint; empty: omitted
  std::variant<DsseEnvelope, MessageSignature> content;
  std::size_t tlog_entries = 0;     // parsed bundles only
  bool has_timestamp_data = false;  // parsed bundles only
};

// cosign's key hint: standard base64 of SHA-256 over the key's PKIX
// SubjectPublicKeyInfo DER, from a "PUBLIC KEY" PEM. kParse when the PEM holds
// no PUBLIC KEY block.
Result<std::string> PublicKeyHint(std::string_view public_key_pem);

// The bundle's JSON, byte for byte as cosign v3.1.2 writes a key-based
// bundle without log entries.
std::string MarshalBundle(const Bundle& bundle);

// Errors: kTooLarge (size, depth, token count), kParse (malformed, unknown
// field, missing content, wrong payloadType, DSSE signature count),
// kUnsupported (other bundle versions or media types, certificates).
Result<Bundle> ParseBundle(std::string_view text);

// Whether a bundle without verified transparency-log entries may pass.
enum class TlogPolicy {
  kRequire,         // cosign's default; signet cannot verify a log, so it fails
  kInsecureIgnore,  // --insecure-ignore-tlog: entries, if any, are not looked at
};

// OK under kInsecureIgnore. Under kRequire always kVerificationFailed, saying
// why: a bundle without entries needs --insecure-ignore-tlog=true (as cosign
// says "not enough verified log entries"), and signet cannot verify entries
// that are present.
Status CheckTlogPolicy(const Bundle& bundle, TlogPolicy policy);

}  // namespace signet::cosign

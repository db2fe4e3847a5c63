// Image attestations as `cosign attest --key` writes them and
// `cosign verify-attestation --key` checks them: an in-toto Statement v0.1
// about the image digest, signed as a DSSE envelope, stored either
//
//  - kLegacy: as one layer of the manifest at <repo>:sha256-<hex>.att
//    (layer media type kDsseEnvelopeMediaType, layer bytes = the envelope
//    JSON, annotations {"dev.cosignproject.cosign/signature": "",
//    "predicateType": <uri>}; manifest and config as for ".sig" tags, an
//    existing manifest is appended to), or
//  - kBundle: as a Sigstore bundle v0.3 referrer of the image, with the
//    manifest annotation dev.sigstore.bundle.predicateType = <uri>
//    (AttachDsseBundle in image_bundle.h).
//
// Discovery (kAuto) is cosign v3's: the image's bundle referrers (all of
// them, `cosign sign` bundles included, DiscoverBundles); when none parses
// or the listing fails, the ".att" tag.
//
// Verification checks every candidate first (DSSE signature by one of the
// keys over the PAE, payloadType in-toto, a statement subject whose sha256 is
// the image digest) and only then keeps those whose statement predicateType
// is the requested one. When signatures verify but none has that type, it
// fails with cosign's "none of the attestations matched the predicate type:
// <type>, found: <list>" (the check cosign before v3.0.6 skipped for bundles,
// GHSA-w6c6-c85g-mmv6). The predicate type is taken from the signed
// statement, never from an unsigned annotation.
//
// Reentrant: no global state; the registry and the keys must be thread-safe
// as their contracts promise.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "signet/cosign/statement.h"
#include "signet/crypto/signer.h"
#include "signet/executor.h"
#include "signet/oci/reference.h"
#include "signet/oci/registry.h"
#include "signet/result.h"

namespace signet::cosign {

inline constexpr std::string_view kDsseEnvelopeMediaType = "application/vnd.dsse.envelope.v1+json";
// Layer annotation of a legacy ".att" layer naming the statement's predicate type.
inline constexpr std::string_view kPredicateTypeAnnotation = "predicateType";
// What cosign writes for `--type custom`.
inline constexpr std::string_view kCosignCustomPredicateType =
    "https://cosign.sigstore.dev/attestation/v1";

// The Statement cosign's `attest` signs (pkg/cosign/attestation
// GenerateStatement): _type v0.1, one subject {name: repository name as in
// the simple-signing payload ("registry/repo"), digest: {sha256: hex}},
// predicateType from `type` (a --type shorthand or a URI, see
// ResolvePredicateType). The predicate is, for --type "custom",
// {"Data": <predicate file content as a string>, "Timestamp": `timestamp`}
// (RFC 3339); for every other type the predicate file's JSON object, as is
// (cosign additionally re-shapes slsaprovenance, slsaprovenance1, link and
// vuln predicates through its typed structs; signet signs the object it was
// given). Errors (kInvalidArgument): an unknown type; "spdx" (cosign signs
// its file as a JSON string, which cosign v3 cannot verify and signet does
// not write, though it verifies cosign 2's from the ".att" tag; use
// spdxjson);
// content that is not valid UTF-8 (custom) or not a JSON object (others).
Result<Statement> MakeAttestationStatement(std::string_view type, std::string_view predicate,
                                           const oci::Repository& repository,
                                           std::string_view digest, std::string_view timestamp);

enum class AttestationFormat {
  kBundle,  // cosign v3's default: a Sigstore bundle referrer
  kLegacy,  // --new-bundle-format=false: the ".att" tag
};

struct AttestOptions {
  AttestationFormat format = AttestationFormat::kBundle;
  std::string type = "custom";  // --type: shorthand or URI
  std::string predicate;        // the predicate file's content
  // RFC 3339 time for the custom predicate's Timestamp; empty: now (UTC).
  std::string timestamp;
  // Where ".att" tags / referrers go (COSIGN_REPOSITORY); nullopt: the image's.
  std::optional<oci::Repository> target_repository;
  // org.opencontainers.image.created of a bundle referrer; empty: now.
  std::string created;
  oci::Deadline deadline;
};

struct AttestResult {
  // Set when the input named the image by tag: cosign's warning that tags
  // may move, for the CLI to print.
  std::string tag_warning;
  std::string digest;          // the attested manifest
  std::string reference;       // "registry/repo@sha256:<hex>"
  std::string predicate_type;  // the statement's predicateType URI
  std::string payload;         // the signed statement bytes
  std::string envelope_json;   // the DSSE envelope as stored
  // Where it was stored: "registry/repo:sha256-<hex>.att" (legacy) or
  // "registry/repo@sha256:<referrer>" (bundle).
  std::string stored_at;
};

// Resolves `image`, builds and signs the statement, and stores it in
// `options.format`. Registry errors are passed through with context.
Result<AttestResult> AttestImage(oci::Registry& registry, const oci::ImageReference& image,
                                 const crypto::Signer& signer, const AttestOptions& options);

enum class AttestationDiscovery {
  // cosign v3: bundle referrers first; when none parses, the ".att" tag.
  kAuto,
  // --new-bundle-format=false: the ".att" tag only.
  kLegacyOnly,
};

struct VerifyAttestationOptions {
  std::vector<std::shared_ptr<const crypto::Verifier>> keys;
  std::string type = "custom";  // --type as the user gave it (shorthand or URI)
  AttestationDiscovery discovery = AttestationDiscovery::kAuto;
  std::optional<oci::Repository> target_repository;  // COSIGN_REPOSITORY
  // Bundles only: signet verifies no transparency log, so bundles pass only
  // with --insecure-ignore-tlog (true here).
  bool insecure_ignore_tlog = false;
  oci::Deadline deadline;
  // What a failed bundle discovery (a registry failure or timeout while
  // listing referrers) means when no legacy ".att" attestation verifies
  // either. false (cosign v3, the CLI): the legacy result decides, and its
  // message names the discovery failure. true (the provider): the
  // discovery's error decides, so a registry outage is not reported as
  // "no attestations found".
  bool discovery_failure_fails = false;
  // Where bundle referrers are fetched beside the calling thread; null: on
  // the calling thread. Not owned.
  Executor* executor = nullptr;
};

struct VerifiedAttestation {
  // What cosign prints for it: the ".att" layer bytes as stored, or the
  // bundle's DSSE envelope JSON.
  std::string envelope_json;
  std::string payload;  // the signed statement bytes
  Statement statement;
  std::string stored_at;  // ".att" tag with layer index, or referrer reference
};

struct AttestationVerification {
  std::string digest;                 // resolved manifest digest
  std::string reference_with_digest;  // "registry/repo@sha256:<hex>"
  bool from_bundles = false;          // bundle referrers (false: ".att" tag)
  // Verified attestations whose predicateType is the requested one, in
  // discovery order.
  std::vector<VerifiedAttestation> matched;
  // predicateType of every verified attestation, requested or not.
  std::vector<std::string> found_types;
};

// Errors: kInvalidArgument (no key, bad --type), kImageNotFound,
// kNoSignatures "no matching attestations: no attestations found for <ref>",
// kNoMatchingSignatures "no matching attestations: <each candidate's
// reason>" when none verifies, kNoMatchingSignatures "none of the
// attestations matched the predicate type: <type>, found: <list>" when some
// verify but none has the type, registry errors passed through.
Result<AttestationVerification> VerifyImageAttestations(oci::Registry& registry,
                                                        const oci::ImageReference& image,
                                                        const VerifyAttestationOptions& options);

// For admission policies: OK when, for each of `types` (--type shorthands or
// URIs), at least one attestation of `image` verifies as
// VerifyImageAttestations checks it and has that predicate type. Discovery
// and verification run once for all types; options.type is not used; no
// types: OK without asking the registry. Errors as VerifyImageAttestations,
// naming the first type that is missing.
Status RequireAttestations(oci::Registry& registry, const oci::ImageReference& image,
                           const std::vector<std::string>& types,
                           const VerifyAttestationOptions& options);

}  // namespace signet::cosign

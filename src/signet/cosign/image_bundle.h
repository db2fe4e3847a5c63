// Sigstore bundles attached to container images as OCI 1.1 referrers, the
// form cosign v3 writes by default for `sign` and `attest`.
//
// Writing (AttachDsseBundle): a signed DSSE envelope is wrapped in a bundle
// v0.3 (publicKey hint from the signer's public key, no tlogEntries) and
// pushed next to the image: the 2-byte config blob "{}", the bundle blob and
// a referrer manifest, byte for byte as cosign v3.1.2 writes it (Go
// encoding/json of go-containerregistry's Manifest):
//
//   {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
//    "config":{"mediaType":"application/vnd.oci.empty.v1+json","size":2,
//              "digest":"sha256:44136fa3…","artifactType":"<bundle type>"},
//    "layers":[{"mediaType":"<bundle type>","size":<n>,"digest":"sha256:<bundle>"}],
//    "annotations":{"dev.sigstore.bundle.content":"dsse-envelope",
//                   "dev.sigstore.bundle.predicateType":"<predicate type>",
//                   "org.opencontainers.image.created":"<RFC 3339 UTC seconds>"},
//    "subject":{"mediaType":"<HEAD Content-Type>","size":<n>,"digest":"sha256:<image>"},
//    "artifactType":"<bundle type>"}
//
// (no whitespace), PUT by digest, then listed by the registry's referrers
// API or, where there is none, in the fallback tag sha256-<hex>
// (oci::Registry::PushReferrer).
//
// Reading (DiscoverBundles): every referrer of a digest, from the referrers
// API or else the fallback tag, never filtered on artifactType (cosign up to
// v3.1.1 recorded the wrong one); each referrer manifest is fetched (by
// digest, so digest-checked) and must be an OCI manifest whose subject is
// the digest asked for, with exactly one layer whose media type starts with
// application/vnd.dev.sigstore.bundle, within kMaxBundleBytes, holding a
// bundle v0.3 that ParseBundle accepts. Referrers that are not usable
// bundles (other artifacts, other bundle versions, broken ones) are listed
// in `skipped` with the reason, as cosign skips them silently.
//
// Checking (VerifyImageBundle): one bundle against the keys and the image
// digest, as `cosign verify --key` checks it (spec §3.3).
//
// Stateless; reentrant. The registry and the keys must be thread-safe as
// their contracts promise (DiscoverBundles fetches referrers up to 4 at a
// time on the executor it is given, the calling thread among them).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "signet/cosign/bundle.h"
#include "signet/cosign/dsse.h"
#include "signet/cosign/statement.h"
#include "signet/crypto/signer.h"
#include "signet/executor.h"
#include "signet/oci/reference.h"
#include "signet/oci/registry.h"
#include "signet/result.h"

namespace signet::cosign {

inline constexpr std::string_view kEmptyConfigMediaType = "application/vnd.oci.empty.v1+json";
// The empty config blob "{}" and its digest.
inline constexpr std::string_view kEmptyConfig = "{}";
inline constexpr std::string_view kEmptyConfigDigest =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
// What a referrer's bundle layer media type starts with.
inline constexpr std::string_view kBundleLayerMediaTypePrefix =
    "application/vnd.dev.sigstore.bundle";
inline constexpr std::string_view kBundleContentAnnotation = "dev.sigstore.bundle.content";
inline constexpr std::string_view kBundlePredicateTypeAnnotation =
    "dev.sigstore.bundle.predicateType";
inline constexpr std::string_view kCreatedAnnotation = "org.opencontainers.image.created";
inline constexpr std::string_view kDsseEnvelopeContent = "dsse-envelope";

// The current time as cosign writes it into a referrer's
// org.opencontainers.image.created and a custom predicate's Timestamp:
// RFC 3339 in UTC, whole seconds ("2026-07-24T18:31:58Z").
std::string NowRfc3339();

struct AttachOptions {
  // Where the referrer goes (COSIGN_REPOSITORY); nullopt = the image's own
  // repository. The subject still names the image.
  std::optional<oci::Repository> target_repository;
  // The created annotation, RFC 3339 UTC seconds ("2026-07-24T18:31:58Z");
  // "" = now.
  std::string created;
  oci::Deadline deadline;  // by when every registry call must be done
};

struct AttachedBundle {
  std::string referrer_digest;      // of the referrer manifest
  std::string referrer_reference;   // "registry/repo@sha256:<referrer>"
  std::string bundle_json;          // the bundle blob's bytes
  bool listed_by_registry = false;  // true: referrers API; false: fallback tag
};

// The referrer manifest bytes for a bundle blob (exact bytes above).
// `subject` is the image's descriptor (media type, digest, size).
std::string MarshalBundleReferrerManifest(const std::string& bundle_digest,
                                          std::uint64_t bundle_size,
                                          std::string_view predicate_type, std::string_view created,
                                          const oci::ManifestHead& subject);

// Wraps `envelope` (signed; see SignDsse) in a bundle with the key hint of
// `public_key_pem` and pushes it as a referrer of `subject_at_digest` (which
// must carry a digest; its descriptor is taken from one HEAD). Errors:
// kInvalidArgument (no digest, bad key PEM, empty predicate type),
// kImageNotFound (no such manifest), registry errors passed through.
Result<AttachedBundle> AttachDsseBundle(oci::Registry& registry,
                                        const oci::ImageReference& subject_at_digest,
                                        const DsseEnvelope& envelope,
                                        std::string_view public_key_pem,
                                        std::string_view predicate_type,
                                        const AttachOptions& options);

struct FoundBundle {
  std::string referrer_digest;
  std::map<std::string, std::string> manifest_annotations;  // the referrer manifest's
  Bundle bundle;
};

struct BundleDiscovery {
  bool referrers_api = false;        // listed by the registry's API (else: fallback tag)
  std::vector<FoundBundle> bundles;  // in list order
  std::vector<std::string> skipped;  // "<digest>: reason", in list order
};

// Errors: the listing's (network, auth, kParse/kTooLarge for a list that is
// not a bounded OCI index). Problems with single referrers are `skipped`.
// Referrer manifests are fetched beside the calling thread on `executor`
// (null: one after the other on the calling thread).
Result<BundleDiscovery> DiscoverBundles(oci::Registry& registry, const oci::Repository& repo,
                                        const std::string& digest, oci::Deadline deadline,
                                        Executor* executor);

struct VerifiedBundle {
  std::string referrer_digest;
  std::string payload;  // the statement's exact bytes
  Statement statement;
  std::string predicate_type;
  // The annotations object of the subject that matched ({} when absent).
  nlohmann::json subject_annotations = nlohmann::json::object();
};

// The checks of `cosign verify --key` for one bundle, in this order: DSSE
// content (a messageSignature bundle is refused), exactly one signature that
// verifies over the PAE with one of `keys` (the hint is ignored), payloadType
// application/vnd.in-toto+json, the payload parses as an in-toto Statement,
// some subject's sha256 equals `digest` ("sha256:<hex>"), and that subject
// carries every one of `annotations` as a string of the same value; then
// CheckTlogPolicy. Every failure is kVerificationFailed naming the referrer
// and the check.
Result<VerifiedBundle> VerifyImageBundle(
    const FoundBundle& found, const std::vector<std::shared_ptr<const crypto::Verifier>>& keys,
    std::string_view digest, const std::map<std::string, std::string>& annotations,
    TlogPolicy tlog_policy);

}  // namespace signet::cosign

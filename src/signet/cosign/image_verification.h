// Verification of an image's cosign signatures in both formats, as
// `cosign verify --key` v3 does it: Sigstore bundle referrers
// (image_bundle.h) and legacy ".sig" signatures (verify.h).
//
// Precedence (cosign v3, `cmd/cosign/cli/verify/verify.go`): when discovery
// finds at least one usable bundle, only bundles are verified, and the
// legacy signatures are ignored even if every bundle then fails; when it
// finds none, or fails (401, 5xx, a referrers list that is not a bounded
// OCI index), the legacy signatures decide. With
// BundleSignatures::kSignPredicateOnly (signet's stricter mode) a bundle
// counts only when its statement's predicateType is
// https://sigstore.dev/cosign/sign/v1, both for the precedence (other
// bundles, e.g. SBOM attestations, do not hide the legacy signatures) and as
// a passing signature; cosign counts any in-toto bundle signed by the key.
//
// Bundle discovery and the legacy verification run at the same time (the
// legacy one as a task on options.common.executor, with the same deadline),
// so a cold verification is as deep in sequential round trips as the deeper
// of the two. Without an executor, or while every executor thread is busy,
// the calling thread runs the legacy verification after discovery
// (signet/executor.h). The call returns when both are done.
//
// A bundle passes when VerifyImageBundle passes it (DSSE signature with one
// of the keys, in-toto payload, a subject with the image digest carrying the
// required annotations, then the tlog policy). Bundle-path failures are
// kVerificationFailed "no matching signatures: <each bundle's reason>";
// legacy-path failures keep verify.h's codes (kNoSignatures,
// kNoMatchingSignatures, ...), with the reason bundle discovery failed
// appended when it did.
//
// Reentrant; the registry and the keys must be thread-safe.
#pragma once

#include <string>
#include <vector>

#include "signet/cosign/bundle.h"
#include "signet/cosign/image_bundle.h"
#include "signet/cosign/verify.h"
#include "signet/oci/reference.h"
#include "signet/oci/registry.h"
#include "signet/result.h"

namespace signet::cosign {

enum class SignatureFormats {
  kBoth,        // bundles, else legacy (cosign v3's default)
  kLegacyOnly,  // --new-bundle-format=false: only the ".sig" tag is read
};

enum class BundleSignatures {
  kAnyPredicate,       // cosign: every verified in-toto bundle is a signature
  kSignPredicateOnly,  // only predicateType https://sigstore.dev/cosign/sign/v1
};

struct ImageVerifyOptions {
  // Keys, required annotations, signature repository (also where referrers
  // are looked up, as cosign v3.1 does), limits and deadline.
  VerifyOptions common;
  SignatureFormats formats = SignatureFormats::kBoth;
  BundleSignatures bundle_signatures = BundleSignatures::kAnyPredicate;
  // kRequire fails every bundle (signet verifies no transparency log);
  // --insecure-ignore-tlog gives kInsecureIgnore.
  TlogPolicy bundle_tlog_policy = TlogPolicy::kRequire;
  // What a failed bundle discovery (a registry failure or timeout while
  // listing referrers) means when no legacy signature verifies either.
  // false (cosign v3, the CLI): the legacy result decides, and its message
  // names the discovery failure. true (the provider): the discovery's error
  // decides, since a bundle that could not be listed may exist: a registry
  // outage is then reported (and cached) as one, not as "no signatures".
  bool discovery_failure_fails = false;
};

enum class VerifiedFormat { kBundle, kLegacy };

struct ImageVerification {
  VerifiedFormat format = VerifiedFormat::kLegacy;
  std::string digest;                                // "sha256:<hex>"
  std::string reference_with_digest;                 // "registry/repo@sha256:<hex>"
  std::vector<VerifiedBundle> bundles;               // kBundle: passing ones, list order
  std::vector<VerifiedSignature> legacy_signatures;  // kLegacy: passing layers
  std::vector<std::string> skipped_referrers;        // referrers that were not used
};

// Resolves the reference (ResolveDigest: one HEAD), then as
// VerifyResolvedImageSignatures.
Result<ImageVerification> VerifyImageSignatures(oci::Registry& registry,
                                                const oci::ImageReference& reference,
                                                const ImageVerifyOptions& options);

// `digest` is what `reference` resolved to (see VerifyResolvedImage).
Result<ImageVerification> VerifyResolvedImageSignatures(oci::Registry& registry,
                                                        const oci::ImageReference& reference,
                                                        const std::string& digest,
                                                        const ImageVerifyOptions& options);

}  // namespace signet::cosign

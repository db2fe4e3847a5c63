// Verification of cosign key-based image signatures (the legacy ".sig" tag
// format), following `cosign verify --key ... --insecure-ignore-tlog`.
//
// VerifyImage resolves the reference to a digest (ResolveDigest in
// triangulate.h: one HEAD), then does what VerifyResolvedImage does: fetch the signature
// manifest at <repo>:sha256-<hex>.sig (or in the signature repository) and
// checks every simple-signing layer independently. A layer passes iff its
// signature annotation is valid base64, verifies over the exact layer bytes
// with at least one of the keys, its payload claims exactly the resolved
// digest, and every required annotation equals the payload's optional value
// (string values only). The image passes iff at least one layer passes; the
// result lists every passing layer in layer order, so it does not depend on
// which signature came first.
//
// Errors: kImageNotFound (image or tag absent), kNoSignatures (no signature
// manifest, or no simple-signing layer in it), kNoMatchingSignatures (every
// layer failed; the message lists each layer's reason), kInvalidArgument (bad
// options), kTooLarge (manifest over the layer cap), and registry errors
// (kNetwork, kAuth, kDigestMismatch, ...) passed through.
//
// VerifyResolvedImage is the "digest already known" entry: for a reference
// whose digest the caller has just resolved from the same registry (a tag it
// HEADed), it skips the existence check. A cold verification then costs the
// signature manifest and one fetch per distinct payload blob.
//
// Every registry call carries options.deadline. Layers are checked up to 4 at
// a time on options.executor (signet/executor.h), the calling thread being
// one of the workers; without an executor, one after the other. No thread is
// started here.
//
// Reentrant: no global state; the registry and the keys must be thread-safe
// as their contracts promise.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "signet/cosign/payload.h"
#include "signet/crypto/signer.h"
#include "signet/executor.h"
#include "signet/oci/reference.h"
#include "signet/oci/registry.h"
#include "signet/result.h"

namespace signet::cosign {

inline constexpr std::size_t kMaxSignatureLayers = 1000;
inline constexpr std::uint64_t kMaxPayloadBytes = 4 * 1024 * 1024;

struct VerifyOptions {
  // Public keys; a signature made by any one of them suffices.
  std::vector<std::shared_ptr<const crypto::Verifier>> keys;
  // Annotations that the payload's "optional" object must carry exactly.
  std::map<std::string, std::string> annotations;
  // Where the signature tags live (COSIGN_REPOSITORY); nullopt = the image's
  // own repository.
  std::optional<oci::Repository> signature_repository;
  std::size_t max_layers = kMaxSignatureLayers;
  std::uint64_t max_payload_bytes = kMaxPayloadBytes;
  // By when every registry call must be done (nullopt: none).
  oci::Deadline deadline;
  // Where independent fetches run beside the calling thread; null: all on
  // the calling thread. Not owned.
  Executor* executor = nullptr;
};

struct VerifiedSignature {
  std::string payload;    // exact layer bytes
  std::string signature;  // base64 annotation value as stored
  SimpleSigningPayload parsed;
};

struct VerificationResult {
  std::string digest;                         // resolved manifest digest "sha256:<hex>"
  std::string reference_with_digest;          // "registry/repo@sha256:<hex>"
  std::vector<VerifiedSignature> signatures;  // passing layers, in layer order
};

// True for the errors of a registry that failed or lied (network, auth,
// timeout, protocol, digest mismatch), which verifiers report as such rather
// than as a bad signature.
bool IsRegistryFailure(ErrorCode code);

// The error of a verification whose legacy path failed with `legacy` after
// Sigstore bundle discovery failed with `discovery` (cosign v3 then lets the
// legacy result decide). With `discovery_decides` (the provider's mode) a
// discovery registry failure is the answer, with `context` in front, when
// the legacy error is a verdict such as "no signatures": a bundle may exist
// behind the failure. Otherwise the legacy error decides, keeping its code
// and HTTP status (a 503 stays a 503 for last-known-good grace), and its
// message names the discovery failure.
Error WithDiscoveryFailure(const Error& legacy, const Error& discovery, bool discovery_decides,
                           std::string_view context);

Result<VerificationResult> VerifyImage(oci::Registry& registry,
                                       const oci::ImageReference& reference,
                                       const VerifyOptions& options);

// `digest` ("sha256:<hex>") is what `reference` resolved to in `registry`
// (kInvalidArgument when it is not a digest, or differs from the digest the
// reference carries).
Result<VerificationResult> VerifyResolvedImage(oci::Registry& registry,
                                               const oci::ImageReference& reference,
                                               const std::string& digest,
                                               const VerifyOptions& options);

}  // namespace signet::cosign

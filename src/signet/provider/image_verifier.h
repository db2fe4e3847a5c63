// The seam between the verification engine and the registry: resolve a tag
// to a digest, and verify one digest-pinned image under one policy. The
// production implementation (CosignImageVerifier) calls
// cosign::VerifyImageSignatures through a shared registry client; tests use
// fakes.
//
// Implementations must be thread-safe: the engine calls them from many worker
// threads at once. They should give up soon after `deadline`; the engine never
// reports an answer that arrives after it anyway.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "signet/executor.h"
#include "signet/oci/reference.h"
#include "signet/policy/config.h"
#include "signet/provider/resolved_policy.h"
#include "signet/result.h"

namespace signet::provider {

using Deadline = std::chrono::steady_clock::time_point;

// Where the digest of a reference handed to Verify comes from.
enum class DigestOrigin {
  kRequested,  // the request named it: its existence is not known yet
  kResolved,   // ResolveDigest found it in the registry (a tag's digest)
};

class ImageVerifier {
 public:
  virtual ~ImageVerifier() = default;

  // The manifest digest ("sha256:<hex>") that `reference`'s tag points to.
  virtual Result<std::string> ResolveDigest(const oci::ImageReference& reference,
                                            Deadline deadline) = 0;

  // `policy` resolved under the trust material in use now (its verifiers
  // selected; ResolvedPolicy::trust_version set). Errors (kVerificationFailed
  // naming the policy when none of its keys is trusted now) deny the image
  // as a failed verification would.
  virtual Result<std::shared_ptr<const ResolvedPolicy>> Resolve(
      const policy::PolicyConfig& policy) = 0;

  // Verifies the image `reference` (which carries a digest) under `policy`
  // (its verifiers, required annotations and attestations). OK only when a
  // signature verified.
  // With DigestOrigin::kResolved the verifier need not check again that the
  // digest exists. Work it fans out runs on `executor`, the caller's pool
  // (signet/executor.h; null: on the calling thread); it starts no threads.
  virtual Status Verify(const oci::ImageReference& reference, DigestOrigin origin,
                        const ResolvedPolicy& policy, Deadline deadline, Executor* executor) = 0;

  // Identifies the trusted material (keys) verifications use now; it changes
  // when that material changes. Cached results are keyed by it, so a rotated
  // or removed key never answers from results made under the old one.
  virtual std::string TrustVersion() { return std::string(); }

  // OK while the verifier can verify at all; otherwise why not (for
  // example: no trusted key is loaded any more). Feeds /readyz.
  virtual Status Readiness() { return OkStatus(); }
};

}  // namespace signet::provider

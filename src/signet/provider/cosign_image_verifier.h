// The production ImageVerifier: tag resolution (cosign::ResolveDigest, the
// one resolver `signet verify` uses too) and cosign key-based verification
// (cosign::VerifyImageSignatures / VerifyResolvedImageSignatures, the same
// core as `signet verify`) through one shared registry, with the trusted keys
// a policy names. A digest that ResolveDigest found is not looked up again.
//
// Formats (verification.signatureFormats): kBoth reads Sigstore bundle
// referrers and legacy .sig signatures as cosign v3 does (bundles first; the
// legacy path decides when there is no usable bundle), with bundle discovery
// and the legacy fetches running in parallel, so a cold verification of a
// legacy-signed tag costs HEAD tag, then at once GET signature manifest (and
// its blob) and the referrers lookup (on a registry without the API also the
// fallback tag): 5 requests, 3 deep. kLegacy reads only .sig: HEAD tag, GET
// signature manifest, GET blob. The provider never verifies transparency
// logs, so bundles pass without log entries (as with
// --insecure-ignore-tlog=true); every bundle the keys signed counts, whatever
// its predicateType (cosign's rule). A bundle-path failure is reported as
// kNoMatchingSignatures.
//
// Registry time: each ResolveDigest or Verify call passes the registry its
// request deadline plus `work_budget`, so a verification that outlives its
// request still fills the cache, yet a registry that hangs holds a worker
// for a bounded time only; and every call of one verification carries the
// same deadline, by which admission control orders them (admission.h). A
// call made after its request deadline still runs (the verification of a
// tag resolved late fills the cache for the next request); one made past
// the budget too fails at once as kTimeout ("deadline passed before
// verifying").
//
// Threads: the signature layers, bundle referrers and the legacy path that
// a verification fetches side by side run as tasks on the executor Verify is
// given (the provider's verification pool); the verifier starts no thread.
//
// Thread-safety: safe for concurrent use when the registry is (RegistryClient
// is). Holds shared ownership of the registry and the keys.
#pragma once

#include <chrono>
#include <memory>

#include "signet/oci/registry.h"
#include "signet/policy/config.h"
#include "signet/policy/trusted_keys.h"
#include "signet/provider/image_verifier.h"

namespace signet::provider {

// The registry budget of a verification started for a request with this
// deadline: twice the deadline, at least 10 s. Every registry call of the
// verification (its retries and redirects included) must finish inside it.
std::chrono::milliseconds RegistryBudget(std::chrono::milliseconds deadline);

// The time one registry call may take to connect (TCP and the TLS
// handshake): a quarter of the budget, at least 5 s. With the default
// deadline that is 5 s; a longer deadline (a slow link, or signet run under a
// profiler) lets a slow handshake finish instead of failing the call.
std::chrono::milliseconds RegistryConnectTimeout(std::chrono::milliseconds budget);

class CosignImageVerifier : public ImageVerifier {
 public:
  CosignImageVerifier(std::shared_ptr<oci::Registry> registry,
                      std::shared_ptr<policy::TrustedKeys> keys,
                      std::chrono::milliseconds work_budget = std::chrono::seconds(10),
                      policy::SignatureFormats formats = policy::SignatureFormats::kBoth);

  Result<std::string> ResolveDigest(const oci::ImageReference& reference,
                                    Deadline deadline) override;
  std::string TrustVersion() override;
  // Not ready while no trusted key is loaded (policy::TrustedKeys::Health).
  Status Readiness() override;
  // Selects the policy's keys (policy::TrustedKeys::Select) under the
  // fingerprint taken just before.
  Result<std::shared_ptr<const ResolvedPolicy>> Resolve(
      const policy::PolicyConfig& policy) override;
  Status Verify(const oci::ImageReference& reference, DigestOrigin origin,
                const ResolvedPolicy& policy, Deadline deadline, Executor* executor) override;

 private:
  std::shared_ptr<oci::Registry> registry_;
  std::shared_ptr<policy::TrustedKeys> keys_;
  std::chrono::milliseconds work_budget_;
  policy::SignatureFormats formats_;
};

}  // namespace signet::provider

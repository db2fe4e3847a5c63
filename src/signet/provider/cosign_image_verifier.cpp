#include "signet/provider/cosign_image_verifier.h"

#include <algorithm>

#include "signet/cosign/attestation.h"
#include "signet/cosign/image_verification.h"
#include "signet/cosign/triangulate.h"
#include "signet/cosign/verify.h"
#include "signet/log/json_log.h"

namespace signet::provider {

namespace {

// The same for every registry call of one verification (its tag resolution
// and its digest verification get the same request deadline), so that
// admission control, which admits earliest deadline first, finishes the
// verifications that started first.
oci::Deadline RegistryDeadline(Deadline deadline, std::chrono::milliseconds budget) {
  return deadline + budget;
}

// Work starts until the end of the budget, not the request deadline: a
// verification whose request stopped waiting (its tag resolved late, or it
// queued) still fills the caches for the requests after it.
Status CheckDeadline(Deadline deadline, std::chrono::milliseconds budget,
                     const oci::ImageReference& reference) {
  if (std::chrono::steady_clock::now() >= deadline + budget) {
    return Error(ErrorCode::kTimeout, "deadline passed before verifying " + reference.Name());
  }
  return OkStatus();
}

// The attestations `policy` requires, checked with the same keys as the
// signature; bundles without a transparency log pass, as signatures do here.
// A missing or invalid attestation is kVerificationFailed naming the policy
// (reason "verification failed: ..."); registry failures keep their codes.
Status CheckRequiredAttestations(oci::Registry& registry, const oci::ImageReference& reference,
                                 const ResolvedPolicy& policy, oci::Deadline deadline,
                                 Executor* executor) {
  if (policy.attestations.empty()) return OkStatus();
  cosign::VerifyAttestationOptions options;
  options.keys = policy.verifiers;
  options.insecure_ignore_tlog = true;
  options.deadline = deadline;
  options.discovery_failure_fails = true;
  options.executor = executor;
  auto status = cosign::RequireAttestations(registry, reference, policy.attestations, options);
  if (status.ok()) return status;
  const Error& error = status.error();
  if (cosign::IsRegistryFailure(error.code()) || error.code() == ErrorCode::kTimeout) {
    return error.WithContext("attestations");
  }
  return Error(ErrorCode::kVerificationFailed,
               "policy \"" + policy.name + "\" requires attestations: " + error.message());
}

}  // namespace

std::chrono::milliseconds RegistryBudget(std::chrono::milliseconds deadline) {
  return std::max<std::chrono::milliseconds>(deadline * 2, std::chrono::seconds(10));
}

std::chrono::milliseconds RegistryConnectTimeout(std::chrono::milliseconds budget) {
  return std::max<std::chrono::milliseconds>(budget / 4, std::chrono::seconds(5));
}

CosignImageVerifier::CosignImageVerifier(std::shared_ptr<oci::Registry> registry,
                                         std::shared_ptr<policy::TrustedKeys> keys,
                                         std::chrono::milliseconds work_budget,
                                         policy::SignatureFormats formats)
    : registry_(std::move(registry)),
      keys_(std::move(keys)),
      work_budget_(work_budget),
      formats_(formats) {}

Result<std::string> CosignImageVerifier::ResolveDigest(const oci::ImageReference& reference,
                                                       Deadline deadline) {
  if (auto status = CheckDeadline(deadline, work_budget_, reference); !status.ok()) {
    return status.error();
  }
  return cosign::ResolveDigest(*registry_, reference, RegistryDeadline(deadline, work_budget_));
}

std::string CosignImageVerifier::TrustVersion() {
  // Content, not a local counter: replicas sharing verdicts (cache.redis)
  // agree on it, and any change of a trusted key changes it.
  std::string version = "keys:" + keys_->Fingerprint();
  for (const auto& message : keys_->TakeReloadErrors()) {
    log::LogEvent(spdlog::level::warn, {{"event", "key_reload_failed"}, {"error", message}});
  }
  return version;
}

Result<std::shared_ptr<const ResolvedPolicy>> CosignImageVerifier::Resolve(
    const policy::PolicyConfig& policy) {
  auto resolved = std::make_shared<ResolvedPolicy>();
  // Taken first: keys that change meanwhile make results under this
  // version unreachable rather than stored under the new one.
  resolved->trust_version = TrustVersion();
  auto keys = keys_->Select(policy.keys);
  if (!keys.ok()) return keys.error().WithContext("policy \"" + policy.name + "\"");
  resolved->name = policy.name;
  resolved->key_names = policy.keys;
  resolved->verifiers = std::move(keys).value();
  resolved->annotations = policy.annotations;
  resolved->attestations = policy.attestations;
  return std::shared_ptr<const ResolvedPolicy>(std::move(resolved));
}

Status CosignImageVerifier::Readiness() { return keys_->Health(); }

Status CosignImageVerifier::Verify(const oci::ImageReference& reference, DigestOrigin origin,
                                   const ResolvedPolicy& policy, Deadline deadline,
                                   Executor* executor) {
  if (auto status = CheckDeadline(deadline, work_budget_, reference); !status.ok()) return status;
  cosign::ImageVerifyOptions options;
  options.common.keys = policy.verifiers;
  options.common.annotations = policy.annotations;
  options.common.deadline = RegistryDeadline(deadline, work_budget_);
  options.common.executor = executor;
  options.formats = formats_ == policy::SignatureFormats::kLegacy
                        ? cosign::SignatureFormats::kLegacyOnly
                        : cosign::SignatureFormats::kBoth;
  // The provider verifies no transparency log, for either format.
  options.bundle_tlog_policy = cosign::TlogPolicy::kInsecureIgnore;
  // A referrers listing that failed may hide a bundle: report the registry
  // failure (not cached as a verdict; last-known-good grace applies).
  options.discovery_failure_fails = true;
  auto result = origin == DigestOrigin::kResolved && reference.has_digest()
                    ? cosign::VerifyResolvedImageSignatures(*registry_, reference,
                                                            reference.digest(), options)
                    : cosign::VerifyImageSignatures(*registry_, reference, options);
  if (!result.ok()) {
    if (result.error().code() == ErrorCode::kVerificationFailed) {
      return Error(ErrorCode::kNoMatchingSignatures, result.error().message());
    }
    return result.error();
  }
  if (reference.has_digest() && result->digest != reference.digest()) {
    return Error(
        ErrorCode::kDigestMismatch,
        "verified digest " + result->digest + " differs from the requested " + reference.digest());
  }
  if (result->bundles.empty() && result->legacy_signatures.empty()) {
    return Error(ErrorCode::kNoMatchingSignatures, "no signature verified");
  }

  if (policy.attestations.empty()) return OkStatus();
  auto pinned = reference.Pinned(result->digest);
  if (!pinned.ok()) return pinned.error();
  return CheckRequiredAttestations(*registry_, *pinned, policy,
                                   RegistryDeadline(deadline, work_budget_), executor);
}

}  // namespace signet::provider

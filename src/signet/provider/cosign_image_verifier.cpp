#include "signet/provider/cosign_image_verifier.h"

#include <algorithm>

#include "signet/cosign/attestation.h"
#include "signet/cosign/image_verification.h"
#include "signet/cosign/triangulate.h"
#include "signet/cosign/verify.h"
#include "signet/provider/json_log.h"

namespace signet::provider {

namespace {

Status CheckDeadline(Deadline deadline, const oci::ImageReference& reference) {
  if (std::chrono::steady_clock::now() >= deadline) {
    return Error(ErrorCode::kTimeout, "deadline passed before verifying " + reference.Name());
  }
  return OkStatus();
}

oci::Deadline RegistryDeadline(Deadline deadline, std::chrono::milliseconds budget) {
  return std::max<oci::DeadlineClock::time_point>(deadline, oci::DeadlineClock::now() + budget);
}

// The attestations `policy` requires, checked with the same keys as the
// signature; bundles without a transparency log pass, as signatures do here.
// A missing or invalid attestation is kVerificationFailed naming the policy
// (reason "verification failed: ..."); registry failures keep their codes.
Status CheckRequiredAttestations(oci::Registry& registry, const oci::ImageReference& reference,
                                 std::vector<std::shared_ptr<const crypto::Verifier>> keys,
                                 const policy::PolicyConfig& policy, oci::Deadline deadline,
                                 Executor* executor) {
  if (policy.attestations.empty()) return OkStatus();
  cosign::VerifyAttestationOptions options;
  options.keys = std::move(keys);
  options.insecure_ignore_tlog = true;
  options.deadline = deadline;
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
  if (auto status = CheckDeadline(deadline, reference); !status.ok()) return status.error();
  return cosign::ResolveDigest(*registry_, reference, RegistryDeadline(deadline, work_budget_));
}

std::string CosignImageVerifier::TrustVersion() {
  // Content, not a local counter: replicas sharing verdicts (cache.redis)
  // agree on it, and any change of a trusted key changes it.
  return "keys:" + keys_->Fingerprint();
}

Status CosignImageVerifier::Readiness() { return keys_->Health(); }

Status CosignImageVerifier::Verify(const oci::ImageReference& reference, DigestOrigin origin,
                                   const policy::PolicyConfig& policy, Deadline deadline,
                                   Executor* executor) {
  if (auto status = CheckDeadline(deadline, reference); !status.ok()) return status;
  auto keys = keys_->Select(policy.keys);
  for (const auto& message : keys_->TakeReloadErrors()) {
    LogEvent(spdlog::level::warn, {{"event", "key_reload_failed"}, {"error", message}});
  }
  if (!keys.ok()) return keys.error().WithContext("policy \"" + policy.name + "\"");
  cosign::ImageVerifyOptions options;
  options.common.keys = std::move(keys).value();
  options.common.annotations = policy.annotations;
  options.common.deadline = RegistryDeadline(deadline, work_budget_);
  options.common.executor = executor;
  options.formats = formats_ == policy::SignatureFormats::kLegacy
                        ? cosign::SignatureFormats::kLegacyOnly
                        : cosign::SignatureFormats::kBoth;
  // The provider verifies no transparency log, for either format.
  options.bundle_tlog_policy = cosign::TlogPolicy::kInsecureIgnore;
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
  auto attestation_keys = keys_->Select(policy.keys);
  if (!attestation_keys.ok()) {
    return attestation_keys.error().WithContext("policy \"" + policy.name + "\"");
  }
  auto pinned = oci::ImageReference::Parse(reference.WithDigest(result->digest));
  if (!pinned.ok()) return pinned.error();
  return CheckRequiredAttestations(*registry_, *pinned, std::move(attestation_keys).value(), policy,
                                   RegistryDeadline(deadline, work_budget_), executor);
}

}  // namespace signet::provider

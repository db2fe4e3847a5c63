#include "signet/provider/cosign_image_verifier.h"

#include <algorithm>

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

}  // namespace

CosignImageVerifier::CosignImageVerifier(std::shared_ptr<oci::Registry> registry,
                                         std::shared_ptr<policy::TrustedKeys> keys,
                                         std::chrono::milliseconds work_budget)
    : registry_(std::move(registry)), keys_(std::move(keys)), work_budget_(work_budget) {}

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
                                   const policy::PolicyConfig& policy, Deadline deadline) {
  if (auto status = CheckDeadline(deadline, reference); !status.ok()) return status;
  auto keys = keys_->Select(policy.keys);
  for (const auto& message : keys_->TakeReloadErrors()) {
    LogEvent(spdlog::level::warn, {{"event", "key_reload_failed"}, {"error", message}});
  }
  if (!keys.ok()) return keys.error().WithContext("policy \"" + policy.name + "\"");
  cosign::VerifyOptions options;
  options.keys = std::move(keys).value();
  options.annotations = policy.annotations;
  options.deadline = RegistryDeadline(deadline, work_budget_);
  auto result =
      origin == DigestOrigin::kResolved && reference.has_digest()
          ? cosign::VerifyResolvedImage(*registry_, reference, reference.digest(), options)
          : cosign::VerifyImage(*registry_, reference, options);
  if (!result.ok()) return result.error();
  if (reference.has_digest() && result->digest != reference.digest()) {
    return Error(
        ErrorCode::kDigestMismatch,
        "verified digest " + result->digest + " differs from the requested " + reference.digest());
  }
  if (result->signatures.empty()) {
    return Error(ErrorCode::kNoMatchingSignatures, "no signature verified");
  }
  return OkStatus();
}

}  // namespace signet::provider

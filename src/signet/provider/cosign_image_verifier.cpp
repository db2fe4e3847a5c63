#include "signet/provider/cosign_image_verifier.h"

#include <algorithm>

#include "signet/cosign/verify.h"
#include "signet/oci/deadline.h"
#include "signet/provider/json_log.h"

namespace signet::provider {

namespace {

Status CheckDeadline(Deadline deadline, const oci::ImageReference& reference) {
  if (std::chrono::steady_clock::now() >= deadline) {
    return Error(ErrorCode::kTimeout, "deadline passed before verifying " + reference.Name());
  }
  return OkStatus();
}

oci::DeadlineClock::time_point RegistryDeadline(Deadline deadline,
                                                std::chrono::milliseconds budget) {
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
  oci::DeadlineScope scope(RegistryDeadline(deadline, work_budget_));
  auto head = registry_->HeadManifest(reference.repository(), reference.tag());
  if (head.ok() && oci::IsValidSha256Digest(head->digest)) return head->digest;
  if (!head.ok()) {
    switch (head.error().code()) {
      case ErrorCode::kNotFound:
      case ErrorCode::kImageNotFound:
        return Error(ErrorCode::kImageNotFound, "image " + reference.Name() + " not found");
      case ErrorCode::kNetwork:
      case ErrorCode::kAuth:
      case ErrorCode::kTimeout:
        return head.error();
      default:
        break;  // some registries answer HEAD badly; fall back to GET
    }
  }
  auto manifest = registry_->GetManifest(reference.repository(), reference.tag());
  if (!manifest.ok()) {
    if (manifest.error().code() == ErrorCode::kNotFound) {
      return Error(ErrorCode::kImageNotFound, "image " + reference.Name() + " not found");
    }
    return manifest.error();
  }
  return manifest->digest;
}

std::string CosignImageVerifier::TrustVersion() {
  return "keys#" + std::to_string(keys_->Generation());
}

Status CosignImageVerifier::Readiness() { return keys_->Health(); }

Status CosignImageVerifier::Verify(const oci::ImageReference& reference,
                                   const policy::PolicyConfig& policy, Deadline deadline) {
  if (auto status = CheckDeadline(deadline, reference); !status.ok()) return status;
  oci::DeadlineScope scope(RegistryDeadline(deadline, work_budget_));
  auto keys = keys_->Select(policy.keys);
  for (const auto& message : keys_->TakeReloadErrors()) {
    LogEvent(spdlog::level::warn, {{"event", "key_reload_failed"}, {"error", message}});
  }
  if (!keys.ok()) return keys.error().WithContext("policy \"" + policy.name + "\"");
  cosign::VerifyOptions options;
  options.keys = std::move(keys).value();
  options.annotations = policy.annotations;
  auto result = cosign::VerifyImage(*registry_, reference, options);
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

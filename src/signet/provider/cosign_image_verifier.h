// The production ImageVerifier: tag resolution and cosign key-based
// verification (cosign::VerifyImage, the same core as `signet verify`)
// through one shared registry, with the trusted keys a policy names.
//
// Registry time: each ResolveDigest or Verify call may spend on registry
// calls until the later of its request deadline and `work_budget` after it
// started (an oci::DeadlineScope), so a verification that outlives its
// request still fills the cache, yet a registry that hangs holds a worker for
// a bounded time only.
//
// Thread-safety: safe for concurrent use when the registry is (RegistryClient
// is). Holds shared ownership of the registry and the keys.
#pragma once

#include <chrono>
#include <memory>

#include "signet/oci/registry.h"
#include "signet/policy/trusted_keys.h"
#include "signet/provider/image_verifier.h"

namespace signet::provider {

class CosignImageVerifier : public ImageVerifier {
 public:
  CosignImageVerifier(std::shared_ptr<oci::Registry> registry,
                      std::shared_ptr<policy::TrustedKeys> keys,
                      std::chrono::milliseconds work_budget = std::chrono::seconds(10));

  Result<std::string> ResolveDigest(const oci::ImageReference& reference,
                                    Deadline deadline) override;
  std::string TrustVersion() override;
  // Not ready while no trusted key is loaded (policy::TrustedKeys::Health).
  Status Readiness() override;
  Status Verify(const oci::ImageReference& reference, const policy::PolicyConfig& policy,
                Deadline deadline) override;

 private:
  std::shared_ptr<oci::Registry> registry_;
  std::shared_ptr<policy::TrustedKeys> keys_;
  std::chrono::milliseconds work_budget_;
};

}  // namespace signet::provider

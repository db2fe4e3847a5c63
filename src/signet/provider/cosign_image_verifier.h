// The production ImageVerifier: tag resolution and cosign key-based
// verification (cosign::VerifyImage, the same core as `signet verify`)
// through one shared registry, with the trusted keys a policy names.
//
// Thread-safety: safe for concurrent use when the registry is (RegistryClient
// is). Holds shared ownership of the registry and the keys.
#pragma once

#include <memory>

#include "signet/oci/registry.h"
#include "signet/policy/trusted_keys.h"
#include "signet/provider/image_verifier.h"

namespace signet::provider {

class CosignImageVerifier : public ImageVerifier {
 public:
  CosignImageVerifier(std::shared_ptr<oci::Registry> registry,
                      std::shared_ptr<policy::TrustedKeys> keys);

  Result<std::string> ResolveDigest(const oci::ImageReference& reference,
                                    Deadline deadline) override;
  Status Verify(const oci::ImageReference& reference, const policy::PolicyConfig& policy,
                Deadline deadline) override;

 private:
  std::shared_ptr<oci::Registry> registry_;
  std::shared_ptr<policy::TrustedKeys> keys_;
};

}  // namespace signet::provider

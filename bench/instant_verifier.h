// An ImageVerifier for benchmarks of the provider's engine: it answers at
// once, without any registry, so that only the engine (policy choice, caches,
// singleflight, worker pool) is measured. It reports every image valid, so
// it must never leave bench/.
//
// Thread-safe (stateless).
#pragma once

#include "signet/crypto/encoding.h"
#include "signet/provider/image_verifier.h"

namespace signet::bench {

class InstantVerifier : public provider::ImageVerifier {
 public:
  Result<std::string> ResolveDigest(const oci::ImageReference& reference,
                                    provider::Deadline /*deadline*/) override {
    return crypto::Sha256Digest(reference.Name());
  }
  Result<std::shared_ptr<const provider::ResolvedPolicy>> Resolve(
      const policy::PolicyConfig& policy) override {
    auto resolved = std::make_shared<provider::ResolvedPolicy>();
    resolved->name = policy.name;
    return std::shared_ptr<const provider::ResolvedPolicy>(std::move(resolved));
  }
  Status Verify(const oci::ImageReference& /*reference*/, provider::DigestOrigin /*origin*/,
                const provider::ResolvedPolicy& /*policy*/, provider::Deadline /*deadline*/,
                Executor* /*executor*/) override {
    return OkStatus();
  }
};

// "registry.example.com/team/app<i % 100>@sha256:<64 hex>", distinct for every i.
inline std::string BenchImageKey(std::size_t i) {
  return "registry.example.com/team/app" + std::to_string(i % 100) + "@" +
         crypto::Sha256Digest("bench image " + std::to_string(i));
}

}  // namespace signet::bench

// A policy resolved against the trusted keys: what one verification under it
// needs, worked out once per (policy, trust version) instead of once per
// verification. ImageVerifier::Resolve makes it; VerificationService keeps
// one per policy and resolves again when the trust version changes (a key
// rotated, removed or added), so a verification never uses verifiers of
// other keys than the trust version its result is stored under.
//
// Immutable once made; shared between threads as shared_ptr<const>.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "signet/crypto/signer.h"

namespace signet::provider {

struct ResolvedPolicy {
  std::string name;
  // The key names the policy lists (empty: every trusted key).
  std::vector<std::string> key_names;
  // The verifiers of those keys trusted under `trust_version`; a signature
  // made by any one of them suffices.
  std::vector<std::shared_ptr<const crypto::Verifier>> verifiers;
  // Annotations a signature must carry exactly.
  std::map<std::string, std::string> annotations;
  // Predicate types that must each carry a verified attestation.
  std::vector<std::string> attestations;
  // ImageVerifier::TrustVersion() when the verifiers were selected.
  std::string trust_version;
};

}  // namespace signet::provider

// Chooses the policy for an image. Policies are tried in configuration order
// and the first whose glob matches the canonical "registry/repo"
// (oci::Repository::CanonicalName(), so "LOCALHOST:443" and "localhost" are
// one host) wins. An image that no policy matches is denied, or, with
// UnmatchedImages::kVerify, gets the synthetic policy "unmatched" (every
// trusted key, no required annotations). An image whose registry host has no
// canonical form ("127.1", "0x7f.0.0.1") is denied before any policy is
// tried, so it can never fall through to a catch-all. Nothing is ever allowed
// without verification.
//
// Immutable after Create(); safe to share between threads.
#pragma once

#include <string>
#include <vector>

#include "signet/oci/reference.h"
#include "signet/policy/config.h"
#include "signet/policy/image_pattern.h"
#include "signet/result.h"

namespace signet::policy {

inline constexpr std::string_view kUnmatchedPolicyName = "unmatched";

class PolicySet {
 public:
  static Result<PolicySet> Create(const std::vector<PolicyConfig>& policies,
                                  UnmatchedImages unmatched);

  // The policy for `repository`. Errors deny the image: kNotFound ("no policy
  // matches image <name>") or kInvalidArgument (its host has no canonical
  // form; the message says why).
  Result<PolicyConfig> Match(const oci::Repository& repository) const;
  // The same policy, not copied: the pointer stays valid, and the policy
  // unchanged, as long as this PolicySet lives (it is never modified).
  Result<const PolicyConfig*> Find(const oci::Repository& repository) const;

 private:
  struct Entry {
    PolicyConfig policy;
    std::vector<ImagePattern> patterns;
  };
  PolicySet() = default;
  std::vector<Entry> entries_;
  UnmatchedImages unmatched_ = UnmatchedImages::kDeny;
  PolicyConfig unmatched_policy_;  // the synthetic policy of UnmatchedImages::kVerify
};

}  // namespace signet::policy

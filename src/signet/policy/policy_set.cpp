#include "signet/policy/policy_set.h"

namespace signet::policy {

Result<PolicySet> PolicySet::Create(const std::vector<PolicyConfig>& policies,
                                    UnmatchedImages unmatched) {
  PolicySet set;
  set.unmatched_ = unmatched;
  set.unmatched_policy_.name = std::string(kUnmatchedPolicyName);
  for (const auto& policy : policies) {
    Entry entry{policy, {}};
    for (const auto& glob : policy.images) {
      auto pattern = ImagePattern::Parse(glob);
      if (!pattern.ok()) return pattern.error().WithContext("policy \"" + policy.name + "\"");
      entry.patterns.push_back(std::move(pattern).value());
    }
    set.entries_.push_back(std::move(entry));
  }
  return set;
}

Result<PolicyConfig> PolicySet::Match(const oci::Repository& repository) const {
  auto found = Find(repository);
  if (!found.ok()) return found.error();
  return **found;
}

Result<const PolicyConfig*> PolicySet::Find(const oci::Repository& repository) const {
  auto canonical = repository.CanonicalName();
  if (!canonical.ok()) {
    return Error(ErrorCode::kInvalidArgument,
                 "image " + repository.Name() + " refused: " + canonical.error().message());
  }
  for (const auto& entry : entries_) {
    for (const auto& pattern : entry.patterns) {
      if (pattern.Matches(*canonical)) return &entry.policy;
    }
  }
  if (unmatched_ == UnmatchedImages::kVerify) return &unmatched_policy_;
  return Error(ErrorCode::kNotFound, "no policy matches image " + repository.Name());
}

}  // namespace signet::policy

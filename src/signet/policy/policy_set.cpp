#include "signet/policy/policy_set.h"

namespace signet::policy {

Result<PolicySet> PolicySet::Create(const std::vector<PolicyConfig>& policies,
                                    UnmatchedImages unmatched) {
  PolicySet set;
  set.unmatched_ = unmatched;
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

std::optional<PolicyConfig> PolicySet::Match(const std::string& repository_name) const {
  for (const auto& entry : entries_) {
    for (const auto& pattern : entry.patterns) {
      if (pattern.Matches(repository_name)) return entry.policy;
    }
  }
  if (unmatched_ == UnmatchedImages::kVerify) {
    PolicyConfig fallback;
    fallback.name = std::string(kUnmatchedPolicyName);
    return fallback;
  }
  return std::nullopt;
}

}  // namespace signet::policy

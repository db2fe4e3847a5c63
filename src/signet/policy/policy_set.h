// Chooses the policy for an image. Policies are tried in configuration order
// and the first whose glob matches the normalised "registry/repo" wins. An
// image that no policy matches is denied, or, with UnmatchedImages::kVerify,
// gets the synthetic policy "unmatched" (every trusted key, no required
// annotations). Nothing is ever allowed without verification.
//
// Immutable after Create(); safe to share between threads.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "signet/policy/config.h"
#include "signet/policy/image_pattern.h"
#include "signet/result.h"

namespace signet::policy {

inline constexpr std::string_view kUnmatchedPolicyName = "unmatched";

class PolicySet {
 public:
  static Result<PolicySet> Create(const std::vector<PolicyConfig>& policies,
                                  UnmatchedImages unmatched);

  // The policy for `repository_name` ("registry/path"), or nullopt to deny.
  std::optional<PolicyConfig> Match(const std::string& repository_name) const;

 private:
  struct Entry {
    PolicyConfig policy;
    std::vector<ImagePattern> patterns;
  };
  PolicySet() = default;
  std::vector<Entry> entries_;
  UnmatchedImages unmatched_ = UnmatchedImages::kDeny;
};

}  // namespace signet::policy

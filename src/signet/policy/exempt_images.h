// Exempt image patterns of POST /mutate (config key mutation.exemptImages),
// with exactly the meaning of the ConstraintTemplate's exemptImages parameter
// (gatekeeper-library's convention), so that one list can be given to both:
// - an entry ending in "*" is a prefix: it exempts every image string that
//   starts with the text before the "*" ("registry.k8s.io/pause:*" exempts
//   "registry.k8s.io/pause:3.10", not "registry.k8s.io/pause-evil:1");
// - any other entry exempts exactly that image string.
// Matching is on the image string as written in the pod spec (the key that
// Gatekeeper sends), case-sensitive, without any normalisation: no default
// registry, no "library/", no tag/digest equivalence.
//
// CheckEntry() refuses entries that cannot mean what their author wants: an
// empty entry, a bare "*" (every image; turn the mutators off instead), a "*"
// anywhere but at the end (the template would compare it literally, and no
// image contains one), and whitespace or control characters (which no image
// reference holds; usually a YAML mistake).
//
// The list never makes an image valid: /validate does not read it. Immutable
// after Create(); safe to share between threads.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "signet/result.h"

namespace signet::policy {

class ExemptImages {
 public:
  // An error (kInvalidArgument) saying why `entry` is refused.
  static Status CheckEntry(std::string_view entry);
  // Checks every entry; the error names the first bad one by index.
  static Result<ExemptImages> Create(std::vector<std::string> entries);

  ExemptImages() = default;

  // The first entry that exempts `image`, or nullptr when none does.
  const std::string* Match(std::string_view image) const;
  bool empty() const { return entries_.empty(); }
  const std::vector<std::string>& entries() const { return entries_; }

 private:
  explicit ExemptImages(std::vector<std::string> entries) : entries_(std::move(entries)) {}
  std::vector<std::string> entries_;
};

}  // namespace signet::policy

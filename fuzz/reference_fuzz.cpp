// libFuzzer target: image reference and repository parsing.
// Property: a reference that parses re-parses from its own Name() and
// WithDigest() forms to the same registry.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "signet/oci/reference.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)signet::oci::Repository::Parse(input);
  (void)signet::oci::IsValidSha256Digest(input);
  auto ref = signet::oci::ImageReference::Parse(input);
  if (!ref) return 0;
  auto again = signet::oci::ImageReference::Parse(ref->Name());
  if (!again || again->registry() != ref->registry()) std::abort();
  if (!ref->digest().empty()) {
    auto pinned = signet::oci::ImageReference::Parse(ref->WithDigest(ref->digest()));
    if (!pinned || pinned->digest() != ref->digest()) std::abort();
  }
  return 0;
}

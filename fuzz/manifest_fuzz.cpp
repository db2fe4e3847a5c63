// libFuzzer target: OCI / Docker manifest and index parsing, with the
// default limits and with small ones so the caps are exercised too.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "signet/oci/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)signet::oci::IsIndexDocument("", input);
  (void)signet::oci::ParseImageManifest(input);
  (void)signet::oci::ParseImageIndex(input);
  signet::oci::ManifestLimits small;
  small.max_bytes = 512;
  small.max_descriptors = 2;
  (void)signet::oci::ParseImageManifest(input, small);
  (void)signet::oci::ParseImageIndex(input, small);
  return 0;
}

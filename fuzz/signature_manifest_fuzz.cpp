// libFuzzer target: the manifests signet reads from a registry during
// verification. cosign::ParseSignatureManifest (default and small layer caps)
// with its re-marshalling round trip, and the oci manifest/index parsers, all
// over the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "signet/cosign/signature_manifest.h"
#include "signet/oci/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)signet::cosign::ParseSignatureManifest(input, 2);
  auto parsed = signet::cosign::ParseSignatureManifest(input, 1000);
  if (parsed.ok()) {
    // What signet writes back when it appends a signature must parse again.
    const std::string once = signet::cosign::MarshalSignatureManifest(*parsed, "sha256:00", 2);
    if (!signet::cosign::ParseSignatureManifest(once, 1000).ok()) std::abort();
  }
  (void)signet::oci::IsIndexDocument("", input);
  (void)signet::oci::ParseImageManifest(input);
  (void)signet::oci::ParseImageIndex(input);
  return 0;
}

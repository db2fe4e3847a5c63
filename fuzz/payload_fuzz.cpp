// libFuzzer target: simple-signing payload parsing and the claims check the
// verifier applies to it (manifest digest and required annotations).
// Property: a parsed payload re-marshals to bytes that parse to the same
// claims.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "signet/cosign/payload.h"

namespace {

bool ClaimsHold(const signet::cosign::SimpleSigningPayload& payload, const std::string& digest,
                const std::string& key, const std::string& value) {
  if (payload.docker_manifest_digest != digest) return false;
  return payload.optional && payload.optional->count(key) > 0 && payload.optional->at(key) == value;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto parsed = signet::cosign::ParsePayload(input);
  if (!parsed) return 0;
  const std::string marshalled = signet::cosign::MarshalPayload(*parsed);
  auto again = signet::cosign::ParsePayload(marshalled);
  if (!again) std::abort();
  if (again->docker_manifest_digest != parsed->docker_manifest_digest ||
      again->docker_reference != parsed->docker_reference) {
    std::abort();
  }
  const std::string digest = parsed->docker_manifest_digest;
  if (parsed->optional && !parsed->optional->empty()) {
    const auto& [key, value] = *parsed->optional->begin();
    if (!ClaimsHold(*parsed, digest, key, value)) std::abort();
    if (ClaimsHold(*parsed, digest + "x", key, value)) std::abort();
  }
  return 0;
}

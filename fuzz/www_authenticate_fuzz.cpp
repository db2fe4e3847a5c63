// libFuzzer target: WWW-Authenticate header parsing.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "signet/oci/www_authenticate.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto challenges = signet::oci::ParseWwwAuthenticate(input);
  if (!challenges) return 0;
  for (const auto& challenge : *challenges) {
    (void)challenge.Param("realm");
    (void)challenge.Param("service");
  }
  return 0;
}

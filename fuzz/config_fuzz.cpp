// libFuzzer target: the YAML configuration loader.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "signet/policy/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)signet::policy::ParseConfig(input, "fuzz");
  return 0;
}

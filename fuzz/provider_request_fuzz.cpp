// libFuzzer target: Gatekeeper ProviderRequest parsing.
// Property: a parsed request never has zero keys or more than max_keys.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "signet/provider/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  constexpr std::size_t kMaxKeys = 4;
  auto request = signet::provider::ParseProviderRequest(input, kMaxKeys);
  if (!request) return 0;
  if (request->keys.empty() || request->keys.size() > kMaxKeys) std::abort();
  return 0;
}

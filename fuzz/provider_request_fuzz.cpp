// libFuzzer target: Gatekeeper ProviderRequest parsing.
// Properties: a parsed request never has zero keys or more than max_keys, and
// its keys are exactly those a JSON DOM of the same body holds in
// request.keys (the reader builds no DOM; this one checks it).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>

#include "signet/provider/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  constexpr std::size_t kMaxKeys = 4;
  auto request = signet::provider::ParseProviderRequest(input, kMaxKeys);
  if (!request) return 0;
  if (request->keys.empty() || request->keys.size() > kMaxKeys) std::abort();
  const auto document = nlohmann::json::parse(input.begin(), input.end(), nullptr, false);
  if (document.is_discarded() || !document.is_object()) std::abort();
  const auto inner = document.find("request");
  if (inner == document.end() || !inner->is_object()) std::abort();
  const auto keys = inner->find("keys");
  if (keys == inner->end() || !keys->is_array() || keys->size() != request->keys.size()) {
    std::abort();
  }
  for (std::size_t i = 0; i < keys->size(); ++i) {
    if (!(*keys)[i].is_string() || (*keys)[i].get_ref<const std::string&>() != request->keys[i]) {
      std::abort();
    }
  }
  return 0;
}

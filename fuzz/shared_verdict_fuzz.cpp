// libFuzzer target: values read from the shared verdict cache (Redis), which
// anyone with access to that Redis can write.
// Properties: a value decodes only for the subject it names; a decoded
// verdict encodes and decodes to the same verdict; a denial has a reason.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "signet/provider/redis_verdict_cache.h"

using signet::provider::RedisVerdictCache;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string subject = "signet-verdict/1\nregistry.test/app@sha256:" + std::string(64, 'a') +
                              "\ndefault\nsha256:00\nkeys:sha256:11";
  auto verdict = RedisVerdictCache::Decode(input, subject);
  if (!verdict) return 0;
  if (RedisVerdictCache::Decode(input, subject + "x")) std::abort();
  if (!verdict->valid && verdict->reason.empty()) std::abort();
  auto again = RedisVerdictCache::Decode(RedisVerdictCache::Encode(subject, *verdict), subject);
  if (!again || again->valid != verdict->valid || again->reason != verdict->reason ||
      again->detail != verdict->detail) {
    std::abort();
  }
  return 0;
}

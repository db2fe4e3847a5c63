// libFuzzer target: values read from the shared verdict cache (Redis), which
// anyone with access to that Redis can write.
// The input is tried twice: as a stored value (which must not verify
// without the key) and as the JSON object behind a valid MAC (a value a
// replica with the secret might write), so that the parser is reached.
// Properties: nothing verifies under another key; a value decodes only for
// the subject it names and before its expiry; a decoded verdict encodes and
// decodes to the same verdict; a denial has a reason.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "signet/provider/redis_verdict_cache.h"

using signet::provider::RedisVerdictCache;
using Status = RedisVerdictCache::Decoded::Status;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string subject = "signet-verdict/1\nregistry.test/app@sha256:" + std::string(64, 'a') +
                              "\ndefault\nsha256:00\nkeys:sha256:11";
  const std::string key(32, 'k');
  const std::string other_key(32, 'o');
  constexpr std::int64_t kNow = 1'800'000'000'000;

  // As stored: under another key it never verifies.
  if (RedisVerdictCache::Decode(input, subject, other_key, kNow).status == Status::kOk) {
    if (RedisVerdictCache::Decode(input, subject, key, kNow).status == Status::kOk) std::abort();
  }

  // Behind a valid MAC.
  const std::string sealed = RedisVerdictCache::Seal(input, key);
  if (sealed.empty()) std::abort();
  const auto decoded = RedisVerdictCache::Decode(sealed, subject, key, kNow);
  if (decoded.status == Status::kUnauthenticated) std::abort();
  if (decoded.status != Status::kOk) return 0;
  if (decoded.expires_unix_ms <= kNow) std::abort();
  if (RedisVerdictCache::Decode(sealed, subject + "x", key, kNow).status == Status::kOk) {
    std::abort();
  }
  if (RedisVerdictCache::Decode(sealed, subject, other_key, kNow).status !=
      Status::kUnauthenticated) {
    std::abort();
  }
  if (RedisVerdictCache::Decode(sealed, subject, key, decoded.expires_unix_ms).status ==
      Status::kOk) {
    std::abort();
  }
  const auto& verdict = decoded.verdict;
  if (!verdict.valid && verdict.reason.empty()) std::abort();
  const auto again = RedisVerdictCache::Decode(
      RedisVerdictCache::Encode(subject, verdict, decoded.expires_unix_ms, key), subject, key,
      kNow);
  if (again.status != Status::kOk || again.verdict.valid != verdict.valid ||
      again.verdict.reason != verdict.reason || again.verdict.detail != verdict.detail ||
      again.expires_unix_ms != decoded.expires_unix_ms) {
    std::abort();
  }
  return 0;
}

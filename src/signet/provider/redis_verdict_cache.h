// The shared verdict cache in Redis (cache.redis), through hiredis.
//
// Keys: <keyPrefix>verdict:<sha256 hex of the subject>. Values: the
// HMAC-SHA256 (64 lowercase hex characters) of a small JSON object, then
// that object: {"v":2,"subject":...,"exp":<expiry, Unix milliseconds>,
// "valid":...,"reason":...,"detail":...}, set with a TTL (SET ... PX). The
// MAC is keyed with a secret the replicas share (cache.redis.hmacKeyFile or
// hmacKeyEnv) and covers the whole object, subject and expiry included: a
// value cannot be forged without the secret, moved to another subject's key
// or made to live longer than its writer meant.
// A lookup reads at most kMaxValueBytes of the value (GETRANGE) and its
// time left (PTTL) in one round trip. A value whose MAC does not verify is a
// miss counted as "unauthenticated"; one that is larger, has no TTL, is not
// exactly that shape, is for another subject or is past its expiry is a miss
// counted as "malformed"; neither is ever used nor an error of the request.
//
// Availability: every call takes at most about `timeout` (connecting and
// authenticating included; config validation keeps it at most half the
// request deadline). A
// failed connection or call marks Redis down: calls are then skipped (counted
// as errors) until a back-off passes (10 x timeout, at least 100 ms,
// doubling up to max_reconnect_backoff), when one call tries again. Each
// change between up and down is logged once ("event":"shared_cache_down" /
// "shared_cache_up") and counted; the password and the HMAC key are never
// logged.
//
// Thread-safety: safe for concurrent use; connections are pooled (one
// hiredis context per concurrent call, up to kMaxIdleConnections kept).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "signet/policy/config.h"
#include "signet/provider/provider_metrics.h"
#include "signet/provider/shared_verdict_cache.h"
#include "signet/result.h"

struct redisContext;

namespace signet::provider {

class RedisVerdictCache : public SharedVerdictCache {
 public:
  static constexpr std::size_t kMaxValueBytes = 8192;
  static constexpr std::size_t kMaxIdleConnections = 16;
  static constexpr std::size_t kMinHmacKeyBytes = 32;
  static constexpr std::size_t kMaxHmacKeyBytes = 4096;

  // Checks the configuration and reads the password and the HMAC key (each
  // from its file or environment variable); does not connect yet. Fails
  // without an HMAC key of at least kMinHmacKeyBytes, or when its file is
  // not a regular file or is readable or writable by others. `metrics` may
  // be null.
  static Result<std::unique_ptr<RedisVerdictCache>> Create(const policy::RedisCacheConfig& config,
                                                           ProviderMetrics* metrics);
  ~RedisVerdictCache() override;
  RedisVerdictCache(const RedisVerdictCache&) = delete;
  RedisVerdictCache& operator=(const RedisVerdictCache&) = delete;

  std::optional<Found> Get(const std::string& subject) override;
  void Put(const std::string& subject, const SharedVerdict& verdict,
           std::chrono::milliseconds ttl) override;

  // The Redis key of `subject` (tests write values under it).
  std::string KeyOf(const std::string& subject) const;
  // What Decode found in a stored value.
  struct Decoded {
    enum class Status { kOk, kMalformed, kUnauthenticated };
    Status status = Status::kMalformed;
    SharedVerdict verdict;             // when kOk
    std::int64_t expires_unix_ms = 0;  // when kOk: the expiry the writer set
  };
  // The value Put stores for `subject` until `expires_unix_ms`, under
  // `hmac_key` (tests).
  static std::string Encode(const std::string& subject, const SharedVerdict& verdict,
                            std::int64_t expires_unix_ms, std::string_view hmac_key);
  // `payload` with its MAC under `hmac_key` in front (tests, fuzzing).
  static std::string Seal(std::string_view payload, std::string_view hmac_key);
  // kUnauthenticated unless `value` carries a MAC under `hmac_key` of the
  // rest (compared in constant time); then kOk with the verdict when the
  // rest is exactly {"v":2,"subject":<subject>,"exp":<after now_unix_ms>,
  // "valid":true} or {"v":2,"subject":<subject>,"exp":<...>,"valid":false,
  // "reason":<1 to 1024 bytes>,"detail":<at most 1024 bytes>}; else
  // kMalformed. Pure.
  static Decoded Decode(std::string_view value, const std::string& subject,
                        std::string_view hmac_key, std::int64_t now_unix_ms);

 private:
  struct ContextDeleter {
    void operator()(redisContext* context) const;
  };
  using Context = std::unique_ptr<redisContext, ContextDeleter>;

  RedisVerdictCache(policy::RedisCacheConfig config, policy::RedisAddress address,
                    std::string password, std::string hmac_key, ProviderMetrics* metrics);
  using TimePoint = std::chrono::steady_clock::time_point;
  // A connection for one call ending by `until`, or null (Redis down, in
  // back-off, or connecting failed: then marked down).
  Context Acquire(TimePoint until);
  void Release(Context context);
  void MarkUp();
  void MarkDown(const std::string& why);

  const policy::RedisCacheConfig config_;
  const policy::RedisAddress address_;
  const std::string password_;
  const std::string hmac_key_;
  ProviderMetrics* metrics_;

  std::mutex mu_;
  std::vector<Context> idle_;
  enum class State { kUnknown, kUp, kDown } state_ = State::kUnknown;
  std::chrono::steady_clock::time_point retry_at_{};
  std::chrono::milliseconds backoff_{0};
  bool probing_ = false;  // one call is trying to reconnect
};

}  // namespace signet::provider

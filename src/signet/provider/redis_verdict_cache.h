// The shared verdict cache in Redis (cache.redis), through hiredis.
//
// Keys: <keyPrefix>verdict:<sha256 hex of the subject>. Values: a small JSON
// object {"v":1,"subject":...,"valid":...,"reason":...,"detail":...}, set
// with a TTL (SET ... PX). A lookup reads at most kMaxValueBytes of the value
// (GETRANGE) and its time left (PTTL) in one round trip; a value that is
// larger, not JSON, not exactly that shape, or for another subject is a
// miss counted as "malformed", never an error of the request.
//
// Availability: every call takes at most about `timeout` (connecting and
// authenticating included; config validation keeps it at most half the
// request deadline). A
// failed connection or call marks Redis down: calls are then skipped (counted
// as errors) until a back-off passes (10 x timeout, at least 100 ms,
// doubling up to max_reconnect_backoff), when one call tries again. Each
// change between up and down is logged once ("event":"shared_cache_down" /
// "shared_cache_up") and counted; the password is never logged.
//
// Thread-safety: safe for concurrent use; connections are pooled (one
// hiredis context per concurrent call, up to kMaxIdleConnections kept).
#pragma once

#include <chrono>
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

  // Checks the configuration and reads the password (from the file or the
  // environment variable); does not connect yet. `metrics` may be null.
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
  // The value Put stores (tests).
  static std::string Encode(const std::string& subject, const SharedVerdict& verdict);
  // The verdict in `value` when it is exactly {"v":1,"subject":<subject>,
  // "valid":true} or {"v":1,"subject":<subject>,"valid":false,"reason":<1 to
  // 1024 bytes>,"detail":<at most 1024 bytes>}; nullopt otherwise. Pure.
  static std::optional<SharedVerdict> Decode(std::string_view value, const std::string& subject);

 private:
  struct ContextDeleter {
    void operator()(redisContext* context) const;
  };
  using Context = std::unique_ptr<redisContext, ContextDeleter>;

  RedisVerdictCache(policy::RedisCacheConfig config, policy::RedisAddress address,
                    std::string password, ProviderMetrics* metrics);
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
  ProviderMetrics* metrics_;

  std::mutex mu_;
  std::vector<Context> idle_;
  enum class State { kUnknown, kUp, kDown } state_ = State::kUnknown;
  std::chrono::steady_clock::time_point retry_at_{};
  std::chrono::milliseconds backoff_{0};
  bool probing_ = false;  // one call is trying to reconnect
};

}  // namespace signet::provider

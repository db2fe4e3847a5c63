#include "signet/provider/redis_verdict_cache.h"

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "signet/bounded_json.h"
#include "signet/crypto/encoding.h"
#include "signet/log/json_log.h"

namespace signet::provider {
namespace {

constexpr std::size_t kMaxPasswordBytes = 4096;
constexpr std::size_t kMaxReasonBytes = 1024;
constexpr std::chrono::milliseconds kMinBackoff{100};
constexpr std::size_t kMacHexChars = 64;  // HMAC-SHA256, hex
constexpr char kMacContext[] = "signet shared verdict v2\n";

// HMAC-SHA256 of kMacContext + `payload` under `key`, lowercase hex; empty
// when OpenSSL fails (then nothing is stored and nothing verifies).
std::string MacHex(std::string_view payload, std::string_view key) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* ctx = mac != nullptr ? EVP_MAC_CTX_new(mac) : nullptr;
  char digest_name[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string("digest", digest_name, 0),
      OSSL_PARAM_construct_end(),
  };
  unsigned char out[EVP_MAX_MD_SIZE];
  std::size_t out_len = 0;
  const bool ok =
      ctx != nullptr &&
      EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params) ==
          1 &&
      EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(kMacContext),
                     sizeof(kMacContext) - 1) == 1 &&
      EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(payload.data()), payload.size()) ==
          1 &&
      EVP_MAC_final(ctx, out, &out_len, sizeof(out)) == 1 && out_len * 2 == kMacHexChars;
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(mac);
  if (!ok) return "";
  return crypto::HexEncode(std::string_view(reinterpret_cast<const char*>(out), out_len));
}

std::int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

using Reply = std::unique_ptr<redisReply, decltype(&freeReplyObject)>;

Reply Wrap(void* reply) { return Reply(static_cast<redisReply*>(reply), &freeReplyObject); }

timeval ToTimeval(std::chrono::steady_clock::duration left) {
  const auto us = std::max<long long>(
      1000, std::chrono::duration_cast<std::chrono::microseconds>(left).count());
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(us / 1000000);
  tv.tv_usec = static_cast<suseconds_t>(us % 1000000);
  return tv;
}

// hiredis's message for a failed call; a socket timeout reads as one.
std::string CallError(const redisContext& context) {
  const std::string message = context.errstr;
  if (context.err == REDIS_ERR_IO &&
      (message == std::strerror(EAGAIN) || message == std::strerror(EWOULDBLOCK))) {
    return "timed out (cache.redis.timeout)";
  }
  return message;
}

// The code of an error reply ("NOAUTH", "WRONGPASS", ...: its leading
// capitals, at most 16), never the rest of the text Redis sent.
std::string ReplyErrorCode(const redisReply* reply) {
  if (reply == nullptr || reply->type != REDIS_REPLY_ERROR || reply->str == nullptr) {
    return "unexpected reply";
  }
  std::string code;
  for (std::size_t i = 0; i < reply->len && i < 16; ++i) {
    const char c = reply->str[i];
    if (c < 'A' || c > 'Z') break;
    code += c;
  }
  return code.empty() ? "error reply" : code;
}

std::string Truncated(const std::string& text) {
  return text.size() <= kMaxReasonBytes ? text : text.substr(0, kMaxReasonBytes);
}

Result<std::string> ReadPassword(const policy::RedisCacheConfig& config) {
  std::string password;
  if (!config.password_file.empty()) {
    std::ifstream in(config.password_file, std::ios::binary);
    if (!in) {
      return Error(ErrorCode::kNotFound,
                   "cache.redis.passwordFile: cannot read " + config.password_file);
    }
    std::ostringstream text;
    text << in.rdbuf();
    password = text.str();
  } else if (!config.password_env.empty()) {
    const char* value = std::getenv(config.password_env.c_str());
    if (value == nullptr) {
      return Error(ErrorCode::kNotFound, "cache.redis.passwordEnv: the environment variable " +
                                             config.password_env + " is not set");
    }
    password = value;
  }
  // A file written by hand or a Kubernetes secret may end in a newline.
  while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) {
    password.pop_back();
  }
  if (password.size() > kMaxPasswordBytes) {
    return Error(ErrorCode::kInvalidArgument,
                 "cache.redis: the password is longer than 4096 bytes");
  }
  if ((!config.password_file.empty() || !config.password_env.empty()) && password.empty()) {
    return Error(ErrorCode::kInvalidArgument, "cache.redis: the password is empty");
  }
  return password;
}

// The HMAC key from cache.redis.hmacKeyFile or hmacKeyEnv. Messages never
// quote the key.
Result<std::string> ReadHmacKey(const policy::RedisCacheConfig& config) {
  const auto invalid = [](const std::string& why) {
    return Error(ErrorCode::kInvalidArgument, why);
  };
  std::string key;
  if (!config.hmac_key_file.empty()) {
    const std::string name = "cache.redis.hmacKeyFile " + config.hmac_key_file;
    // Checked on the descriptor that is read, so the file cannot change
    // between the checks and the read.
    const int fd = ::open(config.hmac_key_file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return Error(ErrorCode::kNotFound, name + ": " + std::strerror(errno));
    struct stat info {};
    std::string why;
    if (::fstat(fd, &info) != 0) {
      why = std::strerror(errno);
    } else if (!S_ISREG(info.st_mode)) {
      why = "not a regular file";
    } else if ((info.st_mode & (S_IWGRP | S_IRWXO)) != 0) {
      why = "readable or writable by others (mode " + std::to_string((info.st_mode >> 6) & 7) +
            std::to_string((info.st_mode >> 3) & 7) + std::to_string(info.st_mode & 7) +
            "); allow at most 0640";
    } else if (info.st_size > static_cast<off_t>(RedisVerdictCache::kMaxHmacKeyBytes + 2)) {
      why = "longer than 4096 bytes";
    }
    char buffer[RedisVerdictCache::kMaxHmacKeyBytes + 3];
    while (why.empty()) {
      const ssize_t n = ::read(fd, buffer, sizeof(buffer));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) why = std::strerror(errno);
      if (n <= 0) break;
      key.append(buffer, static_cast<std::size_t>(n));
      if (key.size() > RedisVerdictCache::kMaxHmacKeyBytes + 2) why = "longer than 4096 bytes";
    }
    ::close(fd);
    OPENSSL_cleanse(buffer, sizeof(buffer));
    if (!why.empty()) return invalid(name + ": " + why);
  } else if (!config.hmac_key_env.empty()) {
    const char* value = std::getenv(config.hmac_key_env.c_str());
    if (value == nullptr) {
      return Error(ErrorCode::kNotFound, "cache.redis.hmacKeyEnv: the environment variable " +
                                             config.hmac_key_env + " is not set");
    }
    key = value;
  } else {
    return invalid(
        "cache.redis: hmacKeyFile or hmacKeyEnv is required with address (values in Redis are "
        "authenticated with a secret the replicas share)");
  }
  // A file written by hand or a Kubernetes secret may end in a newline.
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
  if (key.size() < RedisVerdictCache::kMinHmacKeyBytes) {
    return invalid("cache.redis: the HMAC key has " + std::to_string(key.size()) +
                   " bytes; it needs at least 32 (e.g. 64 hex characters from a random source)");
  }
  if (key.size() > RedisVerdictCache::kMaxHmacKeyBytes) {
    return invalid("cache.redis: the HMAC key is longer than 4096 bytes");
  }
  return key;
}

}  // namespace

void RedisVerdictCache::ContextDeleter::operator()(redisContext* context) const {
  redisFree(context);
}

Result<std::unique_ptr<RedisVerdictCache>> RedisVerdictCache::Create(
    const policy::RedisCacheConfig& config, ProviderMetrics* metrics) {
  auto address = policy::ParseRedisAddress(config.address);
  if (!address.ok()) return address.error().WithContext("cache.redis.address");
  auto password = ReadPassword(config);
  if (!password.ok()) return password.error();
  auto hmac_key = ReadHmacKey(config);
  if (!hmac_key.ok()) return hmac_key.error();
  return std::unique_ptr<RedisVerdictCache>(
      new RedisVerdictCache(config, std::move(address).value(), std::move(password).value(),
                            std::move(hmac_key).value(), metrics));
}

RedisVerdictCache::RedisVerdictCache(policy::RedisCacheConfig config, policy::RedisAddress address,
                                     std::string password, std::string hmac_key,
                                     ProviderMetrics* metrics)
    : config_(std::move(config)),
      address_(std::move(address)),
      password_(std::move(password)),
      hmac_key_(std::move(hmac_key)),
      metrics_(metrics) {}

RedisVerdictCache::~RedisVerdictCache() = default;

std::string RedisVerdictCache::KeyOf(const std::string& subject) const {
  return config_.key_prefix + "verdict:" + crypto::Sha256Hex(subject);
}

std::string RedisVerdictCache::Seal(std::string_view payload, std::string_view hmac_key) {
  const std::string mac = MacHex(payload, hmac_key);
  if (mac.empty()) return "";
  return mac + std::string(payload);
}

RedisVerdictCache::Decoded RedisVerdictCache::Decode(std::string_view value,
                                                     const std::string& subject,
                                                     std::string_view hmac_key,
                                                     std::int64_t now_unix_ms) {
  Decoded out;
  out.status = Decoded::Status::kUnauthenticated;
  if (value.size() < kMacHexChars) return out;
  const std::string_view payload = value.substr(kMacHexChars);
  const std::string expected = MacHex(payload, hmac_key);
  if (expected.size() != kMacHexChars ||
      CRYPTO_memcmp(expected.data(), value.data(), kMacHexChars) != 0) {
    return out;
  }
  out.status = Decoded::Status::kMalformed;
  JsonParseOptions options;
  options.limits.max_depth = 2;
  options.limits.max_tokens = 16;
  auto parsed = ParseBoundedJson(payload, "shared verdict", options);
  if (!parsed.ok() || !parsed->is_object()) return out;
  const nlohmann::json& doc = *parsed;
  const auto version = doc.find("v");
  const auto named = doc.find("subject");
  const auto expires = doc.find("exp");
  const auto valid = doc.find("valid");
  if (version == doc.end() || !version->is_number_integer() || version->get<int>() != 2 ||
      named == doc.end() || !named->is_string() || named->get<std::string>() != subject ||
      expires == doc.end() || !expires->is_number_integer() || valid == doc.end() ||
      !valid->is_boolean()) {
    return out;
  }
  const auto expires_unix_ms = expires->get<std::int64_t>();
  if (expires_unix_ms <= now_unix_ms) return out;
  SharedVerdict verdict;
  verdict.valid = valid->get<bool>();
  if (verdict.valid) {
    if (doc.size() != 4) return out;
  } else {
    const auto reason = doc.find("reason");
    const auto detail = doc.find("detail");
    if (doc.size() != 6 || reason == doc.end() || !reason->is_string() || detail == doc.end() ||
        !detail->is_string()) {
      return out;
    }
    verdict.reason = reason->get<std::string>();
    verdict.detail = detail->get<std::string>();
    if (verdict.reason.empty() || verdict.reason.size() > kMaxReasonBytes ||
        verdict.detail.size() > kMaxReasonBytes) {
      return out;
    }
  }
  out.status = Decoded::Status::kOk;
  out.verdict = std::move(verdict);
  out.expires_unix_ms = expires_unix_ms;
  return out;
}

std::string RedisVerdictCache::Encode(const std::string& subject, const SharedVerdict& verdict,
                                      std::int64_t expires_unix_ms, std::string_view hmac_key) {
  nlohmann::json doc = {
      {"v", 2}, {"subject", subject}, {"exp", expires_unix_ms}, {"valid", verdict.valid}};
  if (!verdict.valid) {
    doc["reason"] = Truncated(verdict.reason);
    doc["detail"] = Truncated(verdict.detail);
  }
  return Seal(doc.dump(), hmac_key);
}

void RedisVerdictCache::MarkUp() {
  std::lock_guard<std::mutex> lock(mu_);
  probing_ = false;
  backoff_ = std::chrono::milliseconds(0);
  if (state_ == State::kUp) return;
  state_ = State::kUp;
  if (metrics_) metrics_->SharedCacheUp(true);
  log::LogEvent(spdlog::level::info, {{"event", "shared_cache_up"}, {"address", config_.address}});
}

void RedisVerdictCache::MarkDown(const std::string& why) {
  if (metrics_) metrics_->SharedCacheConnectionFailure();
  std::lock_guard<std::mutex> lock(mu_);
  probing_ = false;
  const auto first = std::max(kMinBackoff, config_.timeout * 10);
  backoff_ = backoff_.count() == 0 ? first : std::min(backoff_ * 2, config_.max_reconnect_backoff);
  backoff_ = std::min(backoff_, config_.max_reconnect_backoff);
  retry_at_ = std::chrono::steady_clock::now() + backoff_;
  // Pooled connections may be as broken as this one.
  idle_.clear();
  if (state_ == State::kDown) return;
  state_ = State::kDown;
  if (metrics_) metrics_->SharedCacheUp(false);
  log::LogEvent(spdlog::level::warn,
                {{"event", "shared_cache_down"},
                 {"address", config_.address},
                 {"error", why},
                 {"retry_in_ms", backoff_.count()},
                 {"note", "answering from the local cache and the registry until Redis is back"}});
}

RedisVerdictCache::Context RedisVerdictCache::Acquire(TimePoint until) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ == State::kDown) {
      if (probing_ || std::chrono::steady_clock::now() < retry_at_) return nullptr;
      probing_ = true;  // this call tries again; the others keep skipping
    }
    if (!idle_.empty()) {
      Context context = std::move(idle_.back());
      idle_.pop_back();
      return context;
    }
  }
  const auto left = until - std::chrono::steady_clock::now();
  Context context(redisConnectWithTimeout(address_.host.c_str(), address_.port, ToTimeval(left)));
  if (!context || context->err != 0) {
    MarkDown(context ? "connecting: " + CallError(*context) : "connecting: out of memory");
    return nullptr;
  }
  if (!password_.empty()) {
    redisSetTimeout(context.get(), ToTimeval(until - std::chrono::steady_clock::now()));
    Reply reply = Wrap(redisCommand(context.get(), "AUTH %b", password_.data(), password_.size()));
    if (!reply || reply->type != REDIS_REPLY_STATUS) {
      // The reply text may echo what was sent: never log it.
      MarkDown(reply ? "authentication refused" : "authenticating: " + CallError(*context));
      return nullptr;
    }
  }
  return context;
}

void RedisVerdictCache::Release(Context context) {
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() < kMaxIdleConnections) idle_.push_back(std::move(context));
}

std::optional<SharedVerdictCache::Found> RedisVerdictCache::Get(const std::string& subject) {
  const auto until = std::chrono::steady_clock::now() + config_.timeout;
  Context context = Acquire(until);
  if (!context) {
    if (metrics_) metrics_->SharedCacheLookup("error");
    return std::nullopt;
  }
  const std::string key = KeyOf(subject);
  redisSetTimeout(context.get(), ToTimeval(until - std::chrono::steady_clock::now()));
  // GETRANGE, not GET: a value larger than the cap is never read whole.
  redisAppendCommand(context.get(), "GETRANGE %b 0 %d", key.data(), key.size(),
                     static_cast<int>(kMaxValueBytes));
  redisAppendCommand(context.get(), "PTTL %b", key.data(), key.size());
  void* raw_value = nullptr;
  void* raw_ttl = nullptr;
  const bool ok = redisGetReply(context.get(), &raw_value) == REDIS_OK &&
                  redisGetReply(context.get(), &raw_ttl) == REDIS_OK;
  Reply value = Wrap(raw_value);
  Reply ttl = Wrap(raw_ttl);
  if (!ok || std::chrono::steady_clock::now() > until) {
    MarkDown(ok ? "lookup slower than cache.redis.timeout" : "lookup: " + CallError(*context));
    if (metrics_) metrics_->SharedCacheLookup("error");
    return std::nullopt;
  }
  if (!ttl || ttl->type != REDIS_REPLY_INTEGER || !value) {
    // PTTL fails only when Redis refuses the client (NOAUTH, ...).
    MarkDown("lookup refused: " + ReplyErrorCode(ttl.get()));
    if (metrics_) metrics_->SharedCacheLookup("error");
    return std::nullopt;
  }
  Release(std::move(context));
  MarkUp();
  if (ttl->integer == -2) {  // no such key
    if (metrics_) metrics_->SharedCacheLookup("miss");
    return std::nullopt;
  }
  // Every value signet stores has a TTL: one without (-1) was not stored by it.
  if (value->type != REDIS_REPLY_STRING || ttl->integer <= 0 || value->len > kMaxValueBytes) {
    if (metrics_) metrics_->SharedCacheLookup("malformed");
    return std::nullopt;
  }
  const std::int64_t now = NowUnixMs();
  Decoded decoded = Decode(std::string_view(value->str, value->len), subject, hmac_key_, now);
  if (decoded.status != Decoded::Status::kOk) {
    if (metrics_) {
      metrics_->SharedCacheLookup(
          decoded.status == Decoded::Status::kUnauthenticated ? "unauthenticated" : "malformed");
    }
    return std::nullopt;
  }
  if (metrics_) metrics_->SharedCacheLookup("hit");
  // Never longer than the writer meant, whatever TTL Redis reports.
  const auto left = std::min<std::int64_t>(ttl->integer, decoded.expires_unix_ms - now);
  return Found{std::move(decoded.verdict), std::chrono::milliseconds(left)};
}

void RedisVerdictCache::Put(const std::string& subject, const SharedVerdict& verdict,
                            std::chrono::milliseconds ttl) {
  if (ttl.count() <= 0) return;
  const auto until = std::chrono::steady_clock::now() + config_.timeout;
  Context context = Acquire(until);
  if (!context) {
    if (metrics_) metrics_->SharedCacheStore("error");
    return;
  }
  const std::string key = KeyOf(subject);
  const std::string value = Encode(subject, verdict, NowUnixMs() + ttl.count(), hmac_key_);
  if (value.empty()) {
    Release(std::move(context));
    if (metrics_) metrics_->SharedCacheStore("error");
    return;
  }
  const std::string millis = std::to_string(ttl.count());
  redisSetTimeout(context.get(), ToTimeval(until - std::chrono::steady_clock::now()));
  Reply reply = Wrap(redisCommand(context.get(), "SET %b %b PX %b", key.data(), key.size(),
                                  value.data(), value.size(), millis.data(), millis.size()));
  if (!reply) {
    MarkDown("store: " + CallError(*context));
    if (metrics_) metrics_->SharedCacheStore("error");
    return;
  }
  if (reply->type != REDIS_REPLY_STATUS) {
    MarkDown("store refused: " + ReplyErrorCode(reply.get()));
    if (metrics_) metrics_->SharedCacheStore("error");
    return;
  }
  Release(std::move(context));
  MarkUp();
  if (metrics_) metrics_->SharedCacheStore("stored");
}

}  // namespace signet::provider

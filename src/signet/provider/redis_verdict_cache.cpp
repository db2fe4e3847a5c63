#include "signet/provider/redis_verdict_cache.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "signet/bounded_json.h"
#include "signet/crypto/encoding.h"
#include "signet/provider/json_log.h"

namespace signet::provider {
namespace {

constexpr std::size_t kMaxPasswordBytes = 4096;
constexpr std::size_t kMaxReasonBytes = 1024;
constexpr std::chrono::milliseconds kMinBackoff{100};

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
  return std::unique_ptr<RedisVerdictCache>(new RedisVerdictCache(
      config, std::move(address).value(), std::move(password).value(), metrics));
}

RedisVerdictCache::RedisVerdictCache(policy::RedisCacheConfig config, policy::RedisAddress address,
                                     std::string password, ProviderMetrics* metrics)
    : config_(std::move(config)),
      address_(std::move(address)),
      password_(std::move(password)),
      metrics_(metrics) {}

RedisVerdictCache::~RedisVerdictCache() = default;

std::string RedisVerdictCache::KeyOf(const std::string& subject) const {
  return config_.key_prefix + "verdict:" + crypto::Sha256Hex(subject);
}

std::optional<SharedVerdict> RedisVerdictCache::Decode(std::string_view value,
                                                       const std::string& subject) {
  JsonParseOptions options;
  options.limits.max_depth = 2;
  options.limits.max_tokens = 16;
  auto parsed = ParseBoundedJson(value, "shared verdict", options);
  if (!parsed.ok() || !parsed->is_object()) return std::nullopt;
  const nlohmann::json& doc = *parsed;
  const auto version = doc.find("v");
  const auto named = doc.find("subject");
  const auto valid = doc.find("valid");
  if (version == doc.end() || !version->is_number_integer() || version->get<int>() != 1 ||
      named == doc.end() || !named->is_string() || named->get<std::string>() != subject ||
      valid == doc.end() || !valid->is_boolean()) {
    return std::nullopt;
  }
  SharedVerdict verdict;
  verdict.valid = valid->get<bool>();
  if (verdict.valid) {
    if (doc.size() != 3) return std::nullopt;
    return verdict;
  }
  const auto reason = doc.find("reason");
  const auto detail = doc.find("detail");
  if (doc.size() != 5 || reason == doc.end() || !reason->is_string() || detail == doc.end() ||
      !detail->is_string()) {
    return std::nullopt;
  }
  verdict.reason = reason->get<std::string>();
  verdict.detail = detail->get<std::string>();
  if (verdict.reason.empty() || verdict.reason.size() > kMaxReasonBytes ||
      verdict.detail.size() > kMaxReasonBytes) {
    return std::nullopt;
  }
  return verdict;
}

std::string RedisVerdictCache::Encode(const std::string& subject, const SharedVerdict& verdict) {
  nlohmann::json doc = {{"v", 1}, {"subject", subject}, {"valid", verdict.valid}};
  if (!verdict.valid) {
    doc["reason"] = Truncated(verdict.reason);
    doc["detail"] = Truncated(verdict.detail);
  }
  return doc.dump();
}

void RedisVerdictCache::MarkUp() {
  std::lock_guard<std::mutex> lock(mu_);
  probing_ = false;
  backoff_ = std::chrono::milliseconds(0);
  if (state_ == State::kUp) return;
  state_ = State::kUp;
  if (metrics_) metrics_->SharedCacheUp(true);
  LogEvent(spdlog::level::info, {{"event", "shared_cache_up"}, {"address", config_.address}});
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
  LogEvent(spdlog::level::warn,
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
  std::optional<SharedVerdict> verdict;
  // Every value signet stores has a TTL: one without (-1) was not stored by it.
  if (value->type == REDIS_REPLY_STRING && ttl->integer > 0 && value->len <= kMaxValueBytes) {
    verdict = Decode(std::string_view(value->str, value->len), subject);
  }
  if (!verdict) {
    if (metrics_) metrics_->SharedCacheLookup("malformed");
    return std::nullopt;
  }
  if (metrics_) metrics_->SharedCacheLookup("hit");
  return Found{std::move(*verdict), std::chrono::milliseconds(ttl->integer)};
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
  const std::string value = Encode(subject, verdict);
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

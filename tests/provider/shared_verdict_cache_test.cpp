// The shared verdict cache (cache.redis) against a real redis-server: two
// verification services stand for two replicas, each with its own fake
// verifier (which counts the verifications that would reach the registry)
// and its own RedisVerdictCache, sharing one Redis.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "fake_image_verifier.h"
#include "server/server_test_support.h"
#include "signet/provider/redis_verdict_cache.h"
#include "signet/provider/verification_service.h"
#include "signet/server/metrics.h"
#include "support/paths.h"
#include "support/process.h"
#include "support/redis_server.h"

namespace signet::provider {
namespace {

using std::chrono::milliseconds;
using testing::FakeDigest;
using testing::FakeImageVerifier;

constexpr char kRepo[] = "registry.test:5000/team/app";

std::string DigestKey(char c) { return std::string(kRepo) + "@" + FakeDigest(c); }

FakeImageVerifier::Image Signed(char c) { return {FakeDigest(c), ErrorCode::kInternal, true, {}}; }

FakeImageVerifier::Image Failing(char c, ErrorCode code, std::string message) {
  FakeImageVerifier::Image image{FakeDigest(c), code, false, {}};
  image.failure_message = std::move(message);
  return image;
}

policy::PolicyConfig DefaultPolicy() { return {"default", {"**"}, {}, {}}; }

// One replica: a service, its fake verifier, its metrics and its Redis cache.
struct Replica {
  std::shared_ptr<FakeImageVerifier> fake = std::make_shared<FakeImageVerifier>();
  server::MetricsRegistry registry;
  ProviderMetrics metrics{registry};
  std::shared_ptr<RedisVerdictCache> cache;
  std::unique_ptr<VerificationService> service;

  Replica(const policy::RedisCacheConfig& config, const policy::PolicyConfig& policy,
          const testing::ManualClock* clock = nullptr,
          milliseconds refresh_ahead = milliseconds(0)) {
    auto created = RedisVerdictCache::Create(config, &metrics);
    EXPECT_TRUE(created.ok()) << created.error().message();
    cache = std::move(created).value();
    VerificationServiceOptions options;
    options.deadline = milliseconds(2000);
    options.cache_ttl = milliseconds(60000);
    options.negative_cache_ttl = milliseconds(10000);
    options.shared_cache = cache;
    options.refresh_ahead = refresh_ahead;
    if (clock != nullptr) options.clock = clock->clock();
    service = std::make_unique<VerificationService>(
        options, fake, *policy::PolicySet::Create({policy}, policy::UnmatchedImages::kDeny),
        &metrics);
    for (char c : {'a', 'b', 'c', 'd', 'e', 'f'}) fake->Add(kRepo, std::string(1, c), Signed(c));
  }

  double Lookups(const std::string& result) {
    return registry
        .GetCounter("signet_provider_shared_cache_lookups_total",
                    "Lookups in the shared verdict cache (Redis), by result.", {{"result", result}})
        .Value();
  }
  double Stores(const std::string& result) {
    return registry
        .GetCounter("signet_provider_shared_cache_stores_total",
                    "Verdicts stored in the shared verdict cache (Redis), by result.",
                    {{"result", result}})
        .Value();
  }
  double ConnectionFailures() {
    return registry
        .GetCounter("signet_provider_shared_cache_connection_failures_total",
                    "Failed connections or calls to the shared verdict cache (Redis).")
        .Value();
  }
  double Up() {
    return registry
        .GetGauge("signet_provider_shared_cache_up",
                  "1 while the shared verdict cache (Redis) answers, else 0.")
        .Value();
  }
  // Stores happen after the answer: waits until `n` are done (true) or a
  // minute passes (a bound for a loaded machine, not a speed claim).
  bool WaitForStores(double n) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    while (Stores("stored") + Stores("error") < n) {
      if (std::chrono::steady_clock::now() >= give_up) return false;
      std::this_thread::sleep_for(milliseconds(2));
    }
    return true;
  }
  KeyDecision Decide(const std::string& key) { return service->Decide({key})[0]; }
  double Refreshes(const std::string& result) {
    return registry
        .GetCounter("signet_provider_cache_refreshes_total",
                    "Background refreshes of cached valid results, by result.",
                    {{"result", result}})
        .Value();
  }
  // Waits until `n` refreshes ended with `result` (a minute at most).
  bool WaitForRefreshes(const std::string& result, double n) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    while (Refreshes(result) < n) {
      if (std::chrono::steady_clock::now() >= give_up) return false;
      std::this_thread::sleep_for(milliseconds(2));
    }
    return true;
  }
};

class SharedVerdictCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_ = signet::testing::RedisServer::Launch();
    config_.address = redis_->address();
    config_.timeout = milliseconds(200);
    config_.key_prefix = "test:";
    signet::testing::WriteFile(keys_.File("hmac.key"), std::string(kHmacKey) + "\n", 0600);
    config_.hmac_key_file = keys_.File("hmac.key");
  }

  static std::int64_t NowUnixMs() {
    return std::chrono::duration_cast<milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  // The Redis key a verdict for digest `c` under `policy` and `trust` lives at.
  std::string KeyFor(Replica& replica, char c, const policy::PolicyConfig& policy,
                     const std::string& trust = "") {
    return replica.cache->KeyOf(SharedSubject(DigestKey(c), policy, trust));
  }

  // The secret the replicas share (64 hex characters, as `openssl rand -hex
  // 32` writes).
  static constexpr char kHmacKey[] =
      "3f1c9a7e5b2d4f6081a3c5e7092b4d6f8a1c3e5071b3d5f7092a4c6e8b1d3f50";
  signet::testing::TempDir keys_;
  std::unique_ptr<signet::testing::RedisServer> redis_;
  policy::RedisCacheConfig config_;
};

TEST_F(SharedVerdictCacheTest, TheSecondReplicaAnswersWhatTheFirstVerifiedWithoutVerifying) {
  Replica first(config_, DefaultPolicy());
  Replica second(config_, DefaultPolicy());
  ASSERT_TRUE(first.Decide(DigestKey('a')).valid);
  ASSERT_EQ(first.fake->verify_calls.load(), 1);
  ASSERT_TRUE(first.WaitForStores(1));
  EXPECT_EQ(first.Stores("stored"), 1);
  EXPECT_EQ(first.Lookups("miss"), 1);

  const KeyDecision shared = second.Decide(DigestKey('a'));
  EXPECT_TRUE(shared.valid);
  EXPECT_TRUE(shared.cached);
  EXPECT_EQ(shared.digest_reference, DigestKey('a'));
  EXPECT_EQ(second.fake->verify_calls.load(), 0);
  EXPECT_EQ(second.Lookups("hit"), 1);
  EXPECT_EQ(second.Up(), 1);
  // The shared verdict now sits in the second replica's own cache too.
  EXPECT_TRUE(second.Decide(DigestKey('a')).cached);
  EXPECT_EQ(second.Lookups("hit"), 1);

  // Positive control: an image nobody verified yet is verified.
  EXPECT_TRUE(second.Decide(DigestKey('b')).valid);
  EXPECT_EQ(second.fake->verify_calls.load(), 1);
  EXPECT_EQ(second.Lookups("miss"), 1);
  // The entry carries the TTL of a valid result (60 s).
  const long long ttl = std::stoll(redis_->Command({"PTTL", KeyFor(first, 'a', DefaultPolicy())}));
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, 60000);
}

TEST_F(SharedVerdictCacheTest, ADenialIsSharedWithItsReasonButAnUnavailableRegistryIsNot) {
  Replica first(config_, DefaultPolicy());
  Replica second(config_, DefaultPolicy());
  for (Replica* replica : {&first, &second}) {
    replica->fake->Add(kRepo, "unsigned",
                       Failing('c', ErrorCode::kNoSignatures, "no signatures at all"));
    replica->fake->Add(kRepo, "down", Failing('d', ErrorCode::kNetwork, "connection refused"));
  }
  ASSERT_EQ(first.Decide(DigestKey('c')).reason, "no signatures found");
  ASSERT_FALSE(first.Decide(DigestKey('d')).valid);
  ASSERT_TRUE(first.WaitForStores(1));
  EXPECT_EQ(first.Stores("stored"), 1);  // the denial only

  const KeyDecision denied = second.Decide(DigestKey('c'));
  EXPECT_FALSE(denied.valid);
  EXPECT_EQ(denied.reason, "no signatures found");
  EXPECT_EQ(denied.detail, "no signatures at all");
  EXPECT_EQ(second.fake->verify_calls.load(), 0);
  const long long ttl = std::stoll(redis_->Command({"PTTL", KeyFor(first, 'c', DefaultPolicy())}));
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, 10000);  // the negative TTL

  // The first replica's registry trouble is its own: the second verifies.
  EXPECT_FALSE(second.Decide(DigestKey('d')).valid);
  EXPECT_EQ(second.fake->verify_calls.load(), 1);
  EXPECT_EQ(redis_->Command({"EXISTS", KeyFor(first, 'd', DefaultPolicy())}), "0");
}

TEST_F(SharedVerdictCacheTest, AVerdictOfOtherKeysOrAnotherPolicyIsNeverUsed) {
  Replica first(config_, DefaultPolicy());
  ASSERT_TRUE(first.Decide(DigestKey('a')).valid);
  ASSERT_TRUE(first.WaitForStores(1));

  // Positive control: the same keys and policy share it.
  Replica same(config_, DefaultPolicy());
  EXPECT_TRUE(same.Decide(DigestKey('a')).cached);
  EXPECT_EQ(same.fake->verify_calls.load(), 0);

  // Rotated keys: another trust version.
  Replica rotated(config_, DefaultPolicy());
  rotated.fake->SetTrustVersion("rotated");
  rotated.fake->Add(kRepo, "a", Failing('a', ErrorCode::kNoMatchingSignatures, "other key"));
  const KeyDecision after_rotation = rotated.Decide(DigestKey('a'));
  EXPECT_FALSE(after_rotation.valid);
  EXPECT_EQ(after_rotation.reason, "no matching signatures");
  EXPECT_EQ(rotated.fake->verify_calls.load(), 1);
  EXPECT_EQ(rotated.Lookups("miss"), 1);

  // A policy of the same name that requires an annotation: another subject.
  policy::PolicyConfig stricter = DefaultPolicy();
  stricter.annotations = {{"team", "payments"}};
  Replica strict(config_, stricter);
  strict.fake->Add(kRepo, "a", Failing('a', ErrorCode::kNoMatchingSignatures, "no annotation"));
  EXPECT_FALSE(strict.Decide(DigestKey('a')).valid);
  EXPECT_EQ(strict.fake->verify_calls.load(), 1);

  // The first replica's value copied under the rotated replica's key names
  // another subject: malformed, never valid.
  const std::string value = redis_->Command({"GET", KeyFor(first, 'a', DefaultPolicy())});
  ASSERT_NE(value.find("\"valid\":true"), std::string::npos) << value;
  const std::string rotated_key = KeyFor(rotated, 'a', DefaultPolicy(), "rotated");
  ASSERT_EQ(redis_->Command({"SET", rotated_key, value, "PX", "60000"}), "OK");
  Replica rotated_again(config_, DefaultPolicy());
  rotated_again.fake->SetTrustVersion("rotated");
  rotated_again.fake->Add(kRepo, "a", Failing('a', ErrorCode::kNoMatchingSignatures, "other key"));
  EXPECT_FALSE(rotated_again.Decide(DigestKey('a')).valid);
  EXPECT_EQ(rotated_again.Lookups("malformed"), 1);
  EXPECT_EQ(rotated_again.fake->verify_calls.load(), 1);
}

TEST_F(SharedVerdictCacheTest, MalformedValuesAreMissesThatAreCounted) {
  Replica writer(config_, DefaultPolicy());
  const auto subject = [](char c) { return SharedSubject(DigestKey(c), DefaultPolicy(), ""); };
  const std::int64_t later = NowUnixMs() + 60000;
  // Authenticated under the right key, so that only the shape is wrong.
  const auto sealed = [](const std::string& payload) {
    return RedisVerdictCache::Seal(payload, kHmacKey);
  };
  const std::string oversized = RedisVerdictCache::Encode(
      subject('b'), SharedVerdict{false, std::string(RedisVerdictCache::kMaxValueBytes, 'x'), ""},
      later, kHmacKey);
  struct Case {
    char digest;
    std::vector<std::string> write;  // the redis-cli command that plants it
  };
  const auto key = [&](char c) { return KeyFor(writer, c, DefaultPolicy()); };
  const std::string exp = std::to_string(later);
  const std::vector<Case> cases = {
      {'a', {"SET", key('a'), sealed("not json"), "PX", "60000"}},
      {'b', {"SET", key('b'), sealed(oversized), "PX", "60000"}},
      {'c',
       {"SET", key('c'), sealed("{\"v\":2,\"exp\":" + exp + ",\"valid\":true}"), "PX", "60000"}},
      // The format before values were authenticated (v 1, no expiry).
      {'d',
       {"SET", key('d'),
        sealed("{\"v\":1,\"subject\":" + nlohmann::json(subject('d')).dump() + ",\"valid\":true}"),
        "PX", "60000"}},
      {'e', {"HSET", key('e'), "valid", "true"}},  // another Redis type
      // The right value with no TTL: signet never writes one.
      {'f',
       {"SET", key('f'),
        RedisVerdictCache::Encode(subject('f'), SharedVerdict{true, "", ""}, later, kHmacKey)}},
  };
  for (const Case& c : cases) ASSERT_NE(redis_->Command(c.write), "") << c.digest;

  Replica reader(config_, DefaultPolicy());
  for (const Case& c : cases) {
    // Unsigned in the reader's registry: a value read as valid would show.
    reader.fake->Add(kRepo, std::string(1, c.digest),
                     Failing(c.digest, ErrorCode::kNoSignatures, "unsigned"));
    const KeyDecision decision = reader.Decide(DigestKey(c.digest));
    EXPECT_FALSE(decision.valid) << c.digest;
    EXPECT_EQ(decision.reason, "no signatures found") << c.digest;
  }
  EXPECT_EQ(reader.Lookups("malformed"), static_cast<double>(cases.size()));
  EXPECT_EQ(reader.Lookups("unauthenticated"), 0);
  EXPECT_EQ(reader.fake->verify_calls.load(), static_cast<int>(cases.size()));
  EXPECT_EQ(reader.Lookups("hit"), 0);

  // Positive control: such a value, well formed and with a TTL, is a hit
  // (the reader's own denials have replaced the planted values meanwhile).
  const std::string good =
      RedisVerdictCache::Encode(subject('0'), SharedVerdict{true, "", ""}, later, kHmacKey);
  ASSERT_EQ(redis_->Command({"SET", key('0'), good, "PX", "60000"}), "OK");
  Replica control(config_, DefaultPolicy());
  control.fake->Add(kRepo, "0", Failing('0', ErrorCode::kNoSignatures, "unsigned"));
  EXPECT_TRUE(control.Decide(DigestKey('0')).valid);
  EXPECT_EQ(control.Lookups("hit"), 1);
  EXPECT_EQ(control.fake->verify_calls.load(), 0);
}

// Whoever can write to Redis but lacks the replicas' secret cannot plant a
// verdict: a "valid" value for exactly the right subject without a MAC, with
// a wrong one, or with one under another secret is never used; the replica
// asks its registry, whose answer (unsigned) is what it reports.
TEST_F(SharedVerdictCacheTest, AForgedValidVerdictIsNeverUsed) {
  Replica writer(config_, DefaultPolicy());
  const auto subject = [](char c) { return SharedSubject(DigestKey(c), DefaultPolicy(), ""); };
  const auto key = [&](char c) { return KeyFor(writer, c, DefaultPolicy()); };
  const std::int64_t later = NowUnixMs() + 60000;
  const auto payload = [&](char c) {
    return nlohmann::json{{"v", 2}, {"subject", subject(c)}, {"exp", later}, {"valid", true}}
        .dump();
  };
  std::string flipped = RedisVerdictCache::Seal(payload('c'), kHmacKey);
  flipped[0] = flipped[0] == '0' ? '1' : '0';
  const std::string other_secret(64, 'k');
  const std::map<char, std::string> forged = {
      // The pre-authentication format, and the current one without a MAC.
      {'a', "{\"v\":1,\"subject\":" + nlohmann::json(subject('a')).dump() + ",\"valid\":true}"},
      {'b', payload('b')},
      {'c', flipped},
      {'d', RedisVerdictCache::Seal(payload('d'), other_secret)},
      {'e', std::string(64, '0') + payload('e')},
  };
  for (const auto& [c, value] : forged) {
    ASSERT_EQ(redis_->Command({"SET", key(c), value, "PX", "60000"}), "OK") << c;
  }

  Replica reader(config_, DefaultPolicy());
  for (const auto& [c, value] : forged) {
    reader.fake->Add(kRepo, std::string(1, c), Failing(c, ErrorCode::kNoSignatures, "unsigned"));
    const KeyDecision decision = reader.Decide(DigestKey(c));
    EXPECT_FALSE(decision.valid) << c;
    EXPECT_FALSE(decision.cached) << c;
    EXPECT_EQ(decision.reason, "no signatures found") << c;
  }
  EXPECT_EQ(reader.fake->verify_calls.load(), static_cast<int>(forged.size()));
  EXPECT_EQ(reader.Lookups("unauthenticated"), static_cast<double>(forged.size()));
  EXPECT_EQ(reader.Lookups("hit"), 0);

  // Positive control: the same value authenticated with the shared secret
  // (as a replica writes it) is used without asking the registry.
  ASSERT_EQ(redis_->Command(
                {"SET", key('f'), RedisVerdictCache::Seal(payload('f'), kHmacKey), "PX", "60000"}),
            "OK");
  reader.fake->Add(kRepo, "f", Failing('f', ErrorCode::kNoSignatures, "unsigned"));
  EXPECT_TRUE(reader.Decide(DigestKey('f')).valid);
  EXPECT_EQ(reader.Lookups("hit"), 1);
  EXPECT_EQ(reader.fake->verify_calls.load(), static_cast<int>(forged.size()));
}

// The MAC covers the expiry: a value whose TTL was extended in Redis past
// the expiry its writer set is not used, and the TTL a hit reports is never
// longer than that expiry.
TEST_F(SharedVerdictCacheTest, AnExtendedValueIsNotUsedPastTheExpiryItsWriterSet) {
  Replica writer(config_, DefaultPolicy());
  const std::string subject = SharedSubject(DigestKey('a'), DefaultPolicy(), "");
  const std::string key = KeyFor(writer, 'a', DefaultPolicy());
  const SharedVerdict valid{true, "", ""};
  ASSERT_EQ(redis_->Command({"SET", key,
                             RedisVerdictCache::Encode(subject, valid, NowUnixMs() - 1, kHmacKey),
                             "PX", "600000"}),
            "OK");
  EXPECT_FALSE(writer.cache->Get(subject).has_value());
  EXPECT_EQ(writer.Lookups("malformed"), 1);

  // Positive control: expiring in 5 s, kept 600 s by Redis: a hit for 5 s.
  ASSERT_EQ(
      redis_->Command({"SET", key,
                       RedisVerdictCache::Encode(subject, valid, NowUnixMs() + 5000, kHmacKey),
                       "PX", "600000"}),
      "OK");
  const auto found = writer.cache->Get(subject);
  ASSERT_TRUE(found.has_value());
  EXPECT_TRUE(found->verdict.valid);
  EXPECT_GT(found->ttl.count(), 0);
  EXPECT_LE(found->ttl.count(), 5000);
}

// Replicas that do not share the secret do not share verdicts.
TEST_F(SharedVerdictCacheTest, AReplicaWithAnotherSecretDoesNotUseTheVerdicts) {
  Replica first(config_, DefaultPolicy());
  ASSERT_TRUE(first.Decide(DigestKey('a')).valid);
  ASSERT_TRUE(first.WaitForStores(1));
  ASSERT_EQ(first.Stores("stored"), 1);

  // Positive control: a replica with the same secret uses it.
  Replica same(config_, DefaultPolicy());
  EXPECT_TRUE(same.Decide(DigestKey('a')).cached);
  EXPECT_EQ(same.fake->verify_calls.load(), 0);

  signet::testing::WriteFile(keys_.File("other.key"), std::string(64, 'z'), 0600);
  policy::RedisCacheConfig other = config_;
  other.hmac_key_file = keys_.File("other.key");
  Replica stranger(other, DefaultPolicy());
  stranger.fake->Add(kRepo, "a", Failing('a', ErrorCode::kNoSignatures, "unsigned"));
  const KeyDecision decision = stranger.Decide(DigestKey('a'));
  EXPECT_FALSE(decision.valid);
  EXPECT_EQ(decision.reason, "no signatures found");
  EXPECT_EQ(stranger.fake->verify_calls.load(), 1);
  EXPECT_EQ(stranger.Lookups("unauthenticated"), 1);
}

// Without a usable secret the cache is not created (start-up fails), and the
// message never quotes the key.
TEST_F(SharedVerdictCacheTest, ItRefusesToStartWithoutAUsableSecret) {
  // Positive control: the fixture's key file and the same key from the
  // environment.
  EXPECT_TRUE(RedisVerdictCache::Create(config_, nullptr).ok());
  policy::RedisCacheConfig from_env = config_;
  from_env.hmac_key_file.clear();
  from_env.hmac_key_env = "SIGNET_TEST_SHARED_HMAC_KEY";
  ::setenv("SIGNET_TEST_SHARED_HMAC_KEY", kHmacKey, 1);
  EXPECT_TRUE(RedisVerdictCache::Create(from_env, nullptr).ok());

  const std::string short_key = "only-31-bytes-of-secret-0123456";
  ASSERT_EQ(short_key.size(), 31u);
  ::setenv("SIGNET_TEST_SHARED_HMAC_KEY", short_key.c_str(), 1);
  auto too_short = RedisVerdictCache::Create(from_env, nullptr);
  ASSERT_FALSE(too_short.ok());
  EXPECT_NE(too_short.error().message().find("at least 32"), std::string::npos);
  EXPECT_EQ(too_short.error().message().find(short_key), std::string::npos);
  ::unsetenv("SIGNET_TEST_SHARED_HMAC_KEY");
  EXPECT_FALSE(RedisVerdictCache::Create(from_env, nullptr).ok());

  policy::RedisCacheConfig none = config_;
  none.hmac_key_file.clear();
  auto missing = RedisVerdictCache::Create(none, nullptr);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("hmacKeyFile or hmacKeyEnv is required"),
            std::string::npos)
      << missing.error().message();

  policy::RedisCacheConfig file = config_;
  signet::testing::WriteFile(keys_.File("open.key"), kHmacKey, 0644);
  file.hmac_key_file = keys_.File("open.key");
  auto readable = RedisVerdictCache::Create(file, nullptr);
  ASSERT_FALSE(readable.ok());
  EXPECT_NE(readable.error().message().find("readable or writable by others"), std::string::npos)
      << readable.error().message();
  EXPECT_EQ(readable.error().message().find(kHmacKey), std::string::npos);
  file.hmac_key_file = keys_.path();  // a directory
  EXPECT_FALSE(RedisVerdictCache::Create(file, nullptr).ok());
  file.hmac_key_file = keys_.File("absent.key");
  EXPECT_FALSE(RedisVerdictCache::Create(file, nullptr).ok());
}

TEST_F(SharedVerdictCacheTest, WithRedisGoneAnswersComeFromTheLocalCacheAndTheRegistry) {
  config_.max_reconnect_backoff = milliseconds(300);
  Replica first(config_, DefaultPolicy());
  Replica second(config_, DefaultPolicy());
  ASSERT_TRUE(first.Decide(DigestKey('a')).valid);
  ASSERT_TRUE(first.WaitForStores(1));
  // Positive control: with Redis up the second replica hits.
  ASSERT_TRUE(second.Decide(DigestKey('a')).cached);
  ASSERT_EQ(second.fake->verify_calls.load(), 0);

  redis_->Stop();
  const auto start = std::chrono::steady_clock::now();
  const KeyDecision local = second.Decide(DigestKey('a'));   // own cache
  const KeyDecision fresh = second.Decide(DigestKey('b'));   // verified
  const KeyDecision fresh2 = second.Decide(DigestKey('c'));  // skipped while down
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(local.valid && local.cached);
  EXPECT_TRUE(fresh.valid);
  EXPECT_TRUE(fresh2.valid);
  EXPECT_EQ(second.fake->verify_calls.load(), 2);
  // Within the request deadline (2 s) each: the Redis timeout is 200 ms.
  EXPECT_LT(took, milliseconds(3 * 2000));
  EXPECT_GE(second.Lookups("error"), 1);
  EXPECT_GE(second.ConnectionFailures(), 1);
  EXPECT_EQ(second.Up(), 0);

  // Redis back (empty): after the back-off (300 ms at most) the replicas
  // share again.
  redis_->Start();
  for (Replica* replica : {&first, &second}) {
    ASSERT_TRUE(signet::testing::Eventually([&] {
      replica->cache->Get("probe");
      return replica->Up() == 1;
    }));
  }
  ASSERT_TRUE(first.Decide(DigestKey('f')).valid);
  ASSERT_TRUE(first.WaitForStores(2));
  const int before = second.fake->verify_calls.load();
  EXPECT_TRUE(second.Decide(DigestKey('f')).cached);
  EXPECT_EQ(second.fake->verify_calls.load(), before);
}

TEST_F(SharedVerdictCacheTest, ARedisThatNeverAnswersCostsOneTimeoutThenIsSkipped) {
  // A listener that completes TCP handshakes (the kernel does) and never
  // reads: every call waits for its timeout.
  const int silent = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(silent, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(silent, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::listen(silent, 64), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(::getsockname(silent, reinterpret_cast<sockaddr*>(&address), &length), 0);
  config_.address = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  config_.timeout = milliseconds(100);
  config_.max_reconnect_backoff = milliseconds(60000);
  Replica replica(config_, DefaultPolicy());
  const auto start = std::chrono::steady_clock::now();
  for (char c : {'a', 'b', 'c', 'd'}) EXPECT_TRUE(replica.Decide(DigestKey(c)).valid) << c;
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(replica.WaitForStores(4));
  ::close(silent);
  EXPECT_EQ(replica.fake->verify_calls.load(), 4);
  EXPECT_EQ(replica.ConnectionFailures(), 1);  // then skipped during the back-off
  EXPECT_EQ(replica.Lookups("error"), 4);
  EXPECT_EQ(replica.Stores("error"), 4);
  EXPECT_EQ(replica.Up(), 0);
  // One 100 ms timeout, not one per call (a loose bound: it asserts the
  // skip, not a speed).
  EXPECT_LT(took, milliseconds(1500));
}

TEST_F(SharedVerdictCacheTest, ARefreshTakesAFresherSharedVerdictInsteadOfTheRegistry) {
  // The second replica's local cache runs on a clock moved by hand; Redis
  // TTLs run in real time, so its entry stays fresh (60 s) meanwhile.
  testing::ManualClock clock;
  Replica first(config_, DefaultPolicy());
  Replica second(config_, DefaultPolicy(), &clock, milliseconds(6000));
  ASSERT_TRUE(first.Decide(DigestKey('a')).valid);
  ASSERT_TRUE(first.WaitForStores(1));
  ASSERT_TRUE(second.Decide(DigestKey('a')).cached);  // from Redis, kept 60 s locally

  clock.Advance(milliseconds(56000));  // inside the refresh window
  EXPECT_TRUE(second.Decide(DigestKey('a')).cached);
  ASSERT_TRUE(second.WaitForRefreshes("shared", 1));
  EXPECT_EQ(second.fake->verify_calls.load(), 0);
  clock.Advance(milliseconds(10000));  // past the first expiry: renewed
  EXPECT_TRUE(second.Decide(DigestKey('a')).cached);
  EXPECT_EQ(second.fake->verify_calls.load(), 0);

  // Positive control: with nothing fresher in Redis the refresh verifies.
  ASSERT_EQ(redis_->Command({"DEL", KeyFor(first, 'a', DefaultPolicy())}), "1");
  clock.Advance(milliseconds(46000));
  EXPECT_TRUE(second.Decide(DigestKey('a')).cached);
  ASSERT_TRUE(second.WaitForRefreshes("valid", 1));
  EXPECT_EQ(second.fake->verify_calls.load(), 1);
  EXPECT_EQ(second.Refreshes("shared"), 1);
}

TEST_F(SharedVerdictCacheTest, APasswordFromAFileIsUsedAndAWrongOneOnlyDisablesSharing) {
  redis_ = signet::testing::RedisServer::Launch("s3cret-redis-password");
  config_.address = redis_->address();
  signet::testing::TempDir dir;
  signet::testing::WriteFile(dir.File("password"), "s3cret-redis-password\n", 0600);
  config_.password_file = dir.File("password");
  Replica first(config_, DefaultPolicy());
  Replica second(config_, DefaultPolicy());
  ASSERT_TRUE(first.Decide(DigestKey('a')).valid);
  ASSERT_TRUE(first.WaitForStores(1));
  EXPECT_EQ(first.Stores("stored"), 1);
  EXPECT_TRUE(second.Decide(DigestKey('a')).cached);
  EXPECT_EQ(second.fake->verify_calls.load(), 0);

  signet::testing::WriteFile(dir.File("wrong"), "not-the-password", 0600);
  config_.password_file = dir.File("wrong");
  Replica refused(config_, DefaultPolicy());
  EXPECT_TRUE(refused.Decide(DigestKey('a')).valid);
  EXPECT_EQ(refused.fake->verify_calls.load(), 1);
  EXPECT_EQ(refused.Lookups("error"), 1);
  EXPECT_EQ(refused.Up(), 0);

  // No password at all: Redis refuses each command (NOAUTH).
  config_.password_file.clear();
  Replica anonymous(config_, DefaultPolicy());
  EXPECT_TRUE(anonymous.Decide(DigestKey('b')).valid);
  EXPECT_EQ(anonymous.fake->verify_calls.load(), 1);
  EXPECT_EQ(anonymous.Lookups("error"), 1);
  EXPECT_EQ(anonymous.ConnectionFailures(), 1);
  EXPECT_EQ(anonymous.Up(), 0);

  config_.password_file = dir.File("missing");
  EXPECT_FALSE(RedisVerdictCache::Create(config_, nullptr).ok());
}

}  // namespace
}  // namespace signet::provider

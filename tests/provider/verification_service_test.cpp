#include "signet/provider/verification_service.h"

#include <gtest/gtest.h>

#include <thread>

#include "fake_image_verifier.h"
#include "signet/server/metrics.h"

namespace signet::provider {
namespace {

using std::chrono::milliseconds;
using testing::FakeDigest;
using testing::FakeImageVerifier;
using testing::ManualClock;

constexpr char kRepo[] = "registry.test:5000/team/app";

policy::PolicySet CatchAll() {
  return *policy::PolicySet::Create({{"default", {"**"}, {}, {}}}, policy::UnmatchedImages::kDeny);
}

class VerificationServiceTest : public ::testing::Test {
 protected:
  std::unique_ptr<VerificationService> Make(VerificationServiceOptions options = {},
                                            policy::PolicySet policies = CatchAll()) {
    return std::make_unique<VerificationService>(options, fake_, std::move(policies), &metrics_);
  }

  // kRepo:v1 signed; results cached for 60 s, tags for 1 s, by `clock`.
  std::unique_ptr<VerificationService> MakeSignedV1WithShortTagTtl(const ManualClock& clock) {
    fake_->Add(kRepo, "v1", {FakeDigest('d'), ErrorCode::kInternal, true, {}});
    VerificationServiceOptions options;
    options.clock = clock.clock();
    options.cache_ttl = milliseconds(60000);
    options.tag_cache_ttl = milliseconds(1000);
    return Make(options);
  }

  std::shared_ptr<FakeImageVerifier> fake_ = std::make_shared<FakeImageVerifier>();
  server::MetricsRegistry registry_;
  ProviderMetrics metrics_{registry_};
};

TEST_F(VerificationServiceTest, PerKeyResultsInRequestOrderWithDuplicates) {
  fake_->Add(kRepo, "signed", {FakeDigest('a'), ErrorCode::kInternal, true, {}});
  fake_->Add(kRepo, "unsigned", {FakeDigest('b'), ErrorCode::kNoSignatures, false, {}});
  auto service = Make();
  const std::vector<std::string> keys = {
      std::string(kRepo) + ":unsigned", std::string(kRepo) + ":signed",
      std::string(kRepo) + ":unsigned", "not a reference",
      std::string(kRepo) + ":missing",  std::string(kRepo) + "@" + FakeDigest('a')};
  auto decisions = service->Decide(keys);
  ASSERT_EQ(decisions.size(), keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(decisions[i].key, keys[i]);
  EXPECT_FALSE(decisions[0].valid);
  EXPECT_EQ(decisions[0].reason, "no signatures found");
  EXPECT_TRUE(decisions[1].valid);
  EXPECT_EQ(decisions[1].digest_reference, std::string(kRepo) + "@" + FakeDigest('a'));
  EXPECT_FALSE(decisions[2].valid);
  EXPECT_EQ(decisions[2].reason, "no signatures found");
  EXPECT_FALSE(decisions[3].valid);
  EXPECT_EQ(decisions[3].reason, "invalid image reference");
  EXPECT_FALSE(decisions[4].valid);
  EXPECT_EQ(decisions[4].reason, "image not found");
  EXPECT_TRUE(decisions[5].valid);
  EXPECT_TRUE(decisions[5].key_has_digest);
  // The duplicate was verified once; the digest key shares the signed tag's
  // cached result at most, so at most two verifier calls happened.
  EXPECT_LE(fake_->verify_calls.load(), 3);
}

TEST_F(VerificationServiceTest, UnmatchedImagesAreDeniedWithoutVerification) {
  fake_->Add(kRepo, "signed", {FakeDigest('a'), ErrorCode::kInternal, true, {}});
  auto policies = *policy::PolicySet::Create({{"other", {"elsewhere.io/**"}, {}, {}}},
                                             policy::UnmatchedImages::kDeny);
  auto service = Make({}, std::move(policies));
  auto decisions = service->Decide({std::string(kRepo) + ":signed"});
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_FALSE(decisions[0].valid);
  EXPECT_EQ(decisions[0].reason, std::string("no policy matches image ") + kRepo);
  EXPECT_EQ(fake_->verify_calls.load(), 0);
}

// Issue scenario: "prod" (localhost:27000/prod/**, key a) before a catch-all
// (key b). The image is signed only by key b; every spelling of its host
// reaches the same registry (the fake serves it under each). None may be
// accepted: it is either verified under "prod" (and fails) or refused.
TEST_F(VerificationServiceTest, HostSpellingsDoNotFallThroughToACatchAll) {
  auto policies = *policy::PolicySet::Create(
      {{"prod", {"localhost:27000/prod/**"}, {"a"}, {}}, {"default", {"**"}, {"b"}, {}}},
      policy::UnmatchedImages::kDeny);
  const FakeImageVerifier::Image signed_by_b{
      FakeDigest('b'), ErrorCode::kInternal, true, {}, {"b"}};
  const FakeImageVerifier::Image signed_by_a{
      FakeDigest('a'), ErrorCode::kInternal, true, {}, {"a"}};
  const std::vector<std::string> spellings = {
      "LOCALHOST:27000",  "LocalHost:27000",       "127.1:27000",
      "127.0.1:27000",    "2130706433:27000",      "0x7f.0.0.1:27000",
      "0177.0.0.1:27000", "127.000.000.001:27000", "localhost:27000"};
  for (const auto& host : spellings) {
    fake_->Add(host + "/prod/app", "v1", signed_by_b);
    fake_->Add(host + "/prod/good", "v1", signed_by_a);
  }
  fake_->Add("localhost:27000/dev/app", "v1", signed_by_b);
  auto service = Make({}, std::move(policies));

  // Positive controls: key a's image under prod, key b's image elsewhere.
  auto good = service->Decide({"localhost:27000/prod/good:v1", "localhost:27000/dev/app:v1"});
  ASSERT_EQ(good.size(), 2u);
  EXPECT_TRUE(good[0].valid) << good[0].reason;
  EXPECT_EQ(good[0].policy, "prod");
  EXPECT_TRUE(good[1].valid) << good[1].reason;
  EXPECT_EQ(good[1].policy, "default");

  for (const auto& host : spellings) {
    auto decisions = service->Decide({host + "/prod/app:v1"});
    ASSERT_EQ(decisions.size(), 1u);
    EXPECT_FALSE(decisions[0].valid) << host << " accepted under policy " << decisions[0].policy;
    EXPECT_NE(decisions[0].policy, "default") << host;
    if (decisions[0].policy.empty()) {
      EXPECT_NE(decisions[0].reason.find("non-canonical numeric"), std::string::npos)
          << host << ": " << decisions[0].reason;
    } else {
      EXPECT_EQ(decisions[0].reason, "no matching signatures") << host;
    }
  }
}

TEST_F(VerificationServiceTest, KeyUnfinishedAtTheDeadlineTimesOut) {
  fake_->Add(kRepo, "slow", {FakeDigest('5'), ErrorCode::kInternal, true, milliseconds(1500)});
  fake_->Add(kRepo, "fast", {FakeDigest('f'), ErrorCode::kInternal, true, {}});
  VerificationServiceOptions options;
  options.deadline = milliseconds(200);
  auto service = Make(options);
  auto decisions = service->Decide({std::string(kRepo) + ":slow", std::string(kRepo) + ":fast"});
  ASSERT_EQ(decisions.size(), 2u);
  EXPECT_FALSE(decisions[0].valid);
  EXPECT_EQ(decisions[0].reason, "verification timed out");
  EXPECT_TRUE(decisions[0].digest_reference.empty());
  EXPECT_TRUE(decisions[1].valid);
}

TEST_F(VerificationServiceTest, FiftyConcurrentIdenticalRequestsRunOneVerification) {
  fake_->Add(kRepo, "v1", {FakeDigest('c'), ErrorCode::kInternal, true, milliseconds(300)});
  auto service = Make();
  std::vector<std::thread> threads;
  std::atomic<int> valid{0};
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&] {
      auto decisions = service->Decide({std::string(kRepo) + ":v1"});
      if (decisions.size() == 1 && decisions[0].valid) ++valid;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(valid.load(), 50);
  EXPECT_EQ(fake_->verify_calls.load(), 1);
  EXPECT_EQ(fake_->resolve_calls.load(), 1);
  // Every request that did not run the verification and did not hit the
  // cache joined the one in flight.
  const double coalesced =
      registry_
          .GetCounter("signet_provider_coalesced_waits_total",
                      "Verifications that joined an identical verification already in flight.")
          .Value();
  const double hits = registry_
                          .GetCounter("signet_provider_cache_hits_total", "Cache hits by cache.",
                                      {{"cache", "verification"}})
                          .Value();
  EXPECT_EQ(coalesced + hits, 49.0);
}

TEST_F(VerificationServiceTest, ResultsAreCachedUntilTheirTtl) {
  ManualClock clock;
  auto service = MakeSignedV1WithShortTagTtl(clock);
  const std::vector<std::string> keys = {std::string(kRepo) + ":v1"};
  ASSERT_TRUE(service->Decide(keys)[0].valid);
  auto second = service->Decide(keys);
  ASSERT_TRUE(second[0].valid);
  EXPECT_TRUE(second[0].cached);
  EXPECT_EQ(fake_->verify_calls.load(), 1);
  EXPECT_EQ(fake_->resolve_calls.load(), 1);

  clock.Advance(milliseconds(2000));  // tag entry expired, result still fresh
  ASSERT_TRUE(service->Decide(keys)[0].valid);
  EXPECT_EQ(fake_->resolve_calls.load(), 2);
  EXPECT_EQ(fake_->verify_calls.load(), 1);

  clock.Advance(milliseconds(60000));  // everything expired
  ASSERT_TRUE(service->Decide(keys)[0].valid);
  EXPECT_EQ(fake_->verify_calls.load(), 2);
}

// Every lookup of each cache is counted once, hit or miss, for tag keys as
// for digest keys; a tag resolved again (its entry expired) whose result is
// still cached is a verification-cache hit.
TEST_F(VerificationServiceTest, CacheLookupsAreCountedForTagAndDigestKeys) {
  ManualClock clock;
  auto service = MakeSignedV1WithShortTagTtl(clock);
  const auto count = [&](const char* name, const char* cache) {
    return registry_
        .GetCounter(name,
                    std::string(name) == "signet_provider_cache_hits_total"
                        ? "Cache hits by cache."
                        : "Cache misses by cache.",
                    {{"cache", cache}})
        .Value();
  };
  const auto counts = [&] {
    return std::vector<double>{count("signet_provider_cache_hits_total", "tag"),
                               count("signet_provider_cache_misses_total", "tag"),
                               count("signet_provider_cache_hits_total", "verification"),
                               count("signet_provider_cache_misses_total", "verification")};
  };
  const std::string tag_key = std::string(kRepo) + ":v1";
  const std::string digest_key = std::string(kRepo) + "@" + FakeDigest('d');
  // {tag hits, tag misses, verification hits, verification misses}
  ASSERT_TRUE(service->Decide({tag_key})[0].valid);
  EXPECT_EQ(counts(), (std::vector<double>{0, 1, 0, 1}));
  ASSERT_TRUE(service->Decide({tag_key})[0].cached);
  EXPECT_EQ(counts(), (std::vector<double>{1, 1, 1, 1}));
  ASSERT_TRUE(service->Decide({digest_key})[0].cached);
  EXPECT_EQ(counts(), (std::vector<double>{1, 1, 2, 1}));

  clock.Advance(milliseconds(2000));  // tag entry expired, result still fresh
  ASSERT_TRUE(service->Decide({tag_key})[0].valid);
  EXPECT_EQ(fake_->resolve_calls.load(), 2);
  EXPECT_EQ(fake_->verify_calls.load(), 1);
  EXPECT_EQ(counts(), (std::vector<double>{1, 2, 3, 1}));

  clock.Advance(milliseconds(60000));  // everything expired
  ASSERT_TRUE(service->Decide({digest_key})[0].valid);
  EXPECT_EQ(counts(), (std::vector<double>{1, 2, 3, 2}));
  EXPECT_EQ(fake_->verify_calls.load(), 2);
}

TEST_F(VerificationServiceTest, ChangedKeysNeverAnswerFromResultsOfTheOldKeys) {
  fake_->Add(kRepo, "v1", {FakeDigest('d'), ErrorCode::kInternal, true, {}});
  VerificationServiceOptions options;
  options.cache_ttl = milliseconds(60000);
  auto service = Make(options);
  const std::vector<std::string> keys = {std::string(kRepo) + ":v1"};
  ASSERT_TRUE(service->Decide(keys)[0].valid);
  ASSERT_TRUE(service->Decide(keys)[0].cached);
  EXPECT_EQ(fake_->verify_calls.load(), 1);

  // The key is rotated and the image no longer verifies: the cached success
  // made under the old key must not answer.
  fake_->SetTrustVersion("rotated");
  fake_->Add(kRepo, "v1", {FakeDigest('d'), ErrorCode::kNoMatchingSignatures, false, {}});
  auto after = service->Decide(keys);
  EXPECT_FALSE(after[0].valid);
  EXPECT_FALSE(after[0].cached);
  EXPECT_EQ(after[0].reason, "no matching signatures");
  EXPECT_EQ(fake_->verify_calls.load(), 2);
}

TEST_F(VerificationServiceTest, FailuresUseTheNegativeTtl) {
  fake_->Add(kRepo, "bad", {FakeDigest('e'), ErrorCode::kNoMatchingSignatures, false, {}});
  ManualClock clock;
  VerificationServiceOptions options;
  options.clock = clock.clock();
  options.cache_ttl = milliseconds(60000);
  options.negative_cache_ttl = milliseconds(5000);
  auto service = Make(options);
  const std::vector<std::string> keys = {std::string(kRepo) + "@" + FakeDigest('e')};
  EXPECT_EQ(service->Decide(keys)[0].reason, "no matching signatures");
  EXPECT_EQ(service->Decide(keys)[0].reason, "no matching signatures");
  EXPECT_EQ(fake_->verify_calls.load(), 1);
  clock.Advance(milliseconds(6000));
  EXPECT_EQ(service->Decide(keys)[0].reason, "no matching signatures");
  EXPECT_EQ(fake_->verify_calls.load(), 2);
}

TEST_F(VerificationServiceTest, TimeoutsAreNotCached) {
  fake_->Add(kRepo, "slow", {FakeDigest('7'), ErrorCode::kTimeout, false, {}});
  auto service = Make();
  const std::vector<std::string> keys = {std::string(kRepo) + "@" + FakeDigest('7')};
  EXPECT_EQ(service->Decide(keys)[0].reason, "verification timed out");
  EXPECT_EQ(service->Decide(keys)[0].reason, "verification timed out");
  EXPECT_EQ(fake_->verify_calls.load(), 2);
}

TEST_F(VerificationServiceTest, CacheIsBounded) {
  for (char c : std::string("0123456789")) {
    fake_->Add(kRepo, std::string("t") + c, {FakeDigest(c), ErrorCode::kInternal, true, {}});
  }
  VerificationServiceOptions options;
  options.cache_max_entries = 3;
  auto service = Make(options);
  for (char c : std::string("0123456789")) {
    ASSERT_TRUE(service->Decide({std::string(kRepo) + "@" + FakeDigest(c)})[0].valid);
  }
  EXPECT_EQ(fake_->verify_calls.load(), 10);
  // The three most recent are cached, the oldest were evicted.
  ASSERT_TRUE(service->Decide({std::string(kRepo) + "@" + FakeDigest('9')})[0].cached);
  EXPECT_EQ(fake_->verify_calls.load(), 10);
  auto oldest = service->Decide({std::string(kRepo) + "@" + FakeDigest('0')});
  EXPECT_TRUE(oldest[0].valid);
  EXPECT_FALSE(oldest[0].cached);
  EXPECT_EQ(fake_->verify_calls.load(), 11);
}

TEST_F(VerificationServiceTest, KeysOfOneRequestRunInParallel) {
  std::vector<std::string> keys;
  for (int i = 0; i < 8; ++i) {
    const char c = std::string("abcdef01")[i];
    fake_->Add(kRepo, std::string("p") + c,
               {FakeDigest(c), ErrorCode::kInternal, true, milliseconds(400)});
    keys.push_back(std::string(kRepo) + ":p" + c);
  }
  VerificationServiceOptions options;
  options.workers = 8;
  options.deadline = milliseconds(2000);  // 8 x 400 ms in sequence would not fit
  auto service = Make(options);
  auto decisions = service->Decide(keys);
  for (const auto& decision : decisions) EXPECT_TRUE(decision.valid) << decision.reason;
}

TEST(TimedOutReasonTest, IsTheErrorTablesReasonForATimeout) {
  EXPECT_EQ(DenialReason(Error(ErrorCode::kTimeout, "deadline passed")), kTimedOutReason);
  EXPECT_NE(DenialReason(Error(ErrorCode::kNetwork, "refused")), kTimedOutReason);  // control
}

TEST_F(VerificationServiceTest, APolicyIsResolvedOncePerTrustVersion) {
  std::vector<std::string> keys;
  for (const char c : std::string("abcdef")) {
    fake_->Add(kRepo, std::string("r") + c, {FakeDigest(c), ErrorCode::kInternal, true, {}});
    keys.push_back(std::string(kRepo) + ":r" + c);
  }
  auto service = Make();
  for (const auto& decision : service->Decide(keys)) EXPECT_TRUE(decision.valid) << decision.key;
  EXPECT_EQ(fake_->verify_calls.load(), 6);
  EXPECT_EQ(fake_->resolve_policy_calls.load(), 1);

  // New keys: the policy is resolved again, once, before the next
  // verifications under them.
  fake_->SetTrustVersion("rotated");
  for (const auto& decision : service->Decide(keys)) EXPECT_TRUE(decision.valid) << decision.key;
  EXPECT_EQ(fake_->verify_calls.load(), 12);
  EXPECT_EQ(fake_->resolve_policy_calls.load(), 2);
}

TEST_F(VerificationServiceTest, EachPolicyIsResolvedForItself) {
  fake_->Add(kRepo, "v1", {FakeDigest('a'), ErrorCode::kInternal, true, {}, {"team-key"}});
  fake_->Add("other.test/app", "v1", {FakeDigest('b'), ErrorCode::kInternal, true, {}, {"x"}});
  auto policies = *policy::PolicySet::Create(
      {{"team", {"registry.test:5000/**"}, {"team-key"}, {}}, {"other", {"**"}, {"y"}, {}}},
      policy::UnmatchedImages::kDeny);
  auto service = Make({}, std::move(policies));
  auto decisions = service->Decide({std::string(kRepo) + ":v1", "other.test/app:v1"});
  ASSERT_EQ(decisions.size(), 2u);
  // Each verification saw its own policy's keys: team-key signed the first;
  // the second is signed by x, which policy "other" does not trust.
  EXPECT_TRUE(decisions[0].valid) << decisions[0].reason;
  EXPECT_EQ(decisions[0].policy, "team");
  EXPECT_FALSE(decisions[1].valid);
  EXPECT_EQ(decisions[1].reason, "no matching signatures");
  EXPECT_EQ(fake_->resolve_policy_calls.load(), 2);
}

}  // namespace
}  // namespace signet::provider

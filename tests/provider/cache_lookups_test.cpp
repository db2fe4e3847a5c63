// How often one key of a request asks each cache on its way to the
// registry: the local tag and verification caches (counted by the service,
// VerificationService::LocalCacheLookups) and the shared verdict cache (a
// counting double). Each distinct key asks each cache at most once per
// request, and the flight it starts asks nothing its probe already asked.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "fake_image_verifier.h"
#include "signet/provider/verification_service.h"
#include "signet/server/metrics.h"

namespace signet::provider {
namespace {

using std::chrono::milliseconds;
using testing::FakeDigest;
using testing::FakeImageVerifier;
using testing::ManualClock;

constexpr char kRepo[] = "registry.test:5000/team/app";

// An in-memory shared verdict cache that counts the lookups of each subject.
class CountingSharedCache : public SharedVerdictCache {
 public:
  std::optional<Found> Get(const std::string& subject) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++gets_[subject];
    auto it = verdicts_.find(subject);
    if (it == verdicts_.end()) return std::nullopt;
    return Found{it->second, milliseconds(60000)};
  }
  void Put(const std::string& subject, const SharedVerdict& verdict, milliseconds) override {
    std::lock_guard<std::mutex> lock(mu_);
    verdicts_[subject] = verdict;
    ++puts_;
  }
  // Lookups of every subject.
  int Gets() {
    std::lock_guard<std::mutex> lock(mu_);
    int total = 0;
    for (const auto& [subject, n] : gets_) total += n;
    return total;
  }
  int Puts() {
    std::lock_guard<std::mutex> lock(mu_);
    return puts_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, int> gets_;
  std::map<std::string, SharedVerdict> verdicts_;
  int puts_ = 0;
};

class CacheLookupsTest : public ::testing::Test {
 protected:
  CacheLookupsTest() {
    fake_->Add(kRepo, "v1", {FakeDigest('a'), ErrorCode::kInternal, true, {}});
    fake_->Add(kRepo, "v2", {FakeDigest('b'), ErrorCode::kInternal, true, {}});
    fake_->Add(kRepo, "bad", {FakeDigest('c'), ErrorCode::kNoMatchingSignatures, false, {}});
  }

  // Valid results live 60 s, failures 10 s, tags tag_cache_ttl_, by clock_.
  std::unique_ptr<VerificationService> Make(std::shared_ptr<FakeImageVerifier> fake,
                                            std::shared_ptr<SharedVerdictCache> shared) {
    VerificationServiceOptions options;
    options.clock = clock_.clock();
    options.cache_ttl = milliseconds(60000);
    options.negative_cache_ttl = milliseconds(10000);
    options.tag_cache_ttl = tag_cache_ttl_;
    options.shared_cache = std::move(shared);
    return std::make_unique<VerificationService>(
        options, std::move(fake),
        *policy::PolicySet::Create({{"default", {"**"}, {}, {}}}, policy::UnmatchedImages::kDeny),
        &metrics_);
  }
  std::unique_ptr<VerificationService> Make() { return Make(fake_, shared_); }

  // {tag, verification} lookups since the service started.
  static std::vector<std::uint64_t> Lookups(const VerificationService& service) {
    const auto lookups = service.LocalCacheLookups();
    return {lookups.tag, lookups.verification};
  }
  // Shares happen after the answer: waits until `n` are stored (true) or a
  // minute passes (a bound for a loaded machine, not a speed claim).
  bool WaitForPuts(int n) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    while (shared_->Puts() < n) {
      if (std::chrono::steady_clock::now() >= give_up) return false;
      std::this_thread::sleep_for(milliseconds(2));
    }
    return true;
  }
  double Coalesced() {
    return registry_
        .GetCounter("signet_provider_coalesced_waits_total",
                    "Verifications that joined an identical verification already in flight.")
        .Value();
  }

  ManualClock clock_;
  milliseconds tag_cache_ttl_{1000};
  std::shared_ptr<FakeImageVerifier> fake_ = std::make_shared<FakeImageVerifier>();
  std::shared_ptr<CountingSharedCache> shared_ = std::make_shared<CountingSharedCache>();
  server::MetricsRegistry registry_;
  ProviderMetrics metrics_{registry_};
};

const std::string kTagV1 = std::string(kRepo) + ":v1";
const std::string kDigestA = std::string(kRepo) + "@" + FakeDigest('a');

TEST_F(CacheLookupsTest, ADigestKeyThatMissesAsksEachCacheOnce) {
  auto service = Make();
  ASSERT_TRUE(service->Decide({kDigestA})[0].valid);
  EXPECT_EQ(Lookups(*service), (std::vector<std::uint64_t>{0, 1}));
  EXPECT_EQ(shared_->Gets(), 1);
  EXPECT_EQ(fake_->verify_calls.load(), 1);
  // Positive control: the next request is answered by its one lookup.
  auto again = service->Decide({kDigestA})[0];
  EXPECT_TRUE(again.cached);
  EXPECT_EQ(Lookups(*service), (std::vector<std::uint64_t>{0, 2}));
  EXPECT_EQ(shared_->Gets(), 1);
  EXPECT_EQ(fake_->verify_calls.load(), 1);
}

TEST_F(CacheLookupsTest, ATagKeyThatMissesAsksEachCacheOnce) {
  auto service = Make();
  ASSERT_TRUE(service->Decide({kTagV1})[0].valid);
  // The tag cache by the probe; the verification cache once the flight has
  // resolved the tag (the probe could not name the entry).
  EXPECT_EQ(Lookups(*service), (std::vector<std::uint64_t>{1, 1}));
  EXPECT_EQ(shared_->Gets(), 1);
  EXPECT_EQ(fake_->resolve_calls.load(), 1);
  auto again = service->Decide({kTagV1})[0];
  EXPECT_TRUE(again.cached);
  EXPECT_EQ(Lookups(*service), (std::vector<std::uint64_t>{2, 2}));
  EXPECT_EQ(fake_->resolve_calls.load(), 1);
  EXPECT_EQ(fake_->verify_calls.load(), 1);
}

TEST_F(CacheLookupsTest, AKnownTagWhoseResultExpiredAsksEachCacheOnce) {
  tag_cache_ttl_ = milliseconds(120000);  // the tag outlives the result (60 s)
  auto service = Make();
  ASSERT_TRUE(service->Decide({kTagV1})[0].valid);
  ASSERT_TRUE(WaitForPuts(1));
  clock_.Advance(milliseconds(61000));
  // The probe finds the tag and misses the result; its flight asks neither
  // local cache again, and the shared cache once (which has the verdict).
  const auto before = Lookups(*service);
  ASSERT_TRUE(service->Decide({kTagV1})[0].valid);
  EXPECT_EQ(Lookups(*service), (std::vector<std::uint64_t>{before[0] + 1, before[1] + 1}));
  EXPECT_EQ(shared_->Gets(), 2);
  EXPECT_EQ(fake_->resolve_calls.load(), 1);
  EXPECT_EQ(fake_->verify_calls.load(), 1);
}

TEST_F(CacheLookupsTest, ADuplicatedKeyOfOneRequestAsksOnce) {
  auto service = Make();
  auto decisions = service->Decide({kTagV1, kDigestA, kTagV1, kDigestA});
  for (const auto& decision : decisions) EXPECT_TRUE(decision.valid) << decision.key;
  // Two distinct keys, one digest: the tag key's flight resolves v1 to the
  // digest the other key names; each asks the verification cache once.
  EXPECT_EQ(Lookups(*service), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_LE(shared_->Gets(), 2);
}

TEST_F(CacheLookupsTest, AFailureIsAskedForOnceAndThenAnsweredFromTheNegativeCache) {
  const std::string bad = std::string(kRepo) + "@" + FakeDigest('c');
  auto service = Make();
  EXPECT_FALSE(service->Decide({bad})[0].valid);
  EXPECT_EQ(Lookups(*service), (std::vector<std::uint64_t>{0, 1}));
  EXPECT_EQ(shared_->Gets(), 1);
  auto again = service->Decide({bad})[0];
  EXPECT_FALSE(again.valid);
  EXPECT_TRUE(again.cached);
  EXPECT_EQ(Lookups(*service), (std::vector<std::uint64_t>{0, 2}));
  EXPECT_EQ(shared_->Gets(), 1);
  EXPECT_EQ(fake_->verify_calls.load(), 1);
}

TEST_F(CacheLookupsTest, AnotherReplicaAsksItsOwnCachesOnceThenTheSharedOne) {
  auto first = Make();
  ASSERT_TRUE(first->Decide({kDigestA})[0].valid);
  ASSERT_TRUE(WaitForPuts(1));
  auto other_fake = std::make_shared<FakeImageVerifier>();
  auto second = Make(other_fake, shared_);
  auto decision = second->Decide({kDigestA})[0];
  EXPECT_TRUE(decision.valid);
  EXPECT_TRUE(decision.cached);
  EXPECT_EQ(Lookups(*second), (std::vector<std::uint64_t>{0, 1}));
  EXPECT_EQ(shared_->Gets(), 2);
  EXPECT_EQ(other_fake->verify_calls.load(), 0);
}

// Requests that join one flight ask the verification cache once each (their
// probes); the flight asks nothing more, and the shared cache once.
TEST_F(CacheLookupsTest, CoalescedRequestsAskOnceEachAndTheirFlightNothingMore) {
  constexpr int kRequests = 8;
  auto service = Make();
  fake_->Hold();
  std::vector<std::thread> threads;
  std::atomic<int> valid{0};
  for (int i = 0; i < kRequests; ++i) {
    threads.emplace_back([&] {
      auto decisions = service->Decide({kDigestA}, std::chrono::steady_clock::now() +
                                                       std::chrono::minutes(5));
      if (decisions[0].valid) ++valid;
    });
  }
  fake_->WaitForHeld(1);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  while (Coalesced() < kRequests - 1 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(milliseconds(2));
  }
  ASSERT_EQ(Coalesced(), kRequests - 1);
  fake_->Release();
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(valid.load(), kRequests);
  EXPECT_EQ(fake_->verify_calls.load(), 1);
  EXPECT_EQ(Lookups(*service), (std::vector<std::uint64_t>{0, kRequests}));
  EXPECT_EQ(shared_->Gets(), 1);
}

}  // namespace
}  // namespace signet::provider

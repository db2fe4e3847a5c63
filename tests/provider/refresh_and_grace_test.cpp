// Stale-while-revalidate and last-known-good grace of the verification
// service, on a fake verifier and a clock moved by hand.
#include <gtest/gtest.h>

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

FakeImageVerifier::Image Signed(char c) { return {FakeDigest(c), ErrorCode::kInternal, true, {}}; }

FakeImageVerifier::Image Failing(char c, ErrorCode code, std::string message, int http_status = 0) {
  FakeImageVerifier::Image image{FakeDigest(c), code, false, {}};
  image.failure_message = std::move(message);
  image.failure_http_status = http_status;
  return image;
}

// A registry failure as the registry client reports it: the code, the
// message and the HTTP status it came from.
struct Failure {
  ErrorCode code;
  std::string message;
  int http_status = 0;
};

std::string DigestKey(char c) { return std::string(kRepo) + "@" + FakeDigest(c); }

class RefreshAndGraceTest : public ::testing::Test {
 protected:
  // Valid results live 60 s; failures 10 s.
  std::unique_ptr<VerificationService> Make(milliseconds refresh_ahead, milliseconds grace) {
    VerificationServiceOptions options;
    options.clock = clock_.clock();
    options.cache_ttl = milliseconds(60000);
    options.negative_cache_ttl = milliseconds(10000);
    options.tag_cache_ttl = milliseconds(1000);
    options.refresh_ahead = refresh_ahead;
    options.last_known_good_grace = grace;
    options.cache_max_entries = cache_max_entries_;
    return std::make_unique<VerificationService>(
        options, fake_,
        *policy::PolicySet::Create({{"default", {"**"}, {}, {}}}, policy::UnmatchedImages::kDeny),
        &metrics_);
  }

  double Refreshes(const std::string& result) {
    return registry_
        .GetCounter("signet_provider_cache_refreshes_total",
                    "Background refreshes of cached valid results, by result.",
                    {{"result", result}})
        .Value();
  }
  double GraceAnswers() {
    return registry_
        .GetCounter("signet_provider_grace_answers_total",
                    "Keys answered valid from a last-known-good verdict while the registry was "
                    "unavailable.")
        .Value();
  }
  // Waits until `n` refreshes ended with `result`; false when that has not
  // happened after a minute (a generous bound for a loaded machine: the test
  // asserts an outcome, not a speed).
  bool WaitForRefreshes(const std::string& result, double n) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    while (Refreshes(result) < n) {
      if (std::chrono::steady_clock::now() >= give_up) return false;
      std::this_thread::sleep_for(milliseconds(2));
    }
    return true;
  }

  ManualClock clock_;
  std::size_t cache_max_entries_ = 100;
  std::shared_ptr<FakeImageVerifier> fake_ = std::make_shared<FakeImageVerifier>();
  server::MetricsRegistry registry_;
  ProviderMetrics metrics_{registry_};
};

const milliseconds kWindow(6000);
const milliseconds kGrace(3600 * 1000);

TEST_F(RefreshAndGraceTest, AHerdInTheRefreshWindowCostsOneRefresh) {
  fake_->Add(kRepo, "v1", Signed('a'));
  auto service = Make(kWindow, milliseconds(0));
  ASSERT_TRUE(service->Decide({DigestKey('a')})[0].valid);
  ASSERT_EQ(fake_->verify_calls.load(), 1);
  // Positive control: before the window a hit starts no refresh.
  clock_.Advance(milliseconds(50000));
  ASSERT_TRUE(service->Decide({DigestKey('a')})[0].cached);
  ASSERT_EQ(fake_->verify_calls.load(), 1);

  clock_.Advance(milliseconds(5000));  // 5 s before expiry: inside the window
  fake_->Hold();
  std::vector<std::thread> herd;
  std::atomic<int> valid_cached{0};
  for (int i = 0; i < 32; ++i) {
    herd.emplace_back([&] {
      auto decision = service->Decide({DigestKey('a')})[0];
      if (decision.valid && decision.cached) ++valid_cached;
    });
  }
  for (auto& thread : herd) thread.join();  // answered while the refresh is held
  EXPECT_EQ(valid_cached.load(), 32);
  fake_->WaitForHeld(1);
  EXPECT_EQ(fake_->verify_calls.load(), 2);  // one refresh for the whole herd
  fake_->Release();
  ASSERT_TRUE(WaitForRefreshes("valid", 1));
  EXPECT_EQ(fake_->verify_calls.load(), 2);

  // The refresh renewed the result: past the original expiry it still hits.
  clock_.Advance(milliseconds(10000));
  auto renewed = service->Decide({DigestKey('a')})[0];
  EXPECT_TRUE(renewed.valid);
  EXPECT_TRUE(renewed.cached);
  EXPECT_EQ(fake_->verify_calls.load(), 2);
}

TEST_F(RefreshAndGraceTest, WithoutRefreshAheadTheResultExpiresAndIsVerifiedAgain) {
  fake_->Add(kRepo, "v1", Signed('a'));
  auto service = Make(milliseconds(0), milliseconds(0));
  ASSERT_TRUE(service->Decide({DigestKey('a')})[0].valid);
  clock_.Advance(milliseconds(55000));
  ASSERT_TRUE(service->Decide({DigestKey('a')})[0].cached);
  EXPECT_EQ(fake_->verify_calls.load(), 1);  // no refresh
  clock_.Advance(milliseconds(10000));
  auto again = service->Decide({DigestKey('a')})[0];
  EXPECT_TRUE(again.valid);
  EXPECT_FALSE(again.cached);
  EXPECT_EQ(fake_->verify_calls.load(), 2);
}

TEST_F(RefreshAndGraceTest, ARefreshThatFindsTheSignatureGoneMakesTheNextAnswerInvalid) {
  fake_->Add(kRepo, "v1", Signed('a'));
  auto service = Make(kWindow, kGrace);
  ASSERT_TRUE(service->Decide({DigestKey('a')})[0].valid);
  clock_.Advance(milliseconds(55000));
  fake_->Add(kRepo, "v1", Failing('a', ErrorCode::kNoSignatures, "no signatures"));
  // The stale answer is still valid (positive control) and starts the refresh.
  EXPECT_TRUE(service->Decide({DigestKey('a')})[0].valid);
  ASSERT_TRUE(WaitForRefreshes("invalid", 1));
  auto next = service->Decide({DigestKey('a')})[0];
  EXPECT_FALSE(next.valid);
  EXPECT_EQ(next.reason, "no signatures found");
  // The verdict is forgotten too: a registry outage later is not graced.
  clock_.Advance(milliseconds(20000));
  fake_->Add(kRepo, "v1",
             Failing('a', ErrorCode::kRegistry, "GET manifest: HTTP 503: unavailable", 503));
  auto during_outage = service->Decide({DigestKey('a')})[0];
  EXPECT_FALSE(during_outage.valid);
  EXPECT_EQ(GraceAnswers(), 0.0);
}

TEST_F(RefreshAndGraceTest, ARefreshDuringAnOutageNeverServesPastTheHardExpiry) {
  fake_->Add(kRepo, "v1", Signed('a'));
  auto service = Make(kWindow, milliseconds(0));
  ASSERT_TRUE(service->Decide({DigestKey('a')})[0].valid);
  clock_.Advance(milliseconds(55000));
  fake_->Add(kRepo, "v1", Failing('a', ErrorCode::kNetwork, "connection refused"));
  EXPECT_TRUE(service->Decide({DigestKey('a')})[0].valid);  // stale, inside the TTL
  ASSERT_TRUE(WaitForRefreshes("unavailable", 1));
  EXPECT_TRUE(service->Decide({DigestKey('a')})[0].valid);  // still inside the TTL
  clock_.Advance(milliseconds(5000));                       // the hard expiry
  auto expired = service->Decide({DigestKey('a')})[0];
  EXPECT_FALSE(expired.valid);
  EXPECT_EQ(expired.reason, "registry unreachable: connection refused");
}

TEST_F(RefreshAndGraceTest, KeysChangedInTheWindowAreNeverAnsweredFromTheOldResult) {
  fake_->Add(kRepo, "v1", Signed('a'));
  auto service = Make(kWindow, kGrace);
  ASSERT_TRUE(service->Decide({DigestKey('a')})[0].valid);
  clock_.Advance(milliseconds(55000));
  fake_->SetTrustVersion("rotated");
  fake_->Add(kRepo, "v1", Failing('a', ErrorCode::kNoMatchingSignatures, "other key"));
  auto decision = service->Decide({DigestKey('a')})[0];
  EXPECT_FALSE(decision.valid);
  EXPECT_FALSE(decision.cached);
  EXPECT_EQ(decision.reason, "no matching signatures");
}

// Grace: the digest verified, its result expired, and the registry fails.
class GraceTest : public RefreshAndGraceTest {
 protected:
  std::unique_ptr<VerificationService> VerifiedThenExpired(milliseconds grace) {
    fake_->Add(kRepo, "v1", Signed('a'));
    auto service = Make(milliseconds(0), grace);
    EXPECT_TRUE(service->Decide({DigestKey('a')})[0].valid);
    clock_.Advance(milliseconds(61000));
    return service;
  }
};

TEST_F(GraceTest, RegistryUnavailableAnswersAVerifiedDigestFromItsVerdict) {
  const std::vector<Failure> outages = {
      {ErrorCode::kRegistry, "GET manifest registry.test:5000/team/app: HTTP 503: busy", 503},
      {ErrorCode::kRegistry, "cosign: GET blob: HTTP 429", 429},
      // The status decides, not the text: no "HTTP 429" in this message.
      {ErrorCode::kRegistry, "the registry is throttling requests", 429},
      {ErrorCode::kAuth, "token server answered: service unavailable", 503},
      {ErrorCode::kNetwork, "connection refused"},
      {ErrorCode::kTimeout, "GET manifest timed out"},
  };
  double graced = 0;
  for (const auto& [code, message, http_status] : outages) {
    auto service = VerifiedThenExpired(kGrace);
    fake_->Add(kRepo, "v1", Failing('a', code, message, http_status));
    auto decision = service->Decide({DigestKey('a')})[0];
    EXPECT_TRUE(decision.valid) << message;
    EXPECT_TRUE(decision.graced) << message;
    EXPECT_EQ(decision.digest_reference, DigestKey('a'));
    EXPECT_NE(decision.detail.find("last-known-good grace"), std::string::npos);
    EXPECT_EQ(GraceAnswers(), ++graced);
    // A grace answer is not cached: the next request asks the registry again.
    const int calls = fake_->verify_calls.load();
    EXPECT_TRUE(service->Decide({DigestKey('a')})[0].graced);
    EXPECT_EQ(fake_->verify_calls.load(), calls + 1);
    ++graced;
  }
}

TEST_F(GraceTest, GraceOffDeniesWithTheReason) {
  auto service = VerifiedThenExpired(milliseconds(0));
  fake_->Add(kRepo, "v1", Failing('a', ErrorCode::kNetwork, "connection refused"));
  auto decision = service->Decide({DigestKey('a')})[0];
  EXPECT_FALSE(decision.valid);
  EXPECT_EQ(decision.reason, "registry unreachable: connection refused");
  EXPECT_EQ(GraceAnswers(), 0.0);
}

TEST_F(GraceTest, NeverVerifiedBeforeIsDenied) {
  auto service = VerifiedThenExpired(kGrace);
  fake_->Add(kRepo, "other", Failing('b', ErrorCode::kNetwork, "connection refused"));
  fake_->Add(kRepo, "v1", Failing('a', ErrorCode::kNetwork, "connection refused"));
  auto decisions = service->Decide({DigestKey('b'), DigestKey('a')});
  EXPECT_FALSE(decisions[0].valid);
  EXPECT_EQ(decisions[0].reason, "registry unreachable: connection refused");
  EXPECT_TRUE(decisions[1].valid);  // positive control
  EXPECT_TRUE(decisions[1].graced);
}

TEST_F(GraceTest, AKeyChangeVoidsTheVerdict) {
  auto service = VerifiedThenExpired(kGrace);
  fake_->Add(kRepo, "v1", Failing('a', ErrorCode::kNetwork, "connection refused"));
  EXPECT_TRUE(service->Decide({DigestKey('a')})[0].graced);  // positive control
  fake_->SetTrustVersion("rotated");
  auto decision = service->Decide({DigestKey('a')})[0];
  EXPECT_FALSE(decision.valid);
  EXPECT_FALSE(decision.graced);
}

TEST_F(GraceTest, TheVerdictEndsWithTheGracePeriod) {
  auto service = VerifiedThenExpired(milliseconds(30000));  // 61 s of 60 s + 30 s used
  fake_->Add(kRepo, "v1", Failing('a', ErrorCode::kNetwork, "connection refused"));
  EXPECT_TRUE(service->Decide({DigestKey('a')})[0].graced);
  clock_.Advance(milliseconds(30000));
  EXPECT_FALSE(service->Decide({DigestKey('a')})[0].valid);
}

TEST_F(GraceTest, FailuresThatAreNotOutagesAreNeverGracedAndForgetTheVerdict) {
  const std::vector<Failure> verdicts = {
      {ErrorCode::kAuth, "the registry refused access (HTTP 401)", 401},
      {ErrorCode::kImageNotFound, "image not found"},
      {ErrorCode::kNotFound, "GET manifest: HTTP 404", 404},
      {ErrorCode::kNoSignatures, "no signatures"},
      {ErrorCode::kNoMatchingSignatures, "no signature verified"},
      {ErrorCode::kVerificationFailed, "bad signature"},
      {ErrorCode::kDigestMismatch, "content does not match"},
      {ErrorCode::kRegistry, "GET manifest: HTTP 400: HTTP 503", 400},
      {ErrorCode::kRegistry, "refusing redirect to http://elsewhere"},
      // Text that looks like an outage, with no status behind it (a
      // registry's error body quoted in a message): not an outage.
      {ErrorCode::kRegistry, "GET manifest: HTTP 503: busy"},
  };
  for (const auto& [code, message, http_status] : verdicts) {
    auto service = VerifiedThenExpired(kGrace);
    fake_->Add(kRepo, "v1", Failing('a', code, message, http_status));
    auto decision = service->Decide({DigestKey('a')})[0];
    EXPECT_FALSE(decision.valid) << message;
    EXPECT_FALSE(decision.graced) << message;
    // Forgotten: an outage after the negative TTL is not graced either.
    clock_.Advance(milliseconds(11000));
    fake_->Add(kRepo, "v1", Failing('a', ErrorCode::kNetwork, "connection refused"));
    EXPECT_FALSE(service->Decide({DigestKey('a')})[0].valid) << message;
  }
  EXPECT_EQ(GraceAnswers(), 0.0);
}

TEST_F(GraceTest, AKeyUnfinishedAtTheDeadlineIsGraced) {
  fake_->Add(kRepo, "v1", Signed('a'));
  fake_->Add(kRepo, "v2", Signed('b'));
  auto service = Make(milliseconds(0), kGrace);
  ASSERT_TRUE(service->Decide({DigestKey('a')})[0].valid);
  clock_.Advance(milliseconds(61000));
  fake_->Hold();  // the registry hangs
  auto decisions = service->Decide({DigestKey('a'), DigestKey('b')},
                                   std::chrono::steady_clock::now() + milliseconds(100));
  fake_->Release();
  EXPECT_TRUE(decisions[0].valid);
  EXPECT_TRUE(decisions[0].graced);
  EXPECT_FALSE(decisions[1].valid);  // never verified: timed out
  EXPECT_EQ(decisions[1].reason, "verification timed out");
}

TEST_F(GraceTest, ATagIsGracedOnlyWhileItsDigestIsKnown) {
  fake_->Add(kRepo, "v1", Signed('a'));
  auto service = Make(milliseconds(0), kGrace);
  ASSERT_TRUE(service->Decide({std::string(kRepo) + ":v1"})[0].valid);
  clock_.Advance(milliseconds(61000));  // the tag (1 s) and the result (60 s) expired
  fake_->Add(kRepo, "v1", Failing('a', ErrorCode::kNetwork, "connection refused"));
  // The tag resolves (fake registry), the digest's verification fails: graced.
  EXPECT_TRUE(service->Decide({std::string(kRepo) + ":v1"})[0].graced);
  // The tag now points at a digest never verified: not graced.
  fake_->Add(kRepo, "v1", Failing('c', ErrorCode::kNetwork, "connection refused"));
  clock_.Advance(milliseconds(2000));
  auto moved = service->Decide({std::string(kRepo) + ":v1"})[0];
  EXPECT_FALSE(moved.valid);
  EXPECT_FALSE(moved.graced);
}

TEST_F(GraceTest, RememberedVerdictsAreBounded) {
  cache_max_entries_ = 2;
  for (char c : {'a', 'b', 'c'}) fake_->Add(kRepo, std::string("t") + c, Signed(c));
  auto service = Make(milliseconds(0), kGrace);
  for (char c : {'a', 'b', 'c'}) ASSERT_TRUE(service->Decide({DigestKey(c)})[0].valid);
  clock_.Advance(milliseconds(61000));
  for (char c : {'a', 'b', 'c'}) {
    fake_->Add(kRepo, std::string("t") + c, Failing(c, ErrorCode::kNetwork, "refused"));
  }
  EXPECT_FALSE(service->Decide({DigestKey('a')})[0].valid);  // the oldest was evicted
  EXPECT_TRUE(service->Decide({DigestKey('c')})[0].graced);
}

TEST(IsRegistryUnavailableTest, ClassifiesOutagesByTheirTypedStatus) {
  // Outages: a 429 or 5xx status carried by the error, whatever its text
  // and code, and transport failures and timeouts.
  EXPECT_TRUE(IsRegistryUnavailable(Error(ErrorCode::kRegistry, "GET x: HTTP 502", 502)));
  EXPECT_TRUE(IsRegistryUnavailable(Error(ErrorCode::kRegistry, "throttled", 429)));
  EXPECT_TRUE(IsRegistryUnavailable(Error(ErrorCode::kAuth, "token server down", 503)));
  EXPECT_TRUE(IsRegistryUnavailable(
      Error(ErrorCode::kRegistry, "x", 503).WithContext("fetching signatures")));
  EXPECT_TRUE(IsRegistryUnavailable(Error(ErrorCode::kNetwork, "refused")));
  EXPECT_TRUE(IsRegistryUnavailable(Error(ErrorCode::kTimeout, "timed out")));
  // Not outages: other statuses, and text without a status (which matching
  // the message used to take for one).
  EXPECT_FALSE(IsRegistryUnavailable(Error(ErrorCode::kRegistry, "GET x: HTTP 429: slow down")));
  EXPECT_FALSE(IsRegistryUnavailable(Error(ErrorCode::kRegistry, "GET x: HTTP 502")));
  EXPECT_FALSE(
      IsRegistryUnavailable(Error(ErrorCode::kRegistry, "GET x: HTTP 400: HTTP 503", 400)));
  EXPECT_FALSE(IsRegistryUnavailable(Error(ErrorCode::kRegistry, "x", 600)));
  EXPECT_FALSE(IsRegistryUnavailable(Error(ErrorCode::kRegistry, "bad redirect")));
  EXPECT_FALSE(IsRegistryUnavailable(Error(ErrorCode::kAuth, "refused", 401)));
  EXPECT_FALSE(IsRegistryUnavailable(Error(ErrorCode::kNotFound, "absent", 404)));
  EXPECT_FALSE(IsRegistryUnavailable(Error(ErrorCode::kNoSignatures, "none")));
}

}  // namespace
}  // namespace signet::provider

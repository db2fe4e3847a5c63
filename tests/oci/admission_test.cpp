// Admission control arithmetic and bookkeeping with an injected clock:
// TokenBucket, RegistryAdmission (slots, tokens, 429 pauses, refusals),
// Singleflight and Retry-After parsing. No wall-clock waits are asserted:
// time moves only when the test (or the fake sleep) moves it.
#include "signet/oci/admission.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "signet/oci/singleflight.h"
#include "signet/oci/transport.h"

namespace signet::oci {
namespace {

using namespace std::chrono_literals;
using TimePoint = DeadlineClock::time_point;

const TimePoint kT0 = TimePoint() + std::chrono::hours(1);

TEST(TokenBucketTest, GivesItsBurstAtOnceThenOneTokenPerInterval) {
  TokenBucket bucket(10, 3, kT0);  // 10/s: one token per 100 ms
  for (int i = 0; i < 3; ++i) EXPECT_EQ(bucket.Reserve(kT0, TimePoint::max()), kT0) << i;
  // Empty: the next tokens come 100 ms apart, reserved in order.
  EXPECT_EQ(bucket.Reserve(kT0, TimePoint::max()), kT0 + 100ms);
  EXPECT_EQ(bucket.Reserve(kT0, TimePoint::max()), kT0 + 200ms);
  // Refilled by elapsed time, never beyond the burst.
  TokenBucket later(10, 3, kT0);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(later.Reserve(kT0, TimePoint::max()));
  EXPECT_EQ(later.Reserve(kT0 + 10s, TimePoint::max()), kT0 + 10s);
  EXPECT_EQ(later.Reserve(kT0 + 10s, TimePoint::max()), kT0 + 10s);
  EXPECT_EQ(later.Reserve(kT0 + 10s, TimePoint::max()), kT0 + 10s);
  EXPECT_EQ(later.Reserve(kT0 + 10s, TimePoint::max()), kT0 + 10s + 100ms);
}

TEST(TokenBucketTest, TakesNothingWhenNoTokenComesBeforeTheLatestTime) {
  TokenBucket bucket(1, 1, kT0);
  ASSERT_EQ(bucket.Reserve(kT0, kT0), kT0);
  // The next token is at +1 s: refused with a latest time before it...
  EXPECT_FALSE(bucket.Reserve(kT0, kT0 + 999ms));
  EXPECT_FALSE(bucket.Reserve(kT0, kT0 + 500ms));
  // ...and, since the refusals took nothing, still there for a caller that can wait.
  EXPECT_EQ(bucket.Reserve(kT0, kT0 + 1s), kT0 + 1s);
}

TEST(TokenBucketTest, PauseHoldsEveryTokenUntilItEndsThenRefillsFromEmpty) {
  TokenBucket bucket(10, 5, kT0);
  bucket.Pause(kT0, kT0 + 2s);
  EXPECT_EQ(bucket.paused_until(), kT0 + 2s);
  EXPECT_FALSE(bucket.Reserve(kT0, kT0 + 1999ms));
  EXPECT_EQ(bucket.Reserve(kT0, TimePoint::max()), kT0 + 2s);
  // From empty: the next one at the rate, not the whole burst at once.
  EXPECT_EQ(bucket.Reserve(kT0, TimePoint::max()), kT0 + 2s + 100ms);
  EXPECT_FALSE(bucket.Idle(kT0 + 1s));
  EXPECT_TRUE(bucket.Idle(kT0 + 1h));
  // Control: an unpaused bucket of the same size answers at once.
  TokenBucket control(10, 5, kT0);
  EXPECT_EQ(control.Reserve(kT0, kT0), kT0);
}

TEST(TokenBucketTest, WithoutARateOnlyAPauseLimits) {
  TokenBucket bucket(0, 1, kT0);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(bucket.Reserve(kT0, kT0), kT0);
  bucket.Pause(kT0, kT0 + 5s);
  EXPECT_FALSE(bucket.Reserve(kT0 + 1s, kT0 + 4s));
  EXPECT_EQ(bucket.Reserve(kT0 + 1s, TimePoint::max()), kT0 + 5s);
}

TEST(TokenBucketTest, A429HalvesTheRateOncePerSecondDownToAFloor) {
  TokenBucket bucket(4, 1, kT0);
  EXPECT_DOUBLE_EQ(bucket.RateAt(kT0), 4);
  EXPECT_TRUE(bucket.SlowDown(kT0));
  EXPECT_DOUBLE_EQ(bucket.RateAt(kT0), 2);
  // A 429 within the second after a decrease answers a request sent before it.
  EXPECT_FALSE(bucket.SlowDown(kT0 + 999ms));
  EXPECT_DOUBLE_EQ(bucket.RateAt(kT0 + 999ms), 2);
  EXPECT_TRUE(bucket.SlowDown(kT0 + 1s));
  EXPECT_DOUBLE_EQ(bucket.RateAt(kT0 + 1s), 1);
  // Never below 1 request/s...
  EXPECT_FALSE(bucket.SlowDown(kT0 + 2s));
  EXPECT_DOUBLE_EQ(bucket.RateAt(kT0 + 2s), 1);
  // ...or the configured rate, when that is lower.
  TokenBucket slow(0.5, 1, kT0);
  EXPECT_FALSE(slow.SlowDown(kT0));
  EXPECT_DOUBLE_EQ(slow.RateAt(kT0), 0.5);
  // Without a rate there is nothing to lower.
  TokenBucket unlimited(0, 1, kT0);
  EXPECT_FALSE(unlimited.SlowDown(kT0));
  EXPECT_DOUBLE_EQ(unlimited.RateAt(kT0), 0);
}

TEST(TokenBucketTest, TokensComeAtTheLoweredRate) {
  TokenBucket bucket(10, 1, kT0);
  ASSERT_EQ(bucket.Reserve(kT0, TimePoint::max()), kT0);
  ASSERT_TRUE(bucket.SlowDown(kT0));
  // 5/s: the next token 200 ms later, not 100.
  EXPECT_EQ(bucket.Reserve(kT0, TimePoint::max()), kT0 + 200ms);
  EXPECT_EQ(bucket.Reserve(kT0, TimePoint::max()), kT0 + 400ms);
  // Control: the same bucket without the 429.
  TokenBucket control(10, 1, kT0);
  ASSERT_EQ(control.Reserve(kT0, TimePoint::max()), kT0);
  EXPECT_EQ(control.Reserve(kT0, TimePoint::max()), kT0 + 100ms);
}

TEST(TokenBucketTest, ALoweredRateGrowsBackLinearlyToTheConfiguredOne) {
  TokenBucket bucket(100, 10000, kT0);
  ASSERT_TRUE(bucket.SlowDown(kT0));
  // Flat for a second, then a fiftieth of the configured rate per second.
  EXPECT_DOUBLE_EQ(bucket.RateAt(kT0 + 1s), 50);
  EXPECT_DOUBLE_EQ(bucket.RateAt(kT0 + 11s), 70);
  EXPECT_DOUBLE_EQ(bucket.RateAt(kT0 + 26s), 100);
  EXPECT_DOUBLE_EQ(bucket.RateAt(kT0 + 1h), 100);
  // The tokens follow the ramp: empty at +1 s (a pause), then from +1 s to
  // +11 s the rate goes 50 → 70: 600 tokens, plus the one at +1 s.
  bucket.Pause(kT0, kT0 + 1s);
  for (int i = 0; i < 601; ++i) {
    ASSERT_EQ(bucket.Reserve(kT0 + 11s, kT0 + 11s), kT0 + 11s) << i;
  }
  EXPECT_FALSE(bucket.Reserve(kT0 + 11s, kT0 + 11s));
  // A lowered rate is state a fresh bucket lacks: not idle until it has
  // grown back (and refilled).
  EXPECT_FALSE(bucket.Idle(kT0 + 20s));
  EXPECT_TRUE(bucket.Idle(kT0 + 1h));
  // Once grown back, a 429 halves the configured rate again.
  ASSERT_TRUE(bucket.Reserve(kT0 + 1h, TimePoint::max()));
  EXPECT_TRUE(bucket.SlowDown(kT0 + 1h));
  EXPECT_DOUBLE_EQ(bucket.RateAt(kT0 + 1h), 50);
}

// A clock that moves only when the admission "sleeps".
struct FakeTime {
  std::atomic<std::int64_t> ms{0};
  std::vector<TimePoint> sleeps;
  TimePoint Now() const { return kT0 + std::chrono::milliseconds(ms.load()); }
  AdmissionOptions Options(AdmissionLimits limits) {
    AdmissionOptions options;
    options.defaults = limits;
    options.now = [this] { return Now(); };
    options.sleep_until = [this](TimePoint until) {
      sleeps.push_back(until);
      ms = std::chrono::duration_cast<std::chrono::milliseconds>(until - kT0).count();
    };
    return options;
  }
};

TEST(RegistryAdmissionTest, WaitsForTokensAndRefusesWhatTheDeadlineCannotFit) {
  FakeTime time;
  int waits = 0, rejections = 0;
  AdmissionOptions options = time.Options({100, 10, 2});  // 10/s, burst 2
  options.observer.waited = [&](const std::string& host, double) {
    EXPECT_EQ(host, "r.example:443");
    ++waits;
  };
  options.observer.rejected = [&](const std::string&) { ++rejections; };
  RegistryAdmission admission(options);
  const std::string host = "r.example:443";
  ASSERT_TRUE(admission.Admit(host, time.Now() + 1s).ok());
  ASSERT_TRUE(admission.Admit(host, time.Now() + 1s).ok());
  EXPECT_TRUE(time.sleeps.empty());
  EXPECT_EQ(waits, 0);
  // The third waits 100 ms for its token (the fake sleep moves the clock).
  ASSERT_TRUE(admission.Admit(host, time.Now() + 1s).ok());
  ASSERT_EQ(time.sleeps.size(), 1u);
  EXPECT_EQ(time.sleeps[0], kT0 + 100ms);
  EXPECT_EQ(waits, 1);
  // A deadline before the next token (at +200 ms): refused at once, no sleep.
  auto refused = admission.Admit(host, time.Now() + 50ms);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kTimeout);
  EXPECT_NE(refused.error().message().find("r.example:443"), std::string::npos);
  EXPECT_NE(refused.error().message().find("rate limit (10 requests/s, burst 2"), std::string::npos)
      << refused.error().message();
  EXPECT_EQ(time.sleeps.size(), 1u);
  EXPECT_EQ(rejections, 1);
  // Another host has its own bucket.
  EXPECT_TRUE(admission.Admit("other.example:443", time.Now()).ok());
  EXPECT_EQ(time.sleeps.size(), 1u);
}

TEST(RegistryAdmissionTest, A429LowersTheHostsRateAndRefusalsSaySo) {
  FakeTime time;
  int throttled = 0;
  std::vector<std::tuple<std::string, double, double>> lowered;
  AdmissionOptions options = time.Options({100, 10, 1});  // 10/s, burst 1
  options.observer.throttled = [&](const std::string&) { ++throttled; };
  options.observer.rate_lowered = [&](const std::string& host, double rate, double configured) {
    lowered.emplace_back(host, rate, configured);
  };
  RegistryAdmission admission(options);
  const std::string host = "r.example:443";
  ASSERT_TRUE(admission.Admit(host, time.Now()).ok());
  admission.Throttled(host, 0ms);
  admission.Throttled(host, 0ms);  // same second: answers to earlier requests
  EXPECT_EQ(throttled, 2);
  ASSERT_EQ(lowered.size(), 1u);
  EXPECT_EQ(lowered[0], std::make_tuple(host, 5.0, 10.0));
  // The next token at 5/s is 200 ms away: a request that can wait 150 ms is
  // refused, and the reason names the lowered rate.
  auto refused = admission.Admit(host, time.Now() + 150ms);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find(
                "rate limit (5 requests/s, lowered from 10 after the registry answered 429, "
                "burst 1"),
            std::string::npos)
      << refused.error().message();
  ASSERT_TRUE(admission.Admit(host, time.Now() + 200ms).ok());
  // Control: another host, never throttled, keeps the configured rate.
  const std::string other = "other.example:443";
  ASSERT_TRUE(admission.Admit(other, time.Now()).ok());
  auto other_refused = admission.Admit(other, time.Now() + 50ms);
  ASSERT_FALSE(other_refused.ok());
  EXPECT_NE(other_refused.error().message().find("rate limit (10 requests/s, burst 1"),
            std::string::npos)
      << other_refused.error().message();
  EXPECT_TRUE(admission.Admit(other, time.Now() + 100ms).ok());
}

TEST(RegistryAdmissionTest, A429PausesTheHostForItsRetryAfter) {
  FakeTime time;
  int throttled = 0;
  AdmissionOptions options = time.Options({100, 0, 1});  // no rate limit
  options.max_pause = 5s;
  options.observer.throttled = [&](const std::string&) { ++throttled; };
  RegistryAdmission admission(options);
  admission.Throttled("r.example:443", 3s);
  EXPECT_EQ(throttled, 1);
  auto refused = admission.Admit("r.example:443", time.Now() + 2s);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kTimeout);
  EXPECT_NE(refused.error().message().find("throttling"), std::string::npos)
      << refused.error().message();
  // Control: another host is not paused.
  EXPECT_TRUE(admission.Admit("s.example:443", time.Now() + 2s).ok());
  // Within a deadline past the pause: admitted at its end.
  ASSERT_TRUE(admission.Admit("r.example:443", time.Now() + 4s).ok());
  ASSERT_EQ(time.sleeps.size(), 1u);
  EXPECT_EQ(time.sleeps[0], kT0 + 3s);
  // A longer Retry-After pauses the host for max_pause only.
  admission.Throttled("s.example:443", 3600s);
  EXPECT_FALSE(admission.Admit("s.example:443", time.Now() + 4s).ok());
  ASSERT_TRUE(admission.Admit("s.example:443", time.Now() + 6s).ok());
  EXPECT_EQ(time.sleeps.back(), kT0 + 3s + 5s);
}

TEST(RegistryAdmissionTest, LimitsComeFromTheHostThenItsNameThenTheDefaults) {
  AdmissionOptions options;
  options.defaults = {16, 50, 100};
  options.hosts["ghcr.io"] = {4, 5, 10};
  options.hosts["localhost:5000"] = {2, 0, 1};
  RegistryAdmission admission(options);
  EXPECT_EQ(admission.LimitsFor("ghcr.io:443").max_concurrent, 4);
  EXPECT_EQ(admission.LimitsFor("ghcr.io:8443").max_concurrent, 4);
  EXPECT_EQ(admission.LimitsFor("localhost:5000").max_concurrent, 2);
  EXPECT_EQ(admission.LimitsFor("localhost:5001").max_concurrent, 16);
  EXPECT_EQ(admission.LimitsFor("quay.io:443").requests_per_second, 50);
}

TEST(RegistryAdmissionTest, SlotsAreHeldByPermitsAndWaitersGetThemInTurn) {
  AdmissionOptions options;
  options.defaults = {2, 0, 1};
  RegistryAdmission admission(options);
  const std::string host = "r.example:443";
  auto first = admission.Admit(host, std::nullopt);
  auto second = admission.Admit(host, std::nullopt);
  ASSERT_TRUE(first.ok() && second.ok());
  // Both slots held: a request whose deadline has passed is refused, naming the limit.
  auto refused = admission.Admit(host, DeadlineClock::now());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kTimeout);
  EXPECT_NE(refused.error().message().find("2 requests to this host at a time"), std::string::npos)
      << refused.error().message();
  // A waiter without a deadline gets a slot once one is released; it is
  // seen waiting first (counted, not timed).
  std::atomic<bool> admitted{false};
  std::thread waiter([&] {
    auto third = admission.Admit(host, std::nullopt);
    admitted = third.ok();
  });
  while (admission.Waiting(host) != 1) std::this_thread::yield();
  EXPECT_FALSE(admitted.load());
  { RegistryAdmission::Permit released = std::move(first).value(); }
  waiter.join();
  EXPECT_TRUE(admitted.load());
  EXPECT_EQ(admission.Waiting(host), 0);
}

// Waiting requests are admitted earliest deadline first; equal deadlines in
// the order they came, requests without a deadline last. The waiters arrive
// in the opposite order (each seen waiting before the next comes), so
// arrival order alone would give the reverse.
TEST(RegistryAdmissionTest, WaitersAreAdmittedEarliestDeadlineFirst) {
  AdmissionOptions options;
  options.defaults = {1, 0, 1};  // one at a time, no rate limit
  RegistryAdmission admission(options);
  const std::string host = "r.example:443";
  const TimePoint t = DeadlineClock::now() + 600s;
  auto held = admission.Admit(host, t);
  ASSERT_TRUE(held.ok());
  std::mutex mu;
  std::vector<std::string> order;
  const std::vector<std::pair<std::string, Deadline>> waiters = {{"none", std::nullopt},
                                                                 {"late", t + 30s},
                                                                 {"early-1", t + 10s},
                                                                 {"early-2", t + 10s},
                                                                 {"earliest", t + 5s}};
  std::vector<std::thread> threads;
  for (const auto& [name, deadline] : waiters) {
    threads.emplace_back([&admission, &host, &mu, &order, name = name, deadline = deadline] {
      auto permit = admission.Admit(host, deadline);
      EXPECT_TRUE(permit.ok()) << name;
      std::lock_guard<std::mutex> lock(mu);
      order.push_back(name);
    });  // the permit is released after its holder is recorded
    while (admission.Waiting(host) != static_cast<int>(threads.size())) {
      std::this_thread::yield();
    }
  }
  { RegistryAdmission::Permit released = std::move(held).value(); }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(order, (std::vector<std::string>{"earliest", "early-1", "early-2", "late", "none"}));
  EXPECT_EQ(admission.Waiting(host), 0);
}

TEST(SingleflightTest, OverlappingCallsOfAKeyShareOneRunAndItsError) {
  Singleflight<int> flights;
  std::atomic<int> runs{0};
  std::atomic<bool> release{false};
  std::atomic<int> joined{0};
  constexpr int kCallers = 8;
  std::vector<Result<int>> results(kCallers, Result<int>(0));
  std::vector<std::thread> threads;
  // The leader blocks until every other caller has joined its flight.
  threads.emplace_back([&] {
    results[0] = flights.Do("k", std::nullopt, [&]() -> Result<int> {
      ++runs;
      while (!release) std::this_thread::yield();
      return Error(ErrorCode::kRegistry, "HTTP 503", 503);
    });
  });
  while (runs.load() == 0) std::this_thread::yield();
  for (int i = 1; i < kCallers; ++i) {
    threads.emplace_back([&, i] {
      bool was_joined = false;
      results[i] = flights.Do(
          "k", std::nullopt,
          [&]() -> Result<int> {
            ++runs;
            return 7;
          },
          &was_joined);
      if (was_joined) ++joined;
    });
  }
  // Every other caller is waiting on the leader's flight before it ends.
  while (flights.Waiters("k") != kCallers - 1) std::this_thread::yield();
  release = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(runs.load(), 1);
  EXPECT_EQ(joined.load(), kCallers - 1);
  for (const auto& r : results) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().http_status(), 503);
  }
  // Nothing is kept: the next call runs afresh.
  auto again = flights.Do("k", std::nullopt, []() -> Result<int> { return 42; });
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 42);
}

TEST(SingleflightTest, AJoinedCallerGivesUpAtItsOwnDeadline) {
  Singleflight<int> flights;
  std::atomic<bool> started{false}, release{false};
  std::thread leader([&] {
    auto r = flights.Do("k", std::nullopt, [&]() -> Result<int> {
      started = true;
      while (!release) std::this_thread::yield();
      return 1;
    });
    EXPECT_TRUE(r.ok());
  });
  while (!started) std::this_thread::yield();
  bool joined = false;
  auto late = flights.Do(
      "k", DeadlineClock::now() - 1ms, []() -> Result<int> { return 2; }, &joined);
  EXPECT_TRUE(joined);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code(), ErrorCode::kTimeout);
  release = true;
  leader.join();
  // Control: another key runs at once.
  auto other = flights.Do("other", DeadlineClock::now() - 1ms, []() -> Result<int> { return 3; });
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(*other, 3);
}

TEST(RetryAfterTest, ReadsSecondsAndHttpDates) {
  constexpr std::int64_t kNow = 1445412480;  // Wed, 21 Oct 2015 07:28:00 GMT
  EXPECT_EQ(ParseRetryAfter("120", kNow), std::chrono::milliseconds(120000));
  EXPECT_EQ(ParseRetryAfter(" 0 ", kNow), std::chrono::milliseconds(0));
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:28:30 GMT", kNow),
            std::chrono::milliseconds(30000));
  // A date in the past asks for no wait.
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:27:00 GMT", kNow), std::chrono::milliseconds(0));
  // Huge values are bounded, not overflowed.
  EXPECT_EQ(ParseRetryAfter("99999999999999999999", kNow), std::chrono::hours(24 * 7));
  EXPECT_FALSE(ParseRetryAfter("", kNow));
  EXPECT_FALSE(ParseRetryAfter("soon", kNow));
  EXPECT_FALSE(ParseRetryAfter("-5", kNow));
}

TEST(ErrorStatusTest, ContextKeepsTheHttpStatus) {
  const Error error(ErrorCode::kRegistry, "HTTP 429", 429);
  EXPECT_EQ(error.WithContext("resolving x").http_status(), 429);
  EXPECT_EQ(Error(ErrorCode::kRegistry, "GET x: HTTP 503").http_status(), 0);
}

}  // namespace
}  // namespace signet::oci

// NoReferrersApiHosts with an injected clock: what is remembered, for how
// long, per host, within its bound, and under concurrent use. No wall-clock
// waits: time moves only when the test moves it.
#include "signet/oci/no_referrers_api_hosts.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace signet::oci {
namespace {

using namespace std::chrono_literals;
using TimePoint = DeadlineClock::time_point;

struct FakeClock {
  TimePoint now = TimePoint() + std::chrono::hours(1);
};

NoReferrersApiHostsOptions WithClock(FakeClock& clock) {
  NoReferrersApiHostsOptions options;
  options.now = [&clock] { return clock.now; };
  return options;
}

TEST(NoReferrersApiHostsTest, RemembersAHostForTenMinutesByDefault) {
  FakeClock clock;
  NoReferrersApiHosts hosts(WithClock(clock));
  // Control: nothing is known before the host has said anything.
  EXPECT_FALSE(hosts.Contains("registry.example:5000"));
  hosts.Remember("registry.example:5000");
  EXPECT_TRUE(hosts.Contains("registry.example:5000"));
  clock.now += 10min - 1ms;
  EXPECT_TRUE(hosts.Contains("registry.example:5000"));
  clock.now += 1ms;
  EXPECT_FALSE(hosts.Contains("registry.example:5000"));
  EXPECT_EQ(hosts.size(), 0u);  // the expired entry is gone
  // A new answer starts a new period.
  hosts.Remember("registry.example:5000");
  clock.now += 5min;
  hosts.Remember("registry.example:5000");
  clock.now += 9min;
  EXPECT_TRUE(hosts.Contains("registry.example:5000"));
}

TEST(NoReferrersApiHostsTest, EachHostIsItsOwn) {
  FakeClock clock;
  NoReferrersApiHosts hosts(WithClock(clock));
  hosts.Remember("a.example");
  EXPECT_TRUE(hosts.Contains("a.example"));
  // The same name with a port, another port, or another host is another host.
  for (const char* other : {"a.example:443", "a.example:5000", "b.example", "A.example.", ""}) {
    EXPECT_FALSE(hosts.Contains(other)) << other;
  }
  hosts.Remember("b.example");
  hosts.Forget("a.example");  // a.example answered with a list
  EXPECT_FALSE(hosts.Contains("a.example"));
  EXPECT_TRUE(hosts.Contains("b.example"));
}

TEST(NoReferrersApiHostsTest, ZeroTtlRemembersNothing) {
  FakeClock clock;
  NoReferrersApiHostsOptions options = WithClock(clock);
  options.ttl = 0ms;
  NoReferrersApiHosts hosts(options);
  hosts.Remember("a.example");
  EXPECT_FALSE(hosts.Contains("a.example"));
  EXPECT_EQ(hosts.size(), 0u);
}

TEST(NoReferrersApiHostsTest, HoldsAtMostMaxHostsDroppingExpiredOnesFirst) {
  FakeClock clock;
  NoReferrersApiHostsOptions options = WithClock(clock);
  options.max_hosts = 3;
  NoReferrersApiHosts hosts(options);
  hosts.Remember("a");
  hosts.Remember("b");
  clock.now += 1min;
  hosts.Remember("c");
  // Full: a fourth host is not remembered (it costs only its calls), and
  // those remembered stay.
  hosts.Remember("d");
  EXPECT_FALSE(hosts.Contains("d"));
  EXPECT_EQ(hosts.size(), 3u);
  for (const char* host : {"a", "b", "c"}) EXPECT_TRUE(hosts.Contains(host)) << host;
  // A host already remembered is renewed even when full.
  clock.now += 9min + 30s;  // a and b expire at 10 min, c at 11 min
  hosts.Remember("c");
  // a and b have expired: a new host takes their room.
  hosts.Remember("e");
  EXPECT_TRUE(hosts.Contains("e"));
  EXPECT_TRUE(hosts.Contains("c"));
  EXPECT_FALSE(hosts.Contains("a"));
  EXPECT_LE(hosts.size(), 3u);
}

TEST(NoReferrersApiHostsTest, ConcurrentUseKeepsEveryHostApart) {
  NoReferrersApiHosts hosts;  // the real clock; nothing here waits on it
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      const std::string own = "host-" + std::to_string(t);
      for (int i = 0; i < 2000; ++i) {
        hosts.Remember(own);
        if (!hosts.Contains(own)) ++wrong;
        // Odd threads also forget theirs; nobody touches another's host.
        if (t % 2 == 1) {
          hosts.Forget(own);
          if (hosts.Contains(own)) ++wrong;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
  for (int t = 0; t < 8; ++t) {
    EXPECT_EQ(hosts.Contains("host-" + std::to_string(t)), t % 2 == 0) << t;
  }
}

}  // namespace
}  // namespace signet::oci

#include "signet/oci/deadline.h"

#include <gtest/gtest.h>

#include <thread>

namespace signet::oci {
namespace {

using namespace std::chrono_literals;

TEST(DeadlineScopeTest, SetsAndRestoresTheThreadsDeadline) {
  EXPECT_FALSE(CurrentDeadline().has_value());
  const auto soon = DeadlineClock::now() + 5s;
  {
    DeadlineScope scope(soon);
    ASSERT_TRUE(CurrentDeadline().has_value());
    EXPECT_EQ(*CurrentDeadline(), soon);
  }
  EXPECT_FALSE(CurrentDeadline().has_value());
}

TEST(DeadlineScopeTest, InnerScopesCanOnlyShortenTheDeadline) {
  const auto outer = DeadlineClock::now() + 5s;
  DeadlineScope a(outer);
  {
    DeadlineScope later(outer + 10s);
    EXPECT_EQ(*CurrentDeadline(), outer);
    DeadlineScope earlier(outer - 1s);
    EXPECT_EQ(*CurrentDeadline(), outer - 1s);
    DeadlineScope none(std::nullopt);
    EXPECT_EQ(*CurrentDeadline(), outer - 1s);
  }
  EXPECT_EQ(*CurrentDeadline(), outer);
}

TEST(DeadlineScopeTest, IsPerThread) {
  DeadlineScope scope(DeadlineClock::now() + 5s);
  bool other_has_deadline = true;
  std::thread([&] { other_has_deadline = CurrentDeadline().has_value(); }).join();
  EXPECT_FALSE(other_has_deadline);
}

}  // namespace
}  // namespace signet::oci

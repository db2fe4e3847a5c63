#include "signet/crypto/secret_bytes.h"

#include <gtest/gtest.h>

#include <string>

namespace signet::crypto {
namespace {

TEST(SecretBytesTest, HoldsTheBytesItIsGiven) {
  SecretBytes secret(std::string_view("hunter2"));
  EXPECT_EQ(secret.view(), "hunter2");
  EXPECT_EQ(secret.size(), 7u);
  SecretBytes zeros(4);
  EXPECT_EQ(zeros.view(), std::string(4, '\0'));
}

TEST(SecretBytesTest, EmptyStillHasAValidPointer) {
  SecretBytes empty;
  EXPECT_NE(empty.data(), nullptr);
  EXPECT_NE(empty.view().data(), nullptr);
  EXPECT_EQ(empty.view(), "");
  SecretBytes cleared(std::string_view("x"));
  cleared.Clear();
  EXPECT_NE(cleared.view().data(), nullptr);
}

TEST(SecretBytesTest, ClearWipesTheBufferItKeeps) {
  SecretBytes secret(std::string_view("correct horse battery staple"));
  const char* buffer = reinterpret_cast<const char*>(secret.data());
  const std::size_t size = secret.size();
  secret.Clear();
  EXPECT_TRUE(secret.empty());
  // Clear keeps the allocation, so the old bytes can be read back: all zero.
  EXPECT_EQ(std::string(buffer, size), std::string(size, '\0'));
}

TEST(SecretBytesTest, MovingLeavesNothingBehindInTheSource) {
  SecretBytes source(std::string_view("pw"));  // short: would sit inline in a std::string
  SecretBytes target(std::move(source));
  EXPECT_EQ(target.view(), "pw");
  EXPECT_TRUE(source.empty());  // NOLINT(bugprone-use-after-move): checked on purpose
  SecretBytes assigned;
  assigned = std::move(target);
  EXPECT_EQ(assigned.view(), "pw");
  EXPECT_TRUE(target.empty());  // NOLINT(bugprone-use-after-move)
}

TEST(SecretBytesTest, AppendGrowsAndKeepsEveryByte) {
  SecretBytes secret;
  std::string expected;
  for (int i = 0; i < 1000; ++i) {
    const char c = static_cast<char>('a' + i % 26);
    secret.Append(std::string_view(&c, 1));
    expected.push_back(c);
  }
  EXPECT_EQ(secret.view(), expected);
  secret.PopBack();
  expected.pop_back();
  EXPECT_EQ(secret.view(), expected);
}

}  // namespace
}  // namespace signet::crypto

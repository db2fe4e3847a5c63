#include "support/process.h"

#include <gtest/gtest.h>
TEST(ProcessSupport, RunsCommandWithInputAndEnv) {
  auto r = signet::testing::RunCommand({"sh", "-c", "cat; echo \"$FOO\" >&2; exit 3"}, {"FOO=bar"},
                                       "hello");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "hello");
  EXPECT_EQ(r.err, "bar\n");
  auto t = signet::testing::RunCommand({"sleep", "5"}, {}, "", std::chrono::milliseconds(200));
  EXPECT_TRUE(t.timed_out);
}

#include "support/process.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <set>

TEST(ProcessSupport, RunsCommandWithInputAndEnv) {
  auto r = signet::testing::RunCommand({"sh", "-c", "cat; echo \"$FOO\" >&2; exit 3"}, {"FOO=bar"},
                                       "hello");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "hello");
  EXPECT_EQ(r.err, "bar\n");
  auto t = signet::testing::RunCommand({"sleep", "5"}, {}, "", std::chrono::milliseconds(200));
  EXPECT_TRUE(t.timed_out);
}

// Ports for test servers: outside the kernel's ephemeral range (which every
// outgoing connection draws from), bindable, and never handed out twice.
TEST(ProcessSupport, FreePortsAreBindableDistinctAndNotEphemeral) {
  int low = 0;
  int high = 0;
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  ASSERT_TRUE(range >> low >> high);
  std::set<int> seen;
  for (int i = 0; i < 200; ++i) {
    const int port = signet::testing::FreePort();
    ASSERT_TRUE(seen.insert(port).second) << "port " << port << " handed out twice";
    if (low > 11000) {
      EXPECT_GE(port, 10000);
      EXPECT_LT(port, low) << "from the ephemeral range " << low << "-" << high;
    }
  }
  // The port is free: a listener binds it.
  const int port = *seen.begin();
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << port;
  EXPECT_EQ(listen(fd, 1), 0);
  EXPECT_TRUE(signet::testing::WaitForPort(port, std::chrono::seconds(2)));
  close(fd);
}

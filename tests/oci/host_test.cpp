#include "signet/oci/host.h"

#include <gtest/gtest.h>

#include <string>

namespace signet::oci {
namespace {

TEST(IsLoopbackHostTest, LiteralLoopbackAddressesAndLocalhostCount) {
  for (const char* authority :
       {"localhost", "localhost:5000", "LocalHost:5000", "127.0.0.1", "127.0.0.1:80",
        "127.255.3.4:5000", "[::1]", "[::1]:5000", "[0:0:0:0:0:0:0:1]:443"}) {
    EXPECT_TRUE(IsLoopbackHost(authority)) << authority;
  }
}

// The old check took any host starting with "127." as loopback, so a DNS name
// anyone can register received plain-HTTP credentialed token requests.
TEST(IsLoopbackHostTest, NamesThatOnlyLookLikeLoopbackDoNot) {
  for (const char* authority : {"127.evil.example",
                                "127.evil.example:80",
                                "127.0.0.1.evil.example",
                                "127.0.0.1.nip.io:80",
                                "localhost.evil.example",
                                "localhostx",
                                "127.1",
                                "127.0.1:5000",
                                "2130706433",
                                "0x7f.0.0.1",
                                "0177.0.0.1",
                                "127.000.000.001",
                                "128.0.0.1",
                                "10.0.0.1:5000",
                                "[::2]",
                                "[::ffff:127.0.0.1]",
                                "[::1",
                                "",
                                ":80",
                                "localhost:",
                                "localhost:x",
                                "registry.example.com"}) {
    EXPECT_FALSE(IsLoopbackHost(authority)) << authority;
  }
}

struct CanonicalCase {
  std::string input;
  std::string canonical;
};

class CanonicalRegistryTest : public ::testing::TestWithParam<CanonicalCase> {};

TEST_P(CanonicalRegistryTest, SpellingsOfOneHostBecomeOne) {
  auto canonical = CanonicalRegistry(GetParam().input);
  ASSERT_TRUE(canonical.ok()) << GetParam().input << ": " << canonical.error().message();
  EXPECT_EQ(*canonical, GetParam().canonical) << GetParam().input;
}

INSTANTIATE_TEST_SUITE_P(
    Table, CanonicalRegistryTest,
    ::testing::Values(CanonicalCase{"localhost:27000", "localhost:27000"},
                      CanonicalCase{"LOCALHOST:27000", "localhost:27000"},
                      CanonicalCase{"LocalHost:27000", "localhost:27000"},
                      CanonicalCase{"localhost:05000", "localhost:5000"},
                      CanonicalCase{"Registry.Example.COM:443", "registry.example.com"},
                      CanonicalCase{"registry.example.com:80", "registry.example.com"},
                      CanonicalCase{"registry.example.com:8443", "registry.example.com:8443"},
                      CanonicalCase{"127.0.0.1:5000", "127.0.0.1:5000"},
                      CanonicalCase{"10.1.2.3", "10.1.2.3"},
                      CanonicalCase{"docker.io", "index.docker.io"},
                      CanonicalCase{"DOCKER.IO", "index.docker.io"},
                      CanonicalCase{"index.docker.io", "index.docker.io"},
                      CanonicalCase{"registry-1.docker.io", "index.docker.io"},
                      CanonicalCase{"Registry.Hub.Docker.com:443", "index.docker.io"},
                      CanonicalCase{"docker.io:5000", "docker.io:5000"},
                      CanonicalCase{"[::1]:5000", "[::1]:5000"},
                      CanonicalCase{"[0:0:0:0:0:0:0:1]:443", "[::1]"},
                      CanonicalCase{"[FE80::1]", "[fe80::1]"},
                      CanonicalCase{"registry-9.example", "registry-9.example"}));

TEST(DockerHubPathTest, OnlyOneComponentNamesOnDockerHubGainLibrary) {
  EXPECT_EQ(DockerHubPath(kDockerHubRegistry, "nginx"), "library/nginx");
  EXPECT_EQ(DockerHubPath(kDockerHubRegistry, "team/app"), "team/app");
  EXPECT_EQ(DockerHubPath(kDockerHubRegistry, "library/nginx"), "library/nginx");
  // Another registry, or Docker Hub spelled another way (callers canonicalise first).
  EXPECT_EQ(DockerHubPath("ghcr.io", "nginx"), "nginx");
  EXPECT_EQ(DockerHubPath("docker.io", "nginx"), "nginx");
}

TEST(CanonicalRegistryRefusalTest, NonCanonicalNumericHostsAreRefused) {
  for (const char* authority :
       {"127.1:27000", "127.0.1:27000", "2130706433:27000", "0x7f.0.0.1:27000", "0177.0.0.1:27000",
        "127.000.000.001:27000", "0x7f000001", "1.2.3.999", "1.2.3.4.5", "example.123",
        "example.0x1f", "[::ffff:127.0.0.1]:5000", "[::127.0.0.1]", "[not-v6]", "localhost:0",
        "localhost:70000", "", "[::1"}) {
    auto canonical = CanonicalRegistry(authority);
    EXPECT_FALSE(canonical.ok()) << authority << " -> " << (canonical.ok() ? *canonical : "");
    if (!canonical.ok()) {
      EXPECT_EQ(canonical.error().code(), ErrorCode::kInvalidArgument) << authority;
    }
  }
}

}  // namespace
}  // namespace signet::oci

// The listener keys of the server configuration: the handshake timeout, the
// per-peer connection limit and the health listener's address.
#include <gtest/gtest.h>

#include "signet/policy/config.h"

namespace signet::policy {
namespace {

using std::chrono::milliseconds;

TEST(ServerConfigTest, ListenerLimitsHaveShortHandshakeAndPerPeerDefaults) {
  auto config = ParseConfig("", "empty.yaml");
  ASSERT_TRUE(config.ok()) << config.error().message();
  EXPECT_EQ(config->server.handshake_timeout, milliseconds(2000));
  EXPECT_LT(config->server.handshake_timeout, config->server.header_timeout);
  EXPECT_EQ(config->server.max_connections_per_peer, 128u);
  EXPECT_LT(config->server.max_connections_per_peer, config->server.max_connections);
  EXPECT_EQ(config->server.health_address, ":8081");
}

TEST(ServerConfigTest, ParsesListenerKeys) {
  auto config = ParseConfig(
      "server:\n  handshakeTimeout: 750ms\n  maxConnectionsPerPeer: 7\n"
      "  healthAddress: 127.0.0.1:9102\n",
      "listener.yaml");
  ASSERT_TRUE(config.ok()) << config.error().message();
  EXPECT_EQ(config->server.handshake_timeout, milliseconds(750));
  EXPECT_EQ(config->server.max_connections_per_peer, 7u);
  EXPECT_EQ(config->server.health_address, "127.0.0.1:9102");
  EXPECT_TRUE(ValidateConfig(*config).ok());

  auto off = ParseConfig("server:\n  healthAddress: \"off\"\n", "off.yaml");
  ASSERT_TRUE(off.ok()) << off.error().message();
  EXPECT_TRUE(off->server.health_address == "off");
}

TEST(ServerConfigTest, RefusesBadListenerValuesNamingTheKey) {
  for (const auto& [yaml, expected] : std::vector<std::pair<std::string, std::string>>{
           {"server:\n  handshakeTimeout: soon\n", "bad.yaml:2: server.handshakeTimeout"},
           {"server:\n  maxConnectionsPerPeer: 0\n", "bad.yaml:2: server.maxConnectionsPerPeer"},
           {"server:\n  healthAddress: 8081\n", "bad.yaml:2: server.healthAddress"},
           {"server:\n  healthAddress: \"health.local:8081\"\n", "must be an IP address"},
           {"server:\n  healthAddress: \":99999\"\n", "0 to 65535"},
           {"server:\n  healthAddress: \"::1:8081\"\n", "brackets"},
       }) {
    auto config = ParseConfig(yaml, "bad.yaml");
    ASSERT_FALSE(config.ok()) << yaml;
    EXPECT_NE(config.error().message().find(expected), std::string::npos)
        << config.error().message();
  }
  Config config = DefaultConfig();
  config.server.handshake_timeout = milliseconds(0);
  EXPECT_FALSE(ValidateConfig(config).ok());
  config = DefaultConfig();
  config.server.health_address = ":8090";  // the main port
  EXPECT_FALSE(ValidateConfig(config).ok());
  config.server.health_address = ":8091";
  EXPECT_TRUE(ValidateConfig(config).ok());
}

TEST(ServerConfigTest, ParseListenAddressForms) {
  auto any = ParseListenAddress(":8081");
  ASSERT_TRUE(any.ok());
  EXPECT_TRUE(any->enabled);
  EXPECT_EQ(any->host, "0.0.0.0");
  EXPECT_EQ(any->port, 8081);
  auto v6 = ParseListenAddress("[::1]:0");
  ASSERT_TRUE(v6.ok()) << v6.error().message();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);
  auto off = ParseListenAddress("off");
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->enabled);
  for (const char* bad : {"", "off:1", "127.0.0.1", "127.0.0.1:", "127.0.0.1:x", "[::1]8081",
                          "127.1:8081", "localhost:8081"}) {
    EXPECT_FALSE(ParseListenAddress(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace signet::policy

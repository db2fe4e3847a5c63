// A flood of idle TCP connections against a real `signet serve` over TLS on
// loopback: one peer (127.0.0.1) opens more connections than the server has
// slots and never starts TLS. The per-peer limit closes the excess at
// accept, other peers (127.0.0.2, ...) are still answered, the plain-HTTP
// health listener answers /healthz, /readyz and /metrics throughout (also
// when many peers together fill every slot of the main port), and idle
// connections are closed once the short handshake timeout passes. Counts are
// bounded; every socket is closed when the test ends.
#include <gtest/gtest.h>
#include <poll.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "server/server_test_support.h"
#include "signet/crypto/keys.h"
#include "support/paths.h"
#include "support/pki.h"
#include "support/process.h"
#include "support/prometheus_text.h"

namespace signet {
namespace {

using nlohmann::json;
using signet::testing::ChildProcess;
using signet::testing::ClientResponse;
using signet::testing::ClientTls;
using signet::testing::Eventually;
using signet::testing::HttpClient;
using signet::testing::RawConnection;
using signet::testing::TempDir;
using signet::testing::TlsConnection;

using Flood = std::vector<std::unique_ptr<RawConnection>>;

constexpr auto kGenerous = std::chrono::seconds(30);

// Opens `count` idle TCP connections from `source`; each is checked open.
void OpenIdle(Flood& flood, int port, const std::string& source, int count) {
  for (int i = 0; i < count; ++i) {
    flood.push_back(std::make_unique<RawConnection>(port, source));
    ASSERT_GE(flood.back()->fd(), 0) << "connect from " << source << " failed";
  }
}

// How many connections of `flood` the server has not closed (no EOF or reset
// pending; the clients never send anything, and the server sends nothing
// before a handshake).
int StillOpen(const Flood& flood) {
  int open = 0;
  for (const auto& connection : flood) {
    pollfd p{connection->fd(), POLLIN, 0};
    if (::poll(&p, 1, 0) == 0) ++open;
  }
  return open;
}

class ConnectionFloodTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = std::make_unique<signet::testing::TestPki>(dir_.path());
    ca_ = pki_->CreateCa("ca", "signet flood test CA");
    cert_ = pki_->IssueLoopbackServer(ca_, "server");
    auto pair = crypto::GenerateKeyPair("flood-password");
    ASSERT_TRUE(pair.ok()) << pair.error().message();
    signet::testing::WriteFile(dir_.File("cosign.pub"), pair->public_pem);
  }

  // Starts `signet serve` over TLS on 127.0.0.1 with `server_keys` (YAML
  // lines of the server section) and its health listener on another port.
  void StartServe(const std::string& server_keys) {
    port_ = signet::testing::FreePort();
    health_port_ = signet::testing::FreePort();
    ASSERT_NE(port_, health_port_);
    const std::string config =
        "server:\n  address: 127.0.0.1\n  port: " + std::to_string(port_) +
        "\n  tlsCertFile: " + cert_.cert_file + "\n  tlsKeyFile: " + cert_.key_file +
        "\n  healthAddress: 127.0.0.1:" + std::to_string(health_port_) + "\n" + server_keys +
        "verification:\n  deadline: 2s\n"
        "keys:\n  - name: default\n    path: " +
        dir_.File("cosign.pub") + "\n";
    signet::testing::WriteFile(dir_.File("signet.yaml"), config);
    serve_ = ChildProcess({signet::testing::SignetBinary(), "serve", "--config",
                           dir_.File("signet.yaml"), "--log-level", "debug"},
                          {}, dir_.File("serve.log"));
    ASSERT_TRUE(signet::testing::WaitForPort(health_port_, kGenerous)) << Log();
    ASSERT_TRUE(signet::testing::WaitForPort(port_, kGenerous)) << Log();
  }

  std::string Log() const { return signet::testing::ReadFile(dir_.File("serve.log")); }

  // GET on the plain-HTTP health listener.
  ClientResponse Health(const std::string& path) const {
    HttpClient client;
    return client.Request("GET", "http://127.0.0.1:" + std::to_string(health_port_) + path);
  }

  // A metric's value as the health listener's /metrics shows it; -1 when absent.
  double Metric(const std::string& name) const {
    return signet::testing::FindMetricSample(Health("/metrics").body, name).value_or(-1);
  }

  // POSTs a ProviderRequest for one image (on a port where no registry
  // listens, so the answer is a quick item error) over TLS from `source`.
  ClientResponse Validate(const std::string& source) const {
    ClientTls tls;
    tls.ca_file = ca_.cert_file;
    HttpClient client(tls, source);
    const std::string body =
        json{{"apiVersion", "externaldata.gatekeeper.sh/v1beta1"},
             {"kind", "ProviderRequest"},
             {"request", {{"keys", {"127.0.0.1:1/flood/app@sha256:" + std::string(64, 'a')}}}}}
            .dump();
    return client.Request("POST", "https://127.0.0.1:" + std::to_string(port_) + "/validate", body,
                          {{"Content-Type", "application/json"}});
  }

  // The answer is a ProviderResponse with one item, refused with a reason.
  static void ExpectAnswered(const ClientResponse& r) {
    ASSERT_TRUE(r.transport_ok) << r.error;
    ASSERT_EQ(r.status, 200) << r.body;
    const json items = json::parse(r.body).at("response").at("items");
    ASSERT_EQ(items.size(), 1u) << r.body;
    EXPECT_NE(items[0].value("error", "").find("_invalid: "), std::string::npos) << r.body;
  }

  TempDir dir_;
  std::unique_ptr<signet::testing::TestPki> pki_;
  signet::testing::CertFiles ca_;
  signet::testing::CertFiles cert_;
  ChildProcess serve_;
  int port_ = 0;
  int health_port_ = 0;
};

TEST_F(ConnectionFloodTest, OnePeersFloodLeavesHealthAndOtherPeersServed) {
  // Idle connections stay for the whole test (a long handshake timeout), so
  // everything below happens while the flood holds its slots.
  ASSERT_NO_FATAL_FAILURE(
      StartServe("  maxConnections: 120\n  maxConnectionsPerPeer: 40\n  handshakeTimeout: 5m\n"));
  // Positive control before the flood: the flooding address itself is served.
  ExpectAnswered(Validate("127.0.0.1"));
  ASSERT_TRUE(Eventually([&] { return Metric("signet_http_connections_active") == 0; }, kGenerous));

  // 200 idle connections from one peer: more than the server's 120 slots.
  Flood flood;
  ASSERT_NO_FATAL_FAILURE(OpenIdle(flood, port_, "127.0.0.1", 200));
  ASSERT_TRUE(Eventually(
      [&] { return Metric("signet_http_connections_rejected_per_peer_total") >= 160; }, kGenerous))
      << Metric("signet_http_connections_rejected_per_peer_total");
  EXPECT_TRUE(Eventually([&] { return StillOpen(flood) == 40; }, kGenerous)) << StillOpen(flood);
  EXPECT_EQ(Metric("signet_http_connections_active"), 40);
  EXPECT_EQ(Metric("signet_http_connections_rejected_total"), 0);

  // (a) the health listener answers; (b) another peer's /validate is answered.
  const ClientResponse healthz = Health("/healthz");
  ASSERT_TRUE(healthz.transport_ok) << healthz.error;
  EXPECT_EQ(healthz.status, 200);
  EXPECT_EQ(Health("/readyz").status, 200);
  ExpectAnswered(Validate("127.0.0.2"));

  // Two more peers take the remaining 80 slots: now the main port is full
  // for everyone, and the health listener still answers.
  ASSERT_NO_FATAL_FAILURE(OpenIdle(flood, port_, "127.0.0.3", 40));
  ASSERT_NO_FATAL_FAILURE(OpenIdle(flood, port_, "127.0.0.4", 40));
  ASSERT_TRUE(
      Eventually([&] { return Metric("signet_http_connections_active") == 120; }, kGenerous))
      << Metric("signet_http_connections_active");
  const ClientResponse refused = Validate("127.0.0.2");
  EXPECT_FALSE(refused.transport_ok && refused.status == 200) << refused.body;
  EXPECT_GE(Metric("signet_http_connections_rejected_total"), 1);
  EXPECT_EQ(Health("/healthz").status, 200);
  EXPECT_EQ(Health("/readyz").status, 200);

  // The flood ends: its slots come back and every peer is served again.
  flood.clear();
  ASSERT_TRUE(Eventually([&] { return Metric("signet_http_connections_active") == 0; }, kGenerous))
      << Metric("signet_http_connections_active");
  ExpectAnswered(Validate("127.0.0.1"));
  ExpectAnswered(Validate("127.0.0.2"));
  EXPECT_TRUE(serve_.Running()) << Log();
}

TEST_F(ConnectionFloodTest, IdleConnectionsAreClosedAfterTheHandshakeTimeout) {
  // A header timeout of a minute: only the handshake timeout can close the
  // idle connections within the wait below.
  ASSERT_NO_FATAL_FAILURE(
      StartServe("  maxConnectionsPerPeer: 40\n  handshakeTimeout: 1s\n  headerTimeout: 1m\n"));
  const double timeouts_before = Metric("signet_tls_handshake_timeouts_total");
  ASSERT_GE(timeouts_before, 0);

  Flood flood;
  ASSERT_NO_FATAL_FAILURE(OpenIdle(flood, port_, "127.0.0.1", 30));  // under the per-peer limit
  for (const auto& connection : flood) {
    EXPECT_TRUE(connection->WaitForClose(kGenerous));
  }
  EXPECT_TRUE(Eventually(
      [&] { return Metric("signet_tls_handshake_timeouts_total") >= timeouts_before + 30; },
      kGenerous))
      << Metric("signet_tls_handshake_timeouts_total");
  EXPECT_EQ(Metric("signet_http_connections_rejected_per_peer_total"), 0);

  // Positive control: a client that finished its handshake is not cut off by
  // the handshake timeout, however long it then takes to send its request.
  TlsConnection slow(port_, ca_.cert_file);
  ASSERT_TRUE(slow.handshake_ok());
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const std::string answer =
      slow.Exchange("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer;
  EXPECT_TRUE(serve_.Running()) << Log();
}

}  // namespace
}  // namespace signet

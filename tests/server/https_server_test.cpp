// HttpsServer over real TLS on 127.0.0.1, with openssl-made certificates and
// libcurl as the client.
#include "signet/server/https_server.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "server/server_test_support.h"
#include "signet/server/standard_routes.h"
#include "support/paths.h"
#include "support/pki.h"
#include "support/process.h"

namespace signet::server {
namespace {

using signet::testing::CertFiles;
using signet::testing::ClientResponse;
using signet::testing::ClientTls;
using signet::testing::Eventually;
using signet::testing::HttpClient;
using signet::testing::LeafSpec;
using signet::testing::RawConnection;
using signet::testing::StartServer;
using signet::testing::TempDir;
using signet::testing::TestPki;
using signet::testing::TlsConnection;

constexpr char kGatekeeperName[] = "gatekeeper-webhook-service.gatekeeper-system.svc";

class HttpsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = std::make_unique<TestPki>(dir_.path());
    ca_ = pki_->CreateCa("ca", "signet test CA");
    server_cert_ = pki_->IssueLoopbackServer(ca_, "server");
  }

  ServerOptions TlsOptions() const {
    ServerOptions options;
    options.cert_file = server_cert_.cert_file;
    options.key_file = server_cert_.key_file;
    options.io_threads = 1;
    options.handler_threads = 2;
    return options;
  }

  // GET /whoami answers "<client subject>|<request id>|<peer>".
  static Router EchoRouter() {
    Router router;
    router.Handle("GET", "/whoami", [](const HttpRequest& r) {
      return HttpResponse{200, "text/plain",
                          r.client_cert_subject + "|" + r.request_id + "|" + r.peer};
    });
    router.Handle("POST", "/validate", [](const HttpRequest& r) {
      return HttpResponse{200, "application/json", "ok " + std::to_string(r.body.size())};
    });
    return router;
  }

  // A client certificate like Gatekeeper's webhook certificate.
  CertFiles GatekeeperClientCert(const CertFiles& ca, const std::string& name,
                                 bool client_auth = true) {
    LeafSpec spec;
    spec.common_name = kGatekeeperName;
    spec.dns_names = {kGatekeeperName};
    spec.server_auth = true;
    spec.client_auth = client_auth;
    return pki_->IssueLeaf(ca, name, spec);
  }

  // The handshake limit (300 ms) far below the header limit (a minute).
  std::unique_ptr<HttpsServer> StartWithShortHandshake(MetricsRegistry* metrics) const {
    ServerOptions options = TlsOptions();
    options.handshake_timeout = std::chrono::milliseconds(300);
    options.header_timeout = std::chrono::seconds(60);
    return StartServer(options, EchoRouter(), metrics);
  }

  ClientTls TrustingClient() const { return ClientTls{ca_.cert_file, "", "", false, false}; }
  ClientTls ClientWith(const CertFiles& cert) const {
    return ClientTls{ca_.cert_file, cert.cert_file, cert.key_file, false, false};
  }
  static std::string Url(const HttpsServer& srv, const std::string& path) {
    return "https://127.0.0.1:" + std::to_string(srv.port()) + path;
  }

  TempDir dir_;
  std::unique_ptr<TestPki> pki_;
  CertFiles ca_;
  CertFiles server_cert_;
};

TEST_F(HttpsServerTest, ServesTls13AndKeepsASaneRequestId) {
  auto srv = StartServer(TlsOptions(), EchoRouter(), nullptr);
  ASSERT_NE(srv, nullptr);
  ClientTls tls = TrustingClient();
  tls.tls13_only = true;
  HttpClient client(tls);

  const ClientResponse r =
      client.Request("GET", Url(*srv, "/whoami"), "", {{"X-Request-Id", "abc-123"}});
  ASSERT_TRUE(r.transport_ok) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("|abc-123|127.0.0.1:"), std::string::npos) << r.body;
  EXPECT_EQ(r.headers.at("x-request-id"), "abc-123");
  EXPECT_EQ(r.headers.at("cache-control"), "no-store");

  const ClientResponse generated =
      client.Request("GET", Url(*srv, "/whoami"), "", {{"X-Request-Id", "not sane {}"}});
  ASSERT_TRUE(generated.transport_ok) << generated.error;
  const std::string id = generated.headers.at("x-request-id");
  EXPECT_EQ(id.size(), 32u) << id;
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
}

TEST_F(HttpsServerTest, RefusesTls12ClientByDefault) {
  MetricsRegistry metrics;
  auto srv = StartServer(TlsOptions(), EchoRouter(), &metrics);
  ASSERT_NE(srv, nullptr);
  ClientTls tls = TrustingClient();
  tls.tls12_only = true;
  HttpClient client(tls);
  const ClientResponse r = client.Request("GET", Url(*srv, "/whoami"));
  EXPECT_FALSE(r.transport_ok) << "status " << r.status;
  Counter& failures = metrics.GetCounter("signet_tls_handshake_failures_total", "");
  EXPECT_TRUE(Eventually([&] { return failures.Value() >= 1; }));
}

TEST_F(HttpsServerTest, AcceptsTls12ClientWhenMinimumIs12) {
  ServerOptions options = TlsOptions();
  options.tls_min_version = "1.2";
  auto srv = StartServer(options, EchoRouter(), nullptr);
  ASSERT_NE(srv, nullptr);
  ClientTls tls = TrustingClient();
  tls.tls12_only = true;
  HttpClient client(tls);
  const ClientResponse r = client.Request("GET", Url(*srv, "/whoami"));
  ASSERT_TRUE(r.transport_ok) << r.error;
  EXPECT_EQ(r.status, 200);
}

TEST_F(HttpsServerTest, RejectsUnknownTlsMinimumVersion) {
  ServerOptions options = TlsOptions();
  options.tls_min_version = "1.1";
  auto created = HttpsServer::Create(options, EchoRouter(), nullptr);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code(), ErrorCode::kInvalidArgument);
}

TEST_F(HttpsServerTest, MissingCertificateFailsCreateWithReason) {
  ServerOptions options = TlsOptions();
  options.cert_file = dir_.File("absent.crt");
  auto created = HttpsServer::Create(options, EchoRouter(), nullptr);
  ASSERT_FALSE(created.ok());
  EXPECT_NE(created.error().message().find("absent.crt"), std::string::npos)
      << created.error().message();
}

TEST_F(HttpsServerTest, MutualTlsAcceptsGatekeeperLikeClient) {
  ServerOptions options = TlsOptions();
  options.client_ca_file = ca_.cert_file;
  auto srv = StartServer(options, EchoRouter(), nullptr);
  ASSERT_NE(srv, nullptr);
  HttpClient client(ClientWith(GatekeeperClientCert(ca_, "gatekeeper")));
  const ClientResponse r = client.Request("GET", Url(*srv, "/whoami"));
  ASSERT_TRUE(r.transport_ok) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.rfind(std::string("CN=") + kGatekeeperName, 0), 0u) << r.body;
}

TEST_F(HttpsServerTest, MutualTlsRefusesClientWithoutCertificate) {
  ServerOptions options = TlsOptions();
  options.client_ca_file = ca_.cert_file;
  MetricsRegistry metrics;
  auto srv = StartServer(options, EchoRouter(), &metrics);
  ASSERT_NE(srv, nullptr);
  HttpClient client(TrustingClient());
  const ClientResponse r = client.Request("GET", Url(*srv, "/whoami"));
  EXPECT_FALSE(r.transport_ok) << "status " << r.status << " body " << r.body;
  Counter& failures = metrics.GetCounter("signet_tls_handshake_failures_total", "");
  EXPECT_TRUE(Eventually([&] { return failures.Value() >= 1; }));
}

TEST_F(HttpsServerTest, MutualTlsRefusesCertificateFromAnotherCa) {
  ServerOptions options = TlsOptions();
  options.client_ca_file = ca_.cert_file;
  auto srv = StartServer(options, EchoRouter(), nullptr);
  ASSERT_NE(srv, nullptr);
  const CertFiles other_ca = pki_->CreateCa("other-ca", "gatekeeper-ca");
  HttpClient client(ClientWith(GatekeeperClientCert(other_ca, "impostor")));
  const ClientResponse r = client.Request("GET", Url(*srv, "/whoami"));
  EXPECT_FALSE(r.transport_ok) << "status " << r.status << " body " << r.body;
}

TEST_F(HttpsServerTest, MutualTlsRefusesCertificateWithoutClientAuthUsage) {
  ServerOptions options = TlsOptions();
  options.client_ca_file = ca_.cert_file;
  auto srv = StartServer(options, EchoRouter(), nullptr);
  ASSERT_NE(srv, nullptr);
  HttpClient client(ClientWith(GatekeeperClientCert(ca_, "server-only", false)));
  const ClientResponse r = client.Request("GET", Url(*srv, "/whoami"));
  EXPECT_FALSE(r.transport_ok) << "status " << r.status << " body " << r.body;
}

TEST_F(HttpsServerTest, MutualTlsSanPinAcceptsMatchAndRefusesMismatch) {
  const CertFiles gatekeeper = GatekeeperClientCert(ca_, "gatekeeper");
  ServerOptions options = TlsOptions();
  options.client_ca_file = ca_.cert_file;

  options.client_sans = {"someone-else.example", kGatekeeperName};
  auto pinned_ok = StartServer(options, EchoRouter(), nullptr);
  ASSERT_NE(pinned_ok, nullptr);
  HttpClient client(ClientWith(gatekeeper));
  const ClientResponse accepted = client.Request("GET", Url(*pinned_ok, "/whoami"));
  ASSERT_TRUE(accepted.transport_ok) << accepted.error;
  EXPECT_EQ(accepted.status, 200);

  options.client_sans = {"gatekeeper-webhook-service.other-namespace.svc"};
  auto pinned_other = StartServer(options, EchoRouter(), nullptr);
  ASSERT_NE(pinned_other, nullptr);
  HttpClient refused_client(ClientWith(gatekeeper));
  const ClientResponse refused = refused_client.Request("GET", Url(*pinned_other, "/whoami"));
  EXPECT_FALSE(refused.transport_ok) << "status " << refused.status;
}

TEST_F(HttpsServerTest, PicksUpReplacedCertificateAndKeepsItWhenReplacementIsBroken) {
  namespace fs = std::filesystem;
  auto issue = [&](const std::string& name) {
    LeafSpec spec;
    spec.common_name = name;
    spec.dns_names = {"localhost"};
    spec.ip_addresses = {"127.0.0.1"};
    return pki_->IssueLeaf(ca_, name, spec);
  };
  const CertFiles one = issue("server-one");
  const CertFiles two = issue("server-two");
  const std::string cert = dir_.File("tls.crt");
  const std::string key = dir_.File("tls.key");
  // Replace files the way a Secret volume update does: write aside, rename in.
  auto install = [&](const std::string& from, const std::string& to) {
    fs::copy_file(from, to + ".new", fs::copy_options::overwrite_existing);
    fs::rename(to + ".new", to);
  };
  install(one.cert_file, cert);
  install(one.key_file, key);

  ServerOptions options = TlsOptions();
  options.cert_file = cert;
  options.key_file = key;
  auto srv = StartServer(options, EchoRouter(), nullptr);
  ASSERT_NE(srv, nullptr);
  auto served_subject = [&] {
    HttpClient client(TrustingClient());  // a new connection each time
    const ClientResponse r = client.Request("GET", Url(*srv, "/whoami"));
    return r.transport_ok ? r.server_cert_subject : "error: " + r.error;
  };
  EXPECT_NE(served_subject().find("server-one"), std::string::npos) << served_subject();

  install(two.key_file, key);
  install(two.cert_file, cert);
  EXPECT_TRUE(Eventually([&] { return served_subject().find("server-two") != std::string::npos; }))
      << served_subject();

  signet::testing::WriteFile(cert + ".new", "-----BEGIN CERTIFICATE-----\nnot a cert\n");
  fs::rename(cert + ".new", cert);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // past the 1 s check interval
  EXPECT_NE(served_subject().find("server-two"), std::string::npos) << served_subject();
}

TEST_F(HttpsServerTest, PicksUpReplacedClientCa) {
  namespace fs = std::filesystem;
  const CertFiles next_ca = pki_->CreateCa("next-ca", "gatekeeper-ca");
  const CertFiles old_client = GatekeeperClientCert(ca_, "old-client");
  const CertFiles new_client = GatekeeperClientCert(next_ca, "new-client");
  const std::string client_ca = dir_.File("client-ca.crt");
  fs::copy_file(ca_.cert_file, client_ca);

  ServerOptions options = TlsOptions();
  options.client_ca_file = client_ca;
  auto srv = StartServer(options, EchoRouter(), nullptr);
  ASSERT_NE(srv, nullptr);
  auto accepted = [&](const CertFiles& cert) {
    HttpClient client(ClientWith(cert));  // a new connection each time
    return client.Request("GET", Url(*srv, "/whoami")).status == 200;
  };
  EXPECT_TRUE(accepted(old_client));
  EXPECT_FALSE(accepted(new_client));

  fs::copy_file(next_ca.cert_file, client_ca + ".new");
  fs::rename(client_ca + ".new", client_ca);
  EXPECT_TRUE(Eventually([&] { return accepted(new_client); }));
  EXPECT_FALSE(accepted(old_client));
}

TEST_F(HttpsServerTest, OversizedBodyGoesToRejectionHook) {
  ServerOptions options = TlsOptions();
  options.max_body_bytes = 1024;
  Router router = EchoRouter();
  router.OnRejected([](RejectionKind kind, const HttpRequest& r) {
    return HttpResponse{
        200, "application/json",
        "{\"systemError\":\"" + std::string(RejectionKindName(kind)) + " " + r.path + "\"}"};
  });
  auto srv = StartServer(options, std::move(router), nullptr);
  ASSERT_NE(srv, nullptr);

  HttpClient small_client(TrustingClient());
  const ClientResponse small =
      small_client.Request("POST", Url(*srv, "/validate"), std::string(1000, 'a'));
  ASSERT_TRUE(small.transport_ok) << small.error;
  EXPECT_EQ(small.body, "ok 1000");

  HttpClient big_client(TrustingClient());
  const ClientResponse big =
      big_client.Request("POST", Url(*srv, "/validate"), std::string(64 * 1024, 'a'));
  ASSERT_TRUE(big.transport_ok) << big.error;
  EXPECT_EQ(big.status, 200);
  EXPECT_EQ(big.body, "{\"systemError\":\"body_too_large /validate\"}");
  EXPECT_EQ(big.headers.at("connection"), "close");

  HttpClient chunked_client(TrustingClient());
  const ClientResponse chunked = chunked_client.Request(
      "POST", Url(*srv, "/validate"), std::string(64 * 1024, 'a'), {}, /*chunked_body=*/true);
  ASSERT_TRUE(chunked.transport_ok) << chunked.error;
  EXPECT_EQ(chunked.body, "{\"systemError\":\"body_too_large /validate\"}");

  HttpClient small_chunked_client(TrustingClient());
  const ClientResponse small_chunked = small_chunked_client.Request(
      "POST", Url(*srv, "/validate"), std::string(700, 'b'), {}, /*chunked_body=*/true);
  ASSERT_TRUE(small_chunked.transport_ok) << small_chunked.error;
  EXPECT_EQ(small_chunked.body, "ok 700");
}

TEST_F(HttpsServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  MetricsRegistry metrics;
  auto srv = StartServer(TlsOptions(), EchoRouter(), &metrics);
  ASSERT_NE(srv, nullptr);
  HttpClient client(TrustingClient());
  const ClientResponse first = client.Request("GET", Url(*srv, "/whoami"));
  const ClientResponse second = client.Request("GET", Url(*srv, "/whoami"));
  ASSERT_TRUE(first.transport_ok && second.transport_ok) << first.error << second.error;
  EXPECT_EQ(first.new_connections, 1);
  EXPECT_EQ(second.new_connections, 0);
  // Same client port on the server side: the same TCP connection.
  const auto peer = [](const std::string& body) { return body.substr(body.rfind('|') + 1); };
  EXPECT_EQ(peer(first.body), peer(second.body));
  EXPECT_EQ(metrics.GetCounter("signet_http_connections_accepted_total", "").Value(), 1.0);
}

TEST_F(HttpsServerTest, ClientThatNeverHandshakesIsCutOff) {
  // The handshake has a short limit of its own: with a header timeout of a
  // minute, a connection that never starts TLS is still closed quickly.
  MetricsRegistry metrics;
  auto srv = StartWithShortHandshake(&metrics);
  ASSERT_NE(srv, nullptr);
  RawConnection silent(srv->port());
  ASSERT_GE(silent.fd(), 0);
  EXPECT_TRUE(silent.WaitForClose(std::chrono::seconds(20)));
  Counter& failures = metrics.GetCounter("signet_tls_handshake_failures_total", "");
  EXPECT_TRUE(Eventually([&] { return failures.Value() >= 1; }));
  EXPECT_EQ(metrics.GetCounter("signet_tls_handshake_timeouts_total", "").Value(), 1.0);
}

TEST_F(HttpsServerTest, HandshakeTimeoutDoesNotCutOffAClientThatFinishedItsHandshake) {
  // Positive control for the test above: once the handshake is done, the
  // (longer) header timeout applies, however short the handshake limit.
  MetricsRegistry metrics;
  auto srv = StartWithShortHandshake(&metrics);
  ASSERT_NE(srv, nullptr);
  TlsConnection client(srv->port(), ca_.cert_file);
  ASSERT_TRUE(client.handshake_ok());
  std::this_thread::sleep_for(std::chrono::seconds(2));  // well past the handshake limit
  const std::string answer =
      client.Exchange("GET /whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer;
  EXPECT_EQ(metrics.GetCounter("signet_tls_handshake_timeouts_total", "").Value(), 0.0);
}

TEST_F(HttpsServerTest, PerPeerLimitClosesExtraConnectionsAtAcceptAndSparesOtherPeers) {
  ServerOptions options = TlsOptions();
  options.handshake_timeout = std::chrono::seconds(60);  // idle connections stay
  options.max_connections = 100;
  options.max_connections_per_peer = 3;
  MetricsRegistry metrics;
  auto srv = StartServer(options, EchoRouter(), &metrics);
  ASSERT_NE(srv, nullptr);
  Gauge& active = metrics.GetGauge("signet_http_connections_active", "");
  Counter& per_peer = metrics.GetCounter("signet_http_connections_rejected_per_peer_total", "");

  // Under the limit: connections from 127.0.0.1 are accepted and kept.
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 3; ++i) {
    idle.push_back(std::make_unique<RawConnection>(srv->port()));
    ASSERT_GE(idle.back()->fd(), 0);
  }
  ASSERT_TRUE(Eventually([&] { return active.Value() == 3; })) << active.Value();
  // Over it: closed at once, and counted.
  RawConnection extra(srv->port());
  ASSERT_GE(extra.fd(), 0);
  EXPECT_TRUE(extra.WaitForClose(std::chrono::seconds(20)));
  EXPECT_TRUE(Eventually([&] { return per_peer.Value() == 1; })) << per_peer.Value();
  EXPECT_EQ(metrics.GetCounter("signet_http_connections_rejected_total", "").Value(), 0.0);

  // Another peer address is served meanwhile.
  HttpClient client(TrustingClient(), "127.0.0.2");
  const ClientResponse r = client.Request("GET", Url(*srv, "/whoami"));
  ASSERT_TRUE(r.transport_ok) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("|127.0.0.2:"), std::string::npos) << r.body;

  // A closed connection gives its slot back to its peer.
  idle.pop_back();
  ASSERT_TRUE(Eventually([&] { return active.Value() <= 3; })) << active.Value();
  TlsConnection again(srv->port(), ca_.cert_file);
  ASSERT_TRUE(again.handshake_ok());
  const std::string answer =
      again.Exchange("GET /whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer;
  EXPECT_EQ(per_peer.Value(), 1.0);
}

TEST_F(HttpsServerTest, RejectsZeroPerPeerLimitAndZeroHandshakeTimeout) {
  ServerOptions options = TlsOptions();
  options.max_connections_per_peer = 0;
  EXPECT_FALSE(HttpsServer::Create(options, EchoRouter(), nullptr).ok());
  options = TlsOptions();
  options.handshake_timeout = std::chrono::milliseconds(0);
  EXPECT_FALSE(HttpsServer::Create(options, EchoRouter(), nullptr).ok());
  EXPECT_TRUE(HttpsServer::Create(TlsOptions(), EchoRouter(), nullptr).ok());
}

TEST_F(HttpsServerTest, MetricsEndpointExportsBuiltInMetrics) {
  MetricsRegistry metrics;
  Router router = EchoRouter();
  AddStandardRoutes(router, metrics, [] { return true; });
  auto srv = StartServer(TlsOptions(), std::move(router), &metrics);
  ASSERT_NE(srv, nullptr);
  HttpClient client(TrustingClient());
  ASSERT_EQ(client.Request("GET", Url(*srv, "/whoami")).status, 200);
  ASSERT_EQ(client.Request("GET", Url(*srv, "/no/such/path")).status, 404);
  ASSERT_EQ(client.Request("GET", Url(*srv, "/readyz")).status, 200);
  const ClientResponse r = client.Request("GET", Url(*srv, "/metrics"));
  ASSERT_TRUE(r.transport_ok) << r.error;
  EXPECT_EQ(r.headers.at("content-type"), MetricsRegistry::kContentType);
  const std::string& text = r.body;
  for (const std::string expected : {
           "# TYPE signet_http_requests_total counter\n",
           "signet_http_requests_total{code=\"200\",path=\"/whoami\"} 1\n",
           "signet_http_requests_total{code=\"404\",path=\"other\"} 1\n",
           "# TYPE signet_http_request_duration_seconds histogram\n",
           "signet_http_request_duration_seconds_bucket{path=\"/whoami\",le=\"+Inf\"} 1\n",
           "signet_http_request_duration_seconds_count{path=\"/whoami\"} 1\n",
           "signet_http_request_duration_seconds_sum{path=\"/whoami\"} ",
           "# HELP signet_http_requests_in_flight ",
           "signet_http_requests_in_flight 1\n",  // the /metrics request itself
           "signet_http_connections_active 1\n",
           "# TYPE signet_tls_handshake_failures_total counter\n",
       }) {
    EXPECT_NE(text.find(expected), std::string::npos) << "missing: " << expected << "\n" << text;
  }
}

}  // namespace
}  // namespace signet::server

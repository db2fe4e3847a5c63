// HttpsServer limits, timeouts, the handler pool and graceful shutdown. Plain
// HTTP (insecure_http) on 127.0.0.1 keeps the raw-socket clients simple; the
// transport code under test is the same as for TLS.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/server_test_support.h"
#include "signet/server/https_server.h"

namespace signet::server {
namespace {

using signet::testing::ClientResponse;
using signet::testing::Eventually;
using signet::testing::HttpClient;
using signet::testing::RawConnection;
using signet::testing::StartServer;

ServerOptions PlainOptions() {
  ServerOptions options;
  options.insecure_http = true;
  options.io_threads = 1;
  options.handler_threads = 2;
  return options;
}

Router HelloRouter() {
  Router router;
  router.Handle("GET", "/hello", [](const HttpRequest&) {
    return HttpResponse{200, "text/plain", "hello"};
  });
  return router;
}

std::string Url(const HttpsServer& srv, const std::string& path) {
  return "http://127.0.0.1:" + std::to_string(srv.port()) + path;
}

TEST(ServerLifecycleTest, PlainHttpServesWhenExplicitlyInsecure) {
  auto srv = StartServer(PlainOptions(), HelloRouter(), nullptr);
  ASSERT_NE(srv, nullptr);
  EXPECT_TRUE(srv->ready());
  HttpClient client;
  const ClientResponse r = client.Request("GET", Url(*srv, "/hello"));
  ASSERT_TRUE(r.transport_ok) << r.error;
  EXPECT_EQ(r.body, "hello");
}

TEST(ServerLifecycleTest, TlsIsRequiredUnlessInsecureHttpIsSet) {
  ServerOptions options;  // neither certificate nor insecure_http
  auto created = HttpsServer::Create(options, HelloRouter(), nullptr);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code(), ErrorCode::kInvalidArgument);
}

TEST(ServerLifecycleTest, SlowHeaderClientIsDisconnected) {
  ServerOptions options = PlainOptions();
  options.header_timeout = std::chrono::milliseconds(300);
  auto srv = StartServer(options, HelloRouter(), nullptr);
  ASSERT_NE(srv, nullptr);
  RawConnection slow(srv->port());
  ASSERT_GE(slow.fd(), 0);
  ASSERT_TRUE(slow.Send("GET /hello HTTP/1.1\r\nHost: x\r\n"));  // headers never finish
  std::string received;
  EXPECT_TRUE(slow.WaitForClose(std::chrono::seconds(20), &received));
  EXPECT_EQ(received, "");

  // A prompt client on the same server is served.
  RawConnection prompt(srv->port());
  ASSERT_TRUE(prompt.Send("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  std::string answer;
  EXPECT_TRUE(prompt.WaitForClose(std::chrono::seconds(20), &answer));
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer;
}

TEST(ServerLifecycleTest, SlowBodyClientIsDisconnected) {
  ServerOptions options = PlainOptions();
  options.read_timeout = std::chrono::milliseconds(300);
  Router router = HelloRouter();
  std::atomic<int> handled{0};
  router.Handle("POST", "/hello", [&handled](const HttpRequest&) {
    ++handled;
    return HttpResponse{};
  });
  auto srv = StartServer(options, std::move(router), nullptr);
  ASSERT_NE(srv, nullptr);
  RawConnection slow(srv->port());
  ASSERT_TRUE(slow.Send("POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123"));
  EXPECT_TRUE(slow.WaitForClose(std::chrono::seconds(20)));
  EXPECT_EQ(handled.load(), 0);
}

TEST(ServerLifecycleTest, MalformedRequestGetsBadRequestAndClose) {
  auto srv = StartServer(PlainOptions(), HelloRouter(), nullptr);
  ASSERT_NE(srv, nullptr);
  RawConnection garbage(srv->port());
  ASSERT_TRUE(garbage.Send("THIS IS NOT HTTP\r\n\r\n"));
  std::string answer;
  EXPECT_TRUE(garbage.WaitForClose(std::chrono::seconds(20), &answer));
  EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
  EXPECT_NE(answer.find("bad_request"), std::string::npos) << answer;
}

TEST(ServerLifecycleTest, MaxConnectionsIsEnforced) {
  ServerOptions options = PlainOptions();
  options.max_connections = 2;
  options.header_timeout = std::chrono::seconds(60);  // silent clients stay connected
  MetricsRegistry metrics;
  auto srv = StartServer(options, HelloRouter(), &metrics);
  ASSERT_NE(srv, nullptr);
  Gauge& active = metrics.GetGauge("signet_http_connections_active", "");
  Counter& rejected = metrics.GetCounter("signet_http_connections_rejected_total", "");

  auto first = std::make_unique<RawConnection>(srv->port());
  RawConnection second(srv->port());
  ASSERT_TRUE(Eventually([&] { return active.Value() == 2; }));
  RawConnection third(srv->port());
  EXPECT_TRUE(third.WaitForClose(std::chrono::seconds(20)));
  EXPECT_EQ(rejected.Value(), 1.0);

  // Once a slot frees up, a new client is served again.
  first.reset();
  ASSERT_TRUE(Eventually([&] { return active.Value() == 1; }));
  HttpClient client;
  const ClientResponse r = client.Request("GET", Url(*srv, "/hello"));
  ASSERT_TRUE(r.transport_ok) << r.error;
  EXPECT_EQ(r.status, 200);
}

// Counts arrivals; every caller blocks until `expected` have arrived (or a
// generous timeout passes, so a broken server fails the test instead of hanging).
class Rendezvous {
 public:
  explicit Rendezvous(int expected) : expected_(expected) {}
  bool ArriveAndWait() {
    std::unique_lock<std::mutex> lock(mutex_);
    ++arrived_;
    cv_.notify_all();
    return cv_.wait_for(lock, std::chrono::seconds(20), [this] { return arrived_ >= expected_; });
  }

 private:
  const int expected_;
  int arrived_ = 0;
  std::mutex mutex_;
  std::condition_variable cv_;
};

TEST(ServerLifecycleTest, HandlersRunConcurrentlyOnThePool) {
  constexpr int kParallel = 4;
  ServerOptions options = PlainOptions();
  options.handler_threads = kParallel;
  Rendezvous rendezvous(kParallel);
  Router router;
  router.Handle("GET", "/meet", [&rendezvous](const HttpRequest&) {
    return HttpResponse{rendezvous.ArriveAndWait() ? 200 : 504, "text/plain", ""};
  });
  auto srv = StartServer(options, std::move(router), nullptr);
  ASSERT_NE(srv, nullptr);
  std::vector<std::future<long>> statuses;
  for (int i = 0; i < kParallel; ++i) {
    statuses.push_back(std::async(std::launch::async, [&] {
      HttpClient client;
      return client.Request("GET", Url(*srv, "/meet")).status;
    }));
  }
  for (auto& status : statuses) EXPECT_EQ(status.get(), 200);
}

TEST(ServerLifecycleTest, ShutdownDrainsInFlightRequestAndRefusesNewConnections) {
  std::promise<void> started;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  Router router = HelloRouter();
  router.Handle("GET", "/slow", [&started, released](const HttpRequest&) {
    started.set_value();
    released.wait_for(std::chrono::seconds(20));
    return HttpResponse{200, "text/plain", "done"};
  });
  auto srv = StartServer(PlainOptions(), std::move(router), nullptr);
  ASSERT_NE(srv, nullptr);
  const int port = srv->port();

  // An idle keep-alive connection, which shutdown closes.
  RawConnection idle(port);
  ASSERT_TRUE(idle.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string idle_answer;
  ASSERT_TRUE(idle.ReadUntil("hello", std::chrono::seconds(20), &idle_answer));
  EXPECT_EQ(idle_answer.rfind("HTTP/1.1 200", 0), 0u) << idle_answer;

  auto in_flight = std::async(std::launch::async, [&] {
    HttpClient client;
    return client.Request("GET", Url(*srv, "/slow"));
  });
  started.get_future().wait();
  srv->Shutdown(std::chrono::seconds(20));
  EXPECT_FALSE(srv->ready());

  EXPECT_TRUE(Eventually([&] { return RawConnection(port).fd() < 0; }))
      << "still accepting connections after Shutdown";
  EXPECT_TRUE(idle.WaitForClose(std::chrono::seconds(20)))
      << "idle keep-alive connection left open during drain";

  release.set_value();
  const ClientResponse r = in_flight.get();
  ASSERT_TRUE(r.transport_ok) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "done");
  EXPECT_EQ(r.headers.at("connection"), "close");
  srv->Wait();
}

TEST(ServerLifecycleTest, SigtermTriggersGracefulShutdown) {
  auto srv = StartServer(PlainOptions(), HelloRouter(), nullptr);
  ASSERT_NE(srv, nullptr);
  std::promise<int> seen;
  srv->ShutdownOnSignals(std::chrono::seconds(5), [&seen](int signo) { seen.set_value(signo); });
  ASSERT_EQ(::raise(SIGTERM), 0);
  auto signo = seen.get_future();
  ASSERT_EQ(signo.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  EXPECT_EQ(signo.get(), SIGTERM);
  srv->Wait();
  EXPECT_FALSE(srv->ready());
  EXPECT_LT(RawConnection(srv->port()).fd(), 0);
}

}  // namespace
}  // namespace signet::server

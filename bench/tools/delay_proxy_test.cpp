// DelayProxy against a real echo server on loopback: bytes arrive intact, in
// order, with the end of stream passed on, never before the added latency
// (lower bounds only: a slow machine cannot make these fail), and one stalled
// connection does not hold up another.
#include "delay_proxy.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <thread>
#include <vector>

namespace signet::bench {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Echoes every byte back on the connection it came from, and ends its side
// of the stream when the client has ended its own.
class EchoServer {
 public:
  explicit EchoServer(net::io_context& io)
      : acceptor_(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {
    Accept();
  }
  tcp::endpoint endpoint() const { return acceptor_.local_endpoint(); }

 private:
  struct Session : std::enable_shared_from_this<Session> {
    explicit Session(tcp::socket s) : socket(std::move(s)) {}
    void Read() {
      socket.async_read_some(net::buffer(buffer), [self = shared_from_this()](
                                                      boost::system::error_code ec, std::size_t n) {
        if (ec) {
          boost::system::error_code ignored;
          self->socket.shutdown(tcp::socket::shutdown_send, ignored);
          return;
        }
        net::async_write(self->socket, net::buffer(self->buffer.data(), n),
                         [self](boost::system::error_code write_ec, std::size_t) {
                           if (!write_ec) self->Read();
                         });
      });
    }
    tcp::socket socket;
    std::vector<char> buffer = std::vector<char>(16 * 1024);
  };
  void Accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) return;
      std::make_shared<Session>(std::move(socket))->Read();
      Accept();
    });
  }
  tcp::acceptor acceptor_;
};

// An echo server and a DelayProxy in front of it, run by one thread.
class DelayProxyTest : public ::testing::Test {
 protected:
  void StartProxy(std::chrono::microseconds round_trip, tcp::endpoint upstream = {}) {
    DelayProxyOptions options;
    options.listen = tcp::endpoint(net::ip::make_address("127.0.0.1"), 0);
    options.upstream = upstream.port() == 0 ? echo_.endpoint() : upstream;
    options.round_trip = round_trip;
    options.read_ahead = 256 * 1024;
    proxy_ = std::make_unique<DelayProxy>(io_, options);
    proxy_->Start();
    thread_ = std::thread([this] { io_.run(); });
  }
  // Stops the thread, after which stats() may be read.
  void StopProxy() {
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }
  void TearDown() override { StopProxy(); }

  // A second socket object on the same connection (a dup of its descriptor),
  // for writing from another thread while this one reads: one asio socket
  // object must not be used by two threads at once.
  tcp::socket WriteSide(tcp::socket& socket) {
    return tcp::socket(client_io_, tcp::v4(), ::dup(socket.native_handle()));
  }

  tcp::socket Connect() {
    tcp::socket socket(client_io_);
    socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), proxy_->port()));
    return socket;
  }

  static std::vector<char> RandomBytes(std::size_t n, unsigned seed) {
    std::mt19937 random(seed);
    std::vector<char> bytes(n);
    for (auto& b : bytes) b = static_cast<char>(random());
    return bytes;
  }

  net::io_context io_;
  net::io_context client_io_;
  EchoServer echo_{io_};
  std::unique_ptr<DelayProxy> proxy_;
  std::thread thread_;
};

TEST_F(DelayProxyTest, EchoesLargePayloadIntactAfterHandshakeAndOneRoundTrip) {
  const milliseconds round_trip(80);
  StartProxy(round_trip);
  const auto sent = RandomBytes(3 * 1024 * 1024, 1);  // many reads, past read_ahead
  const auto start = Clock::now();
  tcp::socket socket = Connect();
  // Writes from another thread: the echo comes back while we write.
  tcp::socket write_side = WriteSide(socket);
  std::thread writer([&] {
    net::write(write_side, net::buffer(sent));
    write_side.shutdown(tcp::socket::shutdown_send);
  });
  std::vector<char> received(sent.size());
  net::read(socket, net::buffer(received.data(), 1));
  const auto first_byte = Clock::now() - start;
  net::read(socket, net::buffer(received.data() + 1, received.size() - 1));
  writer.join();
  EXPECT_EQ(received, sent);
  // The end of stream came through both ways: nothing after the echo.
  char extra;
  boost::system::error_code ec;
  EXPECT_EQ(socket.read_some(net::buffer(&extra, 1), ec), 0u);
  EXPECT_EQ(ec, net::error::eof);
  // Connection set-up (one round trip), then there and back (another).
  EXPECT_GE(first_byte, 2 * round_trip);
  StopProxy();
  EXPECT_EQ(proxy_->stats().connections, 1u);
  EXPECT_EQ(proxy_->stats().bytes_to_upstream, sent.size());
  EXPECT_EQ(proxy_->stats().bytes_to_client, sent.size());
}

TEST_F(DelayProxyTest, EachExchangeOnAnOpenConnectionWaitsOneRoundTrip) {
  const milliseconds round_trip(60);
  StartProxy(round_trip);
  tcp::socket socket = Connect();
  for (int i = 0; i < 3; ++i) {
    const auto sent = RandomBytes(100, 10 + i);
    const auto start = Clock::now();
    net::write(socket, net::buffer(sent));
    std::vector<char> received(sent.size());
    net::read(socket, net::buffer(received));
    EXPECT_GE(Clock::now() - start, round_trip) << "exchange " << i;
    EXPECT_EQ(received, sent) << "exchange " << i;
  }
}

TEST_F(DelayProxyTest, ZeroDelayForwardsManyConcurrentConnections) {
  StartProxy(std::chrono::microseconds(0));
  constexpr int kConnections = 200;
  std::vector<tcp::socket> sockets;
  for (int i = 0; i < kConnections; ++i) sockets.push_back(Connect());
  for (int i = 0; i < kConnections; ++i) {
    const auto bytes = RandomBytes(1000, 100 + i);
    net::write(sockets[i], net::buffer(bytes));
  }
  for (int i = 0; i < kConnections; ++i) {
    std::vector<char> received(1000);
    net::read(sockets[i], net::buffer(received));
    EXPECT_EQ(received, RandomBytes(1000, 100 + i)) << "connection " << i;
  }
  StopProxy();
  EXPECT_EQ(proxy_->stats().connections, static_cast<std::uint64_t>(kConnections));
  EXPECT_EQ(proxy_->stats().peak_open_connections, static_cast<std::uint64_t>(kConnections));
}

// A client that sends far more than it reads fills its connection's
// read-ahead; another connection is still answered meanwhile.
TEST_F(DelayProxyTest, StalledConnectionDoesNotHoldUpAnother) {
  StartProxy(milliseconds(20));
  tcp::socket stalled = Connect();
  const auto flood = RandomBytes(8 * 1024 * 1024, 7);
  tcp::socket stalled_write_side = WriteSide(stalled);
  std::thread flooder([&] {
    boost::system::error_code ignored;
    net::write(stalled_write_side, net::buffer(flood),
               ignored);  // blocks: nobody reads the echo yet
  });
  tcp::socket other = Connect();
  const auto sent = RandomBytes(4096, 8);
  net::write(other, net::buffer(sent));
  std::vector<char> received(sent.size());
  net::read(other, net::buffer(received));
  EXPECT_EQ(received, sent);
  // Only now drain the stalled one: its bytes were held back, not lost.
  std::vector<char> echoed(flood.size());
  net::read(stalled, net::buffer(echoed));
  flooder.join();
  EXPECT_EQ(echoed, flood);
}

// Negative: nothing listens upstream, so the client's connection is closed
// without a byte (the positive controls above use a live upstream).
TEST_F(DelayProxyTest, ClosesTheClientWhenUpstreamRefuses) {
  tcp::endpoint closed_port;
  {
    tcp::acceptor probe(io_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    closed_port = probe.local_endpoint();
  }  // closed: connections to it are refused
  StartProxy(milliseconds(10), closed_port);
  tcp::socket socket = Connect();
  net::write(socket, net::buffer("ping", 4));
  char byte;
  boost::system::error_code ec;
  EXPECT_EQ(socket.read_some(net::buffer(&byte, 1), ec), 0u);
  EXPECT_TRUE(ec == net::error::eof || ec == net::error::connection_reset) << ec.message();
  StopProxy();
  EXPECT_EQ(proxy_->stats().upstream_failures, 1u);
  EXPECT_EQ(proxy_->stats().bytes_to_upstream, 0u);
}

}  // namespace
}  // namespace signet::bench

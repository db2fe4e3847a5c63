#include "delay_proxy.h"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <deque>
#include <sstream>
#include <utility>
#include <vector>

namespace signet::bench {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kReadSize = 64 * 1024;

}  // namespace

// One proxied connection: the client's socket, the upstream socket and the
// two directions between them. Owned by the handlers in flight (shared_ptr);
// it goes when the last one finishes, which closes both sockets.
class DelayProxy::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(net::io_context& io, tcp::socket client, const DelayProxyOptions& options,
             std::shared_ptr<DelayProxyStats> stats)
      : client_(std::move(client)),
        upstream_(io),
        setup_timer_(io),
        options_(options),
        stats_(std::move(stats)),
        to_upstream_(io, client_, upstream_, stats_->bytes_to_upstream),
        to_client_(io, upstream_, client_, stats_->bytes_to_client) {
    ++stats_->connections;
    ++stats_->open_connections;
    stats_->peak_open_connections =
        std::max(stats_->peak_open_connections, stats_->open_connections);
  }
  ~Connection() { --stats_->open_connections; }

  // The handshake's round trip, then the upstream connection, then both
  // directions.
  void Start() {
    setup_timer_.expires_after(options_.round_trip);
    setup_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec) return;
      self->upstream_.async_connect(self->options_.upstream,
                                    [self](boost::system::error_code connect_ec) {
                                      if (connect_ec) {
                                        ++self->stats_->upstream_failures;
                                        self->Close();
                                        return;
                                      }
                                      self->upstream_.set_option(tcp::no_delay(true));
                                      self->Read(self->to_upstream_);
                                      self->Read(self->to_client_);
                                    });
    });
  }

 private:
  struct Chunk {
    Clock::time_point due;
    std::vector<char> bytes;
  };
  // One direction: bytes read from `from` wait in `queue` until their due
  // time, then are written to `to`, one chunk at a time.
  struct Direction {
    Direction(net::io_context& io, tcp::socket& from_socket, tcp::socket& to_socket,
              std::uint64_t& counter)
        : from(from_socket), to(to_socket), timer(io), bytes_counter(counter) {}
    tcp::socket& from;
    tcp::socket& to;
    net::steady_timer timer;
    std::uint64_t& bytes_counter;
    std::vector<char> buffer = std::vector<char>(kReadSize);
    std::deque<Chunk> queue;
    std::size_t queued_bytes = 0;
    bool reading = false;
    bool writing = false;
    bool ended = false;  // `from` reached its end of stream
  };

  void Read(Direction& d) {
    if (closed_ || d.reading || d.ended || d.queued_bytes >= options_.read_ahead) return;
    d.reading = true;
    d.from.async_read_some(net::buffer(d.buffer), [self = shared_from_this(), &d](
                                                      boost::system::error_code ec, std::size_t n) {
      d.reading = false;
      if (ec == net::error::eof) {
        d.ended = true;
        self->Write(d);  // shuts `to` down once the queue is written
        return;
      }
      if (ec) {
        self->Close();
        return;
      }
      d.queue.push_back(
          Chunk{Clock::now() + self->options_.round_trip / 2,
                std::vector<char>(d.buffer.begin(), d.buffer.begin() + static_cast<long>(n))});
      d.queued_bytes += n;
      self->Write(d);
      self->Read(d);
    });
  }

  void Write(Direction& d) {
    if (closed_ || d.writing) return;
    if (d.queue.empty()) {
      if (d.ended) {
        boost::system::error_code ignored;
        d.to.shutdown(tcp::socket::shutdown_send, ignored);
      }
      return;
    }
    d.writing = true;
    d.timer.expires_at(d.queue.front().due);
    d.timer.async_wait([self = shared_from_this(), &d](boost::system::error_code ec) {
      if (ec || self->closed_) return;
      net::async_write(d.to, net::buffer(d.queue.front().bytes),
                       [self, &d](boost::system::error_code write_ec, std::size_t n) {
                         d.writing = false;
                         if (write_ec) {
                           self->Close();
                           return;
                         }
                         d.bytes_counter += n;
                         d.queued_bytes -= d.queue.front().bytes.size();
                         d.queue.pop_front();
                         self->Write(d);
                         self->Read(d);  // resumes a direction paused by read_ahead
                       });
    });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ignored;
    setup_timer_.cancel();
    to_upstream_.timer.cancel();
    to_client_.timer.cancel();
    client_.close(ignored);
    upstream_.close(ignored);
  }

  tcp::socket client_;
  tcp::socket upstream_;
  net::steady_timer setup_timer_;
  const DelayProxyOptions options_;
  std::shared_ptr<DelayProxyStats> stats_;
  Direction to_upstream_;
  Direction to_client_;
  bool closed_ = false;
};

DelayProxy::DelayProxy(net::io_context& io, DelayProxyOptions options)
    : io_(io),
      options_(std::move(options)),
      acceptor_(io),
      accept_retry_(io),
      stats_(std::make_shared<DelayProxyStats>()) {}

void DelayProxy::Start() {
  acceptor_.open(options_.listen.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(options_.listen);
  acceptor_.listen(4096);
  Accept();
}

void DelayProxy::Stop() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  accept_retry_.cancel();
}

unsigned short DelayProxy::port() const { return acceptor_.local_endpoint().port(); }

std::string DelayProxy::StatsJson() const {
  std::ostringstream out;
  out << "{\"connections\":" << stats_->connections
      << ",\"open_connections\":" << stats_->open_connections
      << ",\"peak_open_connections\":" << stats_->peak_open_connections
      << ",\"upstream_failures\":" << stats_->upstream_failures
      << ",\"accept_failures\":" << stats_->accept_failures
      << ",\"bytes_to_upstream\":" << stats_->bytes_to_upstream
      << ",\"bytes_to_client\":" << stats_->bytes_to_client << "}";
  return out.str();
}

void DelayProxy::Accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket client) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // Out of descriptors, say: try again shortly instead of spinning.
      ++stats_->accept_failures;
      accept_retry_.expires_after(std::chrono::milliseconds(10));
      accept_retry_.async_wait([this](boost::system::error_code wait_ec) {
        if (!wait_ec && acceptor_.is_open()) Accept();
      });
      return;
    }
    boost::system::error_code ignored;
    client.set_option(tcp::no_delay(true), ignored);
    std::make_shared<Connection>(io_, std::move(client), options_, stats_)->Start();
    Accept();
  });
}

}  // namespace signet::bench

// DelayProxy: a loopback TCP proxy that adds link latency the way `tc netem`
// does, for the benchmarks (bench/run.sh section 3). It is a bench tool, not
// part of signet.
//
// - A round trip of `round_trip` is split in two: every chunk of bytes read
//   from one side is written to the other side round_trip / 2 after it was
//   read, in the order it was read (each direction keeps its own order and
//   its own schedule; a slow direction or connection delays no other).
// - A new connection costs one round trip before any byte moves: the client
//   is accepted at once (the kernel completes its handshake), and the
//   proxy waits round_trip before it connects upstream and starts reading,
//   so the first request arrives where netem would let it (handshake + half
//   a round trip).
// - It does not parse what it forwards; an end of stream on one side is
//   passed on (write shutdown) once the bytes before it have been written;
//   an error on either side closes both.
// - Bytes read but not yet written are capped per direction (read_ahead):
//   past it a direction stops reading until writes catch up, as a TCP
//   window would.
//
// Thread-safety: everything runs on the one io_context passed in (one thread
// serves thousands of connections); Start, port() and stats() must be called
// from that context's thread or before it runs. Stop() may be posted to it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace signet::bench {

struct DelayProxyOptions {
  boost::asio::ip::tcp::endpoint listen;    // port 0: any free port
  boost::asio::ip::tcp::endpoint upstream;  // where every connection goes
  std::chrono::microseconds round_trip{0};
  std::size_t read_ahead = 4 << 20;  // bytes per direction
};

struct DelayProxyStats {
  std::uint64_t connections = 0;       // accepted so far
  std::uint64_t open_connections = 0;  // accepted and not yet closed
  std::uint64_t peak_open_connections = 0;
  std::uint64_t upstream_failures = 0;  // connections upstream refused
  std::uint64_t accept_failures = 0;    // accept errors (out of descriptors, ...)
  std::uint64_t bytes_to_upstream = 0;
  std::uint64_t bytes_to_client = 0;
};

class DelayProxy {
 public:
  DelayProxy(boost::asio::io_context& io, DelayProxyOptions options);
  DelayProxy(const DelayProxy&) = delete;
  DelayProxy& operator=(const DelayProxy&) = delete;

  // Binds and listens (throws boost::system::system_error when it cannot),
  // then accepts for as long as the io_context runs or until Stop().
  void Start();
  // Stops accepting; connections already open run to their end.
  void Stop();
  unsigned short port() const;
  const DelayProxyStats& stats() const { return *stats_; }
  // The stats as one line of JSON.
  std::string StatsJson() const;

 private:
  class Connection;
  void Accept();

  boost::asio::io_context& io_;
  DelayProxyOptions options_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer accept_retry_;
  // Shared with the connections, which may outlive the proxy.
  std::shared_ptr<DelayProxyStats> stats_;
};

}  // namespace signet::bench

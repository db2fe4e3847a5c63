// delay_proxy: adds link latency in front of a loopback server (see
// delay_proxy.h), for bench/run.sh where `tc netem` is not available.
//
//   delay_proxy --listen PORT --upstream HOST:PORT --delay-ms D
//
// Listens on 127.0.0.1:PORT; every connection goes to HOST:PORT (an IP
// address). D is the round trip: D/2 each way, and D before a new connection
// carries anything. On SIGTERM or SIGINT it prints its counts as one line of
// JSON on stdout (connections, peak_open_connections, ...) and exits 0.
#include <sys/resource.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>

#include "delay_proxy.h"

namespace {

int Usage(const std::string& why) {
  std::cerr << "delay_proxy: " << why
            << "\nusage: delay_proxy --listen PORT --upstream IP:PORT --delay-ms D\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  namespace net = boost::asio;
  using tcp = net::ip::tcp;
  std::string listen, upstream, delay;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (i + 1 >= argc) return Usage("missing value after " + std::string(arg));
    if (arg == "--listen") {
      listen = argv[++i];
    } else if (arg == "--upstream") {
      upstream = argv[++i];
    } else if (arg == "--delay-ms") {
      delay = argv[++i];
    } else {
      return Usage("unknown argument " + std::string(arg));
    }
  }
  if (listen.empty() || upstream.empty()) return Usage("--listen and --upstream are required");
  try {
    const auto colon = upstream.rfind(':');
    if (colon == std::string::npos) return Usage("--upstream must be IP:PORT");
    signet::bench::DelayProxyOptions options;
    options.listen = tcp::endpoint(net::ip::make_address("127.0.0.1"),
                                   static_cast<unsigned short>(std::stoul(listen)));
    options.upstream =
        tcp::endpoint(net::ip::make_address(upstream.substr(0, colon)),
                      static_cast<unsigned short>(std::stoul(upstream.substr(colon + 1))));
    const double delay_ms = delay.empty() ? 0.0 : std::stod(delay);
    if (delay_ms < 0) return Usage("--delay-ms must not be negative");
    options.round_trip = std::chrono::microseconds(static_cast<long long>(delay_ms * 1000));
    // Two descriptors per proxied connection: allow as many as the hard limit.
    if (rlimit files{}; getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
      files.rlim_cur = files.rlim_max;
      setrlimit(RLIMIT_NOFILE, &files);
    }
    net::io_context io(1);
    signet::bench::DelayProxy proxy(io, options);
    proxy.Start();
    net::signal_set signals(io, SIGTERM, SIGINT);
    signals.async_wait([&](boost::system::error_code, int) {
      std::cout << proxy.StatsJson() << std::endl;
      io.stop();
    });
    io.run();
  } catch (const std::exception& e) {
    std::cerr << "delay_proxy: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

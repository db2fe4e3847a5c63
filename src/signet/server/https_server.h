// An HTTP/1.1 server over TLS (or, for development only, plain TCP) built on
// Boost.Beast and OpenSSL. It knows nothing about the requests it serves:
// handlers come from a Router.
//
// Transport guarantees:
// - TLS 1.3 minimum unless tls_min_version is "1.2". The certificate chain,
//   key and client CA are re-read when their files change on disk (checked at
//   most once a second, before accepting a connection); new connections use
//   the new files, a broken replacement is logged and the previous credentials
//   stay in use.
// - With client_ca_file, every connection must present a client certificate
//   that chains to that CA and is valid for client authentication, and, when
//   client_sans is not empty, carries one of those DNS SANs; otherwise the
//   handshake fails and no request is read.
// - Limits: body size (Content-Length and chunked), time to finish the TLS
//   handshake (handshake_timeout, short: a connection that never completes
//   one is closed quickly), then time to send the request headers, time to
//   read the body, idle keep-alive time, the number of open connections, and
//   the number of open connections from one peer address (IPv4-mapped IPv6
//   counts as IPv4). A connection over either count is closed at accept,
//   before any TLS work, so one peer cannot hold every slot.
// - Handlers run on a fixed pool of handler_threads threads, never on I/O
//   threads; a route's InlineHandler (which never blocks) may answer on the
//   I/O thread first, and the request goes to the pool when it declines.
//   Every request gets a request id and one structured log line
//   (id, method, path, status, duration; never bodies or header values).
// - Built-in metrics (when a registry is given):
//     signet_http_requests_total{path,code}, signet_http_request_duration_seconds{path},
//     signet_http_requests_in_flight, signet_http_connections_active,
//     signet_http_connections_accepted_total, signet_http_connections_rejected_total
//     (max_connections), signet_http_connections_rejected_per_peer_total
//     (max_connections_per_peer), signet_tls_handshake_failures_total (timeouts
//     included), signet_tls_handshake_timeouts_total.
//
// Lifecycle: Create -> Start -> (serve) -> Shutdown -> Wait. All public
// methods are thread-safe. The destructor shuts down with no drain time and
// waits. The MetricsRegistry, if any, must outlive the server.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "signet/result.h"
#include "signet/server/metrics.h"
#include "signet/server/router.h"

namespace signet::server {

struct ServerOptions {
  std::string address = "0.0.0.0";
  int port = 8090;  // 0 picks a free port; see HttpsServer::port()

  bool insecure_http = false;            // plain HTTP, for local development only
  std::string cert_file;                 // PEM chain, leaf first (required unless insecure_http)
  std::string key_file;                  // PEM private key (required unless insecure_http)
  std::string client_ca_file;            // when set, mTLS is required and verified against it
  std::vector<std::string> client_sans;  // optional pin: client cert must carry one DNS SAN
  std::string tls_min_version = "1.3";   // "1.3" or "1.2"

  std::size_t max_body_bytes = 1 << 20;
  // accept -> TLS handshake finished (TLS only); short, so that connections
  // that never start TLS are dropped quickly.
  std::chrono::milliseconds handshake_timeout{2000};
  // handshake finished (plain HTTP: accept) -> request headers
  std::chrono::milliseconds header_timeout{5000};
  std::chrono::milliseconds read_timeout{10000};   // headers -> full body
  std::chrono::milliseconds idle_timeout{60000};   // keep-alive wait for the next request
  std::chrono::milliseconds write_timeout{10000};  // sending one response
  std::size_t max_connections = 1024;
  // Open connections from one source IP address (all states: handshaking,
  // in a request, idle keep-alive). Peers behind one NAT share it.
  std::size_t max_connections_per_peer = 128;
  std::size_t io_threads = 2;
  std::size_t handler_threads = 8;
};

class HttpsServer {
 public:
  // Validates `options` and loads the TLS files (failing with a reason when
  // they are missing or unusable); does not bind yet.
  static Result<std::unique_ptr<HttpsServer>> Create(ServerOptions options, Router router,
                                                     MetricsRegistry* metrics);
  ~HttpsServer();
  HttpsServer(const HttpsServer&) = delete;
  HttpsServer& operator=(const HttpsServer&) = delete;

  // Binds, listens and starts the I/O and handler threads. Returns once the
  // socket accepts connections. Fails (kNetwork) when the address is in use.
  Status Start();

  // The bound port (useful with port 0); 0 before Start.
  int port() const;

  // True between a successful Start and the beginning of Shutdown.
  bool ready() const;

  // Begins a graceful stop and returns at once: stops accepting, closes idle
  // keep-alive connections, lets requests in flight finish and answers them
  // with "Connection: close"; after `drain` everything left is closed. Safe
  // to call more than once and from any thread, including a handler.
  void Shutdown(std::chrono::milliseconds drain);

  // Blocks until the server has fully stopped (after Shutdown) and its
  // threads have exited. Must not be called from a handler.
  void Wait();

  // Calls Shutdown(drain) when the process receives SIGTERM or SIGINT
  // (through the server's I/O loop, not an async signal handler), after
  // calling `on_signal(signo)` if given. Call after Start.
  void ShutdownOnSignals(std::chrono::milliseconds drain, std::function<void(int)> on_signal = {});

  class Impl;  // opaque; defined in https_server.cpp

 private:
  explicit HttpsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace signet::server

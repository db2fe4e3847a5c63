#include "signet/server/https_server.h"

#include <openssl/bio.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <signal.h>

#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <list>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>

#include "signet/json_writer.h"
#include "signet/log/json_log.h"
#include "signet/server/tls_context_source.h"

namespace signet::server {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kHeaderLimit = 16 * 1024;
constexpr std::size_t kIdleReadChunk = 4096;
constexpr std::size_t kMaxLoggedPath = 256;
constexpr auto kCloseTimeout = std::chrono::seconds(1);
constexpr auto kLingerTimeout = std::chrono::seconds(2);
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);
constexpr auto kPeerLimitWarningInterval = std::chrono::seconds(10);

bool SaneRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (const char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' &&
        c != ':') {
      return false;
    }
  }
  return true;
}

std::string NewRequestId() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    // Uniqueness, not secrecy, matters here; fall back to a counter-based id.
    static std::atomic<unsigned long long> counter{0};
    return "req-" + std::to_string(counter.fetch_add(1));
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (const unsigned char b : bytes) {
    id += kHex[b >> 4];
    id += kHex[b & 0xf];
  }
  return id;
}

std::string SubjectOf(SSL* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return "";
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio) return "";
  if (X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) < 0) {
    return "";
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return size > 0 ? std::string(data, static_cast<std::size_t>(size)) : "";
}

template <typename Fields>
void CopyHeaders(const Fields& fields, HttpRequest& request) {
  for (const auto& field : fields) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto [it, inserted] = request.headers.emplace(name, std::string(field.value()));
    if (!inserted) {
      it->second += ", ";
      it->second += std::string(field.value());
    }
  }
}

// The address a per-peer limit counts: an IPv4 peer reached over an IPv6
// socket (::ffff:a.b.c.d) is the IPv4 peer.
net::ip::address PeerAddress(const tcp::endpoint& endpoint) {
  const net::ip::address address = endpoint.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6());
  }
  return address;
}

}  // namespace

// ---------------------------------------------------------------------------
// Shared state of a running server; sessions hold a reference to it.

class SessionBase {
 public:
  virtual ~SessionBase() = default;
  // Posted on shutdown: close if idle, otherwise finish the current request
  // and close after its response.
  virtual void Drain() = 0;
};

class HttpsServer::Impl {
 public:
  Impl(ServerOptions options, Router router, MetricsRegistry* metrics,
       std::unique_ptr<TlsContextSource> tls);
  ~Impl();

  Status Start();
  void Shutdown(std::chrono::milliseconds drain);
  void Wait();
  void ShutdownOnSignals(std::chrono::milliseconds drain, std::function<void(int)> on_signal);

  // Used by sessions.
  const ServerOptions& options() const { return options_; }
  const Router& router() const { return router_; }
  bool draining() const { return draining_.load(); }
  net::thread_pool& pool() { return *pool_; }
  void OnSessionClosed(std::uint64_t id);
  // The series of signet_http_requests_total and _duration_seconds a
  // connection's last request used; a connection's requests usually share
  // them, and then take neither the registry's lock nor a label lookup.
  struct RequestSeries {
    std::string path;
    int status = 0;
    Counter* requests = nullptr;
    Histogram* duration = nullptr;
  };
  void RecordRequest(const HttpRequest& request, int status, Clock::duration elapsed,
                     RequestSeries& series);
  void RecordHandshakeFailure(beast::error_code ec) {
    handshake_failures_->Increment();
    if (ec == beast::error::timeout) handshake_timeouts_->Increment();
  }
  Gauge& in_flight() { return *in_flight_; }

  std::atomic<bool> ready{false};
  std::atomic<int> bound_port{0};

 private:
  void DoAccept();
  void OnAccept(beast::error_code ec, tcp::socket socket);
  template <typename Session, typename... Args>
  void StartSession(const net::ip::address& peer, Args&&... args);
  // Counts a new connection from `peer`; false when it already has
  // max_connections_per_peer open.
  bool ReservePeerSlot(const net::ip::address& peer);
  void FinishStop();

  const ServerOptions options_;
  const Router router_;
  MetricsRegistry own_metrics_;  // used when the caller gave none
  MetricsRegistry* metrics_;
  std::unique_ptr<TlsContextSource> tls_;

  Gauge* in_flight_;
  Gauge* connections_active_;
  Counter* connections_accepted_;
  Counter* connections_rejected_;
  Counter* connections_rejected_per_peer_;
  Counter* handshake_failures_;
  Counter* handshake_timeouts_;

  std::atomic<bool> started_{false};
  std::atomic<bool> shutdown_started_{false};
  std::atomic<bool> draining_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<std::size_t> active_{0};

  struct SessionEntry {
    std::weak_ptr<SessionBase> session;
    net::ip::address peer;
  };
  // Guards sessions_ and connections_per_peer_.
  std::mutex sessions_mutex_;
  std::uint64_t next_session_id_ = 0;
  std::map<std::uint64_t, SessionEntry> sessions_;
  std::map<net::ip::address, std::size_t> connections_per_peer_;
  Clock::time_point last_peer_limit_warning_{};  // touched on strand_ only

  std::mutex wait_mutex_;
  std::vector<std::thread> threads_;

  // Declared last: destroyed first (in reverse order), while the state above
  // that sessions touch in their destructors is still alive.
  net::io_context ioc_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;
  std::optional<net::thread_pool> pool_;
  // The acceptor, its timers and the shutdown sequence run on this strand.
  net::strand<net::io_context::executor_type> strand_;
  tcp::acceptor acceptor_;
  net::steady_timer drain_timer_;
  net::steady_timer accept_retry_timer_;
  std::mutex signals_mutex_;
  std::optional<net::signal_set> signals_;
};

// ---------------------------------------------------------------------------
// One connection. Stream is beast::tcp_stream (plain HTTP) or
// beast::ssl_stream<beast::tcp_stream>. All its state is touched only on its
// strand; the handler runs on the pool and posts its result back.

template <typename Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  Session(HttpsServer::Impl& server, std::uint64_t id, tcp::socket socket,
          std::shared_ptr<ssl::context> context)
      : server_(server), id_(id), context_(std::move(context)), stream_(MakeStream(socket)) {
    beast::error_code ec;
    const auto endpoint = socket_layer().remote_endpoint(ec);
    if (!ec) peer_ = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
  }

  ~Session() override { server_.OnSessionClosed(id_); }

  void Start() {
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] { self->Begin(); });
  }

  void Drain() override {
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      self->draining_ = true;
      if (self->idle_) {
        beast::error_code ec;
        self->socket_layer().close(ec);
      }
    });
  }

 private:
  Stream MakeStream(tcp::socket& socket) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *context_);
    } else {
      return Stream(std::move(socket));
    }
  }
  tcp::socket& socket_layer() { return beast::get_lowest_layer(stream_).socket(); }
  beast::tcp_stream& tcp_layer() { return beast::get_lowest_layer(stream_); }
  const ServerOptions& options() const { return server_.options(); }

  void Begin() {
    if constexpr (kTls) {
      // A short limit of its own: a connection that never starts TLS holds a
      // slot only this long.
      tcp_layer().expires_after(options().handshake_timeout);
      stream_.async_handshake(
          ssl::stream_base::server,
          [self = this->shared_from_this()](beast::error_code ec) { self->OnHandshake(ec); });
    } else {
      tcp_layer().expires_after(options().header_timeout);
      ReadHeader();
    }
  }

  void OnHandshake(beast::error_code ec) {
    if (ec) {
      server_.RecordHandshakeFailure(ec);
      log::LogEvent(spdlog::level::debug,
                    {{"event", "tls_handshake_failed"}, {"peer", peer_}, {"error", ec.message()}});
      Close();
      return;
    }
    if constexpr (kTls) client_subject_ = SubjectOf(stream_.native_handle());
    handshake_done_ = true;
    tcp_layer().expires_after(options().header_timeout);
    ReadHeader();
  }

  // Between keep-alive requests: wait up to idle_timeout for the first byte,
  // then allow header_timeout for the rest of the headers.
  void WaitForNextRequest() {
    if (draining_) {
      Close();
      return;
    }
    if (buffer_.size() > 0) {
      tcp_layer().expires_after(options().header_timeout);
      ReadHeader();
      return;
    }
    idle_ = true;
    tcp_layer().expires_after(options().idle_timeout);
    stream_.async_read_some(buffer_.prepare(kIdleReadChunk),
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->idle_ = false;
                              if (ec) {
                                self->Close();
                                return;
                              }
                              self->buffer_.commit(n);
                              self->tcp_layer().expires_after(self->options().header_timeout);
                              self->ReadHeader();
                            });
  }

  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(kHeaderLimit));
    parser_->body_limit(static_cast<std::uint64_t>(options().max_body_bytes));
    request_ = HttpRequest{};
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                              self->OnHeader(ec);
                            });
  }

  void OnHeader(beast::error_code ec) {
    received_at_ = Clock::now();
    if (ec) {
      HandleReadError(ec);
      return;
    }
    FillRequestHead();
    const auto& head = parser_->get();
    const auto expect = head[http::field::expect];
    if (beast::iequals(expect, "100-continue")) {
      continue_.emplace(http::status::continue_, head.version());
      tcp_layer().expires_after(options().write_timeout);
      http::async_write(stream_, *continue_,
                        [self = this->shared_from_this()](beast::error_code wec, std::size_t) {
                          if (wec) {
                            self->Close();
                            return;
                          }
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    tcp_layer().expires_after(options().read_timeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, std::size_t) { self->OnBody(ec); });
  }

  void OnBody(beast::error_code ec) {
    if (ec) {
      HandleReadError(ec);
      return;
    }
    request_.body = std::move(parser_->get().body());
    keep_alive_ = parser_->get().keep_alive();
    Dispatch(std::nullopt);
  }

  // Nothing (or only part of a request) arrived: answer what can be answered,
  // close silently on timeouts and disconnects.
  void HandleReadError(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      FillRequestHead();
      linger_ = true;
      Dispatch(RejectionKind::kBodyTooLarge);
      return;
    }
    if (ec.category() == beast::error_code(http::error::end_of_stream).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message) {
      FillRequestHead();
      linger_ = true;
      Dispatch(RejectionKind::kBadRequest);
      return;
    }
    if (ec == beast::error::timeout) {
      log::LogEvent(spdlog::level::debug, {{"event", "read_timed_out"}, {"peer", peer_}});
    }
    Close();
  }

  void FillRequestHead() {
    const auto& head = parser_->get();
    request_.method = std::string(head.method_string());
    request_.target = std::string(head.target());
    request_.path = request_.target.substr(0, request_.target.find('?'));
    request_.headers.clear();
    CopyHeaders(head, request_);
    const std::string& id = request_.Header("x-request-id");
    request_.request_id = SaneRequestId(id) ? id : NewRequestId();
    request_.peer = peer_;
    request_.client_cert_subject = client_subject_;
  }

  void Dispatch(std::optional<RejectionKind> rejection) {
    if (rejection) keep_alive_ = false;
    tcp_layer().expires_never();
    server_.in_flight().Increment();
    in_flight_ = true;
    // A request its route can answer at once (e.g. from a cache) is answered
    // here, on this connection's strand: no hop to the pool and back.
    if (!rejection) {
      if (std::optional<HttpResponse> response = server_.router().TryDispatchInline(request_)) {
        WriteResponse(std::move(*response));
        return;
      }
    }
    net::post(server_.pool(), [self = this->shared_from_this(), rejection] {
      HttpResponse response = rejection ? self->server_.router().Reject(*rejection, self->request_)
                                        : self->server_.router().Dispatch(self->request_);
      net::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
        self->WriteResponse(std::move(response));
      });
    });
  }

  void WriteResponse(HttpResponse response) {
    if (response.status < 100 || response.status > 599) response.status = 500;
    status_ = response.status;
    const bool keep_alive = keep_alive_ && !draining_ && !server_.draining();
    response_.emplace();
    response_->version(11);
    response_->result(static_cast<unsigned>(response.status));
    response_->set(http::field::content_type, response.content_type);
    response_->set(http::field::cache_control, "no-store");
    response_->set("X-Request-Id", request_.request_id);
    response_->body() = std::move(response.body);
    response_->keep_alive(keep_alive);
    response_->prepare_payload();
    tcp_layer().expires_after(options().write_timeout);
    http::async_write(stream_, *response_,
                      [self = this->shared_from_this(), keep_alive](
                          beast::error_code ec, std::size_t) { self->OnWrite(ec, keep_alive); });
  }

  void OnWrite(beast::error_code ec, bool keep_alive) {
    in_flight_ = false;
    server_.in_flight().Decrement();
    server_.RecordRequest(request_, status_, Clock::now() - received_at_, series_);
    response_.reset();
    if (ec) {
      Close();
      return;
    }
    if (!keep_alive) {
      linger_ ? Linger() : Close();
      return;
    }
    WaitForNextRequest();
  }

  // After refusing a request whose body was not read, read and discard what
  // the client is still sending for a short while, so that closing does not
  // reset the connection before the client has read the answer.
  void Linger() {
    linger_ = false;
    tcp_layer().expires_after(kLingerTimeout);
    ReadAndDiscard();
  }

  void ReadAndDiscard() {
    stream_.async_read_some(buffer_.prepare(kIdleReadChunk),
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) {
                                self->Close();
                                return;
                              }
                              self->ReadAndDiscard();
                            });
  }

  void Close() {
    if (closing_) return;
    closing_ = true;
    if constexpr (kTls) {
      if (handshake_done_ && socket_layer().is_open()) {
        tcp_layer().expires_after(kCloseTimeout);
        stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
          beast::error_code ignored;
          self->socket_layer().close(ignored);
        });
        return;
      }
    }
    beast::error_code ignored;
    socket_layer().shutdown(tcp::socket::shutdown_both, ignored);
    socket_layer().close(ignored);
  }

  HttpsServer::Impl& server_;
  const std::uint64_t id_;
  std::shared_ptr<ssl::context> context_;  // keeps the context of this connection alive
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::empty_body>> continue_;
  std::optional<http::response<http::string_body>> response_;
  HttpRequest request_;
  HttpsServer::Impl::RequestSeries series_;
  std::string peer_;
  std::string client_subject_;
  Clock::time_point received_at_;
  int status_ = 0;
  bool keep_alive_ = false;
  bool handshake_done_ = false;
  bool idle_ = false;
  bool draining_ = false;
  bool in_flight_ = false;
  bool linger_ = false;
  bool closing_ = false;
};

// ---------------------------------------------------------------------------

HttpsServer::Impl::Impl(ServerOptions options, Router router, MetricsRegistry* metrics,
                        std::unique_ptr<TlsContextSource> tls)
    : options_(std::move(options)),
      router_(std::move(router)),
      metrics_(metrics != nullptr ? metrics : &own_metrics_),
      tls_(std::move(tls)),
      ioc_(static_cast<int>(options_.io_threads)),
      strand_(net::make_strand(ioc_)),
      acceptor_(strand_),
      drain_timer_(strand_),
      accept_retry_timer_(strand_) {
  in_flight_ = &metrics_->GetGauge("signet_http_requests_in_flight",
                                   "HTTP requests received and not yet answered.");
  connections_active_ =
      &metrics_->GetGauge("signet_http_connections_active", "Open client connections.");
  connections_accepted_ = &metrics_->GetCounter("signet_http_connections_accepted_total",
                                                "Client connections accepted.");
  connections_rejected_ =
      &metrics_->GetCounter("signet_http_connections_rejected_total",
                            "Client connections closed at once because max_connections were open.");
  connections_rejected_per_peer_ =
      &metrics_->GetCounter("signet_http_connections_rejected_per_peer_total",
                            "Client connections closed at once because their peer address had "
                            "max_connections_per_peer open.");
  handshake_failures_ = &metrics_->GetCounter(
      "signet_tls_handshake_failures_total",
      "TLS handshakes that failed (protocol version, client certificate, timeout, reset).");
  handshake_timeouts_ = &metrics_->GetCounter(
      "signet_tls_handshake_timeouts_total",
      "Connections closed because the TLS handshake did not finish within handshake_timeout.");
}

HttpsServer::Impl::~Impl() {
  Shutdown(std::chrono::milliseconds(0));
  Wait();
  pool_.reset();  // destroys abandoned jobs (and their sessions) while ioc_ is alive
}

Status HttpsServer::Impl::Start() {
  if (started_.exchange(true)) {
    return Error(ErrorCode::kInvalidArgument, "server already started");
  }
  beast::error_code ec;
  const auto address = net::ip::make_address(options_.address, ec);
  if (ec) {
    return Error(ErrorCode::kInvalidArgument,
                 "listen address '" + options_.address + "' is not an IP address");
  }
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(options_.port));
  const std::string where = options_.address + ":" + std::to_string(options_.port);
  if (acceptor_.open(endpoint.protocol(), ec); ec) {
    return Error(ErrorCode::kNetwork, "opening socket for " + where + ": " + ec.message());
  }
  if (acceptor_.set_option(net::socket_base::reuse_address(true), ec); ec) {
    return Error(ErrorCode::kNetwork, "setting SO_REUSEADDR on " + where + ": " + ec.message());
  }
  if (acceptor_.bind(endpoint, ec); ec) {
    return Error(ErrorCode::kNetwork, "binding " + where + ": " + ec.message());
  }
  if (acceptor_.listen(net::socket_base::max_listen_connections, ec); ec) {
    return Error(ErrorCode::kNetwork, "listening on " + where + ": " + ec.message());
  }
  bound_port = acceptor_.local_endpoint(ec).port();
  pool_.emplace(options_.handler_threads);
  work_.emplace(net::make_work_guard(ioc_));
  DoAccept();
  for (std::size_t i = 0; i < options_.io_threads; ++i) {
    threads_.emplace_back([this] { ioc_.run(); });
  }
  ready = true;
  log::LogEvent(spdlog::level::info, {{"event", "listener_started"},
                                      {"address", options_.address},
                                      {"port", bound_port.load()},
                                      {"tls", !options_.insecure_http},
                                      {"mtls", !options_.client_ca_file.empty()}});
  return OkStatus();
}

void HttpsServer::Impl::DoAccept() {
  acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    OnAccept(ec, std::move(socket));
  });
}

void HttpsServer::Impl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (draining_ || !acceptor_.is_open()) return;
  if (ec) {
    // Typically EMFILE: back off briefly instead of spinning.
    log::LogEvent(spdlog::level::warn, {{"event", "accept_failed"}, {"error", ec.message()}});
    accept_retry_timer_.expires_after(kAcceptRetryDelay);
    accept_retry_timer_.async_wait([this](beast::error_code timer_ec) {
      if (!timer_ec && !draining_) DoAccept();
    });
    return;
  }
  // Both limits are checked here, before any TLS work, and a refused
  // connection is closed at once.
  beast::error_code peer_ec;
  const tcp::endpoint remote = socket.remote_endpoint(peer_ec);
  const net::ip::address peer = peer_ec ? net::ip::address() : PeerAddress(remote);
  if (peer_ec) {
    // Already gone (reset before we got to it): nothing to serve.
    beast::error_code ignored;
    socket.close(ignored);
  } else if (active_.load() >= options_.max_connections) {
    connections_rejected_->Increment();
    beast::error_code ignored;
    socket.close(ignored);
  } else if (!ReservePeerSlot(peer)) {
    connections_rejected_per_peer_->Increment();
    const auto now = Clock::now();
    if (now - last_peer_limit_warning_ >= kPeerLimitWarningInterval) {
      last_peer_limit_warning_ = now;
      // Logged at most every kPeerLimitWarningInterval;
      // signet_http_connections_rejected_per_peer_total counts them all.
      log::LogEvent(
          spdlog::level::warn,
          {{"event", "peer_connection_limit"},
           {"peer", peer.to_string()},
           {"max_connections_per_peer", options_.max_connections_per_peer},
           {"logged_every_seconds",
            std::chrono::duration_cast<std::chrono::seconds>(kPeerLimitWarningInterval).count()}});
    }
    beast::error_code ignored;
    socket.close(ignored);
  } else {
    // An answer is written as several TLS records (head, then the body in
    // records of at most 16 KiB). With Nagle's algorithm on, the last, short
    // segment waits for the ACK of the ones before it, which the client
    // delays (up to 40 ms on Linux) because it has nothing to send until the
    // answer is complete: every answer larger than one record took 40 ms more.
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    if (options_.insecure_http) {
      StartSession<Session<beast::tcp_stream>>(peer, std::move(socket), nullptr);
    } else {
      StartSession<Session<beast::ssl_stream<beast::tcp_stream>>>(peer, std::move(socket),
                                                                  tls_->Current());
    }
  }
  DoAccept();
}

bool HttpsServer::Impl::ReservePeerSlot(const net::ip::address& peer) {
  std::lock_guard<std::mutex> lock(sessions_mutex_);
  std::size_t& open = connections_per_peer_[peer];
  if (open >= options_.max_connections_per_peer) return false;
  ++open;
  return true;
}

// The peer's slot was reserved by ReservePeerSlot; the session releases it.
template <typename SessionType, typename... Args>
void HttpsServer::Impl::StartSession(const net::ip::address& peer, Args&&... args) {
  ++active_;
  connections_active_->Increment();
  connections_accepted_->Increment();
  std::uint64_t id = 0;
  {
    std::lock_guard<std::mutex> lock(sessions_mutex_);
    id = next_session_id_++;
    sessions_[id] = SessionEntry{{}, peer};
  }
  auto session = std::make_shared<SessionType>(*this, id, std::forward<Args>(args)...);
  {
    std::lock_guard<std::mutex> lock(sessions_mutex_);
    sessions_[id].session = session;
  }
  session->Start();
}

void HttpsServer::Impl::OnSessionClosed(std::uint64_t id) {
  {
    std::lock_guard<std::mutex> lock(sessions_mutex_);
    const auto it = sessions_.find(id);
    if (it != sessions_.end()) {
      const auto peer = connections_per_peer_.find(it->second.peer);
      if (peer != connections_per_peer_.end() && --peer->second == 0) {
        connections_per_peer_.erase(peer);
      }
      sessions_.erase(it);
    }
  }
  connections_active_->Decrement();
  if (--active_ == 0 && draining_ && !stopped_) {
    net::post(strand_, [this] { FinishStop(); });
  }
}

void HttpsServer::Impl::RecordRequest(const HttpRequest& request, int status,
                                      Clock::duration elapsed, RequestSeries& series) {
  const std::string_view path =
      router_.HasPath(request.path) ? std::string_view(request.path) : std::string_view("other");
  const double seconds = std::chrono::duration<double>(elapsed).count();
  if (series.requests == nullptr || series.status != status || series.path != path) {
    series.path = path;
    series.status = status;
    series.requests = &metrics_->GetCounter("signet_http_requests_total",
                                            "HTTP requests answered, by path and status code.",
                                            {{"path", series.path}, {"code", std::to_string(status)}});
    series.duration = &metrics_->GetHistogram(
        "signet_http_request_duration_seconds",
        "Time from receiving request headers to sending the response.",
        Histogram::DefaultLatencyBuckets(), {{"path", series.path}});
  }
  series.requests->Increment();
  series.duration->Observe(seconds);
  const std::string_view logged_path =
      std::string_view(request.path).substr(0, std::min(request.path.size(), kMaxLoggedPath));
  if (!log::Enabled(spdlog::level::info)) return;
  // Written as text (the same line LogEvent writes for these fields, in name
  // order): this line is written for every request.
  std::string duration_ms, method, path_text, peer, request_id;
  AppendJson(duration_ms, nlohmann::json(std::round(seconds * 1e6) / 1000.0));
  AppendJsonString(method, request.method);
  AppendJsonString(path_text, logged_path);
  AppendJsonString(peer, request.peer);
  AppendJsonString(request_id, request.request_id);
  const std::string status_text = std::to_string(status);
  log::LogEventFields(spdlog::level::info, {{"duration_ms", duration_ms},
                                            {"event", R"("http_request")"},
                                            {"method", method},
                                            {"path", path_text},
                                            {"peer", peer},
                                            {"request_id", request_id},
                                            {"status", status_text}});
}

void HttpsServer::Impl::Shutdown(std::chrono::milliseconds drain) {
  if (shutdown_started_.exchange(true)) return;
  ready = false;
  draining_ = true;
  if (!started_) {
    stopped_ = true;
    return;
  }
  net::post(strand_, [this, drain] {
    log::LogEvent(spdlog::level::info, {{"event", "server_draining"}, {"drain_ms", drain.count()}});
    beast::error_code ignored;
    acceptor_.close(ignored);
    accept_retry_timer_.cancel();
    // Collected under the lock, drained outside it: dropping the last
    // reference to a session re-enters OnSessionClosed, which takes the lock.
    std::vector<std::shared_ptr<SessionBase>> open_sessions;
    {
      std::lock_guard<std::mutex> lock(sessions_mutex_);
      for (auto& [id, entry] : sessions_) {
        if (auto session = entry.session.lock()) open_sessions.push_back(std::move(session));
      }
    }
    for (const auto& session : open_sessions) session->Drain();
    open_sessions.clear();
    if (active_ == 0) {
      FinishStop();
      return;
    }
    drain_timer_.expires_after(drain);
    drain_timer_.async_wait([this](beast::error_code ec) {
      if (ec) return;
      if (active_ > 0) {
        log::LogEvent(spdlog::level::warn,
                      {{"event", "drain_timed_out"}, {"open_connections", active_.load()}});
      }
      FinishStop();
    });
  });
}

void HttpsServer::Impl::FinishStop() {
  if (stopped_.exchange(true)) return;
  drain_timer_.cancel();
  {
    std::lock_guard<std::mutex> lock(signals_mutex_);
    if (signals_) {
      beast::error_code ignored;
      signals_->cancel(ignored);
    }
  }
  work_.reset();
  ioc_.stop();
  log::LogEvent(spdlog::level::info, {{"event", "server_stopped"}});
}

void HttpsServer::Impl::Wait() {
  std::lock_guard<std::mutex> lock(wait_mutex_);
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
  if (pool_) {
    pool_->stop();
    pool_->join();
  }
}

void HttpsServer::Impl::ShutdownOnSignals(std::chrono::milliseconds drain,
                                          std::function<void(int)> on_signal) {
  std::lock_guard<std::mutex> lock(signals_mutex_);
  if (signals_ || stopped_) return;
  signals_.emplace(ioc_, SIGTERM, SIGINT);
  signals_->async_wait(
      [this, drain, on_signal = std::move(on_signal)](beast::error_code ec, int signo) {
        if (ec) return;
        log::LogEvent(spdlog::level::info, {{"event", "signal_received"}, {"signal", signo}});
        if (on_signal) on_signal(signo);
        Shutdown(drain);
      });
}

// ---------------------------------------------------------------------------

HttpsServer::HttpsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpsServer::~HttpsServer() = default;

Result<std::unique_ptr<HttpsServer>> HttpsServer::Create(ServerOptions options, Router router,
                                                         MetricsRegistry* metrics) {
  if (options.port < 0 || options.port > 65535) {
    return Error(ErrorCode::kInvalidArgument,
                 "port must be between 0 and 65535, got " + std::to_string(options.port));
  }
  if (options.io_threads == 0 || options.handler_threads == 0 || options.max_connections == 0 ||
      options.max_connections_per_peer == 0) {
    return Error(ErrorCode::kInvalidArgument,
                 "io_threads, handler_threads, max_connections and max_connections_per_peer must "
                 "be at least 1");
  }
  for (const auto timeout : {options.handshake_timeout, options.header_timeout,
                             options.read_timeout, options.idle_timeout, options.write_timeout}) {
    if (timeout.count() <= 0) {
      return Error(ErrorCode::kInvalidArgument, "server timeouts must be positive");
    }
  }
  if (options.max_body_bytes == 0) {
    return Error(ErrorCode::kInvalidArgument, "max_body_bytes must be at least 1");
  }
  std::unique_ptr<TlsContextSource> tls;
  if (!options.insecure_http) {
    Result<std::unique_ptr<TlsContextSource>> source = TlsContextSource::Create(
        TlsSettings{options.cert_file, options.key_file, options.client_ca_file,
                    options.client_sans, options.tls_min_version});
    if (!source.ok()) return source.error().WithContext("configuring TLS");
    tls = std::move(source).value();
  }
  return std::unique_ptr<HttpsServer>(new HttpsServer(
      std::make_unique<Impl>(std::move(options), std::move(router), metrics, std::move(tls))));
}

Status HttpsServer::Start() { return impl_->Start(); }
int HttpsServer::port() const { return impl_->bound_port.load(); }
bool HttpsServer::ready() const { return impl_->ready.load(); }
void HttpsServer::Shutdown(std::chrono::milliseconds drain) { impl_->Shutdown(drain); }
void HttpsServer::Wait() { impl_->Wait(); }
void HttpsServer::ShutdownOnSignals(std::chrono::milliseconds drain,
                                    std::function<void(int)> on_signal) {
  impl_->ShutdownOnSignals(drain, std::move(on_signal));
}

}  // namespace signet::server

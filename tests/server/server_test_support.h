// Support for the server tests: a libcurl HTTPS client that can keep one
// connection across requests and report what the TLS layer saw, raw TCP
// sockets for misbehaving clients, a TLS client driven step by step, and a
// server starter. Header-only, used by tests/server and tests/hostile.
#pragma once

#include <arpa/inet.h>
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "signet/server/https_server.h"

namespace signet::testing {

struct ClientTls {
  std::string ca_file;              // trust anchor for the server certificate
  std::string cert_file, key_file;  // client certificate (mTLS), optional
  bool tls12_only = false;          // offer TLS 1.2 and nothing newer
  bool tls13_only = false;          // offer TLS 1.3 only
};

struct ClientResponse {
  bool transport_ok = false;  // false: connect/TLS/read failed (see error)
  std::string error;
  long status = 0;
  std::string body;
  long new_connections = 0;  // connections curl opened for this request
  std::string server_cert_subject;
  std::map<std::string, std::string> headers;  // lowercase names
};

// One curl easy handle: successive requests reuse its connection. With
// `local_address` (e.g. 127.0.0.2) it connects from that source address.
class HttpClient {
 public:
  explicit HttpClient(ClientTls tls = {}, std::string local_address = "")
      : tls_(std::move(tls)), local_address_(std::move(local_address)), curl_(curl_easy_init()) {}
  ~HttpClient() { curl_easy_cleanup(curl_); }
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // The whole request, connect to last byte (20 s unless set).
  void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }

  // `chunked_body`: send the body with Transfer-Encoding: chunked.
  ClientResponse Request(const std::string& method, const std::string& url,
                         const std::string& body = "",
                         const std::map<std::string, std::string>& headers = {},
                         bool chunked_body = false) {
    ClientResponse out;
    upload_ = body;
    upload_pos_ = 0;
    curl_easy_reset(curl_);
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &HttpClient::OnData);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &out.body);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, &HttpClient::OnHeader);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &out.headers);
    curl_easy_setopt(curl_, CURLOPT_CERTINFO, 1L);
    if (!tls_.ca_file.empty()) curl_easy_setopt(curl_, CURLOPT_CAINFO, tls_.ca_file.c_str());
    if (!local_address_.empty()) {
      curl_easy_setopt(curl_, CURLOPT_INTERFACE, local_address_.c_str());
    }
    if (!tls_.cert_file.empty()) {
      curl_easy_setopt(curl_, CURLOPT_SSLCERT, tls_.cert_file.c_str());
      curl_easy_setopt(curl_, CURLOPT_SSLKEY, tls_.key_file.c_str());
    }
    curl_easy_setopt(curl_, CURLOPT_SSLVERSION,
                     tls_.tls12_only   ? (static_cast<long>(CURL_SSLVERSION_TLSv1_2) |
                                        static_cast<long>(CURL_SSLVERSION_MAX_TLSv1_2))
                     : tls_.tls13_only ? static_cast<long>(CURL_SSLVERSION_TLSv1_3)
                                       : static_cast<long>(CURL_SSLVERSION_TLSv1_2));
    if (method == "POST") {
      curl_easy_setopt(curl_, CURLOPT_POST, 1L);
      curl_easy_setopt(curl_, CURLOPT_READFUNCTION, &HttpClient::OnRead);
      curl_easy_setopt(curl_, CURLOPT_READDATA, this);
      if (!chunked_body) {
        curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(upload_.size()));
      }
    } else if (method != "GET") {
      curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, method.c_str());
    }
    struct curl_slist* list = nullptr;
    list = curl_slist_append(list, "Expect:");  // no 100-continue round trip
    if (chunked_body) list = curl_slist_append(list, "Transfer-Encoding: chunked");
    for (const auto& [name, value] : headers) {
      list = curl_slist_append(list, (name + ": " + value).c_str());
    }
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, list);
    const CURLcode rc = curl_easy_perform(curl_);
    curl_slist_free_all(list);
    if (rc != CURLE_OK) {
      out.error = curl_easy_strerror(rc);
      return out;
    }
    out.transport_ok = true;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &out.status);
    curl_easy_getinfo(curl_, CURLINFO_NUM_CONNECTS, &out.new_connections);
    struct curl_certinfo* info = nullptr;
    if (curl_easy_getinfo(curl_, CURLINFO_CERTINFO, &info) == CURLE_OK && info != nullptr &&
        info->num_of_certs > 0) {
      for (struct curl_slist* item = info->certinfo[0]; item != nullptr; item = item->next) {
        const std::string line = item->data;
        if (line.rfind("Subject:", 0) == 0) out.server_cert_subject = line.substr(8);
      }
    }
    return out;
  }

 private:
  static size_t OnData(char* data, size_t size, size_t n, void* user) {
    static_cast<std::string*>(user)->append(data, size * n);
    return size * n;
  }
  static size_t OnHeader(char* data, size_t size, size_t n, void* user) {
    std::string line(data, size * n);
    const auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      value.erase(value.find_last_not_of("\r\n") + 1);
      (*static_cast<std::map<std::string, std::string>*>(user))[name] = value;
    }
    return size * n;
  }
  static size_t OnRead(char* buffer, size_t size, size_t n, void* user) {
    auto* self = static_cast<HttpClient*>(user);
    const size_t count = std::min(size * n, self->upload_.size() - self->upload_pos_);
    std::memcpy(buffer, self->upload_.data() + self->upload_pos_, count);
    self->upload_pos_ += count;
    return count;
  }

  ClientTls tls_;
  std::string local_address_;
  std::chrono::milliseconds timeout_{20000};
  CURL* curl_;
  std::string upload_;
  size_t upload_pos_ = 0;
};

// A raw TCP connection to 127.0.0.1:port, from `source` (a loopback address
// such as 127.0.0.2) when given; fd() < 0 when connecting failed.
class RawConnection {
 public:
  explicit RawConnection(int port, const std::string& source = "") {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) return;
    if (!source.empty()) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      if (::inet_pton(AF_INET, source.c_str(), &local.sin_addr) != 1 ||
          ::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
        ::close(fd_);
        fd_ = -1;
        return;
      }
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  int fd() const { return fd_; }
  bool Send(const std::string& data) {
    return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }
  // Reads until `received` contains `needle`; false on close or timeout.
  bool ReadUntil(const std::string& needle, std::chrono::milliseconds timeout,
                 std::string* received) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (received->find(needle) == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buffer[4096];
      const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) return false;
      received->append(buffer, static_cast<size_t>(n));
    }
    return true;
  }

  // True when the peer closes (EOF or reset) within `timeout`; bytes the
  // peer sends before closing are appended to `received`.
  bool WaitForClose(std::chrono::milliseconds timeout, std::string* received = nullptr) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (::poll(&p, 1, static_cast<int>(std::max<long>(left.count(), 1))) <= 0) continue;
      char buffer[4096];
      const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) return true;
      if (received != nullptr) received->append(buffer, static_cast<size_t>(n));
    }
    return false;
  }

 private:
  int fd_ = -1;
};

// A TLS client on a raw socket to 127.0.0.1:port, driven step by step: the
// constructor connects and finishes the handshake (trusting `ca_file`), and
// Exchange() sends a request later, as a slow but well-behaved client would.
class TlsConnection {
 public:
  TlsConnection(int port, const std::string& ca_file, const std::string& source = "")
      : raw_(port, source) {
    if (raw_.fd() < 0) return;
    timeval timeout{20, 0};
    ::setsockopt(raw_.fd(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (ctx_ == nullptr || SSL_CTX_load_verify_locations(ctx_, ca_file.c_str(), nullptr) != 1) {
      return;
    }
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    ssl_ = SSL_new(ctx_);
    if (ssl_ == nullptr || SSL_set_fd(ssl_, raw_.fd()) != 1) return;
    handshake_ok_ = SSL_connect(ssl_) == 1;
  }
  ~TlsConnection() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  }
  TlsConnection(const TlsConnection&) = delete;
  TlsConnection& operator=(const TlsConnection&) = delete;

  bool handshake_ok() const { return handshake_ok_; }

  // Sends `request` and returns what arrives until the server closes (send
  // "Connection: close"), or an error / 20 s of silence.
  std::string Exchange(const std::string& request) {
    std::string received;
    if (!handshake_ok_ || SSL_write(ssl_, request.data(), static_cast<int>(request.size())) <= 0) {
      return received;
    }
    char buffer[4096];
    for (;;) {
      const int n = SSL_read(ssl_, buffer, sizeof(buffer));
      if (n <= 0) break;
      received.append(buffer, static_cast<size_t>(n));
    }
    return received;
  }

 private:
  RawConnection raw_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool handshake_ok_ = false;
};

// Creates and starts a server on a free loopback port; fails the test (and
// returns nullptr) when that does not work.
inline std::unique_ptr<server::HttpsServer> StartServer(server::ServerOptions options,
                                                        server::Router router,
                                                        server::MetricsRegistry* metrics) {
  options.address = "127.0.0.1";
  options.port = 0;
  auto created = server::HttpsServer::Create(std::move(options), std::move(router), metrics);
  if (!created.ok()) {
    ADD_FAILURE() << "creating server: " << created.error().message();
    return nullptr;
  }
  std::unique_ptr<server::HttpsServer> srv = std::move(created).value();
  const Status started = srv->Start();
  if (!started.ok()) {
    ADD_FAILURE() << "starting server: " << started.error().message();
    return nullptr;
  }
  return srv;
}

// Polls `condition` every 20 ms until it holds or `timeout` passes.
template <typename Condition>
bool Eventually(Condition condition, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

}  // namespace signet::testing

#include "signet/oci/transport.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "signet/bounded_json.h"

namespace signet::oci {
namespace {

using Clock = DeadlineClock;

// Idle easy handles kept for reuse, and idle connections each one keeps: at
// most kMaxIdleHandles * kMaxConnectionsPerHandle keep-alive connections stay
// open however many transfers once ran at the same time.
constexpr std::size_t kMaxIdleHandles = 16;
constexpr long kMaxConnectionsPerHandle = 2;
constexpr const char* kSystemCaBundle = "/etc/ssl/certs/ca-certificates.crt";

struct CurlDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
using CurlHandle = std::unique_ptr<CURL, CurlDeleter>;
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;
struct UrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
using Url = std::unique_ptr<CURLU, UrlDeleter>;
struct CurlStringDeleter {
  void operator()(char* s) const { curl_free(s); }
};
using CurlString = std::unique_ptr<char, CurlStringDeleter>;

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

}  // namespace

std::string PercentEncode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

// "host:port" (lowercase, default port filled in) of an absolute URL.
std::string UrlAuthority(const std::string& url) {
  Url u(curl_url());
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return "";
  char* host = nullptr;
  char* port = nullptr;
  if (curl_url_get(u.get(), CURLUPART_HOST, &host, 0) != CURLUE_OK) return "";
  CurlString host_owner(host);
  if (curl_url_get(u.get(), CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) return "";
  CurlString port_owner(port);
  return Lower(host) + ":" + port;
}

std::string UrlScheme(const std::string& url) {
  std::size_t colon = url.find("://");
  return colon == std::string::npos ? "" : Lower(url.substr(0, colon));
}

// Resolves `location` (absolute, or relative to `base`) into an absolute URL.
Result<std::string> ResolveUrl(const std::string& base, const std::string& location) {
  Url u(curl_url());
  if (!u || curl_url_set(u.get(), CURLUPART_URL, base.c_str(), 0) != CURLUE_OK ||
      curl_url_set(u.get(), CURLUPART_URL, location.c_str(), 0) != CURLUE_OK) {
    return Error(ErrorCode::kRegistry, "registry sent an unusable Location \"" + location + "\"");
  }
  char* out = nullptr;
  if (curl_url_get(u.get(), CURLUPART_URL, &out, 0) != CURLUE_OK) {
    return Error(ErrorCode::kRegistry, "registry sent an unusable Location \"" + location + "\"");
  }
  CurlString owner(out);
  return std::string(out);
}

// A printable, bounded excerpt of an error body; registries put their
// {"errors":[{"code","message"}]} here.
std::string ErrorSnippet(const std::string& body) {
  try {
    auto parsed = ParseBoundedJson(body, "error body");
    const nlohmann::json doc = parsed.ok() ? std::move(*parsed) : nlohmann::json();
    if (doc.is_object() && doc.contains("errors") && doc["errors"].is_array()) {
      std::string out;
      for (const auto& e : doc["errors"]) {
        if (!e.is_object()) continue;
        if (!out.empty()) out += "; ";
        if (e.contains("code") && e["code"].is_string()) out += e["code"].get<std::string>();
        if (e.contains("message") && e["message"].is_string()) {
          out += ": " + e["message"].get<std::string>();
        }
        if (out.size() > 300) break;
      }
      if (!out.empty()) return out.substr(0, 300);
    }
  } catch (const nlohmann::json::exception&) {
  }
  std::string out;
  for (char c : body.substr(0, 200)) {
    out.push_back(std::isprint(static_cast<unsigned char>(c)) ? c : ' ');
  }
  return Trim(out);
}

std::optional<std::chrono::milliseconds> ParseRetryAfter(const std::string& value,
                                                         std::int64_t now_unix) {
  // Longer waits than this are taken as this: no deadline is that long.
  constexpr std::int64_t kMaxSeconds = 7 * 24 * 3600;
  const std::string v = Trim(value);
  if (v.empty()) return std::nullopt;
  if (std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    const std::int64_t seconds = v.size() > 9 ? kMaxSeconds : std::stoll(v);
    return std::chrono::seconds(std::min(seconds, kMaxSeconds));
  }
  const time_t at = curl_getdate(v.c_str(), nullptr);
  if (at == -1) return std::nullopt;
  const std::int64_t seconds = std::clamp<std::int64_t>(at - now_unix, 0, kMaxSeconds);
  return std::chrono::seconds(seconds);
}

std::string HttpResponse::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

namespace {

// State shared with libcurl's callbacks during one transfer.
struct Transfer {
  HttpResponse* response;
  std::uint64_t max_body;
  bool is_head;
  bool too_large = false;
};

std::size_t OnHeader(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * count);
  if (line.rfind("HTTP/", 0) == 0) {
    t->response->headers.clear();  // a new response (after 100 Continue)
    return size * count;
  }
  std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) return size * count;
  std::string name = Lower(Trim(line.substr(0, colon)));
  std::string value = Trim(line.substr(colon + 1));
  auto [it, inserted] = t->response->headers.emplace(name, value);
  if (!inserted) it->second += ", " + value;
  if (name == "content-length" && !t->is_head) {
    char* end = nullptr;
    unsigned long long n = std::strtoull(value.c_str(), &end, 10);
    if (end != value.c_str() && n > t->max_body) {
      t->too_large = true;
      return 0;  // abort before reading the body
    }
  }
  return size * count;
}

std::size_t OnBody(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::size_t n = size * count;
  if (t->response->body.size() + n > t->max_body) {
    t->too_large = true;
    return 0;
  }
  t->response->body.append(data, n);
  return n;
}

bool IsRetryableTransportError(CURLcode code) {
  return code == CURLE_RECV_ERROR || code == CURLE_SEND_ERROR || code == CURLE_GOT_NOTHING ||
         code == CURLE_PARTIAL_FILE || code == CURLE_HTTP2 || code == CURLE_HTTP2_STREAM;
}

bool IsRetryableStatus(long status) {
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

// `detail` is curl's error text. OpenSSL reports a peer that answers a TLS
// ClientHello with something other than a TLS record (an HTTP response from
// a plain-HTTP server) as "wrong version number"; other handshake failures
// (protocol versions, alerts, a peer that hangs up) are not taken for it.
TransportFailure FailureOf(CURLcode code, const std::string& detail) {
  switch (code) {
    case CURLE_OK:
      return TransportFailure::kNone;
    case CURLE_SSL_CONNECT_ERROR:
      return detail.find("wrong version number") != std::string::npos
                 ? TransportFailure::kPeerSpeaksNoTls
                 : TransportFailure::kOther;
    case CURLE_OPERATION_TIMEDOUT:
      return TransportFailure::kTimeout;
    default:
      return TransportFailure::kOther;
  }
}

}  // namespace

class HttpTransport::Impl {
 public:
  explicit Impl(TransportOptions options) : options_(std::move(options)) { GlobalInit(); }

  HttpResult Perform(const HttpRequest& request, Deadline deadline);

 private:
  HttpResult PerformOnce(const HttpRequest& request, Deadline deadline, CURLcode* transport);
  CurlHandle AcquireHandle();
  void ReleaseHandle(CurlHandle handle);
  Status ConfigureTls(CURL* handle, TlsVerification tls);
  void Notify(const std::string& url, long status) {
    if (options_.on_response) options_.on_response(UrlAuthority(url), status);
  }

  TransportOptions options_;

  std::mutex pool_mutex_;
  std::vector<CurlHandle> pool_;

  std::once_flag ca_once_;
  std::string ca_bundle_;  // system CAs + options_.ca_file
  std::string ca_error_;
};

CurlHandle HttpTransport::Impl::AcquireHandle() {
  {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    if (!pool_.empty()) {
      CurlHandle h = std::move(pool_.back());
      pool_.pop_back();
      return h;
    }
  }
  return CurlHandle(curl_easy_init());
}

void HttpTransport::Impl::ReleaseHandle(CurlHandle handle) {
  if (!handle) return;
  curl_easy_reset(handle.get());  // keeps the live connections
  std::lock_guard<std::mutex> lock(pool_mutex_);
  if (pool_.size() >= kMaxIdleHandles) return;  // cleaned up: its connections close
  pool_.push_back(std::move(handle));
}

Status HttpTransport::Impl::ConfigureTls(CURL* handle, TlsVerification tls) {
  if (tls == TlsVerification::kSkip) {
    curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 0L);
    return OkStatus();
  }
  if (options_.ca_file.empty()) return OkStatus();
  std::call_once(ca_once_, [this] {
    std::ifstream extra(options_.ca_file, std::ios::binary);
    if (!extra) {
      ca_error_ = "cannot read the registry CA file " + options_.ca_file;
      return;
    }
    std::ostringstream bundle;
    std::ifstream system(kSystemCaBundle, std::ios::binary);
    if (system) bundle << system.rdbuf() << "\n";
    bundle << extra.rdbuf();
    ca_bundle_ = bundle.str();
  });
  if (!ca_error_.empty()) return Error(ErrorCode::kIo, ca_error_);
  curl_blob blob{ca_bundle_.data(), ca_bundle_.size(), CURL_BLOB_NOCOPY};
  curl_easy_setopt(handle, CURLOPT_CAINFO_BLOB, &blob);
  return OkStatus();
}

HttpResult HttpTransport::Impl::PerformOnce(const HttpRequest& request, Deadline deadline,
                                            CURLcode* transport) {
  *transport = CURLE_OK;
  auto connect_timeout = options_.connect_timeout;
  auto request_timeout = options_.request_timeout;
  if (deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now());
    if (left.count() <= 0) {
      return {
          Error(ErrorCode::kTimeout, request.method + " " + request.url +
                                         ": the operation's deadline passed before the request"),
          TransportFailure::kTimeout};
    }
    connect_timeout = std::min(connect_timeout, left);
    request_timeout = std::min(request_timeout, left);
  }
  CurlHandle handle = AcquireHandle();
  if (!handle) return {Error(ErrorCode::kInternal, "curl_easy_init failed")};
  CURL* h = handle.get();
  HttpResponse response;
  response.url = request.url;
  bool is_head = request.method == "HEAD";
  Transfer transfer{&response, request.max_body, is_head};
  char error_buffer[CURL_ERROR_SIZE] = {0};

  curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_MAXCONNECTS, kMaxConnectionsPerHandle);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_UNRESTRICTED_AUTH, 0L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(request_timeout.count()));
  curl_easy_setopt(h, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &transfer);
  if (Status tls = ConfigureTls(h, request.tls); !tls.ok()) {
    ReleaseHandle(std::move(handle));
    return {tls.error()};
  }
  if (is_head) {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (request.method == "POST" || request.method == "PUT") {
    const std::string empty;
    const std::string& body = request.body ? *request.body : empty;
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, body.c_str());
    if (request.method == "PUT") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
  } else if (request.method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  Slist headers;
  for (const std::string& header : request.headers) {
    curl_slist* grown = curl_slist_append(headers.get(), header.c_str());
    if (!grown) return {Error(ErrorCode::kInternal, "out of memory building headers")};
    (void)headers.release();
    headers.reset(grown);
  }
  curl_slist* grown = curl_slist_append(headers.get(), "Expect:");
  if (grown) {
    (void)headers.release();
    headers.reset(grown);
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());

  CURLcode code = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
  ReleaseHandle(std::move(handle));
  std::string authority = UrlAuthority(request.url);
  if (transfer.too_large) {
    Notify(request.url, response.status);
    return {Error(ErrorCode::kTooLarge, request.method + " " + request.url +
                                            ": response body exceeds the cap of " +
                                            std::to_string(request.max_body) + " bytes")};
  }
  if (code != CURLE_OK) {
    *transport = code;
    Notify(request.url, 0);
    std::string detail = error_buffer[0] ? error_buffer : curl_easy_strerror(code);
    ErrorCode kind = code == CURLE_OPERATION_TIMEDOUT ? ErrorCode::kTimeout : ErrorCode::kNetwork;
    return {Error(kind, request.method + " " + request.url + ": cannot talk to " + authority +
                            ": " + detail),
            FailureOf(code, detail)};
  }
  Notify(request.url, response.status);
  return {std::move(response)};
}

HttpResult HttpTransport::Impl::Perform(const HttpRequest& request, Deadline deadline) {
  int attempts = request.retry == Retry::kIdempotent ? std::max(0, options_.max_retries) + 1 : 1;
  const std::string authority = options_.admission ? UrlAuthority(request.url) : std::string();
  for (int attempt = 1;; ++attempt) {
    CURLcode transport = CURLE_OK;
    // A refusal is not retried (transport stays CURLE_OK): it already
    // waited as long as the deadline allows.
    HttpResult result = [&]() -> HttpResult {
      RegistryAdmission::Permit permit;
      if (options_.admission) {
        auto admitted = options_.admission->Admit(authority, deadline);
        if (!admitted.ok()) {
          return {admitted.error().WithContext(request.method + " " + request.url),
                  TransportFailure::kTimeout};
        }
        permit = std::move(admitted).value();
      }
      return PerformOnce(request, deadline, &transport);
    }();
    Result<HttpResponse>& response = result.response;
    bool retry = false;
    bool throttled = false;
    std::chrono::milliseconds wait(100 << std::min(attempt - 1, 5));
    if (!response.ok()) {
      retry = IsRetryableTransportError(transport);
    } else if (IsRetryableStatus(response->status)) {
      retry = true;
      throttled = response->status == 429;
      auto after = ParseRetryAfter(response->Header("retry-after"),
                                   static_cast<std::int64_t>(std::time(nullptr)));
      if (after) wait = *after;
      if (throttled && options_.admission) options_.admission->Throttled(authority, wait);
    }
    if (!retry) return result;
    const auto now = Clock::now();
    if (throttled) {
      // Honour Retry-After as sent, or not at all.
      std::string why;
      if (attempt >= attempts) {
        why = "still throttled after " + std::to_string(attempt) + " attempts";
      } else if (deadline && now + wait >= *deadline) {
        why = "the registry asks to wait " + std::to_string(wait.count()) +
              " ms (Retry-After), past the deadline (" +
              std::to_string(std::max<long long>(
                  0,
                  std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - now).count())) +
              " ms left)";
      } else if (!deadline && wait > options_.max_retry_wait) {
        why = "the registry asks to wait " + std::to_string(wait.count()) +
              " ms (Retry-After), more than the " +
              std::to_string(options_.max_retry_wait.count()) + " ms this client waits";
      }
      if (!why.empty()) {
        response->not_retried = why;
        return result;
      }
    } else {
      if (attempt >= attempts) return result;
      wait = std::min(wait, options_.max_retry_wait);
      if (deadline && now + wait >= *deadline) {
        return result;  // no time left for another attempt
      }
    }
    std::this_thread::sleep_for(wait);
  }
}

HttpTransport::HttpTransport(TransportOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
HttpTransport::~HttpTransport() = default;

HttpResult HttpTransport::Perform(const HttpRequest& request, Deadline deadline) {
  return impl_->Perform(request, deadline);
}

}  // namespace signet::oci

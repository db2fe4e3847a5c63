#include "signet/oci/registry_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <list>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <vector>

#include "signet/bounded_json.h"
#include "signet/crypto/encoding.h"
#include "signet/oci/deadline.h"
#include "signet/oci/host.h"
#include "signet/oci/manifest.h"
#include "signet/oci/www_authenticate.h"

namespace signet::oci {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kMaxRedirects = 5;
// Idle easy handles kept for reuse, and idle connections each one keeps: at
// most kMaxIdleHandles * kMaxConnectionsPerHandle keep-alive connections stay
// open however many transfers once ran at the same time.
constexpr std::size_t kMaxIdleHandles = 16;
constexpr long kMaxConnectionsPerHandle = 2;
constexpr std::size_t kMaxTagPages = 100;
constexpr std::size_t kMaxTags = 100000;
constexpr std::uint64_t kMaxErrorBodyBytes = 64 * 1024;
constexpr std::uint64_t kMaxTokenResponseBytes = 1024 * 1024;
constexpr std::uint64_t kMaxTagListBytes = 4 * 1024 * 1024;
constexpr const char* kSystemCaBundle = "/etc/ssl/certs/ca-certificates.crt";
// A registry's ping (scheme and challenge) is repeated after this long.
constexpr auto kRegistryInfoTtl = std::chrono::minutes(10);
// Docker Hub's token server, listed for Docker Hub's registry host
// (kDockerHubRegistry, oci/host.h).
constexpr const char* kDockerHubRealmHost = "auth.docker.io";

const std::string kManifestAccept =
    std::string(kOciManifestMediaType) + ", " + std::string(kOciIndexMediaType) + ", " +
    std::string(kDockerManifestMediaType) + ", " + std::string(kDockerManifestListMediaType);

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

std::string MediaTypeOf(const std::string& content_type) {
  return Trim(std::string_view(content_type).substr(0, content_type.find(';')));
}

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;
  const std::string* body = nullptr;  // sent for PUT/POST
  std::uint64_t max_body = kMaxErrorBodyBytes;
  bool idempotent = true;
  bool verify_tls = true;
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // lowercase names; repeats joined by ", "
  std::string body;
  std::string url;  // the URL this response came from

  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

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

struct Token {
  std::string value;
  Clock::time_point expires;
};

// What a registry's /v2/ ping told us.
struct RegistryInfo {
  std::string scheme;  // "https" or "http"
  AuthChallenge challenge;
  bool has_challenge = false;
  Clock::time_point pinged;
};

struct CachedCredentials {
  Credentials credentials;
  Clock::time_point resolved;
};

// A map of at most `capacity` entries that drops the least recently used one
// when full. Not thread-safe: the caller locks.
template <typename Value>
class LruMap {
 public:
  explicit LruMap(std::size_t capacity) : capacity_(std::max<std::size_t>(1, capacity)) {}

  Value* Find(const std::string& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return &it->second->second;
  }

  void Put(const std::string& key, Value value) {
    if (Value* existing = Find(key)) {
      *existing = std::move(value);
      return;
    }
    order_.emplace_front(key, std::move(value));
    index_[key] = order_.begin();
    while (order_.size() > capacity_) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
  }

  void Erase(const std::string& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return;
    order_.erase(it->second);
    index_.erase(it);
  }

  std::size_t size() const { return order_.size(); }

 private:
  using Entries = std::list<std::pair<std::string, Value>>;
  std::size_t capacity_;
  Entries order_;
  std::unordered_map<std::string, typename Entries::iterator> index_;
};

// The host of a "host:port" authority as UrlAuthority returns it.
std::string AuthorityHost(const std::string& authority) {
  return authority.substr(0, authority.rfind(':'));
}

}  // namespace

class RegistryClient::Impl {
 public:
  explicit Impl(RegistryClientOptions options)
      : options_(std::move(options)),
        registries_(options_.max_cached_registries),
        tokens_(options_.max_cached_tokens),
        credentials_(options_.max_cached_registries) {
    GlobalInit();
    if (!options_.keychain) options_.keychain = AnonymousKeychain();
  }

  RegistryClientCacheSizes CacheSizes() {
    std::lock_guard<std::mutex> lock(state_mutex_);
    return {registries_.size(), tokens_.size(), credentials_.size()};
  }

  Result<ManifestHead> HeadManifest(const Repository& repo, const std::string& ref);
  Result<Manifest> GetManifest(const Repository& repo, const std::string& ref,
                               std::uint64_t max_bytes);
  Result<std::string> GetBlob(const Repository& repo, const std::string& digest,
                              std::uint64_t max_bytes);
  Status PutBlob(const Repository& repo, const std::string& digest, const std::string& bytes);
  Result<std::string> PutManifest(const Repository& repo, const std::string& ref,
                                  const std::string& media_type, const std::string& bytes);
  Result<std::vector<std::string>> ListTags(const Repository& repo);

 private:
  // One authenticated registry API call: pings the registry if needed, adds
  // the Authorization header, re-authenticates once on 401, and follows
  // redirects without leaking the Authorization header to other hosts.
  Result<HttpResponse> Call(const Repository& repo, HttpRequest request, bool push,
                            bool follow_redirects);

  Result<RegistryInfo> Info(const std::string& registry);
  Result<RegistryInfo> Ping(const std::string& registry, const std::string& scheme);
  Result<std::string> AuthorizationFor(const std::string& registry, const RegistryInfo& info,
                                       const std::string& scope, bool refresh);
  Result<Token> FetchToken(const std::string& registry, const RegistryInfo& info,
                           const std::string& scope, const Credentials& creds);
  bool RealmMayReceiveCredentials(const std::string& registry, const RegistryInfo& info,
                                  const std::string& realm) const;
  // The keychain's answer for `registry`, cached for options_.credentials_ttl;
  // kRefresh asks the keychain again.
  enum class CredentialsLookup { kCached, kRefresh };
  Result<Credentials> CredentialsFor(const std::string& registry, CredentialsLookup lookup);

  // One HTTP exchange with retries for idempotent requests.
  Result<HttpResponse> Perform(const HttpRequest& request);
  Result<HttpResponse> PerformOnce(const HttpRequest& request, CURLcode* transport);

  CurlHandle AcquireHandle();
  void ReleaseHandle(CurlHandle handle);
  Status ConfigureTls(CURL* handle, bool verify);
  void Notify(const std::string& url, long status) {
    if (options_.on_response) options_.on_response(UrlAuthority(url), status);
  }

  RegistryClientOptions options_;

  std::mutex pool_mutex_;
  std::vector<CurlHandle> pool_;

  std::mutex state_mutex_;
  LruMap<RegistryInfo> registries_;
  LruMap<Token> tokens_;  // key: registry + " " + scope
  LruMap<CachedCredentials> credentials_;

  std::once_flag ca_once_;
  std::string ca_bundle_;  // system CAs + options_.ca_file
  std::string ca_error_;
};

CurlHandle RegistryClient::Impl::AcquireHandle() {
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

void RegistryClient::Impl::ReleaseHandle(CurlHandle handle) {
  if (!handle) return;
  curl_easy_reset(handle.get());  // keeps the live connections
  std::lock_guard<std::mutex> lock(pool_mutex_);
  if (pool_.size() >= kMaxIdleHandles) return;  // cleaned up: its connections close
  pool_.push_back(std::move(handle));
}

Status RegistryClient::Impl::ConfigureTls(CURL* handle, bool verify) {
  if (!verify) {
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

Result<HttpResponse> RegistryClient::Impl::PerformOnce(const HttpRequest& request,
                                                       CURLcode* transport) {
  *transport = CURLE_OK;
  auto connect_timeout = options_.connect_timeout;
  auto request_timeout = options_.request_timeout;
  const std::optional<Clock::time_point> deadline = CurrentDeadline();
  if (deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now());
    if (left.count() <= 0) {
      return Error(ErrorCode::kTimeout, request.method + " " + request.url +
                                            ": the operation's deadline passed before the request");
    }
    connect_timeout = std::min(connect_timeout, left);
    request_timeout = std::min(request_timeout, left);
  }
  CurlHandle handle = AcquireHandle();
  if (!handle) return Error(ErrorCode::kInternal, "curl_easy_init failed");
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
  if (Status tls = ConfigureTls(h, request.verify_tls); !tls.ok()) {
    ReleaseHandle(std::move(handle));
    return tls.error();
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
    if (!grown) return Error(ErrorCode::kInternal, "out of memory building headers");
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
    return Error(ErrorCode::kTooLarge, request.method + " " + request.url +
                                           ": response body exceeds the cap of " +
                                           std::to_string(request.max_body) + " bytes");
  }
  if (code != CURLE_OK) {
    *transport = code;
    Notify(request.url, 0);
    std::string detail = error_buffer[0] ? error_buffer : curl_easy_strerror(code);
    ErrorCode kind = code == CURLE_OPERATION_TIMEDOUT ? ErrorCode::kTimeout : ErrorCode::kNetwork;
    return Error(
        kind, request.method + " " + request.url + ": cannot talk to " + authority + ": " + detail);
  }
  Notify(request.url, response.status);
  return response;
}

Result<HttpResponse> RegistryClient::Impl::Perform(const HttpRequest& request) {
  int attempts = request.idempotent ? std::max(0, options_.max_retries) + 1 : 1;
  for (int attempt = 1;; ++attempt) {
    CURLcode transport = CURLE_OK;
    Result<HttpResponse> response = PerformOnce(request, &transport);
    bool retry = false;
    std::chrono::milliseconds wait(100 << std::min(attempt - 1, 5));
    if (!response.ok()) {
      retry = IsRetryableTransportError(transport);
    } else if (IsRetryableStatus(response->status)) {
      retry = true;
      std::string after = response->Header("retry-after");
      if (!after.empty() && std::all_of(after.begin(), after.end(), ::isdigit) &&
          after.size() < 7) {
        wait = std::chrono::milliseconds(std::stol(after) * 1000);
      }
    }
    if (!retry || attempt >= attempts) return response;
    wait = std::min(wait, options_.max_retry_wait);
    if (auto deadline = CurrentDeadline(); deadline && Clock::now() + wait >= *deadline) {
      return response;  // no time left for another attempt
    }
    std::this_thread::sleep_for(wait);
  }
}

Result<Credentials> RegistryClient::Impl::CredentialsFor(const std::string& registry,
                                                         CredentialsLookup lookup) {
  if (lookup == CredentialsLookup::kCached) {
    std::lock_guard<std::mutex> lock(state_mutex_);
    const CachedCredentials* cached = credentials_.Find(registry);
    if (cached && Clock::now() - cached->resolved < options_.credentials_ttl) {
      return cached->credentials;
    }
  }
  Result<Credentials> creds = options_.keychain->Resolve(registry);
  if (!creds.ok()) return creds.error().WithContext("resolving credentials for " + registry);
  std::lock_guard<std::mutex> lock(state_mutex_);
  credentials_.Put(registry, CachedCredentials{*creds, Clock::now()});
  return creds;
}

Result<RegistryInfo> RegistryClient::Impl::Ping(const std::string& registry,
                                                const std::string& scheme) {
  HttpRequest request;
  request.url = scheme + "://" + registry + "/v2/";
  request.verify_tls = !options_.allow_insecure;
  auto response = Perform(request);
  if (!response.ok()) return response.error();
  RegistryInfo info;
  info.scheme = scheme;
  if (response->status == 200) return info;
  if (response->status == 401) {
    auto challenges = ParseWwwAuthenticate(response->Header("www-authenticate"));
    if (!challenges.ok()) return challenges.error().WithContext("registry " + registry);
    for (const AuthChallenge& c : *challenges) {
      if (c.scheme == "bearer" || (c.scheme == "basic" && !info.has_challenge)) {
        info.challenge = c;
        info.has_challenge = true;
      }
    }
    if (!info.has_challenge) {
      return Error(ErrorCode::kAuth,
                   "registry " + registry + " asks for an unsupported authentication scheme");
    }
    return info;
  }
  return Error(ErrorCode::kRegistry, "registry " + registry + ": GET /v2/ answered HTTP " +
                                         std::to_string(response->status) + ": " +
                                         ErrorSnippet(response->body));
}

Result<RegistryInfo> RegistryClient::Impl::Info(const std::string& registry) {
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    const RegistryInfo* cached = registries_.Find(registry);
    if (cached && Clock::now() - cached->pinged < kRegistryInfoTtl) return *cached;
  }
  Result<RegistryInfo> info = Ping(registry, "https");
  if (!info.ok() && options_.allow_insecure &&
      (info.error().code() == ErrorCode::kNetwork || info.error().code() == ErrorCode::kTimeout)) {
    // The registry may speak plain HTTP (cosign's --allow-insecure-registry).
    Result<RegistryInfo> plain = Ping(registry, "http");
    if (plain.ok()) info = plain;
  }
  if (!info.ok()) return info.error();
  info->pinged = Clock::now();
  std::lock_guard<std::mutex> lock(state_mutex_);
  registries_.Put(registry, *info);
  return info;
}

bool RegistryClient::Impl::RealmMayReceiveCredentials(const std::string& registry,
                                                      const RegistryInfo& info,
                                                      const std::string& realm) const {
  const std::string realm_scheme = UrlScheme(realm);
  const std::string realm_authority = UrlAuthority(realm);
  const std::string registry_authority = UrlAuthority(info.scheme + "://" + registry + "/");
  if (realm_authority.empty() || registry_authority.empty()) return false;
  // The registry itself: it already receives these credentials this way.
  if (realm_scheme == info.scheme && realm_authority == registry_authority) return true;
  if (realm_scheme != "https") return false;
  if (AuthorityHost(realm_authority) == AuthorityHost(registry_authority)) return true;
  std::vector<std::string> listed;
  if (auto it = options_.token_realm_hosts.find(registry); it != options_.token_realm_hosts.end()) {
    listed = it->second;
  }
  if (registry == kDockerHubRegistry) listed.push_back(kDockerHubRealmHost);
  return std::any_of(listed.begin(), listed.end(), [&](const std::string& host) {
    return UrlAuthority("https://" + host + "/") == realm_authority;
  });
}

Result<Token> RegistryClient::Impl::FetchToken(const std::string& registry,
                                               const RegistryInfo& info, const std::string& scope,
                                               const Credentials& creds) {
  const AuthChallenge& challenge = info.challenge;
  std::string realm = challenge.Param("realm");
  std::string realm_scheme = UrlScheme(realm);
  if (realm_scheme != "https" && realm_scheme != "http") {
    return Error(ErrorCode::kAuth,
                 "registry " + registry + " names an unusable token realm \"" + realm + "\"");
  }
  std::string realm_authority = UrlAuthority(realm);
  if (realm_scheme == "http" && !options_.allow_insecure && !IsLoopbackHost(realm_authority)) {
    return Error(ErrorCode::kAuth, "registry " + registry + " names a plain-HTTP token realm " +
                                       realm + "; refusing without allow_insecure");
  }
  if (!creds.anonymous() && !RealmMayReceiveCredentials(registry, info, realm)) {
    return Error(ErrorCode::kAuth,
                 "registry " + registry + " names the token realm " + realm_scheme + "://" +
                     realm_authority +
                     ", which may not receive its credentials: they go to a token realm only "
                     "over HTTPS on the registry's own host, or on a realm host listed for it "
                     "(registries[].tokenRealmHosts)");
  }
  std::string query;
  if (!challenge.Param("service").empty()) {
    query += "service=" + PercentEncode(challenge.Param("service"));
  }
  if (!scope.empty())
    query += std::string(query.empty() ? "" : "&") + "scope=" + PercentEncode(scope);

  HttpRequest request;
  request.verify_tls = !options_.allow_insecure;
  request.max_body = kMaxTokenResponseBytes;
  std::string form;
  if (!creds.identity_token.empty()) {
    request.method = "POST";
    request.url = realm;
    form = "grant_type=refresh_token&client_id=signet&refresh_token=" +
           PercentEncode(creds.identity_token) + (query.empty() ? "" : "&" + query);
    request.body = &form;
    request.headers.push_back("Content-Type: application/x-www-form-urlencoded");
  } else {
    request.url = realm + (realm.find('?') == std::string::npos ? "?" : "&") + query;
    if (!creds.anonymous()) {
      request.headers.push_back("Authorization: Basic " +
                                crypto::Base64Encode(creds.username + ":" + creds.password));
    }
  }
  auto response = Perform(request);
  if (!response.ok()) return response.error().WithContext("fetching a token for " + registry);
  if (response->status == 401 || response->status == 403) {
    return Error(ErrorCode::kAuth, "token server " + realm_authority + " for registry " + registry +
                                       " refused the credentials (HTTP " +
                                       std::to_string(response->status) + ")");
  }
  if (response->status != 200) {
    return Error(ErrorCode::kAuth, "token server " + realm_authority + " for registry " + registry +
                                       " answered HTTP " + std::to_string(response->status) + ": " +
                                       ErrorSnippet(response->body));
  }
  Token token;
  std::int64_t expires_in = 60;
  try {
    auto parsed = ParseBoundedJson(response->body, "token response");
    if (!parsed.ok()) {
      return Error(ErrorCode::kAuth, "token server " + realm_authority +
                                         " sent invalid JSON: " + parsed.error().message());
    }
    auto& doc = *parsed;
    if (doc.contains("token") && doc["token"].is_string()) {
      token.value = doc["token"].get<std::string>();
    }
    if (token.value.empty() && doc.contains("access_token") && doc["access_token"].is_string()) {
      token.value = doc["access_token"].get<std::string>();
    }
    if (doc.contains("expires_in") && doc["expires_in"].is_number_integer() &&
        doc["expires_in"].get<std::int64_t>() > 0) {
      expires_in = doc["expires_in"].get<std::int64_t>();
    }
  } catch (const nlohmann::json::exception&) {
    return Error(ErrorCode::kAuth, "token server " + realm_authority + " sent invalid JSON");
  }
  if (token.value.empty()) {
    return Error(ErrorCode::kAuth, "token server " + realm_authority + " sent no token");
  }
  // Renew a little early so a token does not expire in flight.
  token.expires = Clock::now() + std::chrono::seconds(expires_in) - std::chrono::seconds(5);
  return token;
}

Result<std::string> RegistryClient::Impl::AuthorizationFor(const std::string& registry,
                                                           const RegistryInfo& info,
                                                           const std::string& scope, bool refresh) {
  if (!info.has_challenge) return std::string();
  auto creds =
      CredentialsFor(registry, refresh ? CredentialsLookup::kRefresh : CredentialsLookup::kCached);
  if (!creds.ok()) return creds.error();
  if (info.challenge.scheme == "basic") {
    if (creds->anonymous()) return std::string();
    return "Authorization: Basic " + crypto::Base64Encode(creds->username + ":" + creds->password);
  }
  std::string key = registry + " " + scope;
  if (!refresh) {
    std::lock_guard<std::mutex> lock(state_mutex_);
    const Token* cached = tokens_.Find(key);
    if (cached && cached->expires > Clock::now()) return "Authorization: Bearer " + cached->value;
  }
  auto token = FetchToken(registry, info, scope, *creds);
  if (!token.ok()) {
    if (token.error().code() == ErrorCode::kAuth) {
      // Refused: ask the keychain again next time (the secret may have rotated).
      std::lock_guard<std::mutex> lock(state_mutex_);
      credentials_.Erase(registry);
    }
    return token.error();
  }
  std::lock_guard<std::mutex> lock(state_mutex_);
  tokens_.Put(key, *token);
  return "Authorization: Bearer " + token->value;
}

Result<HttpResponse> RegistryClient::Impl::Call(const Repository& repo, HttpRequest request,
                                                bool push, bool follow_redirects) {
  auto info = Info(repo.registry);
  if (!info.ok()) return info.error();
  request.verify_tls = !options_.allow_insecure;
  request.url = info->scheme + "://" + repo.registry + request.url;
  std::string scope = "repository:" + repo.path + (push ? ":pull,push" : ":pull");
  std::string registry_authority = UrlAuthority(request.url);
  const std::vector<std::string> base_headers = request.headers;

  for (int auth_round = 0; auth_round < 2; ++auth_round) {
    auto authorization = AuthorizationFor(repo.registry, *info, scope, auth_round > 0);
    if (!authorization.ok()) return authorization.error();
    HttpRequest current = request;
    Result<HttpResponse> response = Error(ErrorCode::kInternal, "no response");
    for (int redirects = 0;; ++redirects) {
      current.headers = base_headers;
      // Credentials only ever go to the registry's own host.
      if (!authorization->empty() && UrlAuthority(current.url) == registry_authority) {
        current.headers.push_back(*authorization);
      }
      response = Perform(current);
      if (!response.ok()) return response.error();
      long status = response->status;
      bool redirect =
          status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
      if (!follow_redirects || !redirect) break;
      if (redirects >= kMaxRedirects) {
        return Error(ErrorCode::kRegistry, "too many redirects from " + request.url);
      }
      auto next = ResolveUrl(current.url, response->Header("location"));
      if (!next.ok()) return next.error();
      std::string scheme = UrlScheme(*next);
      if (scheme != "https" &&
          !(scheme == "http" && (options_.allow_insecure || info->scheme == "http"))) {
        return Error(ErrorCode::kRegistry, "refusing redirect to " + *next);
      }
      current.url = *next;
      if (status == 303) current.method = "GET";
    }
    if (response->status != 401) return response;
    if (auth_round > 0) {
      // Refused even after a fresh look-up: ask the keychain again next time.
      std::lock_guard<std::mutex> lock(state_mutex_);
      credentials_.Erase(repo.registry);
      return response;
    }
    // Only the registry itself says how to authenticate to it: a 401 from a
    // redirect's other host is answered as is and never replaces its challenge.
    if (UrlAuthority(response->url) != registry_authority) return response;
    // The registry wants (other) credentials: take its challenge and retry once.
    std::string header = response->Header("www-authenticate");
    if (header.empty()) return response;
    auto challenges = ParseWwwAuthenticate(header);
    if (!challenges.ok()) return response;
    for (const AuthChallenge& c : *challenges) {
      if (c.scheme == "bearer" || c.scheme == "basic") {
        info->challenge = c;
        info->has_challenge = true;
        std::lock_guard<std::mutex> lock(state_mutex_);
        registries_.Put(repo.registry, *info);
        break;
      }
    }
  }
  return Error(ErrorCode::kInternal, "unreachable");
}

namespace {

// Maps a non-success status of a registry call to an Error.
Error StatusError(const std::string& what, const HttpResponse& response) {
  std::string where = what + ": HTTP " + std::to_string(response.status);
  std::string snippet = ErrorSnippet(response.body);
  if (!snippet.empty()) where += ": " + snippet;
  switch (response.status) {
    case 401:
    case 403:
      return Error(ErrorCode::kAuth, what + ": the registry refused access (HTTP " +
                                         std::to_string(response.status) +
                                         "); check the registry credentials");
    case 404:
      return Error(ErrorCode::kNotFound, where);
    default:
      return Error(ErrorCode::kRegistry, where);
  }
}

std::string RefPath(const Repository& repo, const std::string& kind, const std::string& ref) {
  return "/v2/" + repo.path + "/" + kind + "/" + ref;
}

Status CheckRef(const std::string& ref) {
  if (ref.empty()) return Error(ErrorCode::kInvalidArgument, "empty tag or digest");
  if (ref.find(':') != std::string::npos) {
    if (!IsValidSha256Digest(ref)) {
      return Error(ErrorCode::kInvalidArgument, "invalid digest \"" + ref + "\"");
    }
    return OkStatus();
  }
  auto parsed = ImageReference::Parse("x:" + ref);
  if (!parsed.ok()) return Error(ErrorCode::kInvalidArgument, "invalid tag \"" + ref + "\"");
  return OkStatus();
}

}  // namespace

Result<Manifest> RegistryClient::Impl::GetManifest(const Repository& repo, const std::string& ref,
                                                   std::uint64_t max_bytes) {
  if (Status s = CheckRef(ref); !s.ok()) return s.error();
  std::string what = "GET manifest " + repo.Name() + (IsValidSha256Digest(ref) ? "@" : ":") + ref;
  HttpRequest request;
  request.url = RefPath(repo, "manifests", ref);
  request.headers.push_back("Accept: " + kManifestAccept);
  request.max_body = max_bytes;
  auto response = Call(repo, request, false, true);
  if (!response.ok()) return response.error().WithContext(what);
  if (response->status != 200) return StatusError(what, *response);
  Manifest manifest;
  manifest.bytes = std::move(response->body);
  manifest.digest = crypto::Sha256Digest(manifest.bytes);
  std::string expected = IsValidSha256Digest(ref) ? ref : response->Header("docker-content-digest");
  if (!expected.empty() && expected != manifest.digest) {
    return Error(ErrorCode::kDigestMismatch, what + ": content has digest " + manifest.digest +
                                                 " but " + expected + " was expected");
  }
  manifest.media_type = MediaTypeOf(response->Header("content-type"));
  if (!IsImageManifestMediaType(manifest.media_type) && !IsIndexMediaType(manifest.media_type)) {
    try {
      auto parsed = ParseBoundedJson(manifest.bytes, what);
      if (!parsed.ok()) return parsed.error();
      auto& doc = *parsed;
      if (doc.is_object() && doc.contains("mediaType") && doc["mediaType"].is_string()) {
        manifest.media_type = doc["mediaType"].get<std::string>();
      }
    } catch (const nlohmann::json::exception&) {
      return Error(ErrorCode::kParse, what + ": the manifest is not JSON");
    }
  }
  return manifest;
}

Result<ManifestHead> RegistryClient::Impl::HeadManifest(const Repository& repo,
                                                        const std::string& ref) {
  if (Status s = CheckRef(ref); !s.ok()) return s.error();
  std::string what = "HEAD manifest " + repo.Name() + (IsValidSha256Digest(ref) ? "@" : ":") + ref;
  HttpRequest request;
  request.method = "HEAD";
  request.url = RefPath(repo, "manifests", ref);
  request.headers.push_back("Accept: " + kManifestAccept);
  auto response = Call(repo, request, false, true);
  if (!response.ok()) return response.error().WithContext(what);
  if (response->status != 200) return StatusError(what, *response);
  ManifestHead head;
  head.digest = response->Header("docker-content-digest");
  head.media_type = MediaTypeOf(response->Header("content-type"));
  std::string length = response->Header("content-length");
  if (head.digest.empty() || length.empty() || !IsValidSha256Digest(head.digest)) {
    // Not every registry sends the digest on HEAD: fall back to GET.
    auto manifest = GetManifest(repo, ref, kDefaultMaxManifestBytes);
    if (!manifest.ok()) return manifest.error();
    return ManifestHead{manifest->media_type, manifest->digest, manifest->bytes.size()};
  }
  if (IsValidSha256Digest(ref) && head.digest != ref) {
    return Error(ErrorCode::kDigestMismatch,
                 what + ": registry reports digest " + head.digest + " for " + ref);
  }
  head.size = std::strtoull(length.c_str(), nullptr, 10);
  return head;
}

Result<std::string> RegistryClient::Impl::GetBlob(const Repository& repo, const std::string& digest,
                                                  std::uint64_t max_bytes) {
  if (!IsValidSha256Digest(digest)) {
    return Error(ErrorCode::kInvalidArgument, "invalid blob digest \"" + digest + "\"");
  }
  std::string what = "GET blob " + repo.Name() + "@" + digest;
  HttpRequest request;
  request.url = RefPath(repo, "blobs", digest);
  request.max_body = max_bytes;
  auto response = Call(repo, request, false, true);
  if (!response.ok()) return response.error().WithContext(what);
  if (response->status != 200) return StatusError(what, *response);
  std::string actual = crypto::Sha256Digest(response->body);
  if (actual != digest) {
    return Error(ErrorCode::kDigestMismatch,
                 what + ": content has digest " + actual + " but " + digest + " was expected");
  }
  return std::move(response->body);
}

Status RegistryClient::Impl::PutBlob(const Repository& repo, const std::string& digest,
                                     const std::string& bytes) {
  if (!IsValidSha256Digest(digest)) {
    return Error(ErrorCode::kInvalidArgument, "invalid blob digest \"" + digest + "\"");
  }
  if (crypto::Sha256Digest(bytes) != digest) {
    return Error(ErrorCode::kInvalidArgument, "PutBlob: the bytes do not hash to " + digest +
                                                  " (they hash to " + crypto::Sha256Digest(bytes) +
                                                  ")");
  }
  std::string what = "upload blob " + repo.Name() + "@" + digest;
  HttpRequest head;
  head.method = "HEAD";
  head.url = RefPath(repo, "blobs", digest);
  auto exists = Call(repo, head, true, true);
  if (!exists.ok()) return exists.error().WithContext(what);
  if (exists->status == 200) return OkStatus();
  if (exists->status != 404) return StatusError(what + " (HEAD)", *exists);

  HttpRequest start;
  start.method = "POST";
  start.url = "/v2/" + repo.path + "/blobs/uploads/";
  start.idempotent = false;
  auto started = Call(repo, start, true, false);
  if (!started.ok()) return started.error().WithContext(what);
  if (started->status != 202) return StatusError(what + " (POST)", *started);
  std::string location = started->Header("location");
  if (location.empty()) {
    return Error(ErrorCode::kRegistry, what + ": the registry sent no upload Location");
  }
  auto upload_url = ResolveUrl(started->url, location);
  if (!upload_url.ok()) return upload_url.error().WithContext(what);
  std::string registry_base = UrlScheme(started->url) + "://" + repo.registry;
  if (UrlAuthority(*upload_url) != UrlAuthority(started->url)) {
    return Error(ErrorCode::kRegistry,
                 what + ": the registry wants the upload on another host: " + *upload_url);
  }
  if (upload_url->rfind(registry_base, 0) != 0) {
    return Error(ErrorCode::kRegistry, what + ": unusable upload Location " + *upload_url);
  }
  std::string path_and_query = upload_url->substr(registry_base.size());
  HttpRequest put;
  put.method = "PUT";
  put.url = path_and_query + (path_and_query.find('?') == std::string::npos ? "?" : "&") +
            "digest=" + PercentEncode(digest);
  put.body = &bytes;
  put.idempotent = false;
  put.headers.push_back("Content-Type: application/octet-stream");
  auto finished = Call(repo, put, true, false);
  if (!finished.ok()) return finished.error().WithContext(what);
  if (finished->status != 201 && finished->status != 204) {
    return StatusError(what + " (PUT)", *finished);
  }
  return OkStatus();
}

Result<std::string> RegistryClient::Impl::PutManifest(const Repository& repo,
                                                      const std::string& ref,
                                                      const std::string& media_type,
                                                      const std::string& bytes) {
  if (Status s = CheckRef(ref); !s.ok()) return s.error();
  std::string digest = crypto::Sha256Digest(bytes);
  if (IsValidSha256Digest(ref) && ref != digest) {
    return Error(ErrorCode::kInvalidArgument,
                 "PutManifest: the bytes hash to " + digest + ", not " + ref);
  }
  std::string what = "PUT manifest " + repo.Name() + (IsValidSha256Digest(ref) ? "@" : ":") + ref;
  HttpRequest put;
  put.method = "PUT";
  put.url = RefPath(repo, "manifests", ref);
  put.body = &bytes;
  put.headers.push_back("Content-Type: " + media_type);
  auto response = Call(repo, put, true, false);
  if (!response.ok()) return response.error().WithContext(what);
  if (response->status != 201 && response->status != 200 && response->status != 202) {
    return StatusError(what, *response);
  }
  std::string reported = response->Header("docker-content-digest");
  if (!reported.empty() && reported != digest) {
    return Error(ErrorCode::kDigestMismatch, what + ": registry stored digest " + reported +
                                                 " but the bytes hash to " + digest);
  }
  return digest;
}

Result<std::vector<std::string>> RegistryClient::Impl::ListTags(const Repository& repo) {
  std::string what = "list tags of " + repo.Name();
  std::vector<std::string> tags;
  std::string next = "/v2/" + repo.path + "/tags/list?n=1000";
  for (std::size_t page = 0; !next.empty(); ++page) {
    if (page >= kMaxTagPages) {
      return Error(ErrorCode::kTooLarge,
                   what + ": more than " + std::to_string(kMaxTagPages) + " pages of tags");
    }
    HttpRequest request;
    request.url = next;
    request.max_body = kMaxTagListBytes;
    auto response = Call(repo, request, false, true);
    if (!response.ok()) return response.error().WithContext(what);
    if (response->status != 200) return StatusError(what, *response);
    try {
      auto parsed = ParseBoundedJson(response->body, what);
      if (!parsed.ok()) return parsed.error();
      auto& doc = *parsed;
      if (!doc.is_object()) return Error(ErrorCode::kParse, what + ": not a JSON object");
      if (doc.contains("tags") && !doc["tags"].is_null()) {
        if (!doc["tags"].is_array()) return Error(ErrorCode::kParse, what + ": tags not a list");
        for (const auto& tag : doc["tags"]) {
          if (!tag.is_string()) return Error(ErrorCode::kParse, what + ": a tag is not a string");
          tags.push_back(tag.get<std::string>());
        }
      }
    } catch (const nlohmann::json::exception& e) {
      return Error(ErrorCode::kParse, what + ": invalid JSON: " + e.what());
    }
    if (tags.size() > kMaxTags) {
      return Error(ErrorCode::kTooLarge,
                   what + ": more than " + std::to_string(kMaxTags) + " tags");
    }
    // Link: </v2/<repo>/tags/list?last=x&n=1000>; rel="next"
    next.clear();
    std::string link = response->Header("link");
    std::size_t open = link.find('<');
    std::size_t close = link.find('>');
    if (open != std::string::npos && close != std::string::npos && close > open &&
        link.find("rel=\"next\"") != std::string::npos) {
      auto resolved = ResolveUrl(response->url, link.substr(open + 1, close - open - 1));
      if (!resolved.ok()) return resolved.error().WithContext(what);
      if (UrlAuthority(*resolved) != UrlAuthority(response->url)) {
        return Error(ErrorCode::kRegistry, what + ": pagination link points to another host");
      }
      std::string base = UrlScheme(*resolved) + "://" + repo.registry;
      if (resolved->rfind(base, 0) != 0) {
        return Error(ErrorCode::kRegistry, what + ": unusable pagination link " + *resolved);
      }
      next = resolved->substr(base.size());
    }
  }
  return tags;
}

RegistryClient::RegistryClient(RegistryClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
RegistryClient::~RegistryClient() = default;

Result<ManifestHead> RegistryClient::HeadManifest(const Repository& repo,
                                                  const std::string& tag_or_digest) {
  return impl_->HeadManifest(repo, tag_or_digest);
}
Result<Manifest> RegistryClient::GetManifest(const Repository& repo,
                                             const std::string& tag_or_digest,
                                             std::uint64_t max_bytes) {
  return impl_->GetManifest(repo, tag_or_digest, max_bytes);
}
Result<std::string> RegistryClient::GetBlob(const Repository& repo, const std::string& digest,
                                            std::uint64_t max_bytes) {
  return impl_->GetBlob(repo, digest, max_bytes);
}
Status RegistryClient::PutBlob(const Repository& repo, const std::string& digest,
                               const std::string& bytes) {
  return impl_->PutBlob(repo, digest, bytes);
}
Result<std::string> RegistryClient::PutManifest(const Repository& repo,
                                                const std::string& tag_or_digest,
                                                const std::string& media_type,
                                                const std::string& bytes) {
  return impl_->PutManifest(repo, tag_or_digest, media_type, bytes);
}
Result<std::vector<std::string>> RegistryClient::ListTags(const Repository& repo) {
  return impl_->ListTags(repo);
}
RegistryClientCacheSizes RegistryClient::CacheSizes() const { return impl_->CacheSizes(); }

}  // namespace signet::oci

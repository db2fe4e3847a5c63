// HttpTransport: one HTTP exchange with a registry or token server over
// libcurl, the bottom layer of the registry client (transport -> auth ->
// Distribution API, as go-containerregistry layers it). It knows nothing of
// credentials, challenges or the Distribution API.
//
// - TLS: the system CAs plus an optional extra CA file; a request with
//   TlsVerification::kSkip skips certificate checks (the caller decides when
//   that is allowed). Only http and https URLs are fetched; redirects are
//   never followed here (the auth layer decides where credentials may go).
// - Size caps: a body larger than the request's max_body is refused as
//   kTooLarge, before it is read when Content-Length announces it.
// - Retries: a request marked Retry::kIdempotent is retried on 429, 500,
//   502, 503, 504 (honouring Retry-After up to max_retry_wait) and on
//   connection resets, at most max_retries times.
// - Deadline: each attempt's connect and transfer timeouts shrink to the time
//   left; no attempt starts, and no retry wait begins, past the deadline.
// - Keep-alive: idle curl handles (and their connections) are pooled with a
//   fixed bound and reused across calls and threads.
// - on_response is called after every exchange with the authority and the
//   status (0 for a transport failure).
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "signet/oci/deadline.h"
#include "signet/result.h"

namespace signet::oci {

inline constexpr std::uint64_t kMaxErrorBodyBytes = 64 * 1024;

enum class TlsVerification { kVerify, kSkip };
enum class Retry { kIdempotent, kNever };

struct HttpRequest {
  std::string method = "GET";
  std::string url;  // absolute http(s) URL
  std::vector<std::string> headers;
  const std::string* body = nullptr;  // sent for PUT/POST; not owned
  std::uint64_t max_body = kMaxErrorBodyBytes;
  Retry retry = Retry::kIdempotent;
  TlsVerification tls = TlsVerification::kVerify;
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // lowercase names; repeats joined by ", "
  std::string body;
  std::string url;  // the URL this response came from

  std::string Header(const std::string& name) const;
};

// Why an exchange got no HTTP answer, for callers that choose a scheme.
enum class TransportFailure {
  kNone,
  // The TLS handshake failed in the way that means the peer does not speak
  // TLS at all (OpenSSL's "wrong version number": a plain-HTTP server).
  kPeerSpeaksNoTls,
  kTimeout,
  kOther,
};

struct HttpResult {
  Result<HttpResponse> response;
  TransportFailure failure = TransportFailure::kNone;
};

struct TransportOptions {
  std::string ca_file;  // extra trusted CA bundle (PEM), added to the system CAs
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{30000};  // whole request, retries excluded
  int max_retries = 3;                               // for Retry::kIdempotent requests
  std::chrono::milliseconds max_retry_wait{2000};    // cap on Retry-After / backoff
  std::string user_agent = "signet";
  std::function<void(const std::string& authority, long status)> on_response;
};

class HttpTransport {
 public:
  explicit HttpTransport(TransportOptions options);
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  HttpResult Perform(const HttpRequest& request, Deadline deadline);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// URL helpers shared by the layers above (pure functions).
// "host:port" (lowercase, default port filled in) of an absolute URL; "" when
// it is not one.
std::string UrlAuthority(const std::string& url);
// The lowercase scheme of an absolute URL ("" when none).
std::string UrlScheme(const std::string& url);
// Resolves `location` (absolute, or relative to `base`) into an absolute URL.
Result<std::string> ResolveUrl(const std::string& base, const std::string& location);
// RFC 3986 unreserved characters kept, everything else %XX.
std::string PercentEncode(std::string_view s);
// A printable, bounded excerpt of a registry error body.
std::string ErrorSnippet(const std::string& body);

}  // namespace signet::oci

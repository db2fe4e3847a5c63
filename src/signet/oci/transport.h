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
//   502, 503, 504 and on connection resets, at most max_retries times, after
//   a backoff or the answer's Retry-After (seconds or an HTTP-date), capped
//   at max_retry_wait for 5xx.
// - 429: Retry-After is honoured as sent when the request has a deadline
//   and the wait ends before it (without a deadline, when it is at most
//   max_retry_wait); otherwise the 429 is returned at once, with
//   HttpResponse::not_retried saying why. Each 429 also pauses the host in
//   the admission control (if any) for that long.
// - Admission: with TransportOptions::admission, every exchange (attempts,
//   and each hop the auth layer makes) first waits for a slot and a token of
//   its host (admission.h), within the deadline; a request that cannot be
//   admitted fails with kTimeout without touching the network.
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
#include <optional>
#include <string>
#include <vector>

#include "signet/oci/admission.h"
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
  // Why a 429 came back instead of being retried ("" otherwise), e.g. the
  // Retry-After wait would end past the deadline.
  std::string not_retried;

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
  // Cap on the backoff and Retry-After of 5xx; for 429 only without a deadline.
  std::chrono::milliseconds max_retry_wait{2000};
  std::string user_agent = "signet";
  std::function<void(const std::string& authority, long status)> on_response;
  // Per-host admission control, shared by every transport that talks to the
  // same hosts; null = none.
  std::shared_ptr<RegistryAdmission> admission;
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
// The wait a Retry-After header asks for: delta-seconds, or an HTTP-date
// (`now_unix` is the current time in seconds since the epoch); a date in the
// past is 0. nullopt when the value is neither.
std::optional<std::chrono::milliseconds> ParseRetryAfter(const std::string& value,
                                                         std::int64_t now_unix);

}  // namespace signet::oci

#include "signet/oci/auth.h"

#include <algorithm>
#include <list>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>

#include "signet/bounded_json.h"
#include "signet/crypto/encoding.h"
#include "signet/oci/host.h"
#include "signet/oci/www_authenticate.h"

namespace signet::oci {
namespace {

using Clock = DeadlineClock;

constexpr int kMaxRedirects = 5;
constexpr std::uint64_t kMaxTokenResponseBytes = 1024 * 1024;
// What was learnt about a registry (its scheme and challenge) is forgotten
// after this long.
constexpr auto kRegistryInfoTtl = std::chrono::minutes(10);
// Docker Hub's token server, listed for Docker Hub's registry host
// (kDockerHubRegistry, oci/host.h).
constexpr const char* kDockerHubRealmHost = "auth.docker.io";

struct Token {
  std::string value;
  Clock::time_point expires;
};

// What requests to a registry have taught: the scheme that answered, and the
// challenge its 401 carried (none until one did).
struct RegistryInfo {
  std::string scheme;  // "https" or "http"; "" until an exchange answered
  AuthChallenge challenge;
  bool has_challenge = false;
  Clock::time_point learnt;
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

// A TLS failure against a host that is not allowed plain HTTP: say how to
// proceed when the peer looks like a plain-HTTP server.
Error WithSchemeHint(const std::string& registry, const Error& error, TransportFailure failure) {
  if (failure != TransportFailure::kPeerSpeaksNoTls) return error;
  return Error(error.code(),
               error.message() + " (the registry " + registry +
                   " does not seem to speak TLS; signet uses plain HTTP only for loopback "
                   "registries (localhost, 127.0.0.0/8, [::1]) unless insecure registries are "
                   "allowed: --allow-insecure-registry on the command line, registries[].insecure "
                   "or --allow-insecure-registry for signet serve)");
}

}  // namespace

class RegistryAuth::Impl {
 public:
  Impl(HttpTransport& transport, AuthOptions options)
      : transport_(transport),
        options_(std::move(options)),
        registries_(options_.max_cached_registries),
        tokens_(options_.max_cached_tokens),
        credentials_(options_.max_cached_registries) {
    if (!options_.keychain) options_.keychain = AnonymousKeychain();
  }

  AuthCacheSizes CacheSizes() {
    std::lock_guard<std::mutex> lock(state_mutex_);
    return {registries_.size(), tokens_.size(), credentials_.size()};
  }

  Result<HttpResponse> Call(const Repository& repo, const RegistryRequest& request,
                            Deadline deadline);

 private:
  // The keychain's answer for `registry`, cached for options_.credentials_ttl;
  // kRefresh asks the keychain again.
  enum class CredentialsLookup { kCached, kRefresh };

  RegistryInfo Info(const std::string& registry);
  void Remember(const std::string& registry, const RegistryInfo& info);
  TlsVerification Tls() const {
    return options_.allow_insecure ? TlsVerification::kSkip : TlsVerification::kVerify;
  }
  // Whether `registry` may be tried over plain HTTP after HTTPS got no HTTP
  // answer for the reason `failure`.
  bool MayFallBackToPlainHttp(const std::string& registry, TransportFailure failure) const;
  // One exchange with the registry's own authority under `info.scheme`, or,
  // when no scheme is known yet, HTTPS and (where allowed) plain HTTP; then
  // the redirects `request` allows, with `authorization` only for the
  // registry's own authority. Sets info->scheme from the answer.
  Result<HttpResponse> Exchange(const Repository& repo, RegistryInfo* info,
                                const RegistryRequest& request, const std::string& authorization,
                                Deadline deadline);
  // Sends `current` (unless `answered` already holds its response) and
  // follows the redirects `redirects` allows.
  Result<HttpResponse> FollowRedirects(const RegistryInfo& info, HttpRequest current,
                                       std::optional<HttpResponse> answered,
                                       const std::vector<std::string>& base_headers,
                                       const std::string& authorization, Redirects redirects,
                                       Deadline deadline);
  Result<std::string> AuthorizationFor(const std::string& registry, const RegistryInfo& info,
                                       const std::string& scope, CredentialsLookup lookup,
                                       Deadline deadline);
  Result<Token> FetchToken(const std::string& registry, const RegistryInfo& info,
                           const std::string& scope, const Credentials& creds, Deadline deadline);
  bool RealmMayReceiveCredentials(const std::string& registry, const RegistryInfo& info,
                                  const std::string& realm) const;
  Result<Credentials> CredentialsFor(const std::string& registry, CredentialsLookup lookup);
  void ForgetCredentials(const std::string& registry) {
    std::lock_guard<std::mutex> lock(state_mutex_);
    credentials_.Erase(registry);
  }

  HttpTransport& transport_;
  AuthOptions options_;

  mutable std::mutex state_mutex_;
  LruMap<RegistryInfo> registries_;
  LruMap<Token> tokens_;  // key: registry + " " + scope
  LruMap<CachedCredentials> credentials_;
};

RegistryInfo RegistryAuth::Impl::Info(const std::string& registry) {
  std::lock_guard<std::mutex> lock(state_mutex_);
  const RegistryInfo* cached = registries_.Find(registry);
  if (cached && Clock::now() - cached->learnt < kRegistryInfoTtl) return *cached;
  return RegistryInfo{};
}

void RegistryAuth::Impl::Remember(const std::string& registry, const RegistryInfo& info) {
  RegistryInfo stored = info;
  stored.learnt = Clock::now();
  std::lock_guard<std::mutex> lock(state_mutex_);
  registries_.Put(registry, stored);
}

bool RegistryAuth::Impl::MayFallBackToPlainHttp(const std::string& registry,
                                                TransportFailure failure) const {
  if (options_.allow_insecure) {
    // The registry may speak plain HTTP (cosign's --allow-insecure-registry).
    return failure != TransportFailure::kNone;
  }
  return IsLoopbackHost(registry) && failure == TransportFailure::kPeerSpeaksNoTls;
}

Result<Credentials> RegistryAuth::Impl::CredentialsFor(const std::string& registry,
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

bool RegistryAuth::Impl::RealmMayReceiveCredentials(const std::string& registry,
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

Result<Token> RegistryAuth::Impl::FetchToken(const std::string& registry, const RegistryInfo& info,
                                             const std::string& scope, const Credentials& creds,
                                             Deadline deadline) {
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
  request.tls = Tls();
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
  auto response = transport_.Perform(request, deadline).response;
  if (!response.ok()) return response.error().WithContext("fetching a token for " + registry);
  const int status = static_cast<int>(response->status);
  if (status == 401 || status == 403) {
    return Error(ErrorCode::kAuth,
                 "token server " + realm_authority + " for registry " + registry +
                     " refused the credentials (HTTP " + std::to_string(status) + ")",
                 status);
  }
  if (status != 200) {
    std::string detail = ErrorSnippet(response->body);
    if (status == 429) {
      detail += std::string(detail.empty() ? "" : ": ") + "the token server is throttling requests";
      if (!response->not_retried.empty()) detail += " (" + response->not_retried + ")";
    }
    return Error(ErrorCode::kAuth,
                 "token server " + realm_authority + " for registry " + registry +
                     " answered HTTP " + std::to_string(status) + ": " + detail,
                 status);
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

Result<std::string> RegistryAuth::Impl::AuthorizationFor(const std::string& registry,
                                                         const RegistryInfo& info,
                                                         const std::string& scope,
                                                         CredentialsLookup lookup,
                                                         Deadline deadline) {
  if (!info.has_challenge) return std::string();
  auto creds = CredentialsFor(registry, lookup);
  if (!creds.ok()) return creds.error();
  if (info.challenge.scheme == "basic") {
    if (creds->anonymous()) return std::string();
    return "Authorization: Basic " + crypto::Base64Encode(creds->username + ":" + creds->password);
  }
  std::string key = registry + " " + scope;
  if (lookup == CredentialsLookup::kCached) {
    std::lock_guard<std::mutex> lock(state_mutex_);
    const Token* cached = tokens_.Find(key);
    if (cached && cached->expires > Clock::now()) return "Authorization: Bearer " + cached->value;
  }
  auto token = FetchToken(registry, info, scope, *creds, deadline);
  if (!token.ok()) {
    if (token.error().code() == ErrorCode::kAuth) {
      // Refused: ask the keychain again next time (the secret may have rotated).
      ForgetCredentials(registry);
    }
    return token.error();
  }
  std::lock_guard<std::mutex> lock(state_mutex_);
  tokens_.Put(key, *token);
  return "Authorization: Bearer " + token->value;
}

Result<HttpResponse> RegistryAuth::Impl::FollowRedirects(
    const RegistryInfo& info, HttpRequest current, std::optional<HttpResponse> answered,
    const std::vector<std::string>& base_headers, const std::string& authorization,
    Redirects redirects, Deadline deadline) {
  const std::string registry_authority = UrlAuthority(current.url);
  const std::string first_url = current.url;
  for (int hops = 0;; ++hops) {
    current.headers = base_headers;
    // Credentials only ever go to the registry's own authority.
    if (!authorization.empty() && UrlAuthority(current.url) == registry_authority) {
      current.headers.push_back(authorization);
    }
    Result<HttpResponse> response = answered ? Result<HttpResponse>(std::move(*answered))
                                             : transport_.Perform(current, deadline).response;
    answered.reset();
    if (!response.ok()) return response.error();
    const long status = response->status;
    const bool redirect =
        status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
    if (redirects == Redirects::kReturn || !redirect) return response;
    if (hops >= kMaxRedirects) {
      return Error(ErrorCode::kRegistry, "too many redirects from " + first_url);
    }
    auto next = ResolveUrl(current.url, response->Header("location"));
    if (!next.ok()) return next.error();
    const std::string scheme = UrlScheme(*next);
    if (scheme != "https" &&
        !(scheme == "http" && (options_.allow_insecure || info.scheme == "http"))) {
      return Error(ErrorCode::kRegistry, "refusing redirect to " + *next);
    }
    current.url = *next;
    if (status == 303) current.method = "GET";
  }
}

Result<HttpResponse> RegistryAuth::Impl::Exchange(const Repository& repo, RegistryInfo* info,
                                                  const RegistryRequest& request,
                                                  const std::string& authorization,
                                                  Deadline deadline) {
  HttpRequest first;
  first.method = request.method;
  first.headers = request.headers;
  first.body = request.body;
  first.max_body = request.max_body;
  first.retry = request.retry;
  first.tls = Tls();
  auto url_for = [&](const std::string& scheme) {
    return scheme + "://" + repo.registry + request.path_and_query;
  };
  if (!info->scheme.empty()) {
    first.url = url_for(info->scheme);
    if (!authorization.empty()) first.headers.push_back(authorization);
    return FollowRedirects(*info, first, std::nullopt, request.headers, authorization,
                           request.redirects, deadline);
  }
  // No scheme known yet: HTTPS first, then plain HTTP where that is allowed.
  if (!authorization.empty()) first.headers.push_back(authorization);
  first.url = url_for("https");
  HttpResult https = transport_.Perform(first, deadline);
  if (https.response.ok()) {
    info->scheme = "https";
    return FollowRedirects(*info, first, std::move(*https.response), request.headers, authorization,
                           request.redirects, deadline);
  }
  if (!MayFallBackToPlainHttp(repo.registry, https.failure)) {
    return WithSchemeHint(repo.registry, https.response.error(), https.failure);
  }
  first.url = url_for("http");
  HttpResult plain = transport_.Perform(first, deadline);
  // When HTTPS found a peer that may not speak TLS, the plain-HTTP attempt
  // went further and its failure is the one to report; when HTTPS timed out,
  // that is the story (the plain attempt had what was left of the deadline).
  if (!plain.response.ok()) {
    return https.failure == TransportFailure::kTimeout ? https.response.error()
                                                       : plain.response.error();
  }
  info->scheme = "http";
  return FollowRedirects(*info, first, std::move(*plain.response), request.headers, authorization,
                         request.redirects, deadline);
}

Result<HttpResponse> RegistryAuth::Impl::Call(const Repository& repo,
                                              const RegistryRequest& request, Deadline deadline) {
  RegistryInfo info = Info(repo.registry);
  const std::string scope =
      "repository:" + repo.path + (request.access == Access::kPush ? ":pull,push" : ":pull");
  CredentialsLookup lookup = CredentialsLookup::kCached;
  std::optional<HttpResponse> refused;
  // A 401 while no challenge is known only teaches the challenge. A 401 to an
  // answered challenge is a refusal: the first is answered once more, with
  // the keychain asked afresh and a new token; the second is final. So at
  // most three exchanges.
  int refusals = 0;
  for (;;) {
    auto authorization = AuthorizationFor(repo.registry, info, scope, lookup, deadline);
    if (!authorization.ok()) return authorization.error();
    // Nothing to answer the challenge with (no credentials for this
    // registry): asking again would only be refused again.
    if (refused && authorization->empty()) return std::move(*refused);
    const std::string known_scheme = info.scheme;
    auto response = Exchange(repo, &info, request, *authorization, deadline);
    if (!response.ok()) return response.error();
    if (info.scheme != known_scheme) Remember(repo.registry, info);
    if (response->status != 401) return response;
    const bool answered = info.has_challenge;
    if (answered && ++refusals >= 2) {
      // Refused even with fresh credentials: ask the keychain again next time.
      ForgetCredentials(repo.registry);
      return response;
    }
    // Only the registry itself says how to authenticate to it: a 401 from a
    // redirect's other host is answered as is and never replaces its challenge.
    if (UrlAuthority(response->url) != UrlAuthority(info.scheme + "://" + repo.registry + "/")) {
      return response;
    }
    std::string header = response->Header("www-authenticate");
    if (header.empty()) return response;
    auto challenges = ParseWwwAuthenticate(header);
    if (!challenges.ok()) return response;
    const AuthChallenge* chosen = nullptr;
    for (const AuthChallenge& c : *challenges) {
      if (c.scheme == "bearer" || (c.scheme == "basic" && chosen == nullptr)) chosen = &c;
    }
    if (chosen == nullptr) return response;
    // A refusal asks the keychain afresh; a first challenge is answered with
    // the cached credentials.
    lookup = answered ? CredentialsLookup::kRefresh : CredentialsLookup::kCached;
    info.challenge = *chosen;
    info.has_challenge = true;
    Remember(repo.registry, info);
    refused = std::move(*response);
  }
}

RegistryAuth::RegistryAuth(HttpTransport& transport, AuthOptions options)
    : impl_(std::make_unique<Impl>(transport, std::move(options))) {}
RegistryAuth::~RegistryAuth() = default;

Result<HttpResponse> RegistryAuth::Call(const Repository& repo, const RegistryRequest& request,
                                        Deadline deadline) {
  return impl_->Call(repo, request, deadline);
}

AuthCacheSizes RegistryAuth::CacheSizes() const { return impl_->CacheSizes(); }

}  // namespace signet::oci

// RegistryAuth: the auth layer of the registry client, between the
// transport (transport.h) and the Distribution API (registry_client.h). It
// turns "this request, for this repository" into authenticated exchanges
// with the registry, following go-containerregistry's transport package.
//
// Scheme. A registry is reached over HTTPS. Two cases fall back to plain
// HTTP, and only when the HTTPS attempt got no HTTP answer: a loopback
// registry (IsLoopbackHost: localhost, 127.0.0.0/8, [::1]) whose peer does
// not speak TLS, as cosign and go-containerregistry do; and any registry when
// allow_insecure is set (cosign's --allow-insecure-registry, which also skips
// TLS verification). Any other host is never downgraded, and a TLS failure
// that looks like a plain-HTTP peer says how to proceed. The scheme that
// answered is remembered per registry.
//
// Challenge. There is no /v2/ ping: a request goes out anonymously (or with
// what an earlier challenge asked for), and a 401 from the registry's own
// authority carrying a Basic or Bearer WWW-Authenticate challenge is taken,
// remembered, and answered once: Basic with the keychain's credentials,
// Bearer through the token flow (realm, service, scope; tokens cached per
// registry and scope until they expire). A second 401 makes the keychain be
// asked again next time, so a rotated secret is used without a restart.
//
// Where credentials go. Only to the registry's own authority: redirects to
// other hosts carry no Authorization header, and a 401 from a redirect's
// other host never replaces the registry's challenge. A token realm receives
// the registry's credentials only at the registry's own authority, or over
// HTTPS on the registry's own host or on a realm host listed for that
// registry in token_realm_hosts (Docker Hub's auth.docker.io is listed for
// index.docker.io); any other realm is refused with an error and receives
// nothing. A plain-HTTP realm is refused unless it is loopback or
// allow_insecure is set.
//
// Per-host state (schemes and challenges, tokens, resolved credentials) is
// kept in least-recently-used caches of fixed size; credentials are
// re-resolved from the keychain after credentials_ttl.
//
// Thread-safety: all methods may be called concurrently. The transport must
// outlive this object.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "signet/oci/deadline.h"
#include "signet/oci/keychain.h"
#include "signet/oci/reference.h"
#include "signet/oci/transport.h"
#include "signet/result.h"

namespace signet::oci {

struct AuthOptions {
  // Skip TLS verification and allow plain HTTP for every registry.
  bool allow_insecure = false;
  std::shared_ptr<Keychain> keychain;  // null = anonymous
  // Token realm hosts ("host" = port 443, or "host:port") that may receive a
  // registry's credentials over HTTPS besides the registry's own host, keyed
  // by registry host as in Repository.
  std::map<std::string, std::vector<std::string>> token_realm_hosts;
  // How long resolved credentials are used before the keychain is asked again.
  std::chrono::milliseconds credentials_ttl{10000};
  // Bounds on per-host state: registries (their scheme, challenge and
  // credentials), and tokens (one per registry and scope). Least recently
  // used entries go first.
  std::size_t max_cached_registries = 1024;
  std::size_t max_cached_tokens = 4096;
};

// The token scope a request needs on its repository.
enum class Access { kPull, kPush };
// Whether a registry's 3xx answers are followed (GET/HEAD) or returned (the
// upload protocol reads Location itself).
enum class Redirects { kFollow, kReturn };

// A request to a registry: `path_and_query` starts with "/v2/".
struct RegistryRequest {
  std::string method = "GET";
  std::string path_and_query;
  std::vector<std::string> headers;
  const std::string* body = nullptr;  // not owned
  std::uint64_t max_body = kMaxErrorBodyBytes;
  Retry retry = Retry::kIdempotent;
  Access access = Access::kPull;
  Redirects redirects = Redirects::kFollow;
};

struct AuthCacheSizes {
  std::size_t registries = 0;
  std::size_t tokens = 0;
  std::size_t credentials = 0;
};

class RegistryAuth {
 public:
  RegistryAuth(HttpTransport& transport, AuthOptions options);
  ~RegistryAuth();
  RegistryAuth(const RegistryAuth&) = delete;
  RegistryAuth& operator=(const RegistryAuth&) = delete;

  // One authenticated exchange (plus the challenge round and redirects it
  // needs). The response may have any status; errors are transport, auth
  // and redirect failures.
  Result<HttpResponse> Call(const Repository& repo, const RegistryRequest& request,
                            Deadline deadline);

  AuthCacheSizes CacheSizes() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace signet::oci

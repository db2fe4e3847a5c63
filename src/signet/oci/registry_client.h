// RegistryClient: the Distribution API v2 over libcurl. The only code in
// signet that does network I/O.
//
// - HTTPS with the system CAs plus an optional extra CA file; with
//   allow_insecure, TLS verification is skipped and plain HTTP is allowed
//   (as cosign's --allow-insecure-registry). Hosts "localhost" and
//   127.0.0.0/8 fall back to plain HTTP only when allow_insecure is set.
// - Keep-alive: connections are pooled and reused across calls and threads,
//   with a fixed bound on idle handles and connections.
// - Connect and whole-request timeouts; bounded retries of idempotent
//   requests on 5xx, 429 (honouring Retry-After) and connection resets.
// - Auth: anonymous, Basic, and the Bearer token flow (WWW-Authenticate realm,
//   service, scope), with tokens cached per (registry, scope) until expiry.
//   Credentials go only to their own registry host; redirects to other hosts
//   carry no Authorization header, and a 401 challenge is taken only from the
//   registry's own authority (never from a redirect's other host). A token
//   realm receives the registry's credentials only at the registry's own
//   authority, or over HTTPS on the registry's own host or on a realm host
//   listed for that registry in token_realm_hosts (Docker Hub's
//   auth.docker.io is listed for index.docker.io); any other realm is refused
//   with an error and receives nothing.
// - Per-host state is bounded: registry pings, tokens and resolved
//   credentials are kept in least-recently-used caches of fixed size.
//   Credentials are re-resolved from the keychain after credentials_ttl, and
//   at once when the registry or its token server refuses them, so a rotated
//   secret is used without a restart.
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "signet/oci/keychain.h"
#include "signet/oci/registry.h"

namespace signet::oci {

struct RegistryClientOptions {
  bool allow_insecure = false;  // skip TLS verification / allow plain HTTP
  std::string ca_file;          // extra trusted CA bundle (PEM), added to the system CAs
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{30000};  // whole request, retries excluded
  int max_retries = 3;                               // for idempotent requests
  std::chrono::milliseconds max_retry_wait{2000};    // cap on Retry-After / backoff
  std::shared_ptr<Keychain> keychain;                // null = anonymous
  std::string user_agent = "signet";
  // Called after every HTTP exchange with the host and status code (0 for a
  // transport failure). Used for metrics; may be empty.
  std::function<void(const std::string& host, long status)> on_response;
  // Token realm hosts ("host" = port 443, or "host:port") that may receive a
  // registry's credentials over HTTPS besides the registry's own host, keyed
  // by registry host as in Repository.
  std::map<std::string, std::vector<std::string>> token_realm_hosts;
  // How long resolved credentials are used before the keychain is asked again.
  std::chrono::milliseconds credentials_ttl{10000};
  // Bounds on per-host state: registries pinged (and their credentials), and
  // tokens (one per registry and scope). Least recently used entries go first.
  std::size_t max_cached_registries = 1024;
  std::size_t max_cached_tokens = 4096;
};

// How many entries the per-host caches hold (for tests and diagnostics).
struct RegistryClientCacheSizes {
  std::size_t registries = 0;
  std::size_t tokens = 0;
  std::size_t credentials = 0;
};

class RegistryClient : public Registry {
 public:
  explicit RegistryClient(RegistryClientOptions options);
  ~RegistryClient() override;
  RegistryClient(const RegistryClient&) = delete;
  RegistryClient& operator=(const RegistryClient&) = delete;

  Result<ManifestHead> HeadManifest(const Repository& repo,
                                    const std::string& tag_or_digest) override;
  Result<Manifest> GetManifest(const Repository& repo, const std::string& tag_or_digest,
                               std::uint64_t max_bytes = kDefaultMaxManifestBytes) override;
  Result<std::string> GetBlob(const Repository& repo, const std::string& digest,
                              std::uint64_t max_bytes = kDefaultMaxBlobBytes) override;
  Status PutBlob(const Repository& repo, const std::string& digest,
                 const std::string& bytes) override;
  Result<std::string> PutManifest(const Repository& repo, const std::string& tag_or_digest,
                                  const std::string& media_type, const std::string& bytes) override;
  Result<std::vector<std::string>> ListTags(const Repository& repo) override;

  RegistryClientCacheSizes CacheSizes() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace signet::oci

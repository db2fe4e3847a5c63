// RegistryClient: the Distribution API v2 (manifests HEAD/GET/PUT, blobs,
// tags) over the auth layer (auth.h) and the HTTP transport (transport.h),
// the three layers go-containerregistry has. Together they are the only code
// in signet that does network I/O.
//
// What each layer promises is in its header; in short:
// - transport: HTTPS with the system CAs plus an optional extra CA file,
//   pooled keep-alive connections, connect and request timeouts cut to the
//   call's deadline, bounded retries of idempotent requests on 5xx, 429
//   (honouring Retry-After) and connection resets, size caps on every body;
// - auth: HTTPS except loopback registries that speak plain HTTP (or any
//   registry with allow_insecure), no /v2/ ping (a 401 challenge is answered
//   when it comes), anonymous, Basic and Bearer token auth with tokens cached
//   per (registry, scope), credentials only ever sent to the registry's own
//   host or a token realm allowed for it, bounded per-host state;
// - this class: digests of everything fetched by digest are checked, a
//   manifest's media type is taken from Content-Type or its body, uploads
//   stay on the registry's host.
//
// A cold verification on an anonymous registry therefore costs three
// requests (HEAD tag, GET signature manifest, GET signature blob); a
// registry that wants credentials adds the 401 that carries its challenge
// (once per registry), and a token registry one token request per
// repository.
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "signet/oci/auth.h"
#include "signet/oci/keychain.h"
#include "signet/oci/registry.h"
#include "signet/oci/transport.h"

namespace signet::oci {

struct RegistryClientOptions {
  // Skip TLS verification and allow plain HTTP for every registry (cosign's
  // --allow-insecure-registry). Loopback registries may speak plain HTTP
  // without it.
  bool allow_insecure = false;
  std::string ca_file;  // extra trusted CA bundle (PEM), added to the system CAs
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
  // Bounds on per-host state: registries reached (and their credentials), and
  // tokens (one per registry and scope). Least recently used entries go first.
  std::size_t max_cached_registries = 1024;
  std::size_t max_cached_tokens = 4096;
};

// How many entries the per-host caches hold (for tests and diagnostics).
using RegistryClientCacheSizes = AuthCacheSizes;

class RegistryClient : public Registry {
 public:
  explicit RegistryClient(RegistryClientOptions options);
  ~RegistryClient() override;
  RegistryClient(const RegistryClient&) = delete;
  RegistryClient& operator=(const RegistryClient&) = delete;

  Result<ManifestHead> HeadManifest(const Repository& repo, const std::string& tag_or_digest,
                                    Deadline deadline = std::nullopt) override;
  Result<Manifest> GetManifest(const Repository& repo, const std::string& tag_or_digest,
                               std::uint64_t max_bytes = kDefaultMaxManifestBytes,
                               Deadline deadline = std::nullopt) override;
  Result<std::string> GetBlob(const Repository& repo, const std::string& digest,
                              std::uint64_t max_bytes = kDefaultMaxBlobBytes,
                              Deadline deadline = std::nullopt) override;
  Status PutBlob(const Repository& repo, const std::string& digest, const std::string& bytes,
                 Deadline deadline = std::nullopt) override;
  Result<std::string> PutManifest(const Repository& repo, const std::string& tag_or_digest,
                                  const std::string& media_type, const std::string& bytes,
                                  Deadline deadline = std::nullopt) override;
  Result<std::vector<std::string>> ListTags(const Repository& repo,
                                            Deadline deadline = std::nullopt) override;

  RegistryClientCacheSizes CacheSizes() const;

 private:
  HttpTransport transport_;
  RegistryAuth auth_;
};

}  // namespace signet::oci

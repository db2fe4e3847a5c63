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
//   Credentials go only to their own registry host (the token realm host
//   included); redirects to other hosts carry no Authorization header.
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

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

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace signet::oci

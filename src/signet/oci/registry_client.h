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
// Referrers (OCI 1.1): the Registry interface declares them (registry.h);
// this class answers ListReferrers from the registry's referrers API, and
// pushes referrers with PushReferrer, which reads the OCI-Subject header.
// The fallback tag `sha256-<hex>` (distribution-spec v1.1.1 "referrers tag
// schema") is read and written by the Registry defaults, over this class's
// manifest calls; AddToReferrersTag serializes writers sharing one client.
// cosign/image_bundle.h signs and verifies images with them.
//
// A cold verification of the legacy format on an anonymous registry
// therefore costs three requests (HEAD tag, GET signature manifest, GET
// signature blob); looking for Sigstore bundles as well adds the referrers
// call and, on a registry without the API, the fallback tag, made at the
// same time (cosign/image_verification.h). A registry that wants
// credentials adds the 401 that carries its challenge (once per registry),
// and a token registry one token request per repository.
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "signet/oci/auth.h"
#include "signet/oci/manifest.h"
#include "signet/oci/registry.h"
#include "signet/oci/transport.h"

namespace signet::oci {

// Everything the layers take, in one value: the transport's settings
// (TransportOptions: CA file, timeouts, retries, user agent, response
// observer) and the auth layer's (AuthOptions: allow_insecure, keychain,
// token realm hosts, credential TTL, cache bounds). allow_insecure skips TLS
// verification and allows plain HTTP for every registry (cosign's
// --allow-insecure-registry); loopback registries may speak plain HTTP
// without it.
struct RegistryClientOptions : TransportOptions, AuthOptions {};

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

  // The referrers API over HTTP (registry.h has the contracts).
  // ListReferrers: GET /v2/<repo>/referrers/<subject_digest>.
  Result<Referrers> ListReferrers(const Repository& repo, const std::string& subject_digest,
                                  Deadline deadline, const ReferrersOptions& options = {}) override;
  // AddToReferrersTag: writers sharing this client are serialized.
  Result<ReferrersTagUpdate> AddToReferrersTag(const Repository& repo,
                                               const std::string& referrer_manifest,
                                               Deadline deadline) override;
  // PushReferrer: trusts the PUT's OCI-Subject header only after the
  // referrers API confirms it with a list; without the header the referrer
  // goes straight to the fallback tag.
  Result<ReferrerPush> PushReferrer(const Repository& repo, const std::string& referrer_manifest,
                                    Deadline deadline) override;

  RegistryClientCacheSizes CacheSizes() const;

 private:
  struct PutManifestAnswer {
    std::string digest;
    std::string oci_subject;  // "" when the registry sent none
  };
  Result<PutManifestAnswer> PutManifestReporting(const Repository& repo,
                                                 const std::string& tag_or_digest,
                                                 const std::string& media_type,
                                                 const std::string& bytes, Deadline deadline);

  HttpTransport transport_;
  RegistryAuth auth_;
  std::mutex referrers_tag_mutex_;  // serializes AddToReferrersTag
};

}  // namespace signet::oci

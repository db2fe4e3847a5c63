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
// A host that answers that it has no referrers API is remembered for a while
// (NoReferrersApiHosts), and ListReferrers answers kNoReferrersApi for it
// without a request meanwhile.
// The fallback tag `sha256-<hex>` (distribution-spec v1.1.1 "referrers tag
// schema") is read and written by the Registry defaults, over this class's
// manifest calls; AddToReferrersTag serializes writers sharing one client.
// cosign/image_bundle.h signs and verifies images with them.
//
// Manifests: concurrent identical GET or HEAD requests (same registry,
// repository, reference, Accept and size cap, through this client and so
// with the same credentials) share one exchange and its result, errors
// included (Singleflight, singleflight.h); nothing is cached beyond it.
//
// A cold verification of the legacy format on an anonymous registry
// therefore costs three requests (HEAD tag, GET signature manifest, GET
// signature blob); looking for Sigstore bundles as well adds the referrers
// call and, on a registry without the API, the fallback tag, made at the
// same time (cosign/image_verification.h); once the client knows that the
// host has no referrers API, only the fallback tag. A registry that wants
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
#include "signet/oci/no_referrers_api_hosts.h"
#include "signet/oci/registry.h"
#include "signet/oci/singleflight.h"
#include "signet/oci/transport.h"

namespace signet::oci {

// Everything the layers take, in one value: the transport's settings
// (TransportOptions: CA file, timeouts, retries, user agent, response
// observer) and the auth layer's (AuthOptions: allow_insecure, keychain,
// token realm hosts, credential TTL, cache bounds). allow_insecure skips TLS
// verification and allows plain HTTP for every registry (cosign's
// --allow-insecure-registry); loopback registries may speak plain HTTP
// without it. Beyond those: how long a host without a referrers API is
// remembered, and an observer of the referrers calls that memory saved.
struct RegistryClientOptions : TransportOptions, AuthOptions {
  NoReferrersApiHostsOptions no_referrers_api;
  // Called with the registry host (Repository::registry) each time
  // ListReferrers answers kNoReferrersApi from memory. May be empty.
  std::function<void(const std::string& host)> on_referrers_call_skipped;
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

  // The referrers API over HTTP (registry.h has the contracts).
  // ListReferrers: GET /v2/<repo>/referrers/<subject_digest>.
  //
  // What the first page tells about the host is remembered per host
  // (NoReferrersApiHosts): a 404, unless its body is the distribution
  // error NAME_UNKNOWN (a registry with the API may answer so for a
  // repository it does not hold, as go-containerregistry's does), or a 200
  // that is not an index, means the host has no referrers API; while that
  // is remembered, the call answers kNoReferrersApi without a request (after
  // the subject digest is checked). 400 and 406 answer kNoReferrersApi for
  // this call only (a registry with the API answers 400 to a request it
  // finds invalid). A list makes the host forgotten.
  //
  // Pagination (distribution-spec v1.1: `Link: <url>; rel="next"`, which
  // go-containerregistry and so cosign do not follow) is followed, and the
  // pages are merged into one index (the first page's annotations; a digest
  // listed twice, on one page or two, is kept once). The Link is attacker
  // controlled: it is followed only on the scheme and host the list came
  // from and only to the same path /v2/<repo>/referrers/<subject_digest>
  // (the query may differ), so requests and credentials go nowhere else; a
  // link elsewhere is an error (kRegistry), as is one that leads back to a
  // page already read. Caps: at most 16 pages, and all pages together
  // within options.limits (max_bytes of bodies, max_descriptors entries),
  // kTooLarge beyond. After the first page, any answer other than a 200
  // with the index type is an error, not the end of the list.
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

  Result<Manifest> FetchManifest(const Repository& repo, const std::string& tag_or_digest,
                                 std::uint64_t max_bytes, Deadline deadline);
  Result<ManifestHead> FetchManifestHead(const Repository& repo, const std::string& tag_or_digest,
                                         Deadline deadline);
  static std::string FlightKey(const std::string& method, const Repository& repo,
                               const std::string& ref, std::uint64_t max_bytes);
  // Reports a joined flight to the admission control's observer.
  std::function<void()> OnJoin(const Repository& repo);

  HttpTransport transport_;
  RegistryAuth auth_;
  std::shared_ptr<RegistryAdmission> admission_;  // null = none
  NoReferrersApiHosts no_referrers_api_;
  std::function<void(const std::string& host)> on_referrers_call_skipped_;
  Singleflight<Manifest> manifest_flights_;
  Singleflight<ManifestHead> head_flights_;
  std::mutex referrers_tag_mutex_;  // serializes AddToReferrersTag
};

}  // namespace signet::oci

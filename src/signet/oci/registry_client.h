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
// Referrers (OCI 1.1): ListReferrers reads the registry's referrers API and
// ReadReferrersTag the fallback tag `sha256-<hex>` that clients keep for
// registries without one (distribution-spec v1.1.1 "referrers tag schema").
// AddToReferrersTag is the fallback write, PushReferrer the push of a
// referrer manifest that uses whichever the registry needs. None of them is
// used by image signing or verification yet.
//
// Manifests: concurrent identical GET or HEAD requests (same registry,
// repository, reference, Accept and size cap, through this client and so
// with the same credentials) share one exchange and its result, errors
// included (Singleflight, singleflight.h); nothing is cached beyond it.
//
// A cold verification on an anonymous registry therefore costs three
// requests (HEAD tag, GET signature manifest, GET signature blob); a
// registry that wants credentials adds the 401 that carries its challenge
// (once per registry), and a token registry one token request per
// repository.
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
#include "signet/oci/singleflight.h"
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

// What GET /v2/<name>/referrers/<digest> told.
enum class ReferrersAnswer {
  // 200 with Content-Type exactly application/vnd.oci.image.index.v1+json:
  // Referrers::index is the registry's list, every page of it (see
  // ListReferrers).
  kListed,
  // 404, 400 or 406, or 200 with any other Content-Type: the registry has no
  // referrers API; the list, if any, is in the fallback tag
  // (ReadReferrersTag). Other statuses (401, 403, 5xx, ...) are errors.
  kNoReferrersApi,
};

struct ReferrersOptions {
  // "" (the default): every referrer. Verification always reads with "",
  // since cosign up to v3.1.1 recorded the wrong artifactType. Otherwise the
  // value is sent as ?artifactType= and, whether or not the registry says
  // it applied it (OCI-Filters-Applied), entries with another artifactType
  // are dropped here.
  std::string artifact_type;
  // Cap on the response body (kTooLarge beyond) and on the entries listed.
  ManifestLimits limits;
};

struct Referrers {
  ReferrersAnswer answer = ReferrersAnswer::kNoReferrersApi;
  ImageIndex index;  // empty unless answer == kListed
};

// What the fallback tag sha256-<hex> of a subject holds.
enum class ReferrersTagAnswer {
  kFound,   // an OCI image index: ReferrersTag::index (and its manifest)
  kAbsent,  // the tag (or the repository) does not exist: no referrers
};

struct ReferrersTag {
  ReferrersTagAnswer answer = ReferrersTagAnswer::kAbsent;
  Manifest manifest;  // the index as served (bytes and digest), when kFound
  ImageIndex index;   // parsed, when kFound
};

enum class ReferrersTagUpdate {
  kAdded,          // the tag now lists the referrer (written)
  kAlreadyListed,  // it was listed already: nothing written
};

// Who keeps the list a pushed referrer is in.
enum class ReferrerListedBy {
  kReferrersApi,  // the registry (OCI-Subject on the PUT, and its API lists)
  kFallbackTag,   // signet, in the fallback tag (AddToReferrersTag)
};

struct ReferrerPush {
  std::string digest;       // of the referrer manifest
  std::string oci_subject;  // the PUT's OCI-Subject header ("" when absent)
  ReferrerListedBy listed_by = ReferrerListedBy::kFallbackTag;
};

// "sha256-<hex>": the fallback tag of a subject digest "sha256:<hex>".
std::string ReferrersTagFor(const std::string& subject_digest);

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

  // GET /v2/<repo>/referrers/<subject_digest> (see ReferrersAnswer). The
  // listed index must be an OCI image index within options.limits whose
  // entries carry valid sha256 digests; anything else is an error (kParse,
  // kTooLarge), never a shorter list.
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
                                  Deadline deadline, const ReferrersOptions& options = {});
  // GET the manifest tagged ReferrersTagFor(subject_digest). kAbsent on 404;
  // a manifest there that is not an OCI image index within `limits` is an
  // error (kParse, kTooLarge).
  Result<ReferrersTag> ReadReferrersTag(const Repository& repo, const std::string& subject_digest,
                                        Deadline deadline, const ManifestLimits& limits = {});

  // Lists `referrer_manifest` (the exact bytes of an OCI image manifest with
  // a subject, already pushed to `repo` by digest) in its subject's fallback
  // tag: reads the index there (none: a new one), skips the write when the
  // digest is listed, else appends {mediaType, size, digest, artifactType
  // (the manifest's, else its config.mediaType), annotations (copied)},
  // keeps every existing entry as it was (unknown fields included), sorts by
  // digest as cosign does and PUTs the index to the tag. A tag holding
  // something other than an OCI index is an error and is left alone.
  // Writers sharing this client are serialized, and each call re-reads the
  // tag after writing and starts over (a bounded number of times) when its
  // entry is gone; separate processes that write the same tag in the same
  // instant can still lose an entry, since docker-registry has no
  // conditional manifest PUT (cosign has the same window).
  Result<ReferrersTagUpdate> AddToReferrersTag(const Repository& repo,
                                               const std::string& referrer_manifest,
                                               Deadline deadline);

  // Pushes a referrer manifest (an OCI image manifest with a subject, whose
  // blobs are in `repo`) by digest and makes sure it is listed, as the
  // distribution spec says: when the PUT's OCI-Subject names the subject
  // and the referrers API then answers with a list, the registry keeps the
  // list; otherwise (no OCI-Subject, or a registry that sends it without an
  // API) AddToReferrersTag lists it in the fallback tag.
  Result<ReferrerPush> PushReferrer(const Repository& repo, const std::string& referrer_manifest,
                                    Deadline deadline);

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
  Singleflight<Manifest> manifest_flights_;
  Singleflight<ManifestHead> head_flights_;
  std::mutex referrers_tag_mutex_;  // serializes AddToReferrersTag
};

}  // namespace signet::oci

// The registry seam. `Registry` is the Distribution API v2 as signet uses it;
// RegistryClient (registry_client.h) implements it over libcurl and is the
// only code that does network I/O. Tests may implement it in memory.
//
// Every manifest and blob fetched by digest has its digest checked, and every
// body is size-capped, before it is returned: a registry that lies yields an
// error, never content. Implementations are safe to call from many threads.
// Default arguments are declared here once; implementations repeat them so
// that calls through either type behave the same.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "signet/oci/deadline.h"
#include "signet/oci/manifest.h"
#include "signet/oci/media_types.h"
#include "signet/oci/reference.h"
#include "signet/result.h"

namespace signet::oci {

// A manifest as the registry served it: exact bytes, the media type from
// Content-Type (or the body's mediaType), and its sha256 digest.
struct Manifest {
  std::string media_type;
  std::string digest;  // "sha256:<hex>" of bytes
  std::string bytes;
};

// What HEAD on a manifest tells: its digest, media type and size.
struct ManifestHead {
  std::string media_type;
  std::string digest;
  std::uint64_t size = 0;
};

// What GET /v2/<name>/referrers/<digest> told.
enum class ReferrersAnswer {
  // 200 with Content-Type exactly application/vnd.oci.image.index.v1+json:
  // Referrers::index is the registry's list (RegistryClient follows its
  // Link pages, see registry_client.h).
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

class Registry {
 public:
  virtual ~Registry() = default;

  // Every call takes the deadline by which it must finish (see deadline.h);
  // nullopt leaves only the implementation's own timeouts.

  // HEAD a manifest by tag or digest. kNotFound when absent.
  virtual Result<ManifestHead> HeadManifest(const Repository& repo,
                                            const std::string& tag_or_digest,
                                            Deadline deadline = std::nullopt) = 0;
  // GET a manifest by tag or digest (capped at max_bytes; digest-checked when
  // fetched by digest). kNotFound when absent.
  virtual Result<Manifest> GetManifest(const Repository& repo, const std::string& tag_or_digest,
                                       std::uint64_t max_bytes = kDefaultMaxManifestBytes,
                                       Deadline deadline = std::nullopt) = 0;
  // GET a blob, following redirects, capped at max_bytes and digest-checked.
  virtual Result<std::string> GetBlob(const Repository& repo, const std::string& digest,
                                      std::uint64_t max_bytes = kDefaultMaxBlobBytes,
                                      Deadline deadline = std::nullopt) = 0;
  // Uploads a blob (POST then PUT) unless the registry already has it.
  virtual Status PutBlob(const Repository& repo, const std::string& digest,
                         const std::string& bytes, Deadline deadline = std::nullopt) = 0;
  // PUT a manifest under a tag or digest; returns its digest.
  virtual Result<std::string> PutManifest(const Repository& repo, const std::string& tag_or_digest,
                                          const std::string& media_type, const std::string& bytes,
                                          Deadline deadline = std::nullopt) = 0;
  virtual Result<std::vector<std::string>> ListTags(const Repository& repo,
                                                    Deadline deadline = std::nullopt) = 0;

  // Referrers (OCI 1.1). The defaults suit a registry without a referrers
  // API that stores what it is given (an in-memory test registry); the HTTP
  // client overrides ListReferrers, AddToReferrersTag and PushReferrer.

  // GET /v2/<repo>/referrers/<subject_digest> (see ReferrersAnswer). The
  // listed index must be an OCI image index within options.limits whose
  // entries carry valid sha256 digests; anything else is an error (kParse,
  // kTooLarge), never a shorter list. Default: kNoReferrersApi.
  virtual Result<Referrers> ListReferrers(const Repository& repo, const std::string& subject_digest,
                                          Deadline deadline, const ReferrersOptions& options = {});
  // GET the manifest tagged ReferrersTagFor(subject_digest) (through
  // GetManifest). kAbsent on 404; a manifest there that is not an OCI image
  // index within `limits` is an error (kParse, kTooLarge).
  virtual Result<ReferrersTag> ReadReferrersTag(const Repository& repo,
                                                const std::string& subject_digest,
                                                Deadline deadline,
                                                const ManifestLimits& limits = {});
  // Lists `referrer_manifest` (the exact bytes of an OCI image manifest with
  // a subject, already pushed to `repo` by digest) in its subject's fallback
  // tag: reads the index there (none: a new one), skips the write when the
  // digest is listed, else appends {mediaType, size, digest, artifactType
  // (the manifest's, else its config.mediaType), annotations (copied)},
  // keeps every existing entry as it was (unknown fields included), sorts by
  // digest as cosign does and PUTs the index to the tag. A tag holding
  // something other than an OCI index is an error and is left alone. Each
  // call re-reads the tag after writing and starts over (a bounded number of
  // times) when its entry is gone; separate processes that write the same
  // tag in the same instant can still lose an entry, since docker-registry
  // has no conditional manifest PUT (cosign has the same window).
  virtual Result<ReferrersTagUpdate> AddToReferrersTag(const Repository& repo,
                                                       const std::string& referrer_manifest,
                                                       Deadline deadline);
  // Pushes a referrer manifest (an OCI image manifest with a subject, whose
  // blobs are in `repo`) by digest and makes sure it is listed, as the
  // distribution spec says: when the referrers API answers with a list, the
  // registry keeps it; otherwise AddToReferrersTag lists it in the fallback
  // tag. Default: PutManifest by digest, then ListReferrers (as
  // go-containerregistry does).
  virtual Result<ReferrerPush> PushReferrer(const Repository& repo,
                                            const std::string& referrer_manifest,
                                            Deadline deadline);

 protected:
  // The end of a push, once the referrer manifest is stored: `pushed` is
  // returned listed by the referrers API when ListReferrers of `subject`
  // answers with a list, else after AddToReferrersTag.
  Result<ReferrerPush> ListPushedReferrer(const Repository& repo,
                                          const std::string& referrer_manifest,
                                          const std::string& subject, ReferrerPush pushed,
                                          Deadline deadline);
};

// The fallback-tag write of AddToReferrersTag through `registry`'s
// ReadReferrersTag and PutManifest, without any locking (implementations
// add theirs around it).
Result<ReferrersTagUpdate> AddToReferrersTagVia(Registry& registry, const Repository& repo,
                                                const std::string& referrer_manifest,
                                                Deadline deadline);

// Parses a referrers list (from the API or the fallback tag): an OCI image
// index (a body without mediaType is accepted, a Docker manifest list is
// not). `what` prefixes error messages.
Result<ImageIndex> ParseReferrersList(const std::string& what, std::string_view bytes,
                                      const ManifestLimits& limits);

// A referrer manifest: an OCI image manifest with a subject (kInvalidArgument
// otherwise). `what` prefixes error messages.
Result<ImageManifest> ParseReferrerManifest(const std::string& bytes, const std::string& what);

}  // namespace signet::oci

// What is attached to an image, in both of cosign's formats (what `cosign
// tree` shows): the legacy tags "sha256-<hex>.sig", ".att" and ".sbom" with
// their layers, and the image's OCI 1.1 referrers (the registry's referrers
// API, else the fallback tag "sha256-<hex>") with each referrer's type and
// layers. It lists; it verifies nothing (no signature is checked).
//
// Everything the registry says is treated as hostile: the image is resolved
// to a digest once; every manifest is fetched with a size cap, by digest
// where one is known (and then checked), and parsed strictly; lists are
// capped (ListReferrers' caps, at most TreeOptions::max_referrers referrer
// manifests fetched). A referrer whose manifest cannot be read or is not a
// referrer of this image (another subject) is kept in the listing with the
// reason in TreeReferrer::error, so the caller can show it and fail.
//
// With COSIGN_REPOSITORY (override_repo), the legacy tags, the referrers list
// and the referrer manifests are all read from that repository, as cosign
// v3.1.0+ does (cosign's tree then fetches referrer manifests from the
// image's repository, which cannot hold them; signet reads them where the
// list is).
//
// Thread-safety: reentrant; the client may be shared.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "signet/cosign/triangulate.h"
#include "signet/oci/deadline.h"
#include "signet/oci/manifest.h"
#include "signet/oci/reference.h"
#include "signet/oci/registry.h"
#include "signet/result.h"

namespace signet::cosign {

// One legacy tag that exists, with the layers of the manifest it names.
struct TreeLegacyTag {
  ArtifactType type = ArtifactType::kSignature;
  std::string reference;  // "<registry>/<repo>:sha256-<hex>.sig" (.att, .sbom)
  std::string digest;     // of the manifest the tag names
  std::vector<oci::Descriptor> layers;
};

// Where the referrers list came from.
enum class TreeReferrersSource {
  kReferrersApi,  // GET /v2/<repo>/referrers/<digest>
  kFallbackTag,   // the index tagged sha256-<hex>
  kNone,          // no referrers API and no fallback tag
};

struct TreeReferrer {
  std::string reference;  // "<registry>/<repo>@<referrer manifest digest>"
  std::string digest;     // of the referrer manifest
  // The list entry's artifactType, else (entries written without one) the
  // manifest's artifactType, else its config.mediaType.
  std::string artifact_type;
  // The manifest's dev.sigstore.bundle.predicateType annotation ("" when
  // absent): what a Sigstore bundle referrer carries (cosign's sign/v1 for a
  // signature, the attestation's predicate type for one).
  std::string predicate_type;
  std::vector<oci::Descriptor> layers;
  // Why the referrer manifest could not be listed ("" when it was): not
  // fetchable, not an image manifest, or a subject other than the image.
  std::string error;

  // predicate_type when set, else artifact_type (what cosign tree shows).
  const std::string& DisplayType() const {
    return predicate_type.empty() ? artifact_type : predicate_type;
  }
};

struct Tree {
  std::string digest;                   // the image's manifest digest
  oci::Repository artifact_repository;  // where the artifacts were looked up
  std::vector<TreeLegacyTag> legacy;    // .sig, .att, .sbom order; only tags that exist
  TreeReferrersSource referrers_source = TreeReferrersSource::kNone;
  std::vector<TreeReferrer> referrers;  // in the list's order

  bool empty() const { return legacy.empty() && referrers.empty(); }
  // Number of referrers whose manifest could not be listed.
  std::size_t ReferrerErrors() const;
};

struct TreeOptions {
  std::optional<oci::Repository> override_repo;  // COSIGN_REPOSITORY
  // At most this many referrers are listed (each costs one manifest GET);
  // more is an error (kTooLarge).
  std::size_t max_referrers = 256;
  oci::ManifestLimits limits;  // caps on every manifest and list read
};

// The artifacts attached to `image`. kImageNotFound when the registry has no
// such image; registry failures (auth, 5xx, a hostile list or legacy
// manifest) are errors. A missing legacy tag or referrers list is not an
// error: it is simply not listed.
Result<Tree> ListTree(oci::Registry& client, const oci::ImageReference& image,
                      const TreeOptions& options, oci::Deadline deadline);

}  // namespace signet::cosign

// Where cosign stores the artifacts attached to an image: the tag
// "sha256-<hex>.sig" (signature), ".att" (attestation) or ".sbom" in the
// image's repository, or in the signature repository (COSIGN_REPOSITORY)
// when one is configured.
//
// Pure functions except ResolveDigest and Triangulate, which ask the
// registry; all are reentrant.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "signet/oci/reference.h"
#include "signet/oci/registry.h"
#include "signet/result.h"

namespace signet::cosign {

enum class ArtifactType { kSignature, kAttestation, kSbom };

// "signature" | "attestation" | "sbom".
Result<ArtifactType> ParseArtifactType(std::string_view name);

// "sha256-<hex>.sig" for digest "sha256:<hex>" (".att", ".sbom").
std::string ArtifactTag(std::string_view digest, ArtifactType type);

// The repository holding the artifacts of `image`.
const oci::Repository& ArtifactRepository(const oci::ImageReference& image,
                                          const std::optional<oci::Repository>& override_repo);

// signet's one tag->digest resolver (the CLI and the provider both use it).
// The manifest digest `image` names: its digest when it has one (checked to
// exist with one HEAD), else the digest the registry reports for its tag
// (one HEAD; a registry that answers HEAD without a usable digest or with an
// unexpected error is asked with GET, and the digest is then computed from
// the bytes). kImageNotFound when the registry has no such manifest;
// network, auth and timeout errors are passed through.
Result<std::string> ResolveDigest(oci::Registry& registry, const oci::ImageReference& image,
                                  oci::Deadline deadline);

// "<registry>/<repo>:sha256-<hex>.<suffix>" for `image`.
Result<std::string> Triangulate(oci::Registry& registry, const oci::ImageReference& image,
                                ArtifactType type,
                                const std::optional<oci::Repository>& override_repo,
                                oci::Deadline deadline);

}  // namespace signet::cosign

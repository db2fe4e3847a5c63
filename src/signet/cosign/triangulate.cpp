#include "signet/cosign/triangulate.h"

namespace signet::cosign {

Result<ArtifactType> ParseArtifactType(std::string_view name) {
  if (name == "signature") return ArtifactType::kSignature;
  if (name == "attestation") return ArtifactType::kAttestation;
  if (name == "sbom") return ArtifactType::kSbom;
  return Error(ErrorCode::kInvalidArgument, "unknown artifact type \"" + std::string(name) +
                                                "\": expected signature, attestation or sbom");
}

std::string ArtifactTag(std::string_view digest, ArtifactType type) {
  std::string tag(digest);
  if (auto colon = tag.find(':'); colon != std::string::npos) tag[colon] = '-';
  switch (type) {
    case ArtifactType::kSignature:
      return tag + ".sig";
    case ArtifactType::kAttestation:
      return tag + ".att";
    case ArtifactType::kSbom:
      return tag + ".sbom";
  }
  return tag;
}

const oci::Repository& ArtifactRepository(const oci::ImageReference& image,
                                          const std::optional<oci::Repository>& override_repo) {
  return override_repo ? *override_repo : image.repository();
}

Result<std::string> ResolveDigest(oci::Registry& registry, const oci::ImageReference& image) {
  // By digest a HEAD suffices; by tag the manifest is fetched so that the
  // digest is computed from the bytes rather than taken from a header.
  if (image.has_digest()) {
    auto head = registry.HeadManifest(image.repository(), image.digest());
    if (!head) {
      if (head.error().code() == ErrorCode::kNotFound) {
        return Error(ErrorCode::kImageNotFound, "image " + image.Name() + " not found");
      }
      return head.error().WithContext("resolving " + image.Name());
    }
    return image.digest();
  }
  auto manifest = registry.GetManifest(image.repository(), image.tag());
  if (!manifest) {
    if (manifest.error().code() == ErrorCode::kNotFound) {
      return Error(ErrorCode::kImageNotFound, "image " + image.Name() + " not found");
    }
    return manifest.error().WithContext("resolving " + image.Name());
  }
  return manifest->digest;
}

Result<std::string> Triangulate(oci::Registry& registry, const oci::ImageReference& image,
                                ArtifactType type,
                                const std::optional<oci::Repository>& override_repo) {
  auto digest = ResolveDigest(registry, image);
  if (!digest) return digest.error();
  return ArtifactRepository(image, override_repo).Name() + ":" + ArtifactTag(*digest, type);
}

}  // namespace signet::cosign

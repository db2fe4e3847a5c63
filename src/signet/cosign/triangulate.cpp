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

namespace {

Error NotFound(const oci::ImageReference& image) {
  return Error(ErrorCode::kImageNotFound, "image " + image.Name() + " not found");
}

}  // namespace

Result<std::string> ResolveDigest(oci::Registry& registry, const oci::ImageReference& image,
                                  oci::Deadline deadline) {
  if (image.has_digest()) {
    auto head = registry.HeadManifest(image.repository(), image.digest(), deadline);
    if (!head) {
      if (head.error().code() == ErrorCode::kNotFound) return NotFound(image);
      return head.error().WithContext("resolving " + image.Name());
    }
    return image.digest();
  }
  auto head = registry.HeadManifest(image.repository(), image.tag(), deadline);
  if (head && oci::IsValidSha256Digest(head->digest)) return head->digest;
  if (!head) {
    switch (head.error().code()) {
      case ErrorCode::kNotFound:
        return NotFound(image);
      case ErrorCode::kNetwork:
      case ErrorCode::kAuth:
      case ErrorCode::kTimeout:
        return head.error().WithContext("resolving " + image.Name());
      default:
        // Throttled: asking again with GET would only add to the load.
        if (head.error().http_status() == 429) {
          return head.error().WithContext("resolving " + image.Name());
        }
        break;  // some registries answer HEAD badly; ask with GET
    }
  }
  auto manifest = registry.GetManifest(image.repository(), image.tag(),
                                       oci::kDefaultMaxManifestBytes, deadline);
  if (!manifest) {
    if (manifest.error().code() == ErrorCode::kNotFound) {
      return NotFound(image);
    }
    return manifest.error().WithContext("resolving " + image.Name());
  }
  return manifest->digest;
}

Result<std::string> Triangulate(oci::Registry& registry, const oci::ImageReference& image,
                                ArtifactType type,
                                const std::optional<oci::Repository>& override_repo,
                                oci::Deadline deadline) {
  auto digest = ResolveDigest(registry, image, deadline);
  if (!digest) return digest.error();
  return ArtifactRepository(image, override_repo).Name() + ":" + ArtifactTag(*digest, type);
}

}  // namespace signet::cosign

// Media types and default size caps of the OCI and Docker documents signet
// reads and writes: plain constants shared by the registry seam
// (registry.h) and the manifest parsers (manifest.h).
#pragma once

#include <cstdint>
#include <string_view>

namespace signet::oci {

inline constexpr std::string_view kOciManifestMediaType =
    "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndexMediaType = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kDockerManifestMediaType =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestListMediaType =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kOciConfigMediaType = "application/vnd.oci.image.config.v1+json";

inline constexpr std::uint64_t kDefaultMaxManifestBytes = 4 * 1024 * 1024;
inline constexpr std::uint64_t kDefaultMaxBlobBytes = 4 * 1024 * 1024;

}  // namespace signet::oci

// Typed views of OCI and Docker v2 image manifests and indexes (manifest
// lists). Parsing is strict: wrong JSON types, a schemaVersion other than 2,
// malformed digests, negative sizes, unexpected media types and documents or
// descriptor lists over their caps are rejected with ErrorCode::kParse (or
// kTooLarge for caps) and a message that names the offending field. Unknown
// fields are ignored, as the OCI spec requires.
//
// These are plain values: parsing keeps no reference to the input bytes and
// the results may be shared between threads.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "signet/oci/media_types.h"
#include "signet/result.h"

namespace signet::oci {

// At most this many layers (in a manifest) or manifests (in an index).
inline constexpr std::size_t kDefaultMaxDescriptors = 1000;

struct Platform {
  std::string architecture;
  std::string os;
  std::string variant;     // "" when absent
  std::string os_version;  // "" when absent
  bool operator==(const Platform&) const = default;
};

struct Descriptor {
  std::string media_type;
  std::string digest;  // "sha256:<64 lowercase hex>"
  std::int64_t size = 0;
  std::map<std::string, std::string> annotations;
  std::optional<Platform> platform;  // only in index entries
  std::string artifact_type;         // "" when absent (set in referrers lists)
};

struct ImageManifest {
  int schema_version = 2;
  std::string media_type;     // "" when the document has no mediaType field
  std::string artifact_type;  // "" when absent
  Descriptor config;
  std::vector<Descriptor> layers;
  std::map<std::string, std::string> annotations;
  std::optional<Descriptor> subject;
};

struct ImageIndex {
  int schema_version = 2;
  std::string media_type;  // "" when the document has no mediaType field
  std::vector<Descriptor> manifests;
  std::map<std::string, std::string> annotations;
};

struct ManifestLimits {
  std::uint64_t max_bytes = kDefaultMaxManifestBytes;
  std::size_t max_descriptors = kDefaultMaxDescriptors;
};

// True for the OCI image manifest and Docker v2 schema 2 manifest types.
bool IsImageManifestMediaType(std::string_view media_type);
// True for the OCI image index and Docker manifest list types.
bool IsIndexMediaType(std::string_view media_type);

// Whether a manifest document (served with `content_type`, possibly "") is an
// index. Uses the Content-Type when it is a known manifest type, else the
// body's mediaType, else the presence of a "manifests" array.
Result<bool> IsIndexDocument(std::string_view content_type, std::string_view bytes);

Result<ImageManifest> ParseImageManifest(std::string_view bytes, const ManifestLimits& limits = {});
Result<ImageIndex> ParseImageIndex(std::string_view bytes, const ManifestLimits& limits = {});

}  // namespace signet::oci

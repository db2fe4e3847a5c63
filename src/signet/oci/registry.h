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
#include <string>
#include <vector>

#include "signet/oci/deadline.h"
#include "signet/oci/reference.h"
#include "signet/result.h"

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
};

}  // namespace signet::oci

// InMemoryRegistry: an oci::Registry held in memory, for unit tests of the
// signing and verification core and of the provider.
//
// It behaves like a well-behaved registry: PutBlob and PutManifest check
// digests, GetBlob and GetManifest check what they return against the digest
// asked for (so CorruptBlob makes it lie detectably, as a real client would
// see), size caps yield kTooLarge, absent things yield kNotFound. SetDown
// makes every call fail with kNetwork. Call counters let tests observe
// traffic. By default it has no referrers API (ListReferrers answers
// kNoReferrersApi, so referrers go to the fallback tag); EnableReferrersApi
// makes ListReferrers list every stored OCI manifest of the repository whose
// subject is the digest asked for, as a registry with the API does. Thread-safe: every method takes
// an internal mutex.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "signet/oci/registry.h"

namespace signet::testing {

class InMemoryRegistry : public oci::Registry {
 public:
  Result<oci::ManifestHead> HeadManifest(const oci::Repository& repo,
                                         const std::string& tag_or_digest,
                                         oci::Deadline deadline = std::nullopt) override;
  Result<oci::Manifest> GetManifest(const oci::Repository& repo, const std::string& tag_or_digest,
                                    std::uint64_t max_bytes = oci::kDefaultMaxManifestBytes,
                                    oci::Deadline deadline = std::nullopt) override;
  Result<std::string> GetBlob(const oci::Repository& repo, const std::string& digest,
                              std::uint64_t max_bytes = oci::kDefaultMaxBlobBytes,
                              oci::Deadline deadline = std::nullopt) override;
  Status PutBlob(const oci::Repository& repo, const std::string& digest, const std::string& bytes,
                 oci::Deadline deadline = std::nullopt) override;
  Result<std::string> PutManifest(const oci::Repository& repo, const std::string& tag_or_digest,
                                  const std::string& media_type, const std::string& bytes,
                                  oci::Deadline deadline = std::nullopt) override;
  Result<std::vector<std::string>> ListTags(const oci::Repository& repo,
                                            oci::Deadline deadline = std::nullopt) override;
  Result<oci::Referrers> ListReferrers(const oci::Repository& repo,
                                       const std::string& subject_digest, oci::Deadline deadline,
                                       const oci::ReferrersOptions& options = {}) override;

  // Test controls.
  // Replaces a stored blob's bytes without changing its digest key.
  void CorruptBlob(const oci::Repository& repo, const std::string& digest, std::string bytes);
  // Stores a manifest under a tag without any checks (a registry that lies).
  void ForceManifest(const oci::Repository& repo, const std::string& tag,
                     const std::string& media_type, const std::string& bytes);
  // Removes a tag.
  void DeleteTag(const oci::Repository& repo, const std::string& tag);
  void SetDown(bool down);
  void EnableReferrersApi(bool enabled);
  // ListReferrers alone fails with kNetwork (a registry whose referrers
  // route is down while the rest answers).
  void FailReferrers(bool fail);
  // GetManifest of every "sha256-..." tag (.sig, .att, the referrers
  // fallback tag) fails with kRegistry and `http_status` (0: answers again),
  // as behind a failing load balancer; the image itself is still served.
  void FailArtifactTags(int http_status);
  int blob_gets() const { return blob_gets_; }
  int manifest_gets() const { return manifest_gets_; }

 private:
  struct StoredManifest {
    std::string media_type;
    std::string bytes;
  };
  struct Repo {
    std::map<std::string, std::string> blobs;         // digest -> bytes
    std::map<std::string, StoredManifest> manifests;  // digest -> manifest
    std::map<std::string, std::string> tags;          // tag -> digest
  };
  Status CheckUp() const;

  mutable std::mutex mutex_;
  std::map<std::string, Repo> repos_;  // by Repository::Name()
  bool down_ = false;
  bool referrers_api_ = false;
  bool fail_referrers_ = false;
  int artifact_tags_status_ = 0;
  std::atomic<int> blob_gets_{0};
  std::atomic<int> manifest_gets_{0};
};

}  // namespace signet::testing

#include "support/in_memory_registry.h"

#include "signet/crypto/encoding.h"
#include "signet/oci/manifest.h"

namespace signet::testing {
namespace {

bool IsDigest(const std::string& s) { return s.rfind("sha256:", 0) == 0; }

}  // namespace

Status InMemoryRegistry::CheckUp() const {
  if (down_) return Error(ErrorCode::kNetwork, "connection refused (registry is down)");
  return OkStatus();
}

Result<oci::ManifestHead> InMemoryRegistry::HeadManifest(const oci::Repository& repo,
                                                         const std::string& tag_or_digest,
                                                         oci::Deadline /*deadline*/) {
  auto manifest = GetManifest(repo, tag_or_digest);
  if (!manifest) return manifest.error();
  return oci::ManifestHead{manifest->media_type, manifest->digest, manifest->bytes.size()};
}

Result<oci::Manifest> InMemoryRegistry::GetManifest(const oci::Repository& repo,
                                                    const std::string& tag_or_digest,
                                                    std::uint64_t max_bytes,
                                                    oci::Deadline /*deadline*/) {
  ++manifest_gets_;
  std::lock_guard lock(mutex_);
  if (auto s = CheckUp(); !s) return s.error();
  if (artifact_tags_status_ != 0 && tag_or_digest.rfind("sha256-", 0) == 0) {
    return Error(
        ErrorCode::kRegistry,
        "GET manifest " + tag_or_digest + ": HTTP " + std::to_string(artifact_tags_status_),
        artifact_tags_status_);
  }
  auto r = repos_.find(repo.Name());
  const std::string missing = "manifest " + repo.Name() + ":" + tag_or_digest + " not found";
  if (r == repos_.end()) return Error(ErrorCode::kNotFound, missing);
  std::string digest = tag_or_digest;
  if (!IsDigest(tag_or_digest)) {
    auto t = r->second.tags.find(tag_or_digest);
    if (t == r->second.tags.end()) return Error(ErrorCode::kNotFound, missing);
    digest = t->second;
  }
  auto m = r->second.manifests.find(digest);
  if (m == r->second.manifests.end()) return Error(ErrorCode::kNotFound, missing);
  if (m->second.bytes.size() > max_bytes) {
    return Error(ErrorCode::kTooLarge,
                 "manifest " + digest + " exceeds " + std::to_string(max_bytes) + " bytes");
  }
  const std::string actual = crypto::Sha256Digest(m->second.bytes);
  if (IsDigest(tag_or_digest) && actual != tag_or_digest) {
    return Error(ErrorCode::kDigestMismatch, "manifest " + tag_or_digest + " has digest " + actual);
  }
  return oci::Manifest{m->second.media_type, actual, m->second.bytes};
}

Result<std::string> InMemoryRegistry::GetBlob(const oci::Repository& repo,
                                              const std::string& digest, std::uint64_t max_bytes,
                                              oci::Deadline /*deadline*/) {
  ++blob_gets_;
  std::lock_guard lock(mutex_);
  if (auto s = CheckUp(); !s) return s.error();
  auto r = repos_.find(repo.Name());
  const std::string missing = "blob " + repo.Name() + "@" + digest + " not found";
  if (r == repos_.end()) return Error(ErrorCode::kNotFound, missing);
  auto b = r->second.blobs.find(digest);
  if (b == r->second.blobs.end()) return Error(ErrorCode::kNotFound, missing);
  if (b->second.size() > max_bytes) {
    return Error(ErrorCode::kTooLarge,
                 "blob " + digest + " exceeds " + std::to_string(max_bytes) + " bytes");
  }
  const std::string actual = crypto::Sha256Digest(b->second);
  if (actual != digest) {
    return Error(ErrorCode::kDigestMismatch, "blob " + digest + " has digest " + actual);
  }
  return b->second;
}

Status InMemoryRegistry::PutBlob(const oci::Repository& repo, const std::string& digest,
                                 const std::string& bytes, oci::Deadline /*deadline*/) {
  std::lock_guard lock(mutex_);
  if (auto s = CheckUp(); !s) return s;
  if (crypto::Sha256Digest(bytes) != digest) {
    return Error(ErrorCode::kDigestMismatch, "uploaded blob does not match digest " + digest);
  }
  repos_[repo.Name()].blobs[digest] = bytes;
  return OkStatus();
}

Result<std::string> InMemoryRegistry::PutManifest(const oci::Repository& repo,
                                                  const std::string& tag_or_digest,
                                                  const std::string& media_type,
                                                  const std::string& bytes,
                                                  oci::Deadline /*deadline*/) {
  std::lock_guard lock(mutex_);
  if (auto s = CheckUp(); !s) return s.error();
  const std::string digest = crypto::Sha256Digest(bytes);
  if (IsDigest(tag_or_digest) && tag_or_digest != digest) {
    return Error(ErrorCode::kDigestMismatch, "manifest does not match digest " + tag_or_digest);
  }
  Repo& r = repos_[repo.Name()];
  r.manifests[digest] = StoredManifest{media_type, bytes};
  if (!IsDigest(tag_or_digest)) r.tags[tag_or_digest] = digest;
  return digest;
}

Result<std::vector<std::string>> InMemoryRegistry::ListTags(const oci::Repository& repo,
                                                            oci::Deadline /*deadline*/) {
  std::lock_guard lock(mutex_);
  if (auto s = CheckUp(); !s) return s.error();
  std::vector<std::string> tags;
  auto r = repos_.find(repo.Name());
  if (r == repos_.end()) return Error(ErrorCode::kNotFound, "repository " + repo.Name());
  for (const auto& [tag, digest] : r->second.tags) tags.push_back(tag);
  return tags;
}

Result<oci::Referrers> InMemoryRegistry::ListReferrers(const oci::Repository& repo,
                                                       const std::string& subject_digest,
                                                       oci::Deadline /*deadline*/,
                                                       const oci::ReferrersOptions& options) {
  std::lock_guard lock(mutex_);
  if (auto s = CheckUp(); !s) return s.error();
  if (fail_referrers_) {
    return Error(ErrorCode::kNetwork, "referrers of " + repo.Name() + "@" + subject_digest +
                                          ": connection reset (test)");
  }
  oci::Referrers referrers;
  if (!referrers_api_) return referrers;
  referrers.answer = oci::ReferrersAnswer::kListed;
  auto r = repos_.find(repo.Name());
  if (r == repos_.end()) return referrers;
  for (const auto& [digest, stored] : r->second.manifests) {
    if (stored.media_type != oci::kOciManifestMediaType) continue;
    auto manifest = oci::ParseImageManifest(stored.bytes);
    if (!manifest || !manifest->subject || manifest->subject->digest != subject_digest) continue;
    oci::Descriptor entry;
    entry.media_type = std::string(oci::kOciManifestMediaType);
    entry.digest = digest;
    entry.size = static_cast<std::int64_t>(stored.bytes.size());
    entry.annotations = manifest->annotations;
    entry.artifact_type =
        manifest->artifact_type.empty() ? manifest->config.media_type : manifest->artifact_type;
    if (!options.artifact_type.empty() && entry.artifact_type != options.artifact_type) continue;
    referrers.index.manifests.push_back(std::move(entry));
  }
  return referrers;
}

void InMemoryRegistry::EnableReferrersApi(bool enabled) {
  std::lock_guard lock(mutex_);
  referrers_api_ = enabled;
}

void InMemoryRegistry::FailReferrers(bool fail) {
  std::lock_guard lock(mutex_);
  fail_referrers_ = fail;
}

void InMemoryRegistry::FailArtifactTags(int http_status) {
  std::lock_guard lock(mutex_);
  artifact_tags_status_ = http_status;
}

void InMemoryRegistry::CorruptBlob(const oci::Repository& repo, const std::string& digest,
                                   std::string bytes) {
  std::lock_guard lock(mutex_);
  repos_[repo.Name()].blobs[digest] = std::move(bytes);
}

void InMemoryRegistry::ForceManifest(const oci::Repository& repo, const std::string& tag,
                                     const std::string& media_type, const std::string& bytes) {
  std::lock_guard lock(mutex_);
  Repo& r = repos_[repo.Name()];
  const std::string digest = crypto::Sha256Digest(bytes);
  r.manifests[digest] = StoredManifest{media_type, bytes};
  r.tags[tag] = digest;
}

void InMemoryRegistry::DeleteTag(const oci::Repository& repo, const std::string& tag) {
  std::lock_guard lock(mutex_);
  repos_[repo.Name()].tags.erase(tag);
}

void InMemoryRegistry::SetDown(bool down) {
  std::lock_guard lock(mutex_);
  down_ = down;
}

}  // namespace signet::testing

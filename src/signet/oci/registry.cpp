#include "signet/oci/registry.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

#include "signet/bounded_json.h"
#include "signet/crypto/encoding.h"

namespace signet::oci {
namespace {

Status CheckSubjectDigest(const std::string& digest) {
  if (IsValidSha256Digest(digest)) return OkStatus();
  return Error(ErrorCode::kInvalidArgument, "invalid subject digest \"" + digest + "\"");
}

}  // namespace

Result<ImageIndex> ParseReferrersList(const std::string& what, std::string_view bytes,
                                      const ManifestLimits& limits) {
  auto index = ParseImageIndex(bytes, limits);
  if (!index.ok()) return index.error().WithContext(what);
  if (!index->media_type.empty() && index->media_type != kOciIndexMediaType) {
    return Error(ErrorCode::kParse, what + ": the referrers list has mediaType \"" +
                                        index->media_type + "\", not " +
                                        std::string(kOciIndexMediaType));
  }
  return index;
}

std::string ReferrersTagFor(const std::string& subject_digest) {
  std::string tag = subject_digest;
  if (std::size_t colon = tag.find(':'); colon != std::string::npos) tag[colon] = '-';
  return tag;
}

Result<ReferrersTag> Registry::ReadReferrersTag(const Repository& repo,
                                                const std::string& subject_digest,
                                                Deadline deadline, const ManifestLimits& limits) {
  if (Status s = CheckSubjectDigest(subject_digest); !s.ok()) return s.error();
  std::string tag = ReferrersTagFor(subject_digest);
  ReferrersTag out;
  auto manifest = GetManifest(repo, tag, limits.max_bytes, deadline);
  if (!manifest.ok()) {
    if (manifest.error().code() == ErrorCode::kNotFound) return out;  // kAbsent
    return manifest.error();
  }
  std::string what = "referrers tag " + repo.Name() + ":" + tag;
  if (manifest->media_type != kOciIndexMediaType) {
    return Error(ErrorCode::kParse, what + ": holds a " +
                                        (manifest->media_type.empty() ? std::string("manifest")
                                                                      : manifest->media_type) +
                                        ", not an OCI image index");
  }
  auto index = ParseReferrersList(what, manifest->bytes, limits);
  if (!index.ok()) return index.error();
  out.answer = ReferrersTagAnswer::kFound;
  out.manifest = std::move(manifest).value();
  out.index = std::move(index).value();
  return out;
}

namespace {

constexpr int kMaxReferrersTagAttempts = 5;

// The index entry for a referrer manifest, as the distribution spec says.
nlohmann::json ReferrerEntry(const std::string& bytes, const ImageManifest& manifest) {
  nlohmann::json entry = {
      {"mediaType",
       manifest.media_type.empty() ? std::string(kOciManifestMediaType) : manifest.media_type},
      {"size", bytes.size()},
      {"digest", crypto::Sha256Digest(bytes)},
      {"artifactType",
       manifest.artifact_type.empty() ? manifest.config.media_type : manifest.artifact_type}};
  if (!manifest.annotations.empty()) entry["annotations"] = manifest.annotations;
  return entry;
}

}  // namespace

Result<ImageManifest> ParseReferrerManifest(const std::string& bytes, const std::string& what) {
  auto manifest = ParseImageManifest(bytes);
  if (!manifest.ok()) return manifest.error().WithContext(what);
  if (!manifest->subject) {
    return Error(ErrorCode::kInvalidArgument, what + ": the manifest has no subject");
  }
  if (!manifest->media_type.empty() && manifest->media_type != kOciManifestMediaType) {
    return Error(ErrorCode::kInvalidArgument,
                 what + ": not an OCI image manifest: " + manifest->media_type);
  }
  return manifest;
}

namespace {

bool Lists(const ImageIndex& index, const std::string& digest) {
  for (const Descriptor& d : index.manifests) {
    if (d.digest == digest) return true;
  }
  return false;
}

}  // namespace

Result<ReferrersTagUpdate> AddToReferrersTagVia(Registry& registry, const Repository& repo,
                                                const std::string& referrer_manifest,
                                                Deadline deadline) {
  auto manifest = ParseReferrerManifest(referrer_manifest, "AddToReferrersTag");
  if (!manifest.ok()) return manifest.error();
  const std::string& subject = manifest->subject->digest;
  const std::string digest = crypto::Sha256Digest(referrer_manifest);
  const std::string tag = ReferrersTagFor(subject);
  const std::string what = "add " + digest + " to referrers tag " + repo.Name() + ":" + tag;
  const nlohmann::json entry = ReferrerEntry(referrer_manifest, *manifest);

  ReferrersTagUpdate update = ReferrersTagUpdate::kAlreadyListed;
  for (int attempt = 0;; ++attempt) {
    auto current = registry.ReadReferrersTag(repo, subject, deadline);
    if (!current.ok()) return current.error().WithContext(what);
    if (current->answer == ReferrersTagAnswer::kFound && Lists(current->index, digest)) {
      return update;  // listed (by us on an earlier attempt, or by someone else)
    }
    if (attempt == kMaxReferrersTagAttempts) break;
    nlohmann::json index = {{"schemaVersion", 2},
                            {"mediaType", std::string(kOciIndexMediaType)},
                            {"manifests", nlohmann::json::array()}};
    if (current->answer == ReferrersTagAnswer::kFound) {
      // Already parsed and checked by ReadReferrersTag, so within bounds.
      auto parsed = ParseBoundedJson(current->manifest.bytes, what);
      if (!parsed.ok()) return parsed.error();
      index = std::move(parsed).value();
    }
    index["manifests"].push_back(entry);
    std::stable_sort(index["manifests"].begin(), index["manifests"].end(),
                     [](const nlohmann::json& a, const nlohmann::json& b) {
                       return a.value("digest", "") < b.value("digest", "");
                     });
    auto put =
        registry.PutManifest(repo, tag, std::string(kOciIndexMediaType), index.dump(), deadline);
    if (!put.ok()) return put.error().WithContext(what);
    update = ReferrersTagUpdate::kAdded;
  }
  return Error(ErrorCode::kRegistry, what + ": the entry was gone again after " +
                                         std::to_string(kMaxReferrersTagAttempts) +
                                         " writes (other writers keep replacing the tag)");
}

Result<Referrers> Registry::ListReferrers(const Repository&, const std::string& subject_digest,
                                          Deadline, const ReferrersOptions&) {
  if (Status s = CheckSubjectDigest(subject_digest); !s.ok()) return s.error();
  return Referrers{};  // kNoReferrersApi
}

Result<ReferrersTagUpdate> Registry::AddToReferrersTag(const Repository& repo,
                                                       const std::string& referrer_manifest,
                                                       Deadline deadline) {
  return AddToReferrersTagVia(*this, repo, referrer_manifest, deadline);
}

Result<ReferrerPush> Registry::PushReferrer(const Repository& repo,
                                            const std::string& referrer_manifest,
                                            Deadline deadline) {
  auto manifest = ParseReferrerManifest(referrer_manifest, "PushReferrer");
  if (!manifest.ok()) return manifest.error();
  const std::string digest = crypto::Sha256Digest(referrer_manifest);
  auto put =
      PutManifest(repo, digest, std::string(kOciManifestMediaType), referrer_manifest, deadline);
  if (!put.ok()) return put.error();
  ReferrerPush out;
  out.digest = digest;
  return ListPushedReferrer(repo, referrer_manifest, manifest->subject->digest, std::move(out),
                            deadline);
}

Result<ReferrerPush> Registry::ListPushedReferrer(const Repository& repo,
                                                  const std::string& referrer_manifest,
                                                  const std::string& subject, ReferrerPush pushed,
                                                  Deadline deadline) {
  auto listed = ListReferrers(repo, subject, deadline);
  if (!listed.ok()) return listed.error().WithContext("PushReferrer " + pushed.digest);
  if (listed->answer == ReferrersAnswer::kListed) {
    pushed.listed_by = ReferrerListedBy::kReferrersApi;
    return pushed;
  }
  auto added = AddToReferrersTag(repo, referrer_manifest, deadline);
  if (!added.ok()) return added.error();
  pushed.listed_by = ReferrerListedBy::kFallbackTag;
  return pushed;
}

}  // namespace signet::oci

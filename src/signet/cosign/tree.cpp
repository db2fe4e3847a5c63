#include "signet/cosign/tree.h"

#include <set>
#include <utility>

namespace signet::cosign {
namespace {

constexpr const char* kBundlePredicateTypeAnnotation = "dev.sigstore.bundle.predicateType";

// The legacy tag of `type`, when it exists (nullopt when the registry has
// no such tag or repository).
Result<std::optional<TreeLegacyTag>> ReadLegacyTag(oci::Registry& client,
                                                   const oci::Repository& repo,
                                                   const std::string& digest, ArtifactType type,
                                                   const TreeOptions& options,
                                                   oci::Deadline deadline) {
  TreeLegacyTag tag;
  tag.type = type;
  const std::string name = ArtifactTag(digest, type);
  tag.reference = repo.Name() + ":" + name;
  auto manifest = client.GetManifest(repo, name, options.limits.max_bytes, deadline);
  if (!manifest) {
    if (manifest.error().code() == ErrorCode::kNotFound) return std::optional<TreeLegacyTag>();
    return manifest.error().WithContext(tag.reference);
  }
  auto parsed = oci::ParseImageManifest(manifest->bytes, options.limits);
  if (!parsed) return parsed.error().WithContext(tag.reference);
  tag.digest = manifest->digest;
  tag.layers = std::move(parsed->layers);
  return std::optional<TreeLegacyTag>(std::move(tag));
}

// Fills in what the referrer manifest says, or `error` with why it cannot.
void ReadReferrer(oci::Registry& client, const oci::Repository& repo,
                  const std::string& image_digest, const TreeOptions& options,
                  oci::Deadline deadline, TreeReferrer& referrer) {
  auto manifest = client.GetManifest(repo, referrer.digest, options.limits.max_bytes, deadline);
  if (!manifest) {
    referrer.error = manifest.error().message();
    return;
  }
  auto parsed = oci::ParseImageManifest(manifest->bytes, options.limits);
  if (!parsed) {
    referrer.error = "not an image manifest: " + parsed.error().message();
    return;
  }
  if (!parsed->subject) {
    referrer.error = "the manifest has no subject, so it refers to no image";
    return;
  }
  if (parsed->subject->digest != image_digest) {
    referrer.error = "the manifest's subject is " + parsed->subject->digest + ", not the image (" +
                     image_digest + ")";
    return;
  }
  if (referrer.artifact_type.empty()) {
    referrer.artifact_type =
        parsed->artifact_type.empty() ? parsed->config.media_type : parsed->artifact_type;
  }
  if (auto it = parsed->annotations.find(kBundlePredicateTypeAnnotation);
      it != parsed->annotations.end()) {
    referrer.predicate_type = it->second;
  }
  referrer.layers = std::move(parsed->layers);
}

}  // namespace

std::size_t Tree::ReferrerErrors() const {
  std::size_t n = 0;
  for (const TreeReferrer& referrer : referrers) n += referrer.error.empty() ? 0 : 1;
  return n;
}

Result<Tree> ListTree(oci::Registry& client, const oci::ImageReference& image,
                      const TreeOptions& options, oci::Deadline deadline) {
  auto digest = ResolveDigest(client, image, deadline);
  if (!digest) return digest.error();
  Tree tree;
  tree.digest = *digest;
  tree.artifact_repository = ArtifactRepository(image, options.override_repo);
  const oci::Repository& repo = tree.artifact_repository;

  for (ArtifactType type :
       {ArtifactType::kSignature, ArtifactType::kAttestation, ArtifactType::kSbom}) {
    auto tag = ReadLegacyTag(client, repo, tree.digest, type, options, deadline);
    if (!tag) return tag.error();
    if (*tag) tree.legacy.push_back(std::move(**tag));
  }

  oci::ReferrersOptions list_options;
  list_options.limits = options.limits;
  auto listed = client.ListReferrers(repo, tree.digest, deadline, list_options);
  if (!listed) return listed.error();
  oci::ImageIndex index;
  if (listed->answer == oci::ReferrersAnswer::kListed) {
    tree.referrers_source = TreeReferrersSource::kReferrersApi;
    index = std::move(listed->index);
  } else {
    auto tagged = client.ReadReferrersTag(repo, tree.digest, deadline, options.limits);
    if (!tagged) return tagged.error();
    if (tagged->answer == oci::ReferrersTagAnswer::kFound) {
      tree.referrers_source = TreeReferrersSource::kFallbackTag;
      index = std::move(tagged->index);
    }
  }
  if (index.manifests.size() > options.max_referrers) {
    return Error(ErrorCode::kTooLarge, repo.Name() + "@" + tree.digest + " has " +
                                           std::to_string(index.manifests.size()) +
                                           " referrers, more than the " +
                                           std::to_string(options.max_referrers) + " listed");
  }
  std::set<std::string> seen;
  for (const oci::Descriptor& entry : index.manifests) {
    if (!seen.insert(entry.digest).second) continue;  // listed twice
    TreeReferrer referrer;
    referrer.digest = entry.digest;
    referrer.reference = repo.Name() + "@" + entry.digest;
    referrer.artifact_type = entry.artifact_type;
    ReadReferrer(client, repo, tree.digest, options, deadline, referrer);
    tree.referrers.push_back(std::move(referrer));
  }
  return tree;
}

}  // namespace signet::cosign

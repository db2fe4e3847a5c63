#include "signet/cosign/sign.h"

#include "signet/cosign/dsse.h"
#include "signet/cosign/image_bundle.h"
#include "signet/cosign/payload.h"
#include "signet/cosign/signature_manifest.h"
#include "signet/cosign/statement.h"
#include "signet/cosign/triangulate.h"
#include "signet/cosign/verify.h"
#include "signet/crypto/encoding.h"
#include "signet/oci/manifest.h"

namespace signet::cosign {
namespace {

constexpr int kMaxIndexDepth = 8;

// Collects `digest` and, when it is an index, its children depth-first, in
// the order cosign's walk signs them (parent first).
Status CollectRecursive(oci::Registry& registry, const oci::Repository& repo,
                        const std::string& digest, int depth, oci::Deadline deadline,
                        std::vector<std::string>& out) {
  out.push_back(digest);
  if (depth > kMaxIndexDepth) {
    return Error(ErrorCode::kInvalidArgument,
                 "index nesting deeper than " + std::to_string(kMaxIndexDepth) + " at " + digest);
  }
  auto manifest = registry.GetManifest(repo, digest, oci::kDefaultMaxManifestBytes, deadline);
  if (!manifest) return manifest.error().WithContext("fetching " + repo.Name() + "@" + digest);
  auto is_index = oci::IsIndexDocument(manifest->media_type, manifest->bytes);
  if (!is_index) return is_index.error().WithContext(repo.Name() + "@" + digest);
  if (!*is_index) return OkStatus();
  auto index = oci::ParseImageIndex(manifest->bytes);
  if (!index) return index.error().WithContext(repo.Name() + "@" + digest);
  for (const oci::Descriptor& child : index->manifests) {
    if (oci::IsIndexMediaType(child.media_type)) {
      if (auto s = CollectRecursive(registry, repo, child.digest, depth + 1, deadline, out); !s)
        return s;
    } else if (oci::IsImageManifestMediaType(child.media_type)) {
      out.push_back(child.digest);
    } else {
      return Error(ErrorCode::kUnsupported,
                   "unknown mime type " + child.media_type + " for child " + child.digest);
    }
  }
  return OkStatus();
}

Result<SignedManifest> SignOne(oci::Registry& registry, const oci::ImageReference& image,
                               const std::string& digest, const crypto::Signer& signer,
                               const crypto::Verifier& own_key, const SignOptions& options) {
  SignedManifest result;
  result.digest = digest;
  result.reference = image.WithDigest(digest);
  result.payload = MarshalPayload(image.repository().Name(), digest, options.annotations);

  auto raw_signature = signer.Sign(result.payload);
  if (!raw_signature) return raw_signature.error().WithContext("signing " + result.reference);
  SignatureLayer layer = MakeSignatureLayer(result.payload, crypto::Base64Encode(*raw_signature));

  const oci::Repository& target = ArtifactRepository(image, options.signature_repository);
  const std::string tag = ArtifactTag(digest, ArtifactType::kSignature);
  result.signature_reference = target.Name() + ":" + tag;

  SignatureManifest manifest;
  auto existing =
      registry.GetManifest(target, tag, oci::kDefaultMaxManifestBytes, options.deadline);
  if (existing) {
    auto parsed = ParseSignatureManifest(existing->bytes, kMaxSignatureLayers);
    if (!parsed) return parsed.error().WithContext("existing " + result.signature_reference);
    manifest = std::move(*parsed);
  } else if (existing.error().code() != ErrorCode::kNotFound) {
    return existing.error().WithContext("fetching " + result.signature_reference);
  }

  auto appended =
      AppendSignatureLayer(manifest, layer, result.payload, own_key, kMaxSignatureLayers);
  if (!appended) return appended.error().WithContext(result.signature_reference);
  result.already_present = !*appended;

  const std::string config = MarshalSignatureConfig(manifest.layers);
  const std::string config_digest = crypto::Sha256Digest(config);
  const std::string manifest_bytes =
      MarshalSignatureManifest(manifest, config_digest, config.size());

  if (auto s = registry.PutBlob(target, layer.digest, result.payload, options.deadline); !s) {
    return s.error().WithContext("uploading signature payload to " + target.Name());
  }
  if (auto s = registry.PutBlob(target, config_digest, config, options.deadline); !s) {
    return s.error().WithContext("uploading signature config to " + target.Name());
  }
  auto pushed = registry.PutManifest(target, tag, std::string(oci::kOciManifestMediaType),
                                     manifest_bytes, options.deadline);
  if (!pushed) return pushed.error().WithContext("pushing " + result.signature_reference);
  return result;
}

Result<SignedManifest> SignOneBundle(oci::Registry& registry, const oci::ImageReference& image,
                                     const std::string& digest, const crypto::Signer& signer,
                                     const SignOptions& options) {
  SignedManifest result;
  result.digest = digest;
  result.reference = image.WithDigest(digest);
  auto subject = image.Pinned(digest);
  if (!subject) return subject.error();
  auto payload = MarshalStatement(MakeCosignSignStatement(digest, options.annotations));
  if (!payload) return payload.error().WithContext("signing " + result.reference);
  result.payload = *payload;
  auto envelope = SignDsse(signer, kInTotoPayloadType, std::move(*payload));
  if (!envelope) return envelope.error().WithContext("signing " + result.reference);
  AttachOptions attach;
  attach.target_repository = options.signature_repository;
  attach.deadline = options.deadline;
  auto attached = AttachDsseBundle(registry, *subject, *envelope, signer.PublicKeyPem(),
                                   kCosignSignPredicateType, attach);
  if (!attached) return attached.error();
  result.signature_reference = attached->referrer_reference;
  result.listed_by_registry = attached->listed_by_registry;
  return result;
}

}  // namespace

std::string TagReferenceWarning(const oci::ImageReference& image) {
  return "Image reference " + image.Name() +
         " uses a tag, not a digest, to identify the image to sign.\n"
         "    This can lead you to sign a different image than the intended one. Please use a\n"
         "    digest (example.com/ubuntu@sha256:abc123...) rather than tag\n"
         "    (example.com/ubuntu:latest) for the input to cosign. The ability to refer to\n"
         "    images by tag will be removed in a future release.";
}

Result<SignResult> SignImage(oci::Registry& registry, const oci::ImageReference& image,
                             const crypto::Signer& signer, const SignOptions& options) {
  SignResult result;
  if (!image.has_digest()) result.tag_warning = TagReferenceWarning(image);

  auto digest = ResolveDigest(registry, image, options.deadline);
  if (!digest) return digest.error();

  std::vector<std::string> digests;
  if (options.recursive) {
    if (auto s =
            CollectRecursive(registry, image.repository(), *digest, 0, options.deadline, digests);
        !s) {
      return s.error();
    }
  } else {
    digests.push_back(*digest);
  }

  const std::unique_ptr<crypto::Verifier> own_key = signer.MakeVerifier();
  for (const std::string& each : digests) {
    auto signed_manifest = options.format == SignatureFormat::kBundle
                               ? SignOneBundle(registry, image, each, signer, options)
                               : SignOne(registry, image, each, signer, *own_key, options);
    if (!signed_manifest) return signed_manifest.error();
    result.signed_manifests.push_back(std::move(*signed_manifest));
  }
  return result;
}

}  // namespace signet::cosign

#include "signet/cosign/image_verification.h"

#include <optional>

#include "signet/cosign/statement.h"
#include "signet/cosign/triangulate.h"
#include "signet/executor.h"

namespace signet::cosign {
namespace {

// The predicateType a bundle's statement claims, read without trusting it
// (only to select bundles; the claim is verified with the signature), or ""
// when the payload is no statement.
std::string ClaimedPredicateType(const FoundBundle& found) {
  const auto* envelope = std::get_if<DsseEnvelope>(&found.bundle.content);
  if (envelope == nullptr) return "";
  auto statement = ParseStatement(envelope->payload);
  return statement ? statement->predicate_type : "";
}

ImageVerification FromLegacy(VerificationResult legacy) {
  ImageVerification out;
  out.format = VerifiedFormat::kLegacy;
  out.digest = std::move(legacy.digest);
  out.reference_with_digest = std::move(legacy.reference_with_digest);
  out.legacy_signatures = std::move(legacy.signatures);
  return out;
}

}  // namespace

Result<ImageVerification> VerifyImageSignatures(oci::Registry& registry,
                                                const oci::ImageReference& reference,
                                                const ImageVerifyOptions& options) {
  auto digest = ResolveDigest(registry, reference, options.common.deadline);
  if (!digest) return digest.error();
  return VerifyResolvedImageSignatures(registry, reference, *digest, options);
}

Result<ImageVerification> VerifyResolvedImageSignatures(oci::Registry& registry,
                                                        const oci::ImageReference& reference,
                                                        const std::string& digest,
                                                        const ImageVerifyOptions& options) {
  if (options.formats == SignatureFormats::kLegacyOnly) {
    auto legacy = VerifyResolvedImage(registry, reference, digest, options.common);
    if (!legacy) return legacy.error();
    return FromLegacy(std::move(*legacy));
  }
  if (!oci::IsValidSha256Digest(digest)) {
    return Error(ErrorCode::kInvalidArgument,
                 "verifying " + reference.Name() + ": \"" + digest + "\" is not a digest");
  }

  // The legacy path runs beside bundle discovery (on the executor, or after
  // it on this thread); its result is used only when discovery yields no
  // bundle. `legacy_group` comes after `legacy`, so on every return below it
  // waits for the task before `legacy` goes away.
  std::optional<Result<VerificationResult>> legacy;
  TaskGroup legacy_group(options.common.executor);
  legacy_group.Run([&registry, &reference, &digest, &options, &legacy] {
    legacy.emplace(VerifyResolvedImage(registry, reference, digest, options.common));
  });

  ImageVerification out;
  out.digest = digest;
  out.reference_with_digest = reference.WithDigest(digest);
  const oci::Repository& repo = ArtifactRepository(reference, options.common.signature_repository);
  auto discovery =
      DiscoverBundles(registry, repo, digest, options.common.deadline, options.common.executor);

  std::vector<const FoundBundle*> candidates;
  if (discovery) {
    out.skipped_referrers = discovery->skipped;
    for (const FoundBundle& found : discovery->bundles) {
      if (options.bundle_signatures == BundleSignatures::kSignPredicateOnly) {
        const std::string claimed = ClaimedPredicateType(found);
        if (claimed != kCosignSignPredicateType) {
          out.skipped_referrers.push_back(found.referrer_digest + ": predicateType \"" + claimed +
                                          "\" is not " + std::string(kCosignSignPredicateType));
          continue;
        }
      }
      candidates.push_back(&found);
    }
  }

  if (candidates.empty()) {
    legacy_group.Wait();
    Result<VerificationResult> result = std::move(*legacy);
    if (!result) {
      if (!discovery) {
        return WithDiscoveryFailure(result.error(), discovery.error(),
                                    options.discovery_failure_fails,
                                    "discovering Sigstore bundles of " + out.reference_with_digest);
      }
      return result.error();
    }
    ImageVerification verified = FromLegacy(std::move(*result));
    verified.skipped_referrers = std::move(out.skipped_referrers);
    return verified;
  }

  out.format = VerifiedFormat::kBundle;
  std::string reasons;
  for (const FoundBundle* found : candidates) {
    auto verified = VerifyImageBundle(*found, options.common.keys, digest,
                                      options.common.annotations, options.bundle_tlog_policy);
    if (verified) {
      out.bundles.push_back(std::move(*verified));
      continue;
    }
    if (verified.error().code() == ErrorCode::kInvalidArgument) return verified.error();
    if (!reasons.empty()) reasons += "\n ";
    reasons += verified.error().message();
  }
  legacy_group.Wait();
  if (out.bundles.empty()) {
    return Error(ErrorCode::kVerificationFailed, "no matching signatures (Sigstore bundles of " +
                                                     out.reference_with_digest + "): " + reasons);
  }
  return out;
}

}  // namespace signet::cosign

#include "signet/cosign/verify.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "signet/cosign/signature_manifest.h"
#include "signet/cosign/triangulate.h"
#include "signet/crypto/encoding.h"
#include "signet/executor.h"

namespace signet::cosign {
namespace {

constexpr std::size_t kMaxWorkers = 4;

// The outcome of checking one layer: a passing signature, or why not.
struct LayerOutcome {
  bool skipped = false;  // not a simple-signing layer
  std::optional<VerifiedSignature> verified;
  std::optional<Error> error;
};

}  // namespace

bool IsRegistryFailure(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNetwork:
    case ErrorCode::kAuth:
    case ErrorCode::kTimeout:
    case ErrorCode::kRegistry:
    case ErrorCode::kDigestMismatch:
      return true;
    default:
      return false;
  }
}

Error WithDiscoveryFailure(const Error& legacy, const Error& discovery, bool discovery_decides,
                           std::string_view context) {
  if (discovery_decides && !IsRegistryFailure(legacy.code()) &&
      IsRegistryFailure(discovery.code())) {
    return discovery.WithContext(context);
  }
  return Error(legacy.code(),
               legacy.message() + "; Sigstore bundle discovery failed too: " + discovery.message(),
               legacy.http_status());
}

namespace {

// The payload blobs of one verification, each distinct (digest, size)
// fetched once however many layers name it: a signature manifest whose
// layers all point at one blob costs one fetch, not one per layer. Shared by
// CheckLayers' workers; lives for one VerifyImage call.
class BlobFetches {
 public:
  BlobFetches(oci::Registry& registry, const oci::Repository& repo, oci::Deadline deadline)
      : registry_(registry), repo_(repo), deadline_(deadline) {}

  // The blob's bytes (or the error fetching it), the same for every caller.
  const Result<std::string>& Get(const std::string& digest, std::uint64_t size) {
    std::shared_ptr<Slot> slot;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto& entry = slots_[{digest, size}];
      if (!entry) entry = std::make_shared<Slot>();
      slot = entry;
    }
    // The descriptor's size is the cap: a registry cannot make signet read more.
    std::call_once(slot->once,
                   [&] { slot->blob.emplace(registry_.GetBlob(repo_, digest, size, deadline_)); });
    return *slot->blob;
  }

 private:
  struct Slot {
    std::once_flag once;
    std::optional<Result<std::string>> blob;
  };
  oci::Registry& registry_;
  const oci::Repository& repo_;
  const oci::Deadline deadline_;
  std::mutex mutex_;
  std::map<std::pair<std::string, std::uint64_t>, std::shared_ptr<Slot>> slots_;
};

Error LayerError(std::size_t index, const SignatureLayer& layer, ErrorCode code,
                 const std::string& why) {
  return Error(code, "layer " + std::to_string(index) + " (" + layer.digest + "): " + why);
}

LayerOutcome CheckLayer(BlobFetches& blobs, const std::string& digest, std::size_t index,
                        const SignatureLayer& layer, const VerifyOptions& options) {
  LayerOutcome outcome;
  if (layer.media_type != kSimpleSigningMediaType) {
    outcome.skipped = true;
    return outcome;
  }
  auto fail = [&](ErrorCode code, const std::string& why) {
    outcome.error = LayerError(index, layer, code, why);
    return outcome;
  };
  const std::string* signature = layer.signature();
  if (signature == nullptr) {
    return fail(ErrorCode::kVerificationFailed, "no signature annotation");
  }
  if (signature->empty()) return fail(ErrorCode::kVerificationFailed, "empty signature");
  auto raw_signature = crypto::Base64Decode(*signature);
  if (!raw_signature) {
    return fail(ErrorCode::kVerificationFailed,
                "signature is not valid base64: " + raw_signature.error().message());
  }
  if (layer.size > options.max_payload_bytes) {
    return fail(ErrorCode::kTooLarge, "payload of " + std::to_string(layer.size) +
                                          " bytes exceeds the limit of " +
                                          std::to_string(options.max_payload_bytes));
  }
  if (!oci::IsValidSha256Digest(layer.digest)) {
    return fail(ErrorCode::kParse, "invalid layer digest");
  }
  const Result<std::string>& payload = blobs.Get(layer.digest, layer.size);
  if (!payload && payload.error().code() == ErrorCode::kTooLarge) {
    // More bytes than the descriptor declares cannot be the blob it names.
    return fail(ErrorCode::kDigestMismatch,
                "the registry sent more than the " + std::to_string(layer.size) +
                    " bytes the descriptor declares: " + payload.error().message());
  }
  if (!payload) {
    // Kept whole (code and HTTP status), with the layer named.
    outcome.error =
        payload.error().WithContext("layer " + std::to_string(index) + " (" + layer.digest + ")");
    return outcome;
  }
  if (payload->size() != layer.size) {
    return fail(ErrorCode::kDigestMismatch, "payload size " + std::to_string(payload->size()) +
                                                " differs from the descriptor's " +
                                                std::to_string(layer.size));
  }

  bool signature_ok = false;
  std::string key_errors;
  for (const auto& key : options.keys) {
    auto status = key->Verify(*raw_signature, *payload);
    if (status) {
      signature_ok = true;
      break;
    }
    if (!key_errors.empty()) key_errors += "; ";
    key_errors += status.error().message();
  }
  if (!signature_ok) {
    return fail(ErrorCode::kVerificationFailed,
                "signature does not verify with the given key(s): " + key_errors);
  }

  auto parsed = ParsePayload(*payload);
  if (!parsed) return fail(ErrorCode::kParse, parsed.error().message());
  if (parsed->docker_manifest_digest != digest) {
    return fail(ErrorCode::kVerificationFailed, "payload claims docker-manifest-digest \"" +
                                                    parsed->docker_manifest_digest + "\", not " +
                                                    digest);
  }
  for (const auto& [key, value] : options.annotations) {
    const bool present = parsed->optional && parsed->optional->count(key) > 0;
    if (!present || parsed->optional->at(key) != value) {
      return fail(ErrorCode::kVerificationFailed,
                  "annotation " + key + "=" + value + " is not in the payload");
    }
  }
  outcome.verified = VerifiedSignature{*payload, *signature, std::move(*parsed)};
  return outcome;
}

// Checks every layer, up to kMaxWorkers at a time on options.executor (the
// calling thread is one of them), each outcome stored at its layer's index so
// that the result does not depend on scheduling.
std::vector<LayerOutcome> CheckLayers(oci::Registry& registry,
                                      const oci::Repository& signature_repo,
                                      const std::string& digest,
                                      const std::vector<SignatureLayer>& layers,
                                      const VerifyOptions& options) {
  std::vector<LayerOutcome> outcomes(layers.size());
  BlobFetches blobs(registry, signature_repo, options.deadline);
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t i = next++; i < layers.size(); i = next++) {
      outcomes[i] = CheckLayer(blobs, digest, i, layers[i], options);
    }
  };
  const std::size_t workers = std::min(kMaxWorkers, layers.size());
  TaskGroup group(options.executor);
  for (std::size_t i = 1; i < workers; ++i) group.Run(work);
  work();
  group.Wait();
  return outcomes;
}

Status CheckKeys(const VerifyOptions& options) {
  if (options.keys.empty()) {
    return Error(ErrorCode::kInvalidArgument, "no public key to verify against");
  }
  for (const auto& key : options.keys) {
    if (key == nullptr) return Error(ErrorCode::kInvalidArgument, "null public key");
  }
  return OkStatus();
}

}  // namespace

Result<VerificationResult> VerifyImage(oci::Registry& registry,
                                       const oci::ImageReference& reference,
                                       const VerifyOptions& options) {
  if (Status keys = CheckKeys(options); !keys) return keys.error();

  auto digest = ResolveDigest(registry, reference, options.deadline);
  if (!digest) return digest.error();
  return VerifyResolvedImage(registry, reference, *digest, options);
}

Result<VerificationResult> VerifyResolvedImage(oci::Registry& registry,
                                               const oci::ImageReference& reference,
                                               const std::string& resolved_digest,
                                               const VerifyOptions& options) {
  if (Status keys = CheckKeys(options); !keys) return keys.error();
  if (!oci::IsValidSha256Digest(resolved_digest) ||
      (reference.has_digest() && reference.digest() != resolved_digest)) {
    return Error(ErrorCode::kInvalidArgument, "verifying " + reference.Name() + ": \"" +
                                                  resolved_digest +
                                                  "\" is not the digest it resolved to");
  }
  const std::string& digest = resolved_digest;

  VerificationResult result;
  result.digest = digest;
  result.reference_with_digest = reference.WithDigest(digest);

  const oci::Repository& signature_repo =
      ArtifactRepository(reference, options.signature_repository);
  const std::string tag = ArtifactTag(digest, ArtifactType::kSignature);
  const std::string where = signature_repo.Name() + ":" + tag;

  auto manifest =
      registry.GetManifest(signature_repo, tag, oci::kDefaultMaxManifestBytes, options.deadline);
  if (!manifest) {
    if (manifest.error().code() == ErrorCode::kNotFound) {
      return Error(ErrorCode::kNoSignatures,
                   "no signatures found for " + result.reference_with_digest);
    }
    return manifest.error().WithContext("fetching signatures " + where);
  }
  auto parsed = ParseSignatureManifest(manifest->bytes, options.max_layers);
  if (!parsed) return parsed.error().WithContext(where);

  const std::vector<LayerOutcome> outcomes =
      CheckLayers(registry, signature_repo, digest, parsed->layers, options);

  std::size_t candidates = 0;
  std::string reasons;
  std::optional<Error> registry_failure;
  for (const LayerOutcome& outcome : outcomes) {
    if (outcome.skipped) continue;
    ++candidates;
    if (outcome.verified) {
      result.signatures.push_back(*outcome.verified);
      continue;
    }
    if (!reasons.empty()) reasons += "\n ";
    reasons += outcome.error->message();
    if (!registry_failure && IsRegistryFailure(outcome.error->code())) {
      registry_failure = outcome.error;
    }
  }
  if (candidates == 0) {
    return Error(ErrorCode::kNoSignatures,
                 "no signatures found for " + result.reference_with_digest);
  }
  if (!result.signatures.empty()) return result;
  // A registry that failed or lied is reported as such, not as a bad signature.
  if (registry_failure) return registry_failure->WithContext("fetching signatures " + where);
  return Error(ErrorCode::kNoMatchingSignatures, "no matching signatures: " + reasons);
}

}  // namespace signet::cosign

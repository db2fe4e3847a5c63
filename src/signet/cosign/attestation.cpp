#include "signet/cosign/attestation.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <variant>

#include "signet/bounded_json.h"
#include "signet/cosign/dsse.h"
#include "signet/cosign/go_json.h"
#include "signet/cosign/image_bundle.h"
#include "signet/cosign/predicate_types.h"
#include "signet/cosign/sign.h"
#include "signet/cosign/signature_manifest.h"
#include "signet/cosign/triangulate.h"
#include "signet/cosign/verify.h"
#include "signet/crypto/encoding.h"
#include "signet/oci/manifest.h"

namespace signet::cosign {
namespace {

// A new ".att" layer holding `envelope_json`.
SignatureLayer MakeAttestationLayer(std::string_view envelope_json,
                                    std::string_view predicate_type) {
  SignatureLayer layer;
  layer.media_type = std::string(kDsseEnvelopeMediaType);
  layer.size = envelope_json.size();
  layer.digest = crypto::Sha256Digest(envelope_json);
  layer.annotations.emplace(std::string(kSignatureAnnotation), "");
  layer.annotations.emplace(std::string(kPredicateTypeAnnotation), std::string(predicate_type));
  return layer;
}

// Appends the layer to the ".att" manifest of `digest` (creating it) and
// pushes blobs, config and manifest, as cosign's WriteAttestations does.
Result<std::string> StoreLegacyAttestation(
    oci::Registry& registry, const oci::ImageReference& image, const std::string& digest,
    const std::string& envelope_json, const std::string& predicate_type,
    const crypto::Verifier& own_key, const AttestOptions& options) {
  const oci::Repository& target = ArtifactRepository(image, options.target_repository);
  const std::string tag = ArtifactTag(digest, ArtifactType::kAttestation);
  const std::string where = target.Name() + ":" + tag;

  SignatureManifest manifest;
  auto existing =
      registry.GetManifest(target, tag, oci::kDefaultMaxManifestBytes, options.deadline);
  if (existing) {
    auto parsed = ParseSignatureManifest(existing->bytes, kMaxSignatureLayers);
    if (!parsed) return parsed.error().WithContext("existing " + where);
    manifest = std::move(*parsed);
  } else if (existing.error().code() != ErrorCode::kNotFound) {
    return existing.error().WithContext("fetching " + where);
  }
  SignatureLayer layer = MakeAttestationLayer(envelope_json, predicate_type);
  const std::string layer_digest = layer.digest;
  // The signature annotation is empty, so cosign's dedupe never matches an
  // existing layer (and ECDSA envelopes differ anyway): this appends.
  auto appended =
      AppendSignatureLayer(manifest, std::move(layer), envelope_json, own_key, kMaxSignatureLayers);
  if (!appended) return appended.error().WithContext(where);

  const std::string config = MarshalSignatureConfig(manifest.layers);
  const std::string config_digest = crypto::Sha256Digest(config);
  const std::string manifest_bytes =
      MarshalSignatureManifest(manifest, config_digest, config.size());
  if (auto s = registry.PutBlob(target, layer_digest, envelope_json, options.deadline); !s) {
    return s.error().WithContext("uploading attestation to " + target.Name());
  }
  if (auto s = registry.PutBlob(target, config_digest, config, options.deadline); !s) {
    return s.error().WithContext("uploading attestation config to " + target.Name());
  }
  auto pushed = registry.PutManifest(target, tag, std::string(oci::kOciManifestMediaType),
                                     manifest_bytes, options.deadline);
  if (!pushed) return pushed.error().WithContext("pushing " + where);
  return where;
}

// The outcome of one candidate attestation: verified, or why not.
struct Candidate {
  std::optional<VerifiedAttestation> verified;
  std::optional<Error> error;
};

// Checks a DSSE envelope from the ".att" tag as cosign's
// verifyOCIAttestation does: in-toto payload type, a signature by one of the
// keys over the PAE, a statement naming `digest` as a subject.
Result<Statement> CheckEnvelope(const DsseEnvelope& envelope, const std::string& digest,
                                const std::vector<std::shared_ptr<const crypto::Verifier>>& keys) {
  if (envelope.payload_type != kInTotoPayloadType) {
    return Error(
        ErrorCode::kVerificationFailed,
        "payloadType \"" + envelope.payload_type + "\" is not " + std::string(kInTotoPayloadType));
  }
  if (envelope.signatures.empty()) {
    return Error(ErrorCode::kVerificationFailed, "the DSSE envelope has no signature");
  }
  const std::string pae = DssePae(envelope.payload_type, envelope.payload);
  std::string reasons;
  bool verified = false;
  for (const DsseSignature& signature : envelope.signatures) {
    for (const auto& key : keys) {
      auto status = key->Verify(signature.sig, pae);
      if (status) {
        verified = true;
        break;
      }
      if (!reasons.empty()) reasons += "; ";
      reasons += status.error().message();
    }
    if (verified) break;
  }
  if (!verified) {
    return Error(ErrorCode::kVerificationFailed,
                 "DSSE signature does not verify with the given key(s): " + reasons);
  }
  // The ".att" tag holds cosign 2.x's attestations, whose predicate may be a
  // string (--type spdx), as cosign 2.x reads them.
  auto statement = ParseStatement(envelope.payload, PredicateForm::kObjectOrString);
  if (!statement) return statement.error();
  const std::string hex = digest.substr(digest.find(':') + 1);
  if (!StatementHasSubject(*statement, "sha256", hex)) {
    return Error(ErrorCode::kVerificationFailed,
                 "the statement has no subject with sha256 digest " + digest);
  }
  return statement;
}

Candidate CheckLegacyLayer(oci::Registry& registry, const oci::Repository& repo,
                           const std::string& digest, const std::string& where, std::size_t index,
                           const SignatureLayer& layer, const VerifyAttestationOptions& options) {
  Candidate candidate;
  const std::string at = where + " layer " + std::to_string(index);
  auto fail = [&](ErrorCode code, const std::string& why) {
    candidate.error = Error(code, at + " (" + layer.digest + "): " + why);
    return candidate;
  };
  if (layer.size > kMaxPayloadBytes) {
    return fail(ErrorCode::kTooLarge, std::to_string(layer.size) + " bytes exceed the limit of " +
                                          std::to_string(kMaxPayloadBytes));
  }
  if (!oci::IsValidSha256Digest(layer.digest)) {
    return fail(ErrorCode::kParse, "invalid layer digest");
  }
  auto blob = registry.GetBlob(repo, layer.digest, layer.size, options.deadline);
  if (!blob) return fail(blob.error().code(), blob.error().message());
  if (blob->size() != layer.size) {
    return fail(ErrorCode::kDigestMismatch, "blob size " + std::to_string(blob->size()) +
                                                " differs from the descriptor's " +
                                                std::to_string(layer.size));
  }
  auto json = ParseBoundedJson(*blob, "DSSE envelope");
  if (!json) return fail(json.error().code(), json.error().message());
  auto envelope = ParseDsseEnvelope(*json, "DSSE envelope");
  if (!envelope) return fail(envelope.error().code(), envelope.error().message());
  auto statement = CheckEnvelope(*envelope, digest, options.keys);
  if (!statement) return fail(statement.error().code(), statement.error().message());
  candidate.verified = VerifiedAttestation{*blob, envelope->payload, std::move(*statement), at};
  return candidate;
}

// The ".att" candidates of `digest`; kNoSignatures when there are none.
Result<std::vector<Candidate>> LegacyCandidates(oci::Registry& registry,
                                                const oci::ImageReference& image,
                                                const std::string& digest,
                                                const VerifyAttestationOptions& options) {
  const oci::Repository& repo = ArtifactRepository(image, options.target_repository);
  const std::string tag = ArtifactTag(digest, ArtifactType::kAttestation);
  const std::string where = repo.Name() + ":" + tag;
  auto manifest = registry.GetManifest(repo, tag, oci::kDefaultMaxManifestBytes, options.deadline);
  if (!manifest) {
    if (manifest.error().code() == ErrorCode::kNotFound) {
      return Error(
          ErrorCode::kNoSignatures,
          "no matching attestations: no attestations found for " + image.WithDigest(digest));
    }
    return manifest.error().WithContext("fetching attestations " + where);
  }
  auto parsed = ParseSignatureManifest(manifest->bytes, kMaxSignatureLayers);
  if (!parsed) return parsed.error().WithContext(where);
  std::vector<Candidate> candidates;
  for (std::size_t i = 0; i < parsed->layers.size(); ++i) {
    const SignatureLayer& layer = parsed->layers[i];
    if (layer.media_type != kDsseEnvelopeMediaType) continue;
    candidates.push_back(CheckLegacyLayer(registry, repo, digest, where, i, layer, options));
  }
  if (candidates.empty()) {
    return Error(ErrorCode::kNoSignatures,
                 "no matching attestations: no attestations found for " + image.WithDigest(digest));
  }
  return candidates;
}

// The bundle referrers of `digest` checked as attestations; empty when there
// are none that parse (cosign then falls back to the ".att" tag, also when
// the listing fails: then `discovery_error` is set).
std::vector<Candidate> BundleCandidates(oci::Registry& registry, const oci::ImageReference& image,
                                        const std::string& digest,
                                        const VerifyAttestationOptions& options,
                                        std::optional<Error>& discovery_error) {
  std::vector<Candidate> candidates;
  const oci::Repository& repo = ArtifactRepository(image, options.target_repository);
  auto discovery = DiscoverBundles(registry, repo, digest, options.deadline, options.executor);
  if (!discovery) {
    discovery_error = discovery.error();
    return candidates;
  }
  const TlogPolicy policy =
      options.insecure_ignore_tlog ? TlogPolicy::kInsecureIgnore : TlogPolicy::kRequire;
  for (const FoundBundle& found : discovery->bundles) {
    Candidate candidate;
    auto verified = VerifyImageBundle(found, options.keys, digest, {}, policy);
    if (!verified) {
      candidate.error = verified.error();
    } else {
      const auto* envelope = std::get_if<DsseEnvelope>(&found.bundle.content);
      candidate.verified =
          VerifiedAttestation{envelope != nullptr ? MarshalDsseEnvelope(*envelope) : std::string(),
                              std::move(verified->payload), std::move(verified->statement),
                              repo.Name() + "@" + found.referrer_digest};
    }
    candidates.push_back(std::move(candidate));
  }
  return candidates;
}

}  // namespace

Result<Statement> MakeAttestationStatement(std::string_view type, std::string_view predicate,
                                           const oci::Repository& repository,
                                           std::string_view digest, std::string_view timestamp) {
  auto uri = ResolvePredicateType(type);
  if (!uri) return uri.error();
  if (type == "spdx") {
    return Error(ErrorCode::kInvalidArgument,
                 "--type spdx signs the predicate file as a JSON string, which cosign v3 "
                 "cannot verify and signet does not write (it verifies cosign 2's from the "
                 ".att tag); use --type spdxjson for an SPDX JSON document");
  }
  if (!oci::IsValidSha256Digest(digest)) {
    return Error(ErrorCode::kInvalidArgument,
                 "\"" + std::string(digest) + "\" is not a sha256 digest");
  }
  Statement statement;
  statement.type = std::string(kStatementTypeV01);
  StatementSubject subject;
  subject.name = repository.Name();
  subject.digest.emplace("sha256", std::string(digest.substr(7)));
  statement.subjects.push_back(std::move(subject));
  statement.predicate_type = *uri;
  if (*uri == kCosignCustomPredicateType) {
    if (auto quoted = ProtoJsonQuote(predicate); !quoted) {
      return Error(ErrorCode::kInvalidArgument,
                   "the predicate file is not valid UTF-8, which a custom predicate requires");
    }
    statement.predicate = nlohmann::json::object();
    statement.predicate["Data"] = std::string(predicate);
    statement.predicate["Timestamp"] = std::string(timestamp);
    return statement;
  }
  auto object = ParseBoundedJson(predicate, "predicate file");
  if (!object) return Error(ErrorCode::kInvalidArgument, object.error().message());
  if (!object->is_object()) {
    return Error(ErrorCode::kInvalidArgument,
                 "invalid JSON payload for predicate type " + *uri + ": not a JSON object");
  }
  statement.predicate = std::move(*object);
  return statement;
}

Result<AttestResult> AttestImage(oci::Registry& registry, const oci::ImageReference& image,
                                 const crypto::Signer& signer, const AttestOptions& options) {
  AttestResult result;
  if (!image.has_digest()) result.tag_warning = TagReferenceWarning(image);
  auto digest = ResolveDigest(registry, image, options.deadline);
  if (!digest) return digest.error();
  result.digest = *digest;
  result.reference = image.WithDigest(*digest);

  const std::string timestamp = options.timestamp.empty() ? NowRfc3339() : options.timestamp;
  auto statement = MakeAttestationStatement(options.type, options.predicate, image.repository(),
                                            *digest, timestamp);
  if (!statement) return statement.error();
  result.predicate_type = statement->predicate_type;
  auto payload = MarshalStatement(*statement);
  if (!payload) return payload.error();
  result.payload = *payload;
  auto envelope = SignDsse(signer, kInTotoPayloadType, *payload);
  if (!envelope) return envelope.error().WithContext("signing " + result.reference);
  result.envelope_json = MarshalDsseEnvelope(*envelope);

  if (options.format == AttestationFormat::kLegacy) {
    const std::unique_ptr<crypto::Verifier> own_key = signer.MakeVerifier();
    auto stored = StoreLegacyAttestation(registry, image, *digest, result.envelope_json,
                                         result.predicate_type, *own_key, options);
    if (!stored) return stored.error();
    result.stored_at = std::move(*stored);
    return result;
  }
  auto subject = image.Pinned(*digest);
  if (!subject) return subject.error();
  AttachOptions attach;
  attach.target_repository = options.target_repository;
  attach.created = options.created;
  attach.deadline = options.deadline;
  auto attached = AttachDsseBundle(registry, *subject, *envelope, signer.PublicKeyPem(),
                                   result.predicate_type, attach);
  if (!attached) return attached.error();
  result.stored_at = std::move(attached->referrer_reference);
  return result;
}

namespace {

// Every attestation of `image` that verifies, whatever its type, in
// discovery order; sets `result`'s digest, reference and from_bundles.
// Errors when there is none (see VerifyImageAttestations).
Result<std::vector<VerifiedAttestation>> CollectVerified(oci::Registry& registry,
                                                         const oci::ImageReference& image,
                                                         const VerifyAttestationOptions& options,
                                                         AttestationVerification& result) {
  if (options.keys.empty()) {
    return Error(ErrorCode::kInvalidArgument, "no public key to verify against");
  }
  for (const auto& key : options.keys) {
    if (key == nullptr) return Error(ErrorCode::kInvalidArgument, "null public key");
  }
  auto digest = ResolveDigest(registry, image, options.deadline);
  if (!digest) return digest.error();
  result.digest = *digest;
  result.reference_with_digest = image.WithDigest(*digest);

  // cosign v3: when at least one bundle referrer parses, only bundles count.
  std::vector<Candidate> bundles;
  std::optional<Error> discovery_error;
  if (options.discovery == AttestationDiscovery::kAuto) {
    bundles = BundleCandidates(registry, image, *digest, options, discovery_error);
  }
  result.from_bundles = !bundles.empty();
  // A legacy failure when the bundle listing failed too: see
  // VerifyAttestationOptions::discovery_failure_fails.
  auto with_discovery_failure = [&](const Error& legacy) {
    if (!discovery_error) return legacy;
    return WithDiscoveryFailure(
        legacy, *discovery_error, options.discovery_failure_fails,
        "discovering Sigstore bundle attestations of " + result.reference_with_digest);
  };
  auto candidates = result.from_bundles ? Result<std::vector<Candidate>>(std::move(bundles))
                                        : LegacyCandidates(registry, image, *digest, options);
  if (!candidates) return with_discovery_failure(candidates.error());

  std::vector<VerifiedAttestation> verified;
  std::string reasons;
  std::optional<Error> registry_failure;
  for (Candidate& candidate : *candidates) {
    if (candidate.verified) {
      verified.push_back(std::move(*candidate.verified));
      continue;
    }
    if (!reasons.empty()) reasons += "\n ";
    reasons += candidate.error->message();
    if (!registry_failure && IsRegistryFailure(candidate.error->code())) {
      registry_failure = candidate.error;
    }
  }
  if (!verified.empty()) return verified;
  if (registry_failure) return registry_failure->WithContext("fetching attestations");
  return with_discovery_failure(
      Error(ErrorCode::kNoMatchingSignatures, "no matching attestations: " + reasons));
}

Error NoneOfType(std::string_view type, const std::vector<std::string>& found_types) {
  std::string found;
  for (const std::string& each : found_types) {
    if (!found.empty()) found += ',';
    found += each;
  }
  return Error(ErrorCode::kNoMatchingSignatures,
               "none of the attestations matched the predicate type: " + std::string(type) +
                   ", found: " + found);
}

}  // namespace

Result<AttestationVerification> VerifyImageAttestations(oci::Registry& registry,
                                                        const oci::ImageReference& image,
                                                        const VerifyAttestationOptions& options) {
  auto wanted = ResolvePredicateType(options.type);
  if (!wanted) return wanted.error();
  AttestationVerification result;
  auto verified = CollectVerified(registry, image, options, result);
  if (!verified) return verified.error();
  for (VerifiedAttestation& each : *verified) {
    result.found_types.push_back(each.statement.predicate_type);
    if (each.statement.predicate_type == *wanted) result.matched.push_back(std::move(each));
  }
  if (result.matched.empty()) return NoneOfType(options.type, result.found_types);
  return result;
}

Status RequireAttestations(oci::Registry& registry, const oci::ImageReference& image,
                           const std::vector<std::string>& types,
                           const VerifyAttestationOptions& options) {
  if (types.empty()) return OkStatus();
  std::vector<std::string> uris;
  for (const std::string& type : types) {
    auto uri = ResolvePredicateType(type);
    if (!uri) return uri.error();
    uris.push_back(std::move(*uri));
  }
  AttestationVerification result;
  auto verified = CollectVerified(registry, image, options, result);
  if (!verified) return verified.error();
  std::vector<std::string> found_types;
  for (const VerifiedAttestation& each : *verified) {
    found_types.push_back(each.statement.predicate_type);
  }
  for (std::size_t i = 0; i < types.size(); ++i) {
    if (std::find(found_types.begin(), found_types.end(), uris[i]) == found_types.end()) {
      return NoneOfType(types[i], found_types);
    }
  }
  return OkStatus();
}

}  // namespace signet::cosign

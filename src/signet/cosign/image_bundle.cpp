#include "signet/cosign/image_bundle.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>

#include "signet/cosign/go_json.h"
#include "signet/crypto/encoding.h"
#include "signet/oci/manifest.h"

namespace signet::cosign {
namespace {

constexpr std::size_t kMaxDiscoveryWorkers = 4;

std::string Descriptor(std::string_view media_type, std::uint64_t size, const std::string& digest) {
  return "{\"mediaType\":" + GoJsonQuote(media_type) + ",\"size\":" + std::to_string(size) +
         ",\"digest\":" + GoJsonQuote(digest);
}

// One referrer: a usable bundle, or why not.
struct ReferrerOutcome {
  std::optional<FoundBundle> found;
  std::string skipped;
};

ReferrerOutcome InspectReferrer(oci::Registry& registry, const oci::Repository& repo,
                                const std::string& subject_digest, const oci::Descriptor& entry,
                                oci::Deadline deadline) {
  ReferrerOutcome outcome;
  auto skip = [&](const std::string& why) {
    outcome.skipped = entry.digest + ": " + why;
    return outcome;
  };
  if (!oci::IsImageManifestMediaType(entry.media_type) && !entry.media_type.empty()) {
    return skip("listed as " + entry.media_type + ", not an image manifest");
  }
  auto manifest = registry.GetManifest(repo, entry.digest, oci::kDefaultMaxManifestBytes, deadline);
  if (!manifest) return skip(manifest.error().message());
  auto parsed = oci::ParseImageManifest(manifest->bytes);
  if (!parsed) return skip(parsed.error().message());
  if (!parsed->subject) return skip("the referrer manifest has no subject");
  if (parsed->subject->digest != subject_digest) {
    return skip("the referrer manifest's subject is " + parsed->subject->digest + ", not " +
                subject_digest);
  }
  if (parsed->layers.size() != 1) {
    return skip("the referrer manifest has " + std::to_string(parsed->layers.size()) +
                " layers; a bundle referrer has exactly one");
  }
  const oci::Descriptor& layer = parsed->layers.front();
  if (!layer.media_type.starts_with(kBundleLayerMediaTypePrefix)) {
    return skip("layer media type " + layer.media_type + " is not a Sigstore bundle");
  }
  if (layer.size < 0 || static_cast<std::uint64_t>(layer.size) > kMaxBundleBytes) {
    return skip("bundle layer of " + std::to_string(layer.size) + " bytes exceeds the limit of " +
                std::to_string(kMaxBundleBytes));
  }
  auto blob =
      registry.GetBlob(repo, layer.digest, static_cast<std::uint64_t>(layer.size), deadline);
  if (!blob) return skip(blob.error().message());
  if (blob->size() != static_cast<std::uint64_t>(layer.size)) {
    return skip("bundle blob size " + std::to_string(blob->size()) +
                " differs from the descriptor's " + std::to_string(layer.size));
  }
  auto bundle = ParseBundle(*blob);
  if (!bundle) return skip(bundle.error().message());
  outcome.found = FoundBundle{entry.digest, parsed->annotations, std::move(*bundle)};
  return outcome;
}

Error BundleFailure(const FoundBundle& found, const std::string& why) {
  return Error(ErrorCode::kVerificationFailed, "bundle " + found.referrer_digest + ": " + why);
}

}  // namespace

std::string NowRfc3339() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

std::string MarshalBundleReferrerManifest(const std::string& bundle_digest,
                                          std::uint64_t bundle_size,
                                          std::string_view predicate_type, std::string_view created,
                                          const oci::ManifestHead& subject) {
  const std::string artifact_type = GoJsonQuote(kBundleMediaTypeV03);
  std::string out = "{\"schemaVersion\":2,\"mediaType\":" + GoJsonQuote(oci::kOciManifestMediaType);
  out += ",\"config\":" +
         Descriptor(kEmptyConfigMediaType, kEmptyConfig.size(), std::string(kEmptyConfigDigest)) +
         ",\"artifactType\":" + artifact_type + "}";
  out += ",\"layers\":[" + Descriptor(kBundleMediaTypeV03, bundle_size, bundle_digest) + "}]";
  out += ",\"annotations\":" +
         GoMarshalStringMap(
             {{std::string(kBundleContentAnnotation), std::string(kDsseEnvelopeContent)},
              {std::string(kBundlePredicateTypeAnnotation), std::string(predicate_type)},
              {std::string(kCreatedAnnotation), std::string(created)}});
  out += ",\"subject\":" + Descriptor(subject.media_type, subject.size, subject.digest) + "}";
  out += ",\"artifactType\":" + artifact_type + "}";
  return out;
}

Result<AttachedBundle> AttachDsseBundle(oci::Registry& registry,
                                        const oci::ImageReference& subject_at_digest,
                                        const DsseEnvelope& envelope,
                                        std::string_view public_key_pem,
                                        std::string_view predicate_type,
                                        const AttachOptions& options) {
  if (!subject_at_digest.has_digest()) {
    return Error(ErrorCode::kInvalidArgument,
                 "attaching a bundle to " + subject_at_digest.Name() + ": no digest");
  }
  if (predicate_type.empty()) {
    return Error(ErrorCode::kInvalidArgument, "attaching a bundle: empty predicate type");
  }
  auto hint = PublicKeyHint(public_key_pem);
  if (!hint) {
    return Error(ErrorCode::kInvalidArgument,
                 "attaching a bundle: the signing key's public key: " + hint.error().message());
  }
  Bundle bundle;
  bundle.public_key_hint = std::move(*hint);
  bundle.content = envelope;

  AttachedBundle attached;
  attached.bundle_json = MarshalBundle(bundle);
  const std::string& digest = subject_at_digest.digest();
  auto subject = registry.HeadManifest(subject_at_digest.repository(), digest, options.deadline);
  if (!subject) {
    if (subject.error().code() == ErrorCode::kNotFound) {
      return Error(ErrorCode::kImageNotFound, "image " + subject_at_digest.Name() + " not found");
    }
    return subject.error().WithContext("reading the subject " + subject_at_digest.Name());
  }
  if (subject->media_type.empty()) {
    return Error(ErrorCode::kRegistry, "the registry tells no media type for " +
                                           subject_at_digest.Name() +
                                           "; cannot describe it as a referrer's subject");
  }
  subject->digest = digest;

  const oci::Repository& target =
      options.target_repository ? *options.target_repository : subject_at_digest.repository();
  const std::string bundle_digest = crypto::Sha256Digest(attached.bundle_json);
  const std::string manifest = MarshalBundleReferrerManifest(
      bundle_digest, attached.bundle_json.size(), predicate_type,
      options.created.empty() ? NowRfc3339() : options.created, *subject);

  if (auto s = registry.PutBlob(target, std::string(kEmptyConfigDigest), std::string(kEmptyConfig),
                                options.deadline);
      !s) {
    return s.error().WithContext("uploading the empty config to " + target.Name());
  }
  if (auto s = registry.PutBlob(target, bundle_digest, attached.bundle_json, options.deadline);
      !s) {
    return s.error().WithContext("uploading the bundle to " + target.Name());
  }
  auto pushed = registry.PushReferrer(target, manifest, options.deadline);
  if (!pushed) return pushed.error().WithContext("pushing the bundle referrer to " + target.Name());
  attached.referrer_digest = pushed->digest;
  attached.referrer_reference = target.Name() + "@" + pushed->digest;
  attached.listed_by_registry = pushed->listed_by == oci::ReferrerListedBy::kReferrersApi;
  return attached;
}

Result<BundleDiscovery> DiscoverBundles(oci::Registry& registry, const oci::Repository& repo,
                                        const std::string& digest, oci::Deadline deadline,
                                        Executor* executor) {
  BundleDiscovery discovery;
  auto listed = registry.ListReferrers(repo, digest, deadline);
  if (!listed) return listed.error();
  std::vector<oci::Descriptor> entries;
  if (listed->answer == oci::ReferrersAnswer::kListed) {
    discovery.referrers_api = true;
    entries = std::move(listed->index.manifests);
  } else {
    auto tag = registry.ReadReferrersTag(repo, digest, deadline);
    if (!tag) return tag.error();
    entries = std::move(tag->index.manifests);
  }

  std::vector<ReferrerOutcome> outcomes(entries.size());
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t i = next++; i < entries.size(); i = next++) {
      outcomes[i] = InspectReferrer(registry, repo, digest, entries[i], deadline);
    }
  };
  const std::size_t workers = std::min(kMaxDiscoveryWorkers, entries.size());
  TaskGroup group(executor);
  for (std::size_t i = 1; i < workers; ++i) group.Run(work);
  work();
  group.Wait();

  for (ReferrerOutcome& outcome : outcomes) {
    if (outcome.found) {
      discovery.bundles.push_back(std::move(*outcome.found));
    } else {
      discovery.skipped.push_back(std::move(outcome.skipped));
    }
  }
  return discovery;
}

Result<VerifiedBundle> VerifyImageBundle(
    const FoundBundle& found, const std::vector<std::shared_ptr<const crypto::Verifier>>& keys,
    std::string_view digest, const std::map<std::string, std::string>& annotations,
    TlogPolicy tlog_policy) {
  const auto* envelope = std::get_if<DsseEnvelope>(&found.bundle.content);
  if (envelope == nullptr) return BundleFailure(found, "bundle does not contain a DSSE envelope");
  if (keys.empty()) {
    return Error(ErrorCode::kInvalidArgument, "no public key to verify against");
  }
  std::string key_errors;
  bool signature_ok = false;
  for (const auto& key : keys) {
    if (key == nullptr) return Error(ErrorCode::kInvalidArgument, "null public key");
    auto status = VerifyDsseEnvelope(*envelope, *key);
    if (status) {
      signature_ok = true;
      break;
    }
    if (!key_errors.empty()) key_errors += "; ";
    key_errors += status.error().message();
  }
  if (!signature_ok) return BundleFailure(found, key_errors);
  if (envelope->payload_type != kInTotoPayloadType) {
    return BundleFailure(found, "DSSE payloadType \"" + envelope->payload_type + "\" is not " +
                                    std::string(kInTotoPayloadType));
  }
  auto statement = ParseStatement(envelope->payload);
  if (!statement) return BundleFailure(found, statement.error().message());

  const auto colon = digest.find(':');
  if (colon == std::string_view::npos || digest.substr(0, colon) != "sha256") {
    return Error(ErrorCode::kInvalidArgument,
                 "\"" + std::string(digest) + "\" is not a sha256 digest");
  }
  const std::string_view hex = digest.substr(colon + 1);
  if (!StatementHasSubject(*statement, "sha256", hex)) {
    return BundleFailure(found,
                         "no subject of the in-toto statement has digest " + std::string(digest));
  }
  if (!StatementHasSubject(*statement, "sha256", hex, annotations)) {
    return BundleFailure(found, "the statement's subject " + std::string(digest) +
                                    " does not carry the required annotations (-a)");
  }
  if (auto status = CheckTlogPolicy(found.bundle, tlog_policy); !status) {
    return BundleFailure(found, status.error().message());
  }

  VerifiedBundle verified;
  verified.referrer_digest = found.referrer_digest;
  verified.payload = envelope->payload;
  verified.predicate_type = statement->predicate_type;
  for (const StatementSubject& subject : statement->subjects) {
    const auto it = subject.digest.find("sha256");
    if (it == subject.digest.end()) continue;
    Statement one;
    one.subjects.push_back(subject);
    if (StatementHasSubject(one, "sha256", hex, annotations)) {
      if (subject.annotations) verified.subject_annotations = *subject.annotations;
      break;
    }
  }
  verified.statement = std::move(*statement);
  return verified;
}

}  // namespace signet::cosign

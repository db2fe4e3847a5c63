// signet sign / verify / triangulate / attest / verify-attestation: flag parsing
// and output only; the work is done by signet::cosign.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>

#include "signet/cli/command.h"
#include "signet/cli/password_prompt.h"
#include "signet/cli/registry_flags.h"
#include "signet/cosign/attestation.h"
#include "signet/cosign/go_json.h"
#include "signet/cosign/image_verification.h"
#include "signet/cosign/payload.h"
#include "signet/cosign/sign.h"
#include "signet/cosign/triangulate.h"
#include "signet/cosign/verify.h"
#include "signet/crypto/keys.h"
#include "signet/oci/deadline.h"
#include "signet/oci/keychain.h"
#include "signet/oci/registry_router.h"
#include "signet/policy/config.h"

namespace signet::cli {
namespace {

// Splits one flag value the way pflag's StringSlice does: as a CSV record
// (commas separate fields, double quotes quote them, "" is a literal quote).
Result<std::vector<std::string>> SplitCsv(const std::string& value) {
  std::vector<std::string> fields;
  if (value.empty()) return fields;
  std::string field;
  std::size_t i = 0;
  while (true) {
    field.clear();
    if (i < value.size() && value[i] == '"') {
      ++i;
      while (true) {
        if (i >= value.size()) {
          return Error(ErrorCode::kInvalidArgument, "unterminated quote in \"" + value + "\"");
        }
        if (value[i] == '"') {
          if (i + 1 < value.size() && value[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        field += value[i++];
      }
      if (i < value.size() && value[i] != ',') {
        return Error(ErrorCode::kInvalidArgument,
                     "extraneous text after quote in \"" + value + "\"");
      }
    } else {
      while (i < value.size() && value[i] != ',') field += value[i++];
    }
    fields.push_back(field);
    if (i >= value.size()) break;
    ++i;  // the comma
  }
  return fields;
}

// -a k=v values: CSV-split, each split at the first '='; later keys win.
Result<std::map<std::string, std::string>> ParseAnnotations(
    const std::vector<std::string>& values) {
  std::map<std::string, std::string> annotations;
  for (const std::string& value : values) {
    auto fields = SplitCsv(value);
    if (!fields) return fields.error();
    for (const std::string& field : *fields) {
      const std::size_t equals = field.find('=');
      if (equals == std::string::npos) {
        return Error(ErrorCode::kInvalidArgument, "unable to parse annotation: " + field);
      }
      annotations[field.substr(0, equals)] = field.substr(equals + 1);
    }
  }
  return annotations;
}

struct SignFlags {
  std::string key;
  std::vector<std::string> annotations;
  bool recursive = false;
  bool yes = false;
  bool new_bundle_format = true;
  bool tlog_upload = false;
  bool use_signing_config = false;
  RegistryFlags registry;
  std::string image;
};

int RunSign(const SignFlags& flags) {
  auto reference = oci::ImageReference::Parse(flags.image);
  if (!reference) return ReportError(reference.error());
  auto annotations = ParseAnnotations(flags.annotations);
  if (!annotations) return ReportError(annotations.error());
  auto signature_repository = SignatureRepositoryFromEnv();
  if (!signature_repository) return ReportError(signature_repository.error());
  auto password = ReadKeyPassword(PasswordConfirmation::kOnce);
  if (!password) return ReportError(password.error());
  auto signer = crypto::LoadPrivateKeyFile(flags.key, password->view());
  if (!signer) return ReportError(signer.error());

  cosign::SignOptions options;
  options.format =
      flags.new_bundle_format ? cosign::SignatureFormat::kBundle : cosign::SignatureFormat::kLegacy;
  options.annotations = std::move(*annotations);
  options.recursive = flags.recursive;
  options.signature_repository = std::move(*signature_repository);
  auto deadline = flags.registry.Deadline();
  if (!deadline) return ReportError(deadline.error());
  options.deadline = *deadline;
  auto client = flags.registry.MakeClient({*reference});
  auto result = cosign::SignImage(*client, *reference, **signer, options);
  if (!result) return ReportError(result.error());
  if (!result->tag_warning.empty()) std::cerr << "WARNING: " << result->tag_warning << "\n";
  for (const cosign::SignedManifest& each : result->signed_manifests) {
    if (options.format == cosign::SignatureFormat::kBundle) {
      std::cerr << "Pushing Sigstore bundle to: " << each.signature_reference << " (listed by "
                << (each.listed_by_registry
                        ? std::string("the registry's referrers API")
                        : "the fallback tag " + oci::ReferrersTagFor(each.digest))
                << ")\n";
    } else {
      std::cerr << "Pushing signature to: " << each.signature_reference << "\n";
    }
    std::cerr << "Signed " << each.reference
              << (each.already_present ? " (an identical signature was already stored)" : "")
              << "\n";
  }
  if (options.format == cosign::SignatureFormat::kBundle) {
    std::cerr << "The bundle has no transparency log entry (signet never uploads to one): "
                 "verify with --insecure-ignore-tlog=true\n";
  }
  return kExitOk;
}

struct VerifyFlags {
  std::string key;
  std::vector<std::string> annotations;
  std::string output = "json";
  bool insecure_ignore_tlog = false;
  bool new_bundle_format = true;
  bool require_sign_predicate = false;
  RegistryFlags registry;
  std::vector<std::string> images;
};

void PrintVerificationHeader(const oci::ImageReference& reference, bool annotations) {
  std::cerr << "\nVerification for " << reference.Name() << " --\n"
            << "The following checks were performed on each of these signatures:\n";
  if (annotations) std::cerr << "  - The specified annotations were verified.\n";
  std::cerr << "  - The cosign claims were validated\n"
            << "  - The signatures were verified against the specified public key\n";
}

void PrintLegacyVerification(const std::vector<cosign::VerifiedSignature>& signatures,
                             const std::string& output) {
  if (output == "text") {
    for (const auto& signature : signatures) std::cout << signature.payload << "\n";
    return;
  }
  std::string list = "[";
  for (std::size_t i = 0; i < signatures.size(); ++i) {
    if (i > 0) list += ',';
    list += cosign::MarshalPayload(signatures[i].parsed);
  }
  list += ']';
  std::cout << "\n" << list << "\n";
}

// cosign v3 prints, for each verified bundle, a simple-signing-like object
// it synthesizes (not the signed bytes): the reference as typed, the
// digest, the statement's predicateType and the subject's annotations.
// json: one array; text: one object per line.
void PrintBundleVerification(const oci::ImageReference& reference,
                             const cosign::ImageVerification& result, const std::string& output) {
  std::vector<std::string> objects;
  for (const cosign::VerifiedBundle& bundle : result.bundles) {
    const nlohmann::json object = {{"critical",
                                    {{"identity", {{"docker-reference", reference.Name()}}},
                                     {"image", {{"docker-manifest-digest", result.digest}}},
                                     {"type", bundle.predicate_type}}},
                                   {"optional", bundle.subject_annotations}};
    auto marshalled = cosign::GoMarshal(object);
    objects.push_back(marshalled ? *marshalled : object.dump());
  }
  if (output == "text") {
    for (const std::string& object : objects) std::cout << object << "\n";
    return;
  }
  std::string list = "[";
  for (std::size_t i = 0; i < objects.size(); ++i) {
    if (i > 0) list += ',';
    list += objects[i];
  }
  std::cout << "\n" << list << "]\n";
}

int RunVerify(const VerifyFlags& flags) {
  if (flags.output != "json" && flags.output != "text") {
    return ReportError(Error(ErrorCode::kInvalidArgument,
                             "unsupported output format \"" + flags.output + "\": json or text"));
  }
  auto annotations = ParseAnnotations(flags.annotations);
  if (!annotations) return ReportError(annotations.error());
  auto signature_repository = SignatureRepositoryFromEnv();
  if (!signature_repository) return ReportError(signature_repository.error());
  auto key = crypto::LoadPublicKeyFile(flags.key);
  if (!key) return ReportError(key.error());

  cosign::ImageVerifyOptions options;
  options.common.keys.push_back(std::shared_ptr<const crypto::Verifier>(std::move(*key)));
  options.common.annotations = std::move(*annotations);
  options.common.signature_repository = std::move(*signature_repository);
  options.formats = flags.new_bundle_format ? cosign::SignatureFormats::kBoth
                                            : cosign::SignatureFormats::kLegacyOnly;
  options.bundle_signatures = flags.require_sign_predicate
                                  ? cosign::BundleSignatures::kSignPredicateOnly
                                  : cosign::BundleSignatures::kAnyPredicate;
  options.bundle_tlog_policy = flags.insecure_ignore_tlog ? cosign::TlogPolicy::kInsecureIgnore
                                                          : cosign::TlogPolicy::kRequire;
  auto deadline = flags.registry.Deadline();
  if (!deadline) return ReportError(deadline.error());
  options.common.deadline = *deadline;
  std::vector<oci::ImageReference> references;
  for (const std::string& image : flags.images) {
    auto reference = oci::ImageReference::Parse(image);
    if (!reference) return ReportError(reference.error());
    references.push_back(std::move(*reference));
  }
  auto client = flags.registry.MakeClient(references);
  if (flags.insecure_ignore_tlog) {
    std::cerr << "WARNING: Skipping tlog verification is an insecure practice that lacks "
                 "transparency and auditability verification for the signature.\n";
  }
  for (const oci::ImageReference& reference : references) {
    auto result = cosign::VerifyImageSignatures(*client, reference, options);
    if (!result) return ReportError(result.error());
    PrintVerificationHeader(reference, !options.common.annotations.empty());
    if (result->format == cosign::VerifiedFormat::kBundle) {
      PrintBundleVerification(reference, *result, flags.output);
    } else {
      PrintLegacyVerification(result->legacy_signatures, flags.output);
    }
  }
  return kExitOk;
}

struct TriangulateFlags {
  std::string type = "signature";
  RegistryFlags registry;
  std::string image;
};

int RunTriangulate(const TriangulateFlags& flags) {
  auto type = cosign::ParseArtifactType(flags.type);
  if (!type) return ReportError(type.error());
  auto reference = oci::ImageReference::Parse(flags.image);
  if (!reference) return ReportError(reference.error());
  auto signature_repository = SignatureRepositoryFromEnv();
  if (!signature_repository) return ReportError(signature_repository.error());
  auto deadline = flags.registry.Deadline();
  if (!deadline) return ReportError(deadline.error());
  auto client = flags.registry.MakeClient({*reference});
  auto tag = cosign::Triangulate(*client, *reference, *type, *signature_repository, *deadline);
  if (!tag) return ReportError(tag.error());
  std::cout << *tag << "\n";
  return kExitOk;
}

struct AttestFlags {
  std::string key;
  std::string predicate;
  std::string type = "custom";
  bool new_bundle_format = true;
  bool tlog_upload = false;
  bool use_signing_config = false;
  bool yes = false;
  RegistryFlags registry;
  std::string image;
};

Result<std::string> ReadPredicateFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error(ErrorCode::kNotFound,
                 path + ": cannot open predicate file: " + std::strerror(errno));
  }
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Error(ErrorCode::kIo, path + ": cannot read predicate file");
  return content;
}

int RunAttest(const AttestFlags& flags) {
  auto reference = oci::ImageReference::Parse(flags.image);
  if (!reference) return ReportError(reference.error());
  auto target_repository = SignatureRepositoryFromEnv();
  if (!target_repository) return ReportError(target_repository.error());
  auto predicate = ReadPredicateFile(flags.predicate);
  if (!predicate) return ReportError(predicate.error());
  auto password = ReadKeyPassword(PasswordConfirmation::kOnce);
  if (!password) return ReportError(password.error());
  auto signer = crypto::LoadPrivateKeyFile(flags.key, password->view());
  if (!signer) return ReportError(signer.error());

  cosign::AttestOptions options;
  options.format = flags.new_bundle_format ? cosign::AttestationFormat::kBundle
                                           : cosign::AttestationFormat::kLegacy;
  options.type = flags.type;
  options.predicate = std::move(*predicate);
  options.target_repository = std::move(*target_repository);
  auto deadline = flags.registry.Deadline();
  if (!deadline) return ReportError(deadline.error());
  options.deadline = *deadline;
  std::cerr << "Using payload from: " << flags.predicate << "\n";
  auto client = flags.registry.MakeClient({*reference});
  auto result = cosign::AttestImage(*client, *reference, **signer, options);
  if (!result) return ReportError(result.error());
  if (!result->tag_warning.empty()) std::cerr << "WARNING: " << result->tag_warning << "\n";
  std::cerr << "Pushing attestation (" << result->predicate_type << ") to: " << result->stored_at
            << "\n";
  return kExitOk;
}

struct VerifyAttestationFlags {
  std::string key;
  std::string type = "custom";
  bool new_bundle_format = true;
  bool insecure_ignore_tlog = false;
  RegistryFlags registry;
  std::vector<std::string> images;
};

Result<std::vector<oci::ImageReference>> ParseReferences(const std::vector<std::string>& images) {
  std::vector<oci::ImageReference> references;
  for (const std::string& image : images) {
    auto reference = oci::ImageReference::Parse(image);
    if (!reference) return reference.error();
    references.push_back(std::move(*reference));
  }
  return references;
}

// cosign's verify-attestation fails with exit 1 whatever went wrong (its
// errors are wrapped), unlike verify's 10/11/12.
int ReportAttestationError(const Error& error) {
  const int code = ReportError(error);
  return code == kExitNoSignatures || code == kExitImageNotFound ||
                 code == kExitNoMatchingSignatures
             ? kExitError
             : code;
}

int RunVerifyAttestation(const VerifyAttestationFlags& flags) {
  auto target_repository = SignatureRepositoryFromEnv();
  if (!target_repository) return ReportError(target_repository.error());
  auto key = crypto::LoadPublicKeyFile(flags.key);
  if (!key) return ReportError(key.error());

  cosign::VerifyAttestationOptions options;
  options.keys.push_back(std::shared_ptr<const crypto::Verifier>(std::move(*key)));
  options.type = flags.type;
  options.discovery = flags.new_bundle_format ? cosign::AttestationDiscovery::kAuto
                                              : cosign::AttestationDiscovery::kLegacyOnly;
  options.target_repository = std::move(*target_repository);
  options.insecure_ignore_tlog = flags.insecure_ignore_tlog;
  auto deadline = flags.registry.Deadline();
  if (!deadline) return ReportError(deadline.error());
  options.deadline = *deadline;
  auto references = ParseReferences(flags.images);
  if (!references) return ReportError(references.error());
  auto client = flags.registry.MakeClient(*references);
  if (flags.insecure_ignore_tlog) {
    std::cerr << "WARNING: Skipping tlog verification is an insecure practice that lacks "
                 "transparency and auditability verification for the attestation.\n";
  }
  for (std::size_t i = 0; i < references->size(); ++i) {
    auto result = cosign::VerifyImageAttestations(*client, (*references)[i], options);
    if (!result) return ReportAttestationError(result.error());
    std::cerr << "\nVerification for " << flags.images[i] << " --\n"
              << "The following checks were performed on each of these signatures:\n"
              << "  - The cosign claims were validated\n"
              << "  - The signatures were verified against the specified public key\n";
    for (const cosign::VerifiedAttestation& each : result->matched) {
      std::cout << each.envelope_json << "\n";
    }
  }
  return kExitOk;
}

}  // namespace

void RegisterImageCommands(CLI::App& app, Action& action) {
  auto sign_flags = std::make_shared<SignFlags>();
  CLI::App* sign = app.add_subcommand(
      "sign",
      "Sign a container image and store the signature in its registry (cosign format). By "
      "default, as cosign v3: an in-toto statement in a DSSE envelope, stored as a Sigstore "
      "bundle v0.3 referrer of the image (listed by the registry's referrers API, or else in "
      "the fallback tag sha256-<hex>). --new-bundle-format=false writes the legacy "
      "sha256-<hex>.sig signature instead. Nothing is uploaded to a transparency log: "
      "--tlog-upload=false and --use-signing-config=false are accepted for cosign command "
      "lines, true values are refused.");
  sign->add_option("--key", sign_flags->key, "encrypted cosign private key file")->required();
  sign->add_option("-a,--annotations", sign_flags->annotations,
                   "extra key=value pairs to sign (comma-separated, repeatable)");
  sign->add_flag("-r,--recursive", sign_flags->recursive,
                 "for an index, also sign every child manifest, each at its own digest");
  sign->add_flag("-y,--yes", sign_flags->yes, "skip confirmation prompts");
  sign->add_flag("--new-bundle-format", sign_flags->new_bundle_format,
                 "write a Sigstore bundle referrer, as cosign v3 does (default true); "
                 "--new-bundle-format=false writes the legacy sha256-<hex>.sig signature that "
                 "cosign before v3 reads");
  sign->add_flag("--tlog-upload", sign_flags->tlog_upload,
                 "Only false is accepted: signet never uploads to a transparency log")
      ->check(OnlyFalse("signet never uploads to a transparency log, so it cannot honour "
                        "--tlog-upload=true; pass --tlog-upload=false (the bundle then has no "
                        "tlogEntries and verifiers need --insecure-ignore-tlog=true)"));
  sign->add_flag("--use-signing-config", sign_flags->use_signing_config,
                 "Only false is accepted: signet signs offline with --key")
      ->check(OnlyFalse("signet never fetches a signing config (it signs offline with --key and "
                        "no transparency log); pass --use-signing-config=false or omit it"));
  sign_flags->registry.Add(*sign);
  sign->add_option("IMAGE", sign_flags->image, "image reference")->required();
  sign->callback([sign_flags, &action] { action = [sign_flags] { return RunSign(*sign_flags); }; });

  auto verify_flags = std::make_shared<VerifyFlags>();
  CLI::App* verify = app.add_subcommand(
      "verify",
      "Verify the cosign signatures of container images against a public key. As cosign v3: "
      "Sigstore bundle referrers first; when the image has none (or they cannot be listed), "
      "legacy .sig signatures. A bundle without a transparency log entry (what `cosign sign "
      "--tlog-upload=false` and `signet sign` write) needs --insecure-ignore-tlog=true; signet "
      "never verifies log entries. Exit codes: 1 when bundles fail; 10 (no signatures), 11 "
      "(image not found), 12 (no matching signatures) on the legacy path.");
  verify->add_option("--key", verify_flags->key, "public key file")->required();
  verify->add_option("-a,--annotations", verify_flags->annotations,
                     "key=value pairs the signed payload must carry");
  verify->add_option("-o,--output", verify_flags->output, "output format: json or text");
  AddInsecureIgnoreTlogFlag(*verify, verify_flags->insecure_ignore_tlog);
  verify->add_flag("--new-bundle-format", verify_flags->new_bundle_format,
                   "look for Sigstore bundle referrers first and, when there is none, for "
                   "legacy .sig signatures, as cosign v3 does (default true); "
                   "--new-bundle-format=false reads only the legacy .sig signatures");
  verify->add_flag("--require-sign-predicate", verify_flags->require_sign_predicate,
                   "count a bundle as a signature only when its statement's predicateType is "
                   "https://sigstore.dev/cosign/sign/v1 (cosign counts every attestation the "
                   "key signed, e.g. an SBOM); other bundles then do not hide legacy .sig "
                   "signatures either");
  verify_flags->registry.Add(*verify);
  verify->add_option("IMAGE", verify_flags->images, "image references")->required();
  verify->callback(
      [verify_flags, &action] { action = [verify_flags] { return RunVerify(*verify_flags); }; });

  auto triangulate_flags = std::make_shared<TriangulateFlags>();
  CLI::App* triangulate =
      app.add_subcommand("triangulate", "Print the tag where an image's signature is stored");
  triangulate->add_option("--type", triangulate_flags->type,
                          "artifact: signature, attestation or sbom");
  triangulate_flags->registry.Add(*triangulate);
  triangulate->add_option("IMAGE", triangulate_flags->image, "image reference")->required();
  triangulate->callback([triangulate_flags, &action] {
    action = [triangulate_flags] { return RunTriangulate(*triangulate_flags); };
  });
  auto attest_flags = std::make_shared<AttestFlags>();
  CLI::App* attest = app.add_subcommand(
      "attest",
      "Attest an in-toto predicate about a container image, like `cosign attest --key`. "
      "Signs an in-toto Statement v0.1 (subject: the image's repository and sha256 digest; "
      "predicate: for --type custom the file's text wrapped as {\"Data\",\"Timestamp\"}, for "
      "other types the file's JSON object) in a DSSE envelope and stores it as a Sigstore "
      "bundle referrer of the image (cosign v3's default) or, with --new-bundle-format=false, "
      "as a layer of the <repo>:sha256-<hex>.att tag (cosign's legacy format). Nothing is "
      "uploaded to a transparency log. The key password comes from COSIGN_PASSWORD, the "
      "terminal, or stdin; COSIGN_REPOSITORY moves the attestation to another repository.");
  attest->add_option("--key", attest_flags->key, "encrypted cosign private key file")->required();
  attest->add_option("--predicate", attest_flags->predicate, "path to the predicate file")
      ->required();
  attest->add_option("--type", attest_flags->type,
                     "predicate type: custom (default), slsaprovenance, slsaprovenance02, "
                     "slsaprovenance1, spdxjson, cyclonedx, link, vuln, openvex, or a URI");
  attest->add_flag("--new-bundle-format", attest_flags->new_bundle_format,
                   "store a Sigstore bundle as an OCI referrer (default true); false: the "
                   "legacy .att tag");
  attest
      ->add_flag("--tlog-upload", attest_flags->tlog_upload,
                 "only false is accepted: signet never uploads to a transparency log")
      ->check(OnlyFalse("signet never uploads to a transparency log, so it cannot honour "
                        "--tlog-upload=true; pass --tlog-upload=false (verifiers then need "
                        "--insecure-ignore-tlog=true)"));
  attest
      ->add_flag("--use-signing-config", attest_flags->use_signing_config,
                 "only false is accepted: signet signs offline with --key")
      ->check(OnlyFalse("signet never fetches a signing config (it signs offline with --key and "
                        "no transparency log); pass --use-signing-config=false or omit it"));
  attest->add_flag("-y,--yes", attest_flags->yes, "skip confirmation prompts");
  attest_flags->registry.Add(*attest);
  attest->add_option("IMAGE", attest_flags->image, "image reference")->required();
  attest->callback(
      [attest_flags, &action] { action = [attest_flags] { return RunAttest(*attest_flags); }; });

  auto verify_attestation_flags = std::make_shared<VerifyAttestationFlags>();
  CLI::App* verify_attestation = app.add_subcommand(
      "verify-attestation",
      "Verify the attestations of container images against a public key, like `cosign "
      "verify-attestation --key`. Finds Sigstore bundle referrers of the image (cosign v3) and, "
      "when there are none, the legacy .att tag; checks every DSSE envelope's signature, its "
      "in-toto payload type and that the statement names the image's digest; then keeps those "
      "whose predicate type is --type and prints their DSSE envelopes, one per line. Fails "
      "(exit 1) when none verifies, or with \"none of the attestations matched the predicate "
      "type\" when none of the verified ones has the type. Bundles need "
      "--insecure-ignore-tlog=true, as in cosign: signet verifies no transparency log.");
  verify_attestation->add_option("--key", verify_attestation_flags->key, "public key file")
      ->required();
  verify_attestation->add_option("--type", verify_attestation_flags->type,
                                 "predicate type to require: custom (default), slsaprovenance, "
                                 "slsaprovenance02, slsaprovenance1, spdx, spdxjson, cyclonedx, "
                                 "link, vuln, openvex, or a URI");
  verify_attestation->add_flag("--new-bundle-format", verify_attestation_flags->new_bundle_format,
                               "look for bundle referrers first (default true); false: only the "
                               "legacy .att tag");
  AddInsecureIgnoreTlogFlag(*verify_attestation, verify_attestation_flags->insecure_ignore_tlog);
  verify_attestation_flags->registry.Add(*verify_attestation);
  verify_attestation->add_option("IMAGE", verify_attestation_flags->images, "image references")
      ->required();
  verify_attestation->callback([verify_attestation_flags, &action] {
    action = [verify_attestation_flags] { return RunVerifyAttestation(*verify_attestation_flags); };
  });
}

}  // namespace signet::cli

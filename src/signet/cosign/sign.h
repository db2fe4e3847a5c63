// Signing container images the way `cosign sign --key` does, without a
// transparency log, in either of cosign's two formats.
//
// SignImage resolves the reference to a manifest digest and signs it:
// - SignatureFormat::kBundle (cosign v3's default): cosign's sign Statement
//   (MakeCosignSignStatement, with the annotations on the subject) in a DSSE
//   envelope, attached as a Sigstore bundle referrer (AttachDsseBundle in
//   image_bundle.h) in the image's repository or the signature repository.
//   Every call adds a new referrer (its created annotation differs).
// - SignatureFormat::kLegacy (cosign before v3, and v3 with
//   --new-bundle-format=false): cosign's simple-signing payload, pushed as
//   payload blob, config blob and signature manifest to
//   <repo>:sha256-<hex>.sig. An existing signature manifest is appended to:
//   its layers are kept and an identical signature is not added twice.
// With `recursive`, an index is signed first and then every child manifest
// (nested indexes included), each at its own digest.
//
// Reentrant: no global state.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "signet/crypto/signer.h"
#include "signet/oci/reference.h"
#include "signet/oci/registry.h"
#include "signet/result.h"

namespace signet::cosign {

enum class SignatureFormat {
  kLegacy,  // simple signing in the ".sig" tag
  kBundle,  // Sigstore bundle referrer (cosign v3)
};

struct SignOptions {
  // The library keeps the legacy format as its default for existing
  // callers; `signet sign` asks for kBundle unless --new-bundle-format=false.
  SignatureFormat format = SignatureFormat::kLegacy;
  // Legacy: the payload's "optional"; bundle: the statement subject's
  // annotations.
  std::map<std::string, std::string> annotations;
  bool recursive = false;
  std::optional<oci::Repository> signature_repository;  // COSIGN_REPOSITORY
  oci::Deadline deadline;  // by when every registry call must be done (nullopt: none)
};

struct SignedManifest {
  std::string digest;     // the manifest that was signed
  std::string reference;  // "registry/repo@sha256:<hex>"
  // Legacy: "registry/repo:sha256-<hex>.sig"; bundle: the referrer,
  // "registry/repo@sha256:<referrer manifest>".
  std::string signature_reference;
  std::string payload;           // the signed payload (bundle: statement) bytes
  bool already_present = false;  // legacy: an identical signature was already stored
  // Bundle: whether the registry's referrers API lists the referrer (else
  // the fallback tag sha256-<hex> does).
  bool listed_by_registry = false;
};

struct SignResult {
  // Set when the input named the image by tag: cosign's warning that tags
  // may move, for the CLI to print.
  std::string tag_warning;
  std::vector<SignedManifest> signed_manifests;  // index first, then children
};

// cosign's warning for an image named by tag rather than digest, which
// `sign` and `attest` print (the digest is resolved once, but the tag may
// have moved before).
std::string TagReferenceWarning(const oci::ImageReference& image);

Result<SignResult> SignImage(oci::Registry& registry, const oci::ImageReference& image,
                             const crypto::Signer& signer, const SignOptions& options);

}  // namespace signet::cosign

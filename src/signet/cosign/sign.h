// Signing container images the way `cosign sign --key` does with the legacy
// ".sig" tag format and no transparency log.
//
// SignImage resolves the reference to a manifest digest, builds cosign's
// simple-signing payload for it, signs it, and pushes the payload blob, the
// config blob and the signature manifest to <repo>:sha256-<hex>.sig (or to
// the signature repository). An existing signature manifest is appended to:
// its layers are kept and an identical signature is not added twice. With
// `recursive`, an index is signed first and then every child manifest
// (nested indexes included), each at its own signature tag.
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

struct SignOptions {
  std::map<std::string, std::string> annotations;  // payload "optional"
  bool recursive = false;
  std::optional<oci::Repository> signature_repository;  // COSIGN_REPOSITORY
  oci::Deadline deadline;  // by when every registry call must be done (nullopt: none)
};

struct SignedManifest {
  std::string digest;               // the manifest that was signed
  std::string reference;            // "registry/repo@sha256:<hex>"
  std::string signature_reference;  // "registry/repo:sha256-<hex>.sig"
  std::string payload;              // the signed payload bytes
  bool already_present = false;     // an identical signature was already stored
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

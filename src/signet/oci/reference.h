// Image references, parsed the way Docker and go-containerregistry do.
// Pure parsing: no I/O. Parse() rejects invalid input with an
// ErrorCode::kInvalidArgument message that points at the bad part.
//
// Normalisation: no registry => "index.docker.io" (also for "docker.io");
// one-component Docker Hub names get "library/"; no tag and no digest => tag
// "latest". A reference may carry both a tag and a digest; the digest wins for
// resolution.
//
// The registry keeps its spelling (as go-containerregistry does): it is what
// is contacted and what signatures name as their docker-reference. Compare
// repositories by CanonicalName() (see oci/host.h), never by Name().
#pragma once

#include <string>
#include <string_view>

#include "signet/result.h"

namespace signet::oci {

// A repository in a registry, e.g. {"localhost:5000", "team/app"}.
struct Repository {
  std::string registry;  // host[:port], normalised ("index.docker.io")
  std::string path;      // "library/nginx"

  // "registry/path": cosign's docker-reference.
  std::string Name() const { return registry + "/" + path; }
  // "registry/path" with the registry canonicalised by CanonicalRegistry()
  // (and "library/" added to one-component Docker Hub paths); the error of
  // CanonicalRegistry() when the host has no canonical form.
  Result<std::string> CanonicalName() const;
  // Parses "registry/path" (or a Docker Hub short name) without tag or digest.
  static Result<Repository> Parse(std::string_view input);
  bool operator==(const Repository&) const = default;
};

class ImageReference {
 public:
  static Result<ImageReference> Parse(std::string_view input);

  const Repository& repository() const { return repository_; }
  const std::string& registry() const { return repository_.registry; }
  const std::string& tag() const { return tag_; }        // "" when only a digest was given
  const std::string& digest() const { return digest_; }  // "sha256:<hex>" or ""
  bool has_digest() const { return !digest_.empty(); }

  // go-containerregistry's ref.Name(): "registry/path@digest" when a digest
  // is present, else "registry/path:tag".
  std::string Name() const;
  // "registry/path@<digest>".
  std::string WithDigest(std::string_view digest) const;
  // This repository pinned to `digest` (no tag), built without parsing a
  // string again: what Parse(WithDigest(digest)) gives. kInvalidArgument
  // when `digest` is not "sha256:" and 64 lowercase hex characters.
  Result<ImageReference> Pinned(std::string_view digest) const;
  // What to ask the registry for: the digest if present, else the tag.
  const std::string& Identifier() const { return digest_.empty() ? tag_ : digest_; }

 private:
  Repository repository_;
  std::string tag_;
  std::string digest_;
};

// True when `digest` is "sha256:" followed by 64 lowercase hex characters.
bool IsValidSha256Digest(std::string_view digest);

}  // namespace signet::oci

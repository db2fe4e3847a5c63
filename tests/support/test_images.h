// Test images built without Docker: small, random, valid OCI images (an
// uncompressed tar layer holding one random file, an OCI config, an OCI
// manifest) and a two-platform OCI index, pushed through any oci::Registry.
//
// Contract: each call makes fresh random content, so two pushed images never
// share a manifest digest. The returned structs hold the exact bytes pushed
// and their digests, computed here with OpenSSL directly (not with signet's
// code under test). A failed push throws std::runtime_error naming the step
// and the registry's error, which fails the calling test. Stateless; safe to
// call from several threads with a thread-safe Registry.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "signet/oci/reference.h"
#include "signet/oci/registry.h"
#include "signet/oci/registry_client.h"

namespace signet::testing {

class RegistryServer;

// "sha256:<hex>" of `bytes`, computed with OpenSSL's EVP API.
std::string DigestOf(std::string_view bytes);

struct PushedImage {
  oci::Repository repository;
  std::string tag;  // "" when pushed by digest only (index children)
  std::string digest;
  std::string manifest;  // exact bytes pushed
  std::string media_type;
  std::string config_digest;
  std::string layer_digest;
  std::string os = "linux";
  std::string architecture;

  // "registry/path:tag" and "registry/path@sha256:...".
  std::string TagReference() const { return repository.Name() + ":" + tag; }
  std::string DigestReference() const { return repository.Name() + "@" + digest; }
};

struct PushedIndex {
  oci::Repository repository;
  std::string tag;
  std::string digest;
  std::string manifest;  // exact bytes of the index
  std::string media_type;
  std::vector<PushedImage> children;  // linux/amd64, then linux/arm64

  std::string TagReference() const { return repository.Name() + ":" + tag; }
  std::string DigestReference() const { return repository.Name() + "@" + digest; }
};

// Pushes layer, config and manifest; tags the manifest with `tag` (when tag
// is "", pushes by digest only).
PushedImage PushRandomImage(oci::Registry& registry, const oci::Repository& repo,
                            const std::string& tag, const std::string& architecture = "amd64");

// Pushes two single-platform images (linux/amd64, linux/arm64) by digest and
// an OCI index over them tagged `tag`.
PushedIndex PushTwoPlatformIndex(oci::Registry& registry, const oci::Repository& repo,
                                 const std::string& tag);

// A repository on `server`, e.g. RepositoryOn(*reg, "team/app").
oci::Repository RepositoryOn(const RegistryServer& server, const std::string& path);

// signet's RegistryClient set up for `server`: its CA file (TLS modes), its
// credentials through a StaticKeychain (auth modes), allow_insecure for
// plain HTTP. Defined in registry_client_for.cpp so that suites which do not
// call it need not link the client.
std::unique_ptr<oci::RegistryClient> ClientFor(const RegistryServer& server);

}  // namespace signet::testing

// Credential resolution, after go-containerregistry's authn.Keychain: each
// Keychain maps a registry host to Credentials; ChainKeychain asks several in
// order and the first non-anonymous answer wins. Credentials are secrets: they
// are never logged, printed or sent to any host other than their registry.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "signet/result.h"

namespace signet::oci {

struct Credentials {
  std::string username;
  std::string password;
  std::string identity_token;  // OAuth2 refresh token (docker config "identitytoken")

  bool anonymous() const { return username.empty() && password.empty() && identity_token.empty(); }
};

class Keychain {
 public:
  virtual ~Keychain() = default;
  // Credentials for `registry` (host[:port], normalised as in Repository).
  // Anonymous credentials when this keychain knows nothing of the host; an
  // error only when a configured source is broken (unreadable file, helper
  // that fails).
  virtual Result<Credentials> Resolve(const std::string& registry) const = 0;
};

// Always anonymous.
std::shared_ptr<Keychain> AnonymousKeychain();

// Fixed credentials for one registry host ("" = every host).
std::shared_ptr<Keychain> StaticKeychain(std::string registry, Credentials credentials);

// Docker's config.json (auths with auth / username+password / identitytoken,
// credHelpers, credsStore running docker-credential-<name> get) or a
// containers auth.json. `path` is the file to read.
std::shared_ptr<Keychain> DockerConfigKeychain(std::string path);

// A docker config directory, as $DOCKER_CONFIG names one: its config.json, or,
// only when no config.json exists, its .dockerconfigjson (the key a
// `kubectl create secret docker-registry` Secret holds, as it appears when the
// Secret is mounted as a directory). The two are never merged: a config.json
// that exists but cannot be read or parsed is an error, not a fall-through.
// Each file is hostile input: at most 4 MiB, parsed with ParseBoundedJson.
std::shared_ptr<Keychain> DockerConfigDirKeychain(const std::string& dir);

// Tries each keychain in order; the first non-anonymous credentials win.
std::shared_ptr<Keychain> ChainKeychain(std::vector<std::shared_ptr<Keychain>> keychains);

// Credentials given on the command line, and the registry hosts they are for.
struct ExplicitCredentials {
  Credentials credentials;
  std::vector<std::string> registries;  // hosts as in Repository; none = used nowhere
};

// The CLI's default: explicit --registry-username/--registry-password (when
// given, for their registries only), then REGISTRY_AUTH_FILE, then the
// DockerConfigDirKeychain of $DOCKER_CONFIG (or ~/.docker), then anonymous.
std::shared_ptr<Keychain> DefaultKeychain(const ExplicitCredentials& explicit_credentials = {});

}  // namespace signet::oci

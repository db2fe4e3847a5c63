// Writes registry credentials into a Docker config file (config.json), as
// `docker login` and `cosign login` do, so that DockerConfigKeychain (and
// docker, cosign, crane) find them afterwards.
//
// WriteDockerLogin() reads the existing file with the bounded JSON parser,
// replaces only auths[<key>] with {"auth": base64("user:password")} and keeps
// every other key of the file as it was; a file that is not a JSON object, or
// whose "auths" is not an object, is refused and left untouched. The new file
// is written to a temporary file in the same directory (mode 0600), synced and
// renamed over the old one, so a reader sees the old or the new file, never a
// partial one; a missing directory is created with mode 0700.
//
// DockerConfigAuthKey() is the "auths" key for a registry, spelled the way
// DockerConfigKeychain looks it up: Docker Hub (docker.io, index.docker.io,
// registry-1.docker.io, registry.hub.docker.com, in any case) is docker's
// "https://index.docker.io/v1/"; any other registry is its lowercase
// host[:port], a scheme and path given by the user ("https://host/v2/")
// removed.
//
// The password is a secret: it is never logged and appears in no error
// message. Pure functions over the file system; callers serialise concurrent
// writers to one file themselves (as docker does not either).
#pragma once

#include <string>
#include <string_view>

#include "signet/result.h"

namespace signet::oci {

// docker's key for Docker Hub in config.json "auths".
inline constexpr std::string_view kDockerHubConfigKey = "https://index.docker.io/v1/";

// kInvalidArgument when `registry` is empty or not a valid host[:port].
Result<std::string> DockerConfigAuthKey(std::string_view registry);

// $DOCKER_CONFIG/config.json, else $HOME/.docker/config.json; kInvalidArgument
// when neither variable is set.
Result<std::string> DefaultDockerConfigPath();

struct DockerLogin {
  std::string registry;  // as the user typed it; see DockerConfigAuthKey()
  std::string username;  // must not contain ':'
  std::string password;  // secret
};

// Stores `login` in the config file at `path` (see above). Returns the
// "auths" key written.
Result<std::string> WriteDockerLogin(const std::string& path, const DockerLogin& login);

}  // namespace signet::oci

// Kubernetes Secret volumes laid out as kubelet projects them, for tests that
// read mounted Secrets the way a container does, and the Secret content
// `kubectl create secret docker-registry` makes.
//
// Contract: ProjectSecretVolume creates `dir` (which must not exist) and
// throws std::runtime_error naming the path when any step fails. Stateless;
// safe to call from several threads on different directories.
#pragma once

#include <map>
#include <string>

namespace signet::testing {

// Writes `files` (key -> content) as kubelet writes a Secret volume: each file
// in a timestamped directory "..<date>" with `mode`, owned by root:root when
// the caller is root (kubelet runs as root; with no fsGroup the group stays
// root); "..data" is a symlink to that directory; each key is a symlink
// "..data/<key>". Directories are 0755.
void ProjectSecretVolume(const std::string& dir, const std::map<std::string, std::string>& files,
                         int mode = 0644);

// The .dockerconfigjson of `kubectl create secret docker-registry
// --docker-server=<server> --docker-username=<user> --docker-password=<password>`:
// auths[server] with username, password and auth = base64(user:password).
std::string DockerRegistrySecretJson(const std::string& server, const std::string& user,
                                     const std::string& password);

}  // namespace signet::testing

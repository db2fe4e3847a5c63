// Registry credentials from mounted secret files, as an oci::Keychain:
// per-registry username/password files (the seed's /etc/registry-secret) and
// an optional dockerconfigjson file (a Kubernetes imagePullSecret). Files are
// read once and re-read when they change (checked at most once per second).
// Per-registry files win over the docker config; host "*" applies to every
// registry without an entry of its own (ValidateConfig admits such an entry
// only with dangerouslySendCredentialsToAnyRegistry). Credentials are secrets
// and never appear in error messages.
//
// Thread-safety: Resolve may be called concurrently.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "signet/oci/keychain.h"
#include "signet/policy/config.h"
#include "signet/policy/watched_file.h"

namespace signet::policy {

class SecretFileKeychain : public oci::Keychain {
 public:
  SecretFileKeychain(const std::vector<RegistryConfig>& registries, std::string docker_config_file,
                     std::chrono::milliseconds reload_interval = std::chrono::seconds(1));

  Result<oci::Credentials> Resolve(const std::string& registry) const override;

 private:
  struct HostSecret {
    std::string host;
    WatchedFile username_file;
    WatchedFile password_file;
    std::optional<Result<oci::Credentials>> loaded;
  };
  mutable std::mutex mu_;
  mutable std::vector<HostSecret> hosts_;
  std::string docker_config_file_;
  mutable std::optional<WatchedFile> docker_config_watch_;
  mutable std::shared_ptr<oci::Keychain> docker_config_;
};

}  // namespace signet::policy

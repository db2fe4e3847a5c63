#include "signet/policy/registry_credentials.h"

#include <fstream>
#include <sstream>

namespace signet::policy {

namespace {

// Reads a secret file, dropping one trailing newline (as kubectl writes them).
Result<std::string> ReadSecretFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(ErrorCode::kNotFound, "cannot read credential file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  std::string value = text.str();
  while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
  return value;
}

}  // namespace

SecretFileKeychain::SecretFileKeychain(const std::vector<RegistryConfig>& registries,
                                       std::string docker_config_file,
                                       std::chrono::milliseconds reload_interval)
    : docker_config_file_(std::move(docker_config_file)) {
  for (const auto& registry : registries) {
    if (registry.username_file.empty()) continue;
    hosts_.push_back({registry.host, WatchedFile(registry.username_file, reload_interval),
                      WatchedFile(registry.password_file, reload_interval), std::nullopt});
  }
  if (!docker_config_file_.empty())
    docker_config_watch_.emplace(docker_config_file_, reload_interval);
}

Result<oci::Credentials> SecretFileKeychain::Resolve(const std::string& registry) const {
  std::lock_guard<std::mutex> lock(mu_);
  // An exact host entry wins over the "*" entry.
  HostSecret* match = nullptr;
  for (auto& host : hosts_) {
    if (host.host == registry) {
      match = &host;
      break;
    }
    if (host.host == "*" && !match) match = &host;
  }
  if (match) {
    HostSecret& host = *match;
    const bool user_changed = host.username_file.Changed();
    const bool pass_changed = host.password_file.Changed();
    if (user_changed || pass_changed || !host.loaded) {
      auto username = ReadSecretFile(host.username_file.path());
      auto password = ReadSecretFile(host.password_file.path());
      if (!username.ok()) {
        host.loaded = Result<oci::Credentials>(username.error());
      } else if (!password.ok()) {
        host.loaded = Result<oci::Credentials>(password.error());
      } else {
        oci::Credentials credentials;
        credentials.username = std::move(username).value();
        credentials.password = std::move(password).value();
        host.loaded = Result<oci::Credentials>(std::move(credentials));
      }
    }
    return *host.loaded;
  }
  if (docker_config_watch_) {
    if (docker_config_watch_->Changed() || !docker_config_) {
      docker_config_ = oci::DockerConfigKeychain(docker_config_file_);
    }
    return docker_config_->Resolve(registry);
  }
  return oci::Credentials{};
}

}  // namespace signet::policy

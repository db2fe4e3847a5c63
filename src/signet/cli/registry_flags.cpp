#include "signet/cli/registry_flags.h"

#include <cstdlib>

#include "signet/oci/keychain.h"
#include "signet/oci/registry_router.h"
#include "signet/policy/config.h"

namespace signet::cli {

void RegistryFlags::Add(CLI::App& command) {
  command
      .add_option("-t,--timeout", timeout,
                  "time limit for all registry traffic of the command, e.g. 30s, 3m "
                  "(0 = none); on expiry the command fails")
      ->default_str("3m");
  command.add_flag("--allow-insecure-registry,--allow-http-registry", allow_insecure,
                   "skip TLS verification and allow plain HTTP registries (loopback "
                   "registries: localhost, 127.0.0.0/8, [::1] may speak plain HTTP without it)");
  command.add_option("--registry-cacert", ca_file,
                     "PEM file with extra CA certificates for the registry");
  command.add_option("--registry-username", username,
                     "registry user name (sent only to the image's own registry)");
  command.add_option("--registry-password", password,
                     "registry password (sent only to the image's own registry)");
}

Result<oci::Deadline> RegistryFlags::Deadline() const {
  auto limit = policy::ParseDuration(timeout);
  if (!limit.ok()) return limit.error().WithContext("--timeout");
  if (limit->count() == 0) return oci::Deadline();
  return oci::Deadline(oci::DeadlineClock::now() + *limit);
}

std::unique_ptr<oci::Registry> RegistryFlags::MakeClient(
    const std::vector<oci::ImageReference>& references) const {
  oci::RegistryClientOptions options;
  options.allow_insecure = allow_insecure;
  options.ca_file = ca_file;
  oci::ExplicitCredentials explicit_credentials;
  explicit_credentials.credentials.username = username;
  explicit_credentials.credentials.password = password;
  for (const oci::ImageReference& reference : references) {
    explicit_credentials.registries.push_back(reference.registry());
  }
  options.keychain = oci::DefaultKeychain(explicit_credentials);
  return std::make_unique<oci::RegistryRouter>(options, std::vector<oci::RegistryHostSettings>());
}

Result<std::optional<oci::Repository>> SignatureRepositoryFromEnv() {
  const char* value = std::getenv("COSIGN_REPOSITORY");
  if (value == nullptr || *value == '\0') return std::optional<oci::Repository>();
  auto repo = oci::Repository::Parse(value);
  if (!repo) return repo.error().WithContext("COSIGN_REPOSITORY");
  return std::optional<oci::Repository>(std::move(*repo));
}

}  // namespace signet::cli

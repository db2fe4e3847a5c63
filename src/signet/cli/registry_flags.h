// Flags shared by every command that talks to a registry (sign, verify,
// attest, verify-attestation, triangulate, tree), and the registry they
// describe.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "signet/oci/deadline.h"
#include "signet/oci/reference.h"
#include "signet/oci/registry.h"
#include "signet/result.h"

namespace signet::cli {

struct RegistryFlags {
  bool allow_insecure = false;
  std::string ca_file;
  std::string username;
  std::string password;
  std::string timeout = "3m";

  // Registers -t/--timeout, --allow-insecure-registry, --registry-cacert,
  // --registry-username and --registry-password on `command`.
  void Add(CLI::App& command);

  // The deadline for the command's registry traffic, from now.
  Result<oci::Deadline> Deadline() const;

  // The registry (built as `signet serve` builds its own: an
  // oci::RegistryRouter) whose --registry-username/--registry-password go
  // only to the images' own registries (`references`): not to token realms
  // or a COSIGN_REPOSITORY on other hosts.
  std::unique_ptr<oci::Registry> MakeClient(
      const std::vector<oci::ImageReference>& references) const;
};

// The repository named by COSIGN_REPOSITORY, where signatures, attestations
// and referrers are stored instead of the image's own; none when unset.
Result<std::optional<oci::Repository>> SignatureRepositoryFromEnv();

}  // namespace signet::cli

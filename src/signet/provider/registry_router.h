// An oci::Registry that sends each call to the RegistryClient for the
// repository's host: hosts with their own CA file or insecure flag get their
// own client, every other host the default client. All clients share one
// keychain and one response observer (for metrics), and each pools its
// connections, so connections are reused across requests.
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "signet/oci/registry_client.h"
#include "signet/policy/config.h"

namespace signet::provider {

class RegistryRouter : public oci::Registry {
 public:
  // `base` carries the shared settings (keychain, timeouts, on_response,
  // default CA and insecure flag); each RegistryConfig with a caFile or
  // insecure: true gets a client of its own. Every client knows each
  // registry's tokenRealmHosts.
  RegistryRouter(const oci::RegistryClientOptions& base,
                 const std::vector<policy::RegistryConfig>& registries);

  Result<oci::ManifestHead> HeadManifest(const oci::Repository& repo,
                                         const std::string& tag_or_digest) override;
  Result<oci::Manifest> GetManifest(
      const oci::Repository& repo, const std::string& tag_or_digest,
      std::uint64_t max_bytes = oci::kDefaultMaxManifestBytes) override;
  Result<std::string> GetBlob(const oci::Repository& repo, const std::string& digest,
                              std::uint64_t max_bytes = oci::kDefaultMaxBlobBytes) override;
  Status PutBlob(const oci::Repository& repo, const std::string& digest,
                 const std::string& bytes) override;
  Result<std::string> PutManifest(const oci::Repository& repo, const std::string& tag_or_digest,
                                  const std::string& media_type, const std::string& bytes) override;
  Result<std::vector<std::string>> ListTags(const oci::Repository& repo) override;

 private:
  oci::RegistryClient& For(const oci::Repository& repo);

  std::unique_ptr<oci::RegistryClient> default_client_;
  std::map<std::string, std::unique_ptr<oci::RegistryClient>> by_host_;
};

}  // namespace signet::provider

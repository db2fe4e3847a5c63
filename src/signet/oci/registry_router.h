// RegistryRouter: the oci::Registry that signet's commands and `signet
// serve` both use. It sends each call to the RegistryClient for the
// repository's host: hosts with their own CA file or insecure flag get their
// own client, every other host the default client. All clients share one
// keychain and one response observer (for metrics), every client knows each
// host's token realm hosts, and each pools its connections, so connections
// are reused across requests.
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "signet/oci/registry_client.h"

namespace signet::oci {

// What one registry host needs beyond the shared settings.
struct RegistryHostSettings {
  std::string host;     // host[:port], as in Repository
  std::string ca_file;  // "" = the shared CA file
  // Skip TLS verification and allow plain HTTP for this host.
  bool insecure = false;
  // Token realm hosts that may receive this host's credentials (HTTPS only).
  std::vector<std::string> token_realm_hosts;
};

class RegistryRouter : public Registry {
 public:
  // `base` carries the shared settings (keychain, timeouts, on_response,
  // default CA and insecure flag).
  RegistryRouter(const RegistryClientOptions& base, const std::vector<RegistryHostSettings>& hosts);

  Result<ManifestHead> HeadManifest(const Repository& repo, const std::string& tag_or_digest,
                                    Deadline deadline = std::nullopt) override;
  Result<Manifest> GetManifest(const Repository& repo, const std::string& tag_or_digest,
                               std::uint64_t max_bytes = kDefaultMaxManifestBytes,
                               Deadline deadline = std::nullopt) override;
  Result<std::string> GetBlob(const Repository& repo, const std::string& digest,
                              std::uint64_t max_bytes = kDefaultMaxBlobBytes,
                              Deadline deadline = std::nullopt) override;
  Status PutBlob(const Repository& repo, const std::string& digest, const std::string& bytes,
                 Deadline deadline = std::nullopt) override;
  Result<std::string> PutManifest(const Repository& repo, const std::string& tag_or_digest,
                                  const std::string& media_type, const std::string& bytes,
                                  Deadline deadline = std::nullopt) override;
  Result<std::vector<std::string>> ListTags(const Repository& repo,
                                            Deadline deadline = std::nullopt) override;
  Result<Referrers> ListReferrers(const Repository& repo, const std::string& subject_digest,
                                  Deadline deadline, const ReferrersOptions& options = {}) override;
  Result<ReferrersTag> ReadReferrersTag(const Repository& repo, const std::string& subject_digest,
                                        Deadline deadline,
                                        const ManifestLimits& limits = {}) override;
  Result<ReferrersTagUpdate> AddToReferrersTag(const Repository& repo,
                                               const std::string& referrer_manifest,
                                               Deadline deadline) override;
  Result<ReferrerPush> PushReferrer(const Repository& repo, const std::string& referrer_manifest,
                                    Deadline deadline) override;

 private:
  RegistryClient& For(const Repository& repo);

  std::unique_ptr<RegistryClient> default_client_;
  std::map<std::string, std::unique_ptr<RegistryClient>> by_host_;
};

}  // namespace signet::oci

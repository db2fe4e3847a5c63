#include "signet/oci/registry_router.h"

namespace signet::oci {

namespace {

// `base` with each host's token realm hosts added.
RegistryClientOptions WithTokenRealmHosts(RegistryClientOptions base,
                                          const std::vector<RegistryHostSettings>& hosts) {
  for (const auto& host : hosts) {
    auto& realms = base.token_realm_hosts[host.host];
    realms.insert(realms.end(), host.token_realm_hosts.begin(), host.token_realm_hosts.end());
  }
  return base;
}

}  // namespace

RegistryRouter::RegistryRouter(const RegistryClientOptions& base_options,
                               const std::vector<RegistryHostSettings>& hosts) {
  const RegistryClientOptions base = WithTokenRealmHosts(base_options, hosts);
  default_client_ = std::make_unique<RegistryClient>(base);
  for (const auto& host : hosts) {
    if (host.ca_file.empty() && !host.insecure) continue;
    RegistryClientOptions options = base;
    if (!host.ca_file.empty()) options.ca_file = host.ca_file;
    options.allow_insecure = host.insecure || base.allow_insecure;
    by_host_[host.host] = std::make_unique<RegistryClient>(options);
  }
}

RegistryClient& RegistryRouter::For(const Repository& repo) {
  auto it = by_host_.find(repo.registry);
  return it == by_host_.end() ? *default_client_ : *it->second;
}

Result<ManifestHead> RegistryRouter::HeadManifest(const Repository& repo,
                                                  const std::string& tag_or_digest,
                                                  Deadline deadline) {
  return For(repo).HeadManifest(repo, tag_or_digest, deadline);
}

Result<Manifest> RegistryRouter::GetManifest(const Repository& repo,
                                             const std::string& tag_or_digest,
                                             std::uint64_t max_bytes, Deadline deadline) {
  return For(repo).GetManifest(repo, tag_or_digest, max_bytes, deadline);
}

Result<std::string> RegistryRouter::GetBlob(const Repository& repo, const std::string& digest,
                                            std::uint64_t max_bytes, Deadline deadline) {
  return For(repo).GetBlob(repo, digest, max_bytes, deadline);
}

Status RegistryRouter::PutBlob(const Repository& repo, const std::string& digest,
                               const std::string& bytes, Deadline deadline) {
  return For(repo).PutBlob(repo, digest, bytes, deadline);
}

Result<std::string> RegistryRouter::PutManifest(const Repository& repo,
                                                const std::string& tag_or_digest,
                                                const std::string& media_type,
                                                const std::string& bytes, Deadline deadline) {
  return For(repo).PutManifest(repo, tag_or_digest, media_type, bytes, deadline);
}

Result<std::vector<std::string>> RegistryRouter::ListTags(const Repository& repo,
                                                          Deadline deadline) {
  return For(repo).ListTags(repo, deadline);
}

Result<Referrers> RegistryRouter::ListReferrers(const Repository& repo,
                                                const std::string& subject_digest,
                                                Deadline deadline,
                                                const ReferrersOptions& options) {
  return For(repo).ListReferrers(repo, subject_digest, deadline, options);
}

Result<ReferrersTag> RegistryRouter::ReadReferrersTag(const Repository& repo,
                                                      const std::string& subject_digest,
                                                      Deadline deadline,
                                                      const ManifestLimits& limits) {
  return For(repo).ReadReferrersTag(repo, subject_digest, deadline, limits);
}

Result<ReferrersTagUpdate> RegistryRouter::AddToReferrersTag(const Repository& repo,
                                                             const std::string& referrer_manifest,
                                                             Deadline deadline) {
  return For(repo).AddToReferrersTag(repo, referrer_manifest, deadline);
}

Result<ReferrerPush> RegistryRouter::PushReferrer(const Repository& repo,
                                                  const std::string& referrer_manifest,
                                                  Deadline deadline) {
  return For(repo).PushReferrer(repo, referrer_manifest, deadline);
}

}  // namespace signet::oci

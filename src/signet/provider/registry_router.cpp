#include "signet/provider/registry_router.h"

namespace signet::provider {

namespace {

// `base` with each registry's tokenRealmHosts added.
oci::RegistryClientOptions WithTokenRealmHosts(
    oci::RegistryClientOptions base, const std::vector<policy::RegistryConfig>& registries) {
  for (const auto& registry : registries) {
    auto& hosts = base.token_realm_hosts[registry.host];
    hosts.insert(hosts.end(), registry.token_realm_hosts.begin(), registry.token_realm_hosts.end());
  }
  return base;
}

}  // namespace

RegistryRouter::RegistryRouter(const oci::RegistryClientOptions& base_options,
                               const std::vector<policy::RegistryConfig>& registries) {
  const oci::RegistryClientOptions base = WithTokenRealmHosts(base_options, registries);
  default_client_ = std::make_unique<oci::RegistryClient>(base);
  for (const auto& registry : registries) {
    if (registry.ca_file.empty() && !registry.insecure) continue;
    oci::RegistryClientOptions options = base;
    if (!registry.ca_file.empty()) options.ca_file = registry.ca_file;
    options.allow_insecure = registry.insecure || base.allow_insecure;
    by_host_[registry.host] = std::make_unique<oci::RegistryClient>(options);
  }
}

oci::RegistryClient& RegistryRouter::For(const oci::Repository& repo) {
  auto it = by_host_.find(repo.registry);
  return it == by_host_.end() ? *default_client_ : *it->second;
}

Result<oci::ManifestHead> RegistryRouter::HeadManifest(const oci::Repository& repo,
                                                       const std::string& tag_or_digest) {
  return For(repo).HeadManifest(repo, tag_or_digest);
}

Result<oci::Manifest> RegistryRouter::GetManifest(const oci::Repository& repo,
                                                  const std::string& tag_or_digest,
                                                  std::uint64_t max_bytes) {
  return For(repo).GetManifest(repo, tag_or_digest, max_bytes);
}

Result<std::string> RegistryRouter::GetBlob(const oci::Repository& repo, const std::string& digest,
                                            std::uint64_t max_bytes) {
  return For(repo).GetBlob(repo, digest, max_bytes);
}

Status RegistryRouter::PutBlob(const oci::Repository& repo, const std::string& digest,
                               const std::string& bytes) {
  return For(repo).PutBlob(repo, digest, bytes);
}

Result<std::string> RegistryRouter::PutManifest(const oci::Repository& repo,
                                                const std::string& tag_or_digest,
                                                const std::string& media_type,
                                                const std::string& bytes) {
  return For(repo).PutManifest(repo, tag_or_digest, media_type, bytes);
}

Result<std::vector<std::string>> RegistryRouter::ListTags(const oci::Repository& repo) {
  return For(repo).ListTags(repo);
}

}  // namespace signet::provider

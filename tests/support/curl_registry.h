// CurlRegistry: an oci::Registry for tests that talks to a RegistryServer
// through the curl command-line tool. It is an independent oracle: tests use
// it to push fixtures and to inspect what signet wrote, without going through
// signet's own RegistryClient.
//
// Contract: authenticates as the fixture expects (nothing for kPlainHttp,
// Basic for kTlsBasicAuth, a token fetched from the fixture's token server
// and cached per repository for kTokenAuth) and trusts the fixture's CA. 404
// maps to kNotFound, 401/403 to kAuth, other failures to kRegistry or
// kNetwork. Manifests and blobs fetched by digest are digest-checked. Holds a
// reference to the server, which must outlive it. Not thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "signet/oci/registry.h"

namespace signet::testing {

class RegistryServer;

struct HttpReply {
  int status = 0;           // 0 when no HTTP answer (connection refused, TLS failure)
  std::string headers;      // lowercased, for matching
  std::string raw_headers;  // as received
  std::string body;
  // Value of the first header `name` (case-insensitive), or "".
  std::string Header(const std::string& name) const;
};

class CurlRegistry : public oci::Registry {
 public:
  explicit CurlRegistry(const RegistryServer& server) : server_(server) {}

  // One raw request to the registry (path like "/v2/..."), with the
  // fixture's CA; `extra` adds curl arguments (e.g. -u, -H). No auth is added.
  HttpReply Raw(const std::string& method, const std::string& path,
                const std::vector<std::string>& extra = {}) const;

  // A token for `scope` from the fixture's token server; "" when refused.
  std::string FetchToken(const std::string& scope, bool with_credentials) const;

  Result<oci::ManifestHead> HeadManifest(const oci::Repository& repo,
                                         const std::string& tag_or_digest,
                                         oci::Deadline deadline = std::nullopt) override;
  Result<oci::Manifest> GetManifest(const oci::Repository& repo, const std::string& tag_or_digest,
                                    std::uint64_t max_bytes = oci::kDefaultMaxManifestBytes,
                                    oci::Deadline deadline = std::nullopt) override;
  Result<std::string> GetBlob(const oci::Repository& repo, const std::string& digest,
                              std::uint64_t max_bytes = oci::kDefaultMaxBlobBytes,
                              oci::Deadline deadline = std::nullopt) override;
  Status PutBlob(const oci::Repository& repo, const std::string& digest, const std::string& bytes,
                 oci::Deadline deadline = std::nullopt) override;
  Result<std::string> PutManifest(const oci::Repository& repo, const std::string& tag_or_digest,
                                  const std::string& media_type, const std::string& bytes,
                                  oci::Deadline deadline = std::nullopt) override;
  Result<std::vector<std::string>> ListTags(const oci::Repository& repo,
                                            oci::Deadline deadline = std::nullopt) override;

 private:
  // Raw() plus the auth the fixture's mode needs for `repo`.
  HttpReply Authed(const oci::Repository& repo, const std::string& method, const std::string& path,
                   std::vector<std::string> extra);

  const RegistryServer& server_;
  std::map<std::string, std::string> tokens_;  // repository path -> token
};

}  // namespace signet::testing

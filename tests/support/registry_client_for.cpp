// ClientFor (declared in test_images.h) lives in its own file so that only
// the suites that call it link signet's RegistryClient.
#include "signet/oci/keychain.h"
#include "signet/oci/registry_client.h"
#include "support/registry_server.h"
#include "support/test_images.h"

namespace signet::testing {

std::unique_ptr<oci::RegistryClient> ClientFor(const RegistryServer& server) {
  oci::RegistryClientOptions options;
  options.allow_insecure = !server.tls();
  options.ca_file = server.ca_file();
  if (!server.username().empty()) {
    oci::Credentials credentials;
    credentials.username = server.username();
    credentials.password = server.password();
    options.keychain = oci::StaticKeychain(server.host(), credentials);
  }
  return std::make_unique<oci::RegistryClient>(std::move(options));
}

}  // namespace signet::testing

// RegistryFixture: the set-up that registry-backed suites share: a real
// docker-registry on loopback (RegistryServer), signet's RegistryClient for
// it (ClientFor), and pushes of random test images, signed as `cosign sign`
// signs them or left unsigned.
//
// Contract: the constructor returns once the registry answers and throws
// std::runtime_error (with the registry's log tail) when it does not, which
// fails the calling test or suite. Push helpers throw std::runtime_error
// naming the step and the registry's error. Owns the registry and the client;
// the destructor stops the registry. Hold one per suite (SetUpTestSuite) or
// one per test (a fixture member or SetUp), as the suite needs. Not
// thread-safe as a whole; client() serves any number of threads, as
// RegistryClient does.
#pragma once

#include <memory>
#include <string>

#include "signet/cosign/sign.h"
#include "signet/crypto/signer.h"
#include "signet/oci/reference.h"
#include "signet/oci/registry_client.h"
#include "support/registry_server.h"
#include "support/test_images.h"

namespace signet::testing {

class RegistryFixture {
 public:
  // How Sign() names the image to sign: through its tag (as `cosign sign
  // registry/repo:tag`, which resolves the tag first) or by digest.
  enum class SignThrough { kTag, kDigest };

  explicit RegistryFixture(RegistryServer::Mode mode,
                           const RegistryServer::Options& options = RegistryServer::Options());
  RegistryFixture(const RegistryFixture&) = delete;
  RegistryFixture& operator=(const RegistryFixture&) = delete;

  RegistryServer& server() const { return *server_; }
  oci::RegistryClient& client() const { return *client_; }

  // The repository `path` on this registry, e.g. Repository("team/app").
  oci::Repository Repository(const std::string& path) const;

  // A random image pushed to <path>:<tag>, left unsigned.
  PushedImage PushUnsigned(const std::string& path, const std::string& tag) const;

  // A random image pushed to <path>:<tag>, then signed by `signer` as
  // Sign() does.
  PushedImage PushSigned(const std::string& path, const std::string& tag,
                         const crypto::Signer& signer,
                         const cosign::SignOptions& options = cosign::SignOptions(),
                         SignThrough through = SignThrough::kTag) const;

  // Signs the pushed `image` with `signer` through its tag (by digest when
  // it has none) or by digest.
  void Sign(const PushedImage& image, const crypto::Signer& signer,
            const cosign::SignOptions& options = cosign::SignOptions(),
            SignThrough through = SignThrough::kTag) const;

  // The registry's credentials as a mounted Secret holds them, for
  // --registry-secret-dir: <dir>/username and <dir>/password (mode 0600),
  // the password followed by `password_suffix` (e.g. "\n", as an editor
  // leaves it).
  void WriteCredentials(const std::string& dir, const std::string& password_suffix = "") const;

 private:
  std::unique_ptr<RegistryServer> server_;
  std::unique_ptr<oci::RegistryClient> client_;
};

}  // namespace signet::testing

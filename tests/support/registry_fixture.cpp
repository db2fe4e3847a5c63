#include "support/registry_fixture.h"

#include <stdexcept>

#include "support/process.h"

namespace signet::testing {

RegistryFixture::RegistryFixture(RegistryServer::Mode mode, const RegistryServer::Options& options)
    : server_(RegistryServer::Start(mode, options)), client_(ClientFor(*server_)) {}

oci::Repository RegistryFixture::Repository(const std::string& path) const {
  return RepositoryOn(*server_, path);
}

PushedImage RegistryFixture::PushUnsigned(const std::string& path, const std::string& tag) const {
  return PushRandomImage(*client_, Repository(path), tag);
}

PushedImage RegistryFixture::PushSigned(const std::string& path, const std::string& tag,
                                        const crypto::Signer& signer,
                                        const cosign::SignOptions& options,
                                        SignThrough through) const {
  PushedImage image = PushUnsigned(path, tag);
  Sign(image, signer, options, through);
  return image;
}

void RegistryFixture::Sign(const PushedImage& image, const crypto::Signer& signer,
                           const cosign::SignOptions& options, SignThrough through) const {
  const std::string name = image.tag.empty() || through == SignThrough::kDigest
                               ? image.DigestReference()
                               : image.TagReference();
  auto reference = oci::ImageReference::Parse(name);
  if (!reference.ok()) {
    throw std::runtime_error("RegistryFixture::Sign: " + name + ": " + reference.error().message());
  }
  auto signed_image = cosign::SignImage(*client_, *reference, signer, options);
  if (!signed_image.ok()) {
    throw std::runtime_error("RegistryFixture::Sign: signing " + name + ": " +
                             signed_image.error().message());
  }
}

void RegistryFixture::WriteCredentials(const std::string& dir,
                                       const std::string& password_suffix) const {
  WriteFile(dir + "/username", server_->username());
  WriteFile(dir + "/password", server_->password() + password_suffix, 0600);
}

}  // namespace signet::testing

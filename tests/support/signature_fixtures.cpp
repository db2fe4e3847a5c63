#include "support/signature_fixtures.h"

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "signet/cosign/signature_manifest.h"
#include "signet/crypto/encoding.h"
#include "signet/crypto/keys.h"
#include "support/paths.h"
#include "support/process.h"

namespace signet::testing {

FixtureSignature ReadSigstoreJsonFixture(const std::string& file_name) {
  const std::string path = TestDataDir() + "/cosign/" + file_name;
  const std::string bytes = ReadFile(path);
  const std::string prefix = std::string("\0sigstore-json\n", 15);
  if (bytes.rfind(prefix, 0) != 0) throw std::runtime_error(path + ": not a sigstore-json blob");
  const auto json = nlohmann::json::parse(bytes.substr(prefix.size()));
  FixtureSignature signature;
  signature.mime_type = json.at("mimeType").get<std::string>();
  auto payload = crypto::Base64Decode(json.at("payload").get<std::string>());
  if (!payload) throw std::runtime_error(path + ": payload is not base64");
  signature.payload = *payload;
  if (json.contains("annotations")) {
    signature.annotations = json.at("annotations").get<std::map<std::string, std::string>>();
  }
  return signature;
}

TestKeyPair GenerateTestKeyPair() {
  auto pems = crypto::GenerateKeyPair(kTestKeyPassword);
  if (!pems) throw std::runtime_error("GenerateKeyPair: " + pems.error().message());
  auto signer = crypto::LoadPrivateKey(pems->private_pem, kTestKeyPassword, "test key");
  if (!signer) throw std::runtime_error("LoadPrivateKey: " + signer.error().message());
  TestKeyPair pair;
  pair.verifier = (*signer)->MakeVerifier();
  pair.signer = std::move(*signer);
  pair.private_pem = pems->private_pem;
  pair.public_pem = pems->public_pem;
  return pair;
}

void PushSignatureManifest(oci::Registry& registry, const oci::Repository& repo,
                           const std::string& tag,
                           const std::vector<FixtureSignature>& signatures) {
  cosign::SignatureManifest manifest;
  for (const FixtureSignature& signature : signatures) {
    cosign::SignatureLayer layer;
    layer.media_type = signature.mime_type;
    layer.size = signature.payload.size();
    layer.digest = crypto::Sha256Digest(signature.payload);
    layer.annotations = signature.annotations;
    manifest.layers.push_back(layer);
    if (auto s = registry.PutBlob(repo, layer.digest, signature.payload); !s) {
      throw std::runtime_error("PutBlob: " + s.error().message());
    }
  }
  const std::string config = cosign::MarshalSignatureConfig(manifest.layers);
  const std::string config_digest = crypto::Sha256Digest(config);
  if (auto s = registry.PutBlob(repo, config_digest, config); !s) {
    throw std::runtime_error("PutBlob: " + s.error().message());
  }
  auto pushed = registry.PutManifest(
      repo, tag, std::string(oci::kOciManifestMediaType),
      cosign::MarshalSignatureManifest(manifest, config_digest, config.size()));
  if (!pushed) throw std::runtime_error("PutManifest: " + pushed.error().message());
}

}  // namespace signet::testing

// Cosign signature test material: the genuine signatures shipped in
// tests/data/cosign (containers/image "sigstore-json" files) and freshly
// generated cosign key pairs.
//
// Contract: readers throw std::runtime_error on malformed fixtures (failing
// the calling test). Stateless; safe to call from several threads.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "signet/crypto/signer.h"
#include "signet/oci/reference.h"
#include "signet/oci/registry.h"

namespace signet::testing {

// One signature from a sigstore-json file: byte 0x00, "sigstore-json\n",
// then {"mimeType":…,"payload":<base64>,"annotations":{…}}.
struct FixtureSignature {
  std::string mime_type;
  std::string payload;  // decoded bytes
  std::map<std::string, std::string> annotations;
};
FixtureSignature ReadSigstoreJsonFixture(const std::string& file_name);  // in tests/data/cosign

// A P-256 signer from a freshly generated, encrypted cosign key pair, and its
// PEM texts (password "test-password").
struct TestKeyPair {
  std::shared_ptr<const crypto::Signer> signer;
  std::shared_ptr<const crypto::Verifier> verifier;
  std::string private_pem;
  std::string public_pem;
};
TestKeyPair GenerateTestKeyPair();
inline constexpr char kTestKeyPassword[] = "test-password";

// A GoogleTest fixture base holding two key pairs generated once per suite:
// `keys_` signs the images under test, `other_keys_` stands for a stranger.
class TwoKeyPairsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    keys_.emplace(GenerateTestKeyPair());
    other_keys_.emplace(GenerateTestKeyPair());
  }
  static void TearDownTestSuite() {
    keys_.reset();
    other_keys_.reset();
  }

  static inline std::optional<TestKeyPair> keys_;
  static inline std::optional<TestKeyPair> other_keys_;
};

// Parses a reference the test expects to be valid (a parse error fails the
// test).
inline oci::ImageReference ParseReferenceForTest(const std::string& text) {
  auto ref = oci::ImageReference::Parse(text);
  EXPECT_TRUE(ref.ok()) << text << ": " << ref.error().message();
  return *ref;
}

// Pushes a signature manifest made of `signatures` (in order) to
// <repo>:<tag>, with cosign's config, as cosign would have written it.
void PushSignatureManifest(oci::Registry& registry, const oci::Repository& repo,
                           const std::string& tag, const std::vector<FixtureSignature>& signatures);

}  // namespace signet::testing

// Keys and registry credentials are loaded once and re-read when their files
// change on disk.
#include <gtest/gtest.h>

#include <filesystem>

#include "signet/crypto/keys.h"
#include "signet/policy/registry_credentials.h"
#include "signet/policy/trusted_keys.h"
#include "support/paths.h"
#include "support/process.h"

namespace signet::policy {
namespace {

using std::chrono::milliseconds;

// Replaces `path` the way a Kubernetes volume update does: write aside, rename in.
void Replace(const std::string& path, const std::string& contents) {
  signet::testing::WriteFile(path + ".new", contents);
  std::filesystem::rename(path + ".new", path);
}

TEST(TrustedKeysTest, ReloadsAChangedKeyAndRevokesAnUnloadableOne) {
  signet::testing::TempDir dir;
  auto first = crypto::GenerateKeyPair("");
  auto second = crypto::GenerateKeyPair("");
  ASSERT_TRUE(first.ok() && second.ok());
  const std::string path = dir.File("cosign.pub");
  Replace(path, first->public_pem);
  auto keys = TrustedKeys::Load({{"default", path}}, milliseconds(0));
  ASSERT_TRUE(keys.ok()) << keys.error().message();
  auto selected = (*keys)->Select({});
  ASSERT_TRUE(selected.ok());
  ASSERT_EQ(selected->size(), 1u);
  EXPECT_EQ((*selected)[0]->PublicKeyPem(), first->public_pem);
  const auto first_generation = (*keys)->Generation();
  EXPECT_EQ((*keys)->Generation(), first_generation);

  Replace(path, second->public_pem);
  const auto second_generation = (*keys)->Generation();
  EXPECT_NE(second_generation, first_generation);
  selected = (*keys)->Select({"default"});
  ASSERT_TRUE(selected.ok());
  EXPECT_EQ((*selected)[0]->PublicKeyPem(), second->public_pem);

  // A file that no longer holds a key revokes it: the old key is not kept.
  Replace(path, "not a key\n");
  selected = (*keys)->Select({});
  ASSERT_FALSE(selected.ok());
  EXPECT_NE(selected.error().message().find("trusted key \"default\" is not trusted"),
            std::string::npos)
      << selected.error().message();
  EXPECT_NE((*keys)->Generation(), second_generation);
  const auto errors = (*keys)->TakeReloadErrors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("default"), std::string::npos) << errors[0];

  // A good file again: trusted again, under a new generation.
  const auto broken_generation = (*keys)->Generation();
  Replace(path, second->public_pem);
  selected = (*keys)->Select({});
  ASSERT_TRUE(selected.ok()) << selected.error().message();
  EXPECT_EQ((*selected)[0]->PublicKeyPem(), second->public_pem);
  EXPECT_NE((*keys)->Generation(), broken_generation);
  EXPECT_TRUE((*keys)->Health().ok());
}

// Deleting the only key file revoked nothing: the last loaded key stayed in
// use, so images signed by it (never verified before) still verified.
TEST(TrustedKeysTest, RemovingAKeyFileRevokesTheKey) {
  signet::testing::TempDir dir;
  auto a = crypto::GenerateKeyPair("");
  auto b = crypto::GenerateKeyPair("");
  ASSERT_TRUE(a.ok() && b.ok());
  Replace(dir.File("a.pub"), a->public_pem);
  Replace(dir.File("b.pub"), b->public_pem);
  auto keys =
      TrustedKeys::Load({{"a", dir.File("a.pub")}, {"b", dir.File("b.pub")}}, milliseconds(0));
  ASSERT_TRUE(keys.ok()) << keys.error().message();
  const auto before = (*keys)->Generation();
  ASSERT_TRUE((*keys)->Select({"a"}).ok());  // positive control
  ASSERT_TRUE((*keys)->Health().ok());

  std::filesystem::remove(dir.File("a.pub"));
  auto selected = (*keys)->Select({"a"});
  ASSERT_FALSE(selected.ok());
  EXPECT_NE(selected.error().message().find("a.pub no longer exists"), std::string::npos)
      << selected.error().message();
  EXPECT_NE((*keys)->Generation(), before);  // results verified with "a" are not reused
  auto every = (*keys)->Select({});
  ASSERT_TRUE(every.ok());
  ASSERT_EQ(every->size(), 1u);
  EXPECT_EQ((*every)[0]->PublicKeyPem(), b->public_pem);
  EXPECT_TRUE((*keys)->Health().ok());  // "b" is still trusted

  std::filesystem::remove(dir.File("b.pub"));
  const Status health = (*keys)->Health();
  ASSERT_FALSE(health.ok());
  EXPECT_NE(health.error().message().find("no trusted key is loaded"), std::string::npos)
      << health.error().message();
  EXPECT_NE(health.error().message().find("b.pub no longer exists"), std::string::npos)
      << health.error().message();
  EXPECT_FALSE((*keys)->Select({}).ok());

  // Putting a key back makes it trusted (and the set ready) again.
  Replace(dir.File("b.pub"), b->public_pem);
  EXPECT_TRUE((*keys)->Health().ok());
  EXPECT_TRUE((*keys)->Select({"b"}).ok());
}

// Replicas sharing verdicts key them by the fingerprint: two processes (here
// two instances) with the same key material agree on it, whatever its file,
// and any rotation, removal or addition of a key changes it.
TEST(TrustedKeysTest, FingerprintFollowsTheKeyMaterialNotTheProcess) {
  signet::testing::TempDir dir;
  auto first = crypto::GenerateKeyPair("");
  auto second = crypto::GenerateKeyPair("");
  ASSERT_TRUE(first.ok() && second.ok());
  Replace(dir.File("a.pub"), first->public_pem);
  Replace(dir.File("copy.pub"), first->public_pem);
  auto keys = TrustedKeys::Load({{"default", dir.File("a.pub")}}, milliseconds(0));
  auto replica = TrustedKeys::Load({{"default", dir.File("copy.pub")}}, milliseconds(0));
  ASSERT_TRUE(keys.ok() && replica.ok());
  const std::string original = (*keys)->Fingerprint();
  EXPECT_EQ(original.rfind("sha256:", 0), 0u) << original;
  EXPECT_EQ((*replica)->Fingerprint(), original);

  auto two = TrustedKeys::Load({{"default", dir.File("a.pub")}, {"b", dir.File("copy.pub")}},
                               milliseconds(0));
  ASSERT_TRUE(two.ok());
  EXPECT_NE((*two)->Fingerprint(), original);  // a key added

  Replace(dir.File("a.pub"), second->public_pem);
  const std::string rotated = (*keys)->Fingerprint();
  EXPECT_NE(rotated, original);
  std::filesystem::remove(dir.File("a.pub"));
  const std::string removed = (*keys)->Fingerprint();
  EXPECT_NE(removed, original);
  EXPECT_NE(removed, rotated);
  Replace(dir.File("a.pub"), first->public_pem);
  EXPECT_EQ((*keys)->Fingerprint(), original);  // the same key back: the same material
}

TEST(TrustedKeysTest, LoadFailsOnAMissingKeyAndSelectNeedsAKnownName) {
  signet::testing::TempDir dir;
  auto missing = TrustedKeys::Load({{"default", dir.File("missing.pub")}});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("missing.pub"), std::string::npos);

  auto pair = crypto::GenerateKeyPair("");
  ASSERT_TRUE(pair.ok());
  Replace(dir.File("a.pub"), pair->public_pem);
  auto keys = TrustedKeys::Load({{"a", dir.File("a.pub")}});
  ASSERT_TRUE(keys.ok());
  EXPECT_FALSE((*keys)->Select({"b"}).ok());
}

TEST(SecretFileKeychainTest, ReadsPerHostFilesAndRereadsThemWhenChanged) {
  signet::testing::TempDir dir;
  Replace(dir.File("user"), "alice\n");
  Replace(dir.File("pass"), "s3cret\n");
  Replace(dir.File("any-user"), "bob");
  Replace(dir.File("any-pass"), "hunter2");
  SecretFileKeychain keychain(
      {{"registry.example.com", dir.File("user"), dir.File("pass"), "", false, {}},
       {"*", dir.File("any-user"), dir.File("any-pass"), "", false, {}}},
      "", milliseconds(0));
  auto credentials = keychain.Resolve("registry.example.com");
  ASSERT_TRUE(credentials.ok());
  EXPECT_EQ(credentials->username, "alice");
  EXPECT_EQ(credentials->password, "s3cret");

  auto other = keychain.Resolve("elsewhere.io");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->username, "bob");

  Replace(dir.File("pass"), "rotated-password\n");
  credentials = keychain.Resolve("registry.example.com");
  ASSERT_TRUE(credentials.ok());
  EXPECT_EQ(credentials->password, "rotated-password");
}

TEST(SecretFileKeychainTest, MissingFileIsAnErrorThatDoesNotLeakSecrets) {
  signet::testing::TempDir dir;
  Replace(dir.File("user"), "alice");
  SecretFileKeychain keychain({{"r.io", dir.File("user"), dir.File("nope"), "", false, {}}}, "",
                              milliseconds(0));
  auto credentials = keychain.Resolve("r.io");
  ASSERT_FALSE(credentials.ok());
  EXPECT_NE(credentials.error().message().find("nope"), std::string::npos);
  EXPECT_EQ(credentials.error().message().find("alice"), std::string::npos);
  auto anonymous = keychain.Resolve("other.io");
  ASSERT_TRUE(anonymous.ok());
  EXPECT_TRUE(anonymous->anonymous());
}

}  // namespace
}  // namespace signet::policy

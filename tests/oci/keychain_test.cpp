#include "signet/oci/keychain.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "signet/crypto/encoding.h"
#include "support/paths.h"
#include "support/secret_volume.h"

namespace signet::oci {
namespace {

using signet::testing::DockerRegistrySecretJson;
using signet::testing::ProjectSecretVolume;
using signet::testing::TempDir;

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  ASSERT_TRUE(out) << path;
  out << text;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Sets an environment variable for the lifetime of the object.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    const char* old = std::getenv(name);
    had_old_ = old != nullptr;
    if (had_old_) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (had_old_) {
      setenv(name_, old_.c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  bool had_old_ = false;
  std::string old_;
};

// A docker-credential-fake helper on PATH that logs the server URL it was
// asked about and answers from a fixed table.
class KeychainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string bin = dir_.File("bin");
    ASSERT_EQ(mkdir(bin.c_str(), 0700), 0);
    std::string helper = bin + "/docker-credential-fake";
    WriteFile(helper, R"(#!/bin/sh
[ "$1" = get ] || { echo "unexpected verb $1"; exit 2; }
read -r server
printf '%s\n' "$server" >> ")" +
                          helper_log() + R"("
case "$server" in
  127.0.0.1:5000) echo '{"ServerURL":"127.0.0.1:5000","Username":"helper-user","Secret":"helper-pass"}' ;;
  https://index.docker.io/v1/) echo '{"ServerURL":"x","Username":"hub-user","Secret":"hub-pass"}' ;;
  token.example) echo '{"ServerURL":"token.example","Username":"<token>","Secret":"refresh-123"}' ;;
  garbage.example) echo 'not json' ;;
  broken.example) echo 'helper exploded'; exit 1 ;;
  *) echo 'credentials not found in native keychain'; exit 1 ;;
esac
)");
    ASSERT_EQ(chmod(helper.c_str(), 0700), 0);
    const char* path = std::getenv("PATH");
    path_ = std::make_unique<ScopedEnv>("PATH", bin + ":" + (path ? path : "/usr/bin:/bin"));
  }

  std::string helper_log() const { return dir_.File("helper.log"); }
  std::string Config(const std::string& json) {
    std::string path = dir_.File("config.json");
    WriteFile(path, json);
    return path;
  }

  TempDir dir_;
  std::unique_ptr<ScopedEnv> path_;
};

Credentials Resolve(const Keychain& keychain, const std::string& registry) {
  auto creds = keychain.Resolve(registry);
  EXPECT_TRUE(creds.ok()) << registry << ": " << creds.error().message();
  return creds.ok() ? *creds : Credentials{};
}

TEST_F(KeychainTest, AuthsWithBase64AuthAndDockerHubAliases) {
  std::string auth = crypto::Base64Encode("hubuser:hub:pass");
  auto keychain = DockerConfigKeychain(
      Config(R"({"auths":{"https://index.docker.io/v1/":{"auth":")" + auth + R"("}}})"));
  for (const char* alias : {"index.docker.io", "docker.io", "https://index.docker.io/v1/"}) {
    Credentials creds = Resolve(*keychain, alias);
    EXPECT_EQ(creds.username, "hubuser") << alias;
    EXPECT_EQ(creds.password, "hub:pass") << alias;  // split at the first ':'
  }
  EXPECT_TRUE(Resolve(*keychain, "ghcr.io").anonymous());
}

TEST_F(KeychainTest, AuthsKeysAreNormalised) {
  auto keychain = DockerConfigKeychain(Config(R"({"auths":{
      "http://localhost:5000":{"username":"u1","password":"p1"},
      "https://ghcr.io/v2/":{"username":"u2","password":"p2"},
      "quay.io/org/repo":{"auth":")" + crypto::Base64Encode("u3:p3") +
                                              R"("},
      "idp.example":{"identitytoken":"refresh-abc"}}})"));
  EXPECT_EQ(Resolve(*keychain, "localhost:5000").username, "u1");
  EXPECT_EQ(Resolve(*keychain, "ghcr.io").password, "p2");
  EXPECT_EQ(Resolve(*keychain, "quay.io").username, "u3");
  Credentials token = Resolve(*keychain, "idp.example");
  EXPECT_EQ(token.identity_token, "refresh-abc");
  EXPECT_TRUE(token.username.empty());
  EXPECT_FALSE(token.anonymous());
  EXPECT_TRUE(Resolve(*keychain, "localhost:5001").anonymous());
}

TEST_F(KeychainTest, MissingFileIsAnonymousButBrokenFilesAreErrors) {
  EXPECT_TRUE(Resolve(*DockerConfigKeychain(dir_.File("absent.json")), "ghcr.io").anonymous());

  auto not_json = DockerConfigKeychain(Config("{not json"));
  auto result = not_json->Resolve("ghcr.io");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kParse);

  auto bad_auth = DockerConfigKeychain(Config(R"({"auths":{"ghcr.io":{"auth":"%%%"}}})"));
  result = bad_auth->Resolve("ghcr.io");
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message().find("base64"), std::string::npos);

  auto no_colon = DockerConfigKeychain(
      Config(R"({"auths":{"ghcr.io":{"auth":")" + crypto::Base64Encode("nocolon") + R"("}}})"));
  result = no_colon->Resolve("ghcr.io");
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message().find("user:password"), std::string::npos);
}

TEST_F(KeychainTest, CredHelperIsAskedWithTheServerUrl) {
  auto keychain = DockerConfigKeychain(Config(R"({"credHelpers":{"127.0.0.1:5000":"fake"},
      "auths":{"127.0.0.1:5000":{"username":"file-user","password":"file-pass"}}})"));
  Credentials creds = Resolve(*keychain, "127.0.0.1:5000");
  EXPECT_EQ(creds.username, "helper-user");
  EXPECT_EQ(creds.password, "helper-pass");
  EXPECT_EQ(ReadFile(helper_log()), "127.0.0.1:5000\n");
  // Hosts without a helper entry never run it.
  EXPECT_TRUE(Resolve(*keychain, "ghcr.io").anonymous());
  EXPECT_EQ(ReadFile(helper_log()), "127.0.0.1:5000\n");
}

TEST_F(KeychainTest, CredsStoreCoversEveryRegistryAndFallsBackToAuths) {
  auto keychain = DockerConfigKeychain(Config(R"({"credsStore":"fake",
      "auths":{"elsewhere.example":{"username":"file-user","password":"file-pass"}}})"));
  Credentials hub = Resolve(*keychain, "index.docker.io");
  EXPECT_EQ(hub.username, "hub-user");
  Credentials token = Resolve(*keychain, "token.example");
  EXPECT_EQ(token.identity_token, "refresh-123");
  EXPECT_TRUE(token.username.empty());
  // "credentials not found" from the helper: the file entry applies.
  EXPECT_EQ(Resolve(*keychain, "elsewhere.example").username, "file-user");
  EXPECT_TRUE(Resolve(*keychain, "nowhere.example").anonymous());
  EXPECT_NE(ReadFile(helper_log()).find("https://index.docker.io/v1/\n"), std::string::npos);
}

TEST_F(KeychainTest, FailingOrMissingHelpersAreErrors) {
  auto keychain = DockerConfigKeychain(Config(R"({"credsStore":"fake"})"));
  auto broken = keychain->Resolve("broken.example");
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.error().code(), ErrorCode::kAuth);
  EXPECT_NE(broken.error().message().find("helper exploded"), std::string::npos);

  auto garbage = keychain->Resolve("garbage.example");
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error().code(), ErrorCode::kParse);

  auto missing = DockerConfigKeychain(Config(R"({"credsStore":"no-such-helper-xyz"})"));
  auto result = missing->Resolve("ghcr.io");
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message().find("docker-credential-no-such-helper-xyz"),
            std::string::npos);

  auto evil = DockerConfigKeychain(Config(R"({"credsStore":"../../bin/sh"})"));
  result = evil->Resolve("ghcr.io");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kInvalidArgument);
}

TEST_F(KeychainTest, StaticAndChain) {
  Credentials fixed{"user", "pass", ""};
  auto only_one = StaticKeychain("localhost:5000", fixed);
  EXPECT_EQ(Resolve(*only_one, "localhost:5000").username, "user");
  EXPECT_TRUE(Resolve(*only_one, "localhost:5001").anonymous());
  auto every = StaticKeychain("", fixed);
  EXPECT_EQ(Resolve(*every, "ghcr.io").password, "pass");
  auto hub = StaticKeychain("docker.io", fixed);
  EXPECT_EQ(Resolve(*hub, "index.docker.io").username, "user");

  auto file = DockerConfigKeychain(
      Config(R"({"auths":{"ghcr.io":{"username":"file-user","password":"file-pass"}}})"));
  auto chain = ChainKeychain({AnonymousKeychain(), only_one, file});
  EXPECT_EQ(Resolve(*chain, "localhost:5000").username, "user");
  EXPECT_EQ(Resolve(*chain, "ghcr.io").username, "file-user");
  EXPECT_TRUE(Resolve(*chain, "quay.io").anonymous());
  EXPECT_TRUE(Resolve(*AnonymousKeychain(), "ghcr.io").anonymous());
}

TEST_F(KeychainTest, DefaultKeychainOrder) {
  std::string docker_dir = dir_.File("docker");
  ASSERT_EQ(mkdir(docker_dir.c_str(), 0700), 0);
  WriteFile(docker_dir + "/config.json",
            R"({"auths":{"a.example":{"username":"docker-a","password":"x"},
                         "b.example":{"username":"docker-b","password":"x"}}})");
  std::string auth_file = dir_.File("auth.json");
  WriteFile(auth_file, R"({"auths":{"a.example":{"username":"containers-a","password":"y"}}})");
  ScopedEnv docker_config("DOCKER_CONFIG", docker_dir);
  ScopedEnv registry_auth_file("REGISTRY_AUTH_FILE", auth_file);

  auto keychain = DefaultKeychain();
  EXPECT_EQ(Resolve(*keychain, "a.example").username, "containers-a");
  EXPECT_EQ(Resolve(*keychain, "b.example").username, "docker-b");
  EXPECT_TRUE(Resolve(*keychain, "c.example").anonymous());

  auto explicit_keychain =
      DefaultKeychain({Credentials{"flag-user", "flag-pass", ""}, {"a.example", "c.example"}});
  EXPECT_EQ(Resolve(*explicit_keychain, "a.example").username, "flag-user");
  EXPECT_EQ(Resolve(*explicit_keychain, "c.example").username, "flag-user");
}

// A docker-registry Secret mounted as kubelet mounts it (key symlinks into
// "..data"), used as the docker config directory.
TEST_F(KeychainTest, ConfigDirReadsDockerconfigjsonOfAMountedSecret) {
  const std::string dir = dir_.File("secret");
  ProjectSecretVolume(
      dir, {{".dockerconfigjson",
             DockerRegistrySecretJson("https://127.0.0.1:5000", "kube-user", "kube-pass")}});
  const Credentials creds = Resolve(*DockerConfigDirKeychain(dir), "127.0.0.1:5000");
  EXPECT_EQ(creds.username, "kube-user");
  EXPECT_EQ(creds.password, "kube-pass");
  EXPECT_TRUE(Resolve(*DockerConfigDirKeychain(dir), "ghcr.io").anonymous());

  // The CLI's default keychain takes it from $DOCKER_CONFIG.
  ScopedEnv docker_config("DOCKER_CONFIG", dir);
  ScopedEnv registry_auth_file("REGISTRY_AUTH_FILE", "");
  EXPECT_EQ(Resolve(*DefaultKeychain(), "127.0.0.1:5000").username, "kube-user");

  // Positive control for the layout: the same Secret with a config.json key.
  const std::string generic = dir_.File("generic");
  ProjectSecretVolume(
      generic, {{"config.json",
                 DockerRegistrySecretJson("127.0.0.1:5000", "generic-user", "generic-pass")}});
  EXPECT_EQ(Resolve(*DockerConfigDirKeychain(generic), "127.0.0.1:5000").username, "generic-user");
  // An empty directory knows nothing.
  const std::string empty = dir_.File("empty");
  ASSERT_EQ(mkdir(empty.c_str(), 0755), 0);
  EXPECT_TRUE(Resolve(*DockerConfigDirKeychain(empty), "127.0.0.1:5000").anonymous());
}

// config.json wins whenever it exists; the two files are never merged, and a
// broken config.json is an error rather than a reason to try the other file.
TEST_F(KeychainTest, ConfigDirPrefersConfigJsonAndNeverMerges) {
  const std::string dir = dir_.File("both");
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  WriteFile(dir + "/config.json", DockerRegistrySecretJson("a.example", "config-user", "x"));
  WriteFile(dir + "/.dockerconfigjson",
            R"({"auths":{"a.example":{"username":"secret-user","password":"y"},
                         "b.example":{"username":"secret-b","password":"y"}}})");
  auto keychain = DockerConfigDirKeychain(dir);
  EXPECT_EQ(Resolve(*keychain, "a.example").username, "config-user");
  EXPECT_TRUE(Resolve(*keychain, "b.example").anonymous());

  WriteFile(dir + "/config.json", "{not json");
  auto broken = keychain->Resolve("b.example");
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.error().code(), ErrorCode::kParse);
  EXPECT_NE(broken.error().message().find("config.json"), std::string::npos)
      << broken.error().message();

  // Once config.json is gone, .dockerconfigjson is read (on the next lookup).
  ASSERT_EQ(unlink((dir + "/config.json").c_str()), 0);
  EXPECT_EQ(Resolve(*keychain, "b.example").username, "secret-b");
}

// A Secret's content is hostile input: bounded in size and in nesting, and a
// symlink to an endless file does not make signet read forever.
TEST_F(KeychainTest, ConfigDirFileIsBoundedHostileInput) {
  const std::string dir = dir_.File("hostile");
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  const std::string file = dir + "/.dockerconfigjson";
  auto keychain = DockerConfigDirKeychain(dir);

  ASSERT_EQ(symlink("/dev/zero", file.c_str()), 0);
  auto endless = keychain->Resolve("a.example");
  ASSERT_FALSE(endless.ok());
  EXPECT_EQ(endless.error().code(), ErrorCode::kTooLarge);
  ASSERT_EQ(unlink(file.c_str()), 0);

  WriteFile(file, R"({"auths":{},"pad":")" + std::string(5 * 1024 * 1024, 'a') + R"("})");
  auto large = keychain->Resolve("a.example");
  ASSERT_FALSE(large.ok());
  EXPECT_EQ(large.error().code(), ErrorCode::kTooLarge);

  WriteFile(file,
            R"({"auths":{},"deep":)" + std::string(10000, '[') + std::string(10000, ']') + "}");
  auto deep = keychain->Resolve("a.example");
  ASSERT_FALSE(deep.ok());
  EXPECT_NE(deep.error().message().find(".dockerconfigjson"), std::string::npos)
      << deep.error().message();

  // Positive control: the same file, well-formed, is read.
  WriteFile(file, DockerRegistrySecretJson("a.example", "ok-user", "ok-pass"));
  EXPECT_EQ(Resolve(*keychain, "a.example").username, "ok-user");
}

// --registry-username/--registry-password are for the image's registry only:
// another host (a token realm elsewhere, a COSIGN_REPOSITORY host) never
// receives them, and falls back to the files' credentials or to anonymous.
TEST_F(KeychainTest, ExplicitCredentialsAreScopedToTheirRegistries) {
  std::string docker_dir = dir_.File("docker");
  ASSERT_EQ(mkdir(docker_dir.c_str(), 0700), 0);
  WriteFile(docker_dir + "/config.json",
            R"({"auths":{"b.example":{"username":"docker-b","password":"x"}}})");
  ScopedEnv docker_config("DOCKER_CONFIG", docker_dir);
  ScopedEnv registry_auth_file("REGISTRY_AUTH_FILE", "");

  auto keychain = DefaultKeychain({Credentials{"flag-user", "flag-pass", ""}, {"a.example"}});
  EXPECT_EQ(Resolve(*keychain, "a.example").username, "flag-user");  // positive control
  EXPECT_EQ(Resolve(*keychain, "b.example").username, "docker-b");
  EXPECT_TRUE(Resolve(*keychain, "attacker.example").anonymous());
  EXPECT_TRUE(Resolve(*keychain, "a.example:444").anonymous());

  auto nowhere = DefaultKeychain({Credentials{"flag-user", "flag-pass", ""}, {""}});
  EXPECT_TRUE(Resolve(*nowhere, "a.example").anonymous());
}

}  // namespace
}  // namespace signet::oci

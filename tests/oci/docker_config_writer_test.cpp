// WriteDockerLogin: the entry it writes is the one DockerConfigKeychain finds,
// for every spelling of a registry; every other key of the file survives; a
// broken file is refused and left as it was.
#include "signet/oci/docker_config_writer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "signet/oci/keychain.h"
#include "support/paths.h"
#include "support/process.h"

namespace signet::oci {
namespace {

using signet::testing::ReadFile;
using signet::testing::TempDir;
using signet::testing::WriteFile;

int Mode(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

// The names in `dir`, sorted, without "." and "..".
std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST(DockerConfigWriter, KeysAreWhatTheKeychainLooksUp) {
  struct Case {
    const char* typed;         // what the user passes to `signet login`
    const char* expected_key;  // the "auths" key written
    const char* looked_up;     // the registry of an image reference
  };
  const Case cases[] = {
      {"docker.io", "https://index.docker.io/v1/", "index.docker.io"},
      {"Registry-1.Docker.IO", "https://index.docker.io/v1/", "index.docker.io"},
      {"https://index.docker.io/v1/", "https://index.docker.io/v1/", "index.docker.io"},
      {"Localhost:5000", "localhost:5000", "localhost:5000"},
      {"https://registry.example:5443/v2/", "registry.example:5443", "registry.example:5443"},
      {"127.0.0.1:5000", "127.0.0.1:5000", "127.0.0.1:5000"},
      {"ghcr.io", "ghcr.io", "ghcr.io"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.typed);
    TempDir dir;
    const std::string path = dir.File("config.json");
    auto key = WriteDockerLogin(path, {c.typed, "alice", "s3cret"});
    ASSERT_TRUE(key.ok()) << key.error().message();
    EXPECT_EQ(*key, c.expected_key);
    const auto doc = nlohmann::json::parse(ReadFile(path));
    EXPECT_EQ(doc["auths"][c.expected_key]["auth"], "YWxpY2U6czNjcmV0");  // alice:s3cret
    auto creds = DockerConfigKeychain(path)->Resolve(c.looked_up);
    ASSERT_TRUE(creds.ok()) << creds.error().message();
    EXPECT_EQ(creds->username, "alice");
    EXPECT_EQ(creds->password, "s3cret");
    // Control: another registry gets nothing from this entry.
    auto other = DockerConfigKeychain(path)->Resolve("other.example");
    ASSERT_TRUE(other.ok());
    EXPECT_TRUE(other->anonymous());
  }
}

TEST(DockerConfigWriter, RefusesRegistriesThatAreNotHosts) {
  for (const char* bad : {"", "https://", "host name", "user@host", "127.1", "0x7f.0.0.1:5000"}) {
    SCOPED_TRACE(bad);
    TempDir dir;
    auto key = WriteDockerLogin(dir.File("config.json"), {bad, "alice", "pw"});
    ASSERT_FALSE(key.ok());
    EXPECT_EQ(key.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(Mode(dir.File("config.json")), -1);
  }
}

TEST(DockerConfigWriter, KeepsEveryOtherKeyAndReplacesOnlyTheEntry) {
  TempDir dir;
  const std::string path = dir.File("config.json");
  const nlohmann::json before = {
      {"auths",
       {{"other.example", {{"auth", "b3RoZXI6cHc="}}},
        {"registry.example:5000",
         {{"auth", "b2xkOm9sZA=="}, {"identitytoken", "stale-token"}, {"email", "x@y"}}}}},
      {"credHelpers", {{"gcr.io", "gcloud"}}},
      {"proxies", {{"default", {{"httpProxy", "http://proxy:3128"}}}}},
      {"psFormat", "table {{.ID}}"},
      {"experimental", "enabled"},
  };
  WriteFile(path, before.dump(), 0644);
  auto key = WriteDockerLogin(path, {"registry.example:5000", "bob", "new-pass"});
  ASSERT_TRUE(key.ok()) << key.error().message();
  const auto after = nlohmann::json::parse(ReadFile(path));
  nlohmann::json expected = before;
  // docker login replaces the whole entry: a stale identity token must not
  // outrank the new password.
  expected["auths"]["registry.example:5000"] = {{"auth", "Ym9iOm5ldy1wYXNz"}};
  EXPECT_EQ(after, expected);
  EXPECT_EQ(Mode(path), 0600);
  // Nothing is left behind in the directory but the file itself.
  EXPECT_EQ(Entries(dir.path()), std::vector<std::string>{"config.json"});
}

TEST(DockerConfigWriter, CreatesAMissingDirectoryPrivate) {
  TempDir dir;
  const std::string path = dir.File("a/b/config.json");
  auto key = WriteDockerLogin(path, {"ghcr.io", "alice", "pw"});
  ASSERT_TRUE(key.ok()) << key.error().message();
  EXPECT_EQ(Mode(dir.File("a")), 0700);
  EXPECT_EQ(Mode(dir.File("a/b")), 0700);
  EXPECT_EQ(Mode(path), 0600);
}

TEST(DockerConfigWriter, RefusesABrokenFileAndLeavesItAlone) {
  const std::string broken[] = {"[1, 2]", "{\"auths\": []}", "{\"auths\": ", "\"text\"",
                                std::string(100, '[')};
  for (const std::string& text : broken) {
    SCOPED_TRACE(text);
    TempDir dir;
    const std::string path = dir.File("config.json");
    WriteFile(path, text, 0644);
    auto key = WriteDockerLogin(path, {"ghcr.io", "alice", "pw"});
    ASSERT_FALSE(key.ok());
    EXPECT_EQ(ReadFile(path), text);
    EXPECT_EQ(Mode(path), 0644);
    EXPECT_EQ(key.error().message().find("pw"), std::string::npos);
  }
  // Control: an empty file is an empty config, as docker reads it.
  TempDir dir;
  WriteFile(dir.File("config.json"), "", 0644);
  EXPECT_TRUE(WriteDockerLogin(dir.File("config.json"), {"ghcr.io", "alice", "pw"}).ok());
}

TEST(DockerConfigWriter, RefusesUsernamesAndPasswordsTheAuthFieldCannotHold) {
  TempDir dir;
  const std::string path = dir.File("config.json");
  EXPECT_FALSE(WriteDockerLogin(path, {"ghcr.io", "al:ice", "pw"}).ok());
  EXPECT_FALSE(WriteDockerLogin(path, {"ghcr.io", "", "pw"}).ok());
  EXPECT_FALSE(WriteDockerLogin(path, {"ghcr.io", "alice", ""}).ok());
  // Control: a password may hold ':' (only the first one splits the pair).
  ASSERT_TRUE(WriteDockerLogin(path, {"ghcr.io", "alice", "p:w"}).ok());
  auto creds = DockerConfigKeychain(path)->Resolve("ghcr.io");
  ASSERT_TRUE(creds.ok());
  EXPECT_EQ(creds->password, "p:w");
}

TEST(DockerConfigWriter, FollowsASymlinkedConfig) {
  TempDir dir;
  WriteFile(dir.File("real.json"), "{\"psFormat\": \"x\"}", 0600);
  ASSERT_EQ(symlink("real.json", dir.File("config.json").c_str()), 0);
  ASSERT_TRUE(WriteDockerLogin(dir.File("config.json"), {"ghcr.io", "alice", "pw"}).ok());
  struct stat st {};
  ASSERT_EQ(lstat(dir.File("config.json").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  const auto doc = nlohmann::json::parse(ReadFile(dir.File("real.json")));
  EXPECT_EQ(doc["psFormat"], "x");
  EXPECT_TRUE(doc["auths"].contains("ghcr.io"));
}

}  // namespace
}  // namespace signet::oci

// `signet login` against a real TLS + Basic-auth docker-registry: the Docker
// config it writes is what `signet sign` and `signet verify` then use; and
// `signet version`.
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <openssl/crypto.h>
#include <sodium.h>
#include <sys/stat.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "signet/crypto/keys.h"
#include "support/paths.h"
#include "support/process.h"
#include "support/registry_fixture.h"
#include "support/registry_server.h"
#include "support/test_images.h"

namespace signet::testing {
namespace {

constexpr char kKeyPassword[] = "login-test-key-password";

int Mode(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

#define EXPECT_EXIT_CODE(result, code)                                 \
  EXPECT_EQ((result).exit_code, code) << "stdout:\n"                   \
                                      << (result).out << "\nstderr:\n" \
                                      << (result).err

class LoginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = std::make_unique<TempDir>();
    auto keys = crypto::GenerateKeyPair(kKeyPassword);
    ASSERT_TRUE(keys.ok());
    WriteFile(home_->File("signet.key"), keys->private_pem, 0600);
    WriteFile(home_->File("signet.pub"), keys->public_pem);
  }

  std::string Config() const { return home_->File("docker/config.json"); }

  // signet with a private HOME and DOCKER_CONFIG, no other credential source.
  CommandResult Signet(std::vector<std::string> args, const std::string& input = "") const {
    args.insert(args.begin(), SignetBinary());
    return RunCommand(
        args,
        {"HOME=" + home_->path(), "DOCKER_CONFIG=" + home_->File("docker"),
         "COSIGN_PASSWORD=" + std::string(kKeyPassword), "REGISTRY_AUTH_FILE", "COSIGN_REPOSITORY"},
        input);
  }

  std::unique_ptr<TempDir> home_;
};

TEST_F(LoginTest, SignAndVerifyUseTheCredentialsLoginWrote) {
  const RegistryFixture registry(RegistryServer::Mode::kTlsBasicAuth);
  const RegistryServer& server = registry.server();
  const auto image = registry.PushUnsigned("login/app", "v1");
  const std::vector<std::string> tls = {"--registry-cacert", server.ca_file()};
  auto sign = [&] {
    std::vector<std::string> args = {"sign", "--key", home_->File("signet.key")};
    args.insert(args.end(), tls.begin(), tls.end());
    args.push_back(image.DigestReference());
    return Signet(args);
  };
  auto verify = [&] {
    // signet signs in the bundle format, which carries no transparency log entry.
    std::vector<std::string> args = {"verify", "--key", home_->File("signet.pub"),
                                     "--insecure-ignore-tlog"};
    args.insert(args.end(), tls.begin(), tls.end());
    args.push_back(image.TagReference());
    return Signet(args);
  };

  // Without a login the registry refuses us.
  auto anonymous = sign();
  EXPECT_NE(anonymous.exit_code, 0);
  EXPECT_NE(anonymous.err.find("401"), std::string::npos) << anonymous.err;

  // A wrong password is stored (login does not ask the registry) and refused
  // by the registry on use.
  auto wrong_login =
      Signet({"login", server.host(), "-u", server.username(), "--password-stdin"}, "wrong\n");
  EXPECT_EXIT_CODE(wrong_login, 0);
  auto refused = sign();
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("401"), std::string::npos) << refused.err;

  auto login = Signet({"login", server.host(), "-u", server.username(), "--password-stdin"},
                      server.password() + "\n");
  EXPECT_EXIT_CODE(login, 0);
  EXPECT_NE(login.err.find(Config()), std::string::npos) << login.err;
  EXPECT_EQ(login.out.find(server.password()), std::string::npos);
  EXPECT_EQ(login.err.find(server.password()), std::string::npos);
  EXPECT_EQ(Mode(Config()), 0600);
  EXPECT_EQ(Mode(home_->File("docker")), 0700);

  auto signed_ok = sign();
  EXPECT_EXIT_CODE(signed_ok, 0);
  auto verified = verify();
  EXPECT_EXIT_CODE(verified, 0);
  EXPECT_NE(verified.out.find(image.digest), std::string::npos);
}

TEST_F(LoginTest, RefusesAPasswordGivenBothWays) {
  auto both = Signet({"login", "ghcr.io", "-u", "alice", "-p", "pw1", "--password-stdin"}, "pw2\n");
  EXPECT_EXIT_CODE(both, 2);
  EXPECT_EQ(Mode(Config()), -1);
  auto neither = Signet({"login", "ghcr.io", "-u", "alice"});
  EXPECT_EXIT_CODE(neither, 2);
  EXPECT_EQ(Mode(Config()), -1);
  // Controls: each way alone works; -p warns that it is visible, and neither
  // echoes the password.
  auto flag = Signet({"login", "ghcr.io", "-u", "alice", "-p", "flag-pass"});
  EXPECT_EXIT_CODE(flag, 0);
  EXPECT_NE(flag.err.find("--password-stdin"), std::string::npos) << flag.err;
  EXPECT_EQ(flag.err.find("flag-pass"), std::string::npos);
  auto from_stdin =
      Signet({"login", "ghcr.io", "-u", "alice", "--password-stdin"}, "stdin-pass\r\n");
  EXPECT_EXIT_CODE(from_stdin, 0);
  EXPECT_EQ(from_stdin.err.find("stdin-pass"), std::string::npos);
  const auto doc = nlohmann::json::parse(ReadFile(Config()));
  EXPECT_EQ(doc["auths"]["ghcr.io"]["auth"], "YWxpY2U6c3RkaW4tcGFzcw==");  // alice:stdin-pass
}

TEST_F(LoginTest, KeepsTheRestOfAnExistingConfig) {
  ASSERT_EQ(mkdir(home_->File("docker").c_str(), 0755), 0);
  const nlohmann::json before = {{"auths", {{"quay.io", {{"auth", "cTpx"}}}}},
                                 {"credHelpers", {{"gcr.io", "gcloud"}}},
                                 {"psFormat", "table {{.ID}}"}};
  WriteFile(Config(), before.dump(), 0644);
  auto login = Signet({"login", "docker.io", "-u", "alice", "--password-stdin"}, "pw\n");
  EXPECT_EXIT_CODE(login, 0);
  nlohmann::json expected = before;
  expected["auths"]["https://index.docker.io/v1/"] = {{"auth", "YWxpY2U6cHc="}};  // alice:pw
  EXPECT_EQ(nlohmann::json::parse(ReadFile(Config())), expected);
  EXPECT_EQ(Mode(Config()), 0600);
  // A config that is not an object is refused and left alone.
  WriteFile(Config(), "[]", 0644);
  auto refused = Signet({"login", "docker.io", "-u", "alice", "--password-stdin"}, "pw\n");
  EXPECT_EXIT_CODE(refused, 1);
  EXPECT_EQ(ReadFile(Config()), "[]");
}

TEST(VersionCommand, PrintsVersionBuildAndRuntimeLibraries) {
  auto flag = RunCommand({SignetBinary(), "--version"});
  ASSERT_EQ(flag.exit_code, 0) << flag.err;
  const std::string name_and_version = flag.out.substr(0, flag.out.find('\n'));  // "signet X.Y.Z"

  auto text = RunCommand({SignetBinary(), "version"});
  EXPECT_EXIT_CODE(text, 0);
  EXPECT_EQ(text.out.rfind(name_and_version + "\n", 0), 0u) << text.out;
  EXPECT_NE(text.out.find(OpenSSL_version(OPENSSL_VERSION)), std::string::npos) << text.out;

  auto json = RunCommand({SignetBinary(), "version", "--json"});
  EXPECT_EXIT_CODE(json, 0);
  const auto doc = nlohmann::json::parse(json.out);
  EXPECT_EQ("signet " + doc.at("version").get<std::string>(), name_and_version);
  // The libraries this test process loads are the ones signet loads.
  EXPECT_EQ(doc.at("openssl"), OpenSSL_version(OPENSSL_VERSION));
  EXPECT_EQ(doc.at("libcurl"), curl_version_info(CURLVERSION_NOW)->version);
  EXPECT_EQ(doc.at("libsodium"), sodium_version_string());
  const std::string cache = ReadFile(BinaryDir() + "/CMakeCache.txt");
  EXPECT_NE(cache.find("CMAKE_BUILD_TYPE:STRING=" + doc.at("buildType").get<std::string>() + "\n"),
            std::string::npos);
  EXPECT_FALSE(doc.at("buildType").get<std::string>().empty());
  // The commit is one of this checkout's (or null outside a git checkout).
  if (!doc.at("gitCommit").is_null()) {
    const std::string commit = doc.at("gitCommit");
    EXPECT_EQ(commit.size(), 12u);
    auto known = RunCommand({"git", "-C", SourceDir(), "cat-file", "-e", commit + "^{commit}"});
    EXPECT_EQ(known.exit_code, 0) << commit << ": " << known.err;
    EXPECT_NE(text.out.find("git commit:  " + commit + "\n"), std::string::npos);
  }
  // Control: an unknown flag is a usage error.
  EXPECT_EQ(RunCommand({SignetBinary(), "version", "--bogus"}).exit_code, 2);
}

}  // namespace
}  // namespace signet::testing

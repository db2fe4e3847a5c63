#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "cli_test_env.h"
#include "signet/crypto/keys.h"

namespace signet::cli {
namespace {

using signet::testing::ReadFile;
using signet::testing::TempDir;
using signet::testing::TestDataDir;
using signet::testing::WriteFile;
using test::FileExists;
using test::FileMode;
using test::Signet;

std::string Vector(const std::string& name) { return TestDataDir() + "/cosign/" + name; }

TEST(GenerateKeyPair, WritesKeyFilesWithModes) {
  TempDir dir;
  const std::string prefix = dir.File("mykey");
  auto r = Signet({"generate-key-pair", "--output-key-prefix", prefix}, "pw1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("Private key written to " + prefix + ".key"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Public key written to " + prefix + ".pub"), std::string::npos) << r.err;
  EXPECT_EQ(FileMode(prefix + ".key"), 0600);
  EXPECT_EQ(FileMode(prefix + ".pub"), 0644);
  const std::string key = ReadFile(prefix + ".key");
  EXPECT_EQ(key.rfind("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n", 0), 0u);
  auto signer = crypto::LoadPrivateKey(key, "pw1", "mykey.key");
  ASSERT_TRUE(signer.ok()) << signer.error().message();
  EXPECT_EQ((*signer)->PublicKeyPem(), ReadFile(prefix + ".pub"));
  EXPECT_FALSE(crypto::LoadPrivateKey(key, "pw2", "mykey.key").ok());
}

TEST(GenerateKeyPair, DefaultPrefixIsCosign) {
  TempDir dir;
  // Run inside the temporary directory, where the default files land.
  auto sh = signet::testing::RunCommand({"sh", "-c", "cd \"$1\" && \"$2\" generate-key-pair", "sh",
                                         dir.path(), signet::testing::SignetBinary()},
                                        {"COSIGN_PASSWORD="});
  ASSERT_EQ(sh.exit_code, 0) << sh.err;
  EXPECT_TRUE(FileExists(dir.File("cosign.key")));
  EXPECT_TRUE(FileExists(dir.File("cosign.pub")));
  // The empty password from COSIGN_PASSWORD="" is a real password.
  EXPECT_TRUE(crypto::LoadPrivateKeyFile(dir.File("cosign.key"), "").ok());
}

TEST(GenerateKeyPair, RefusesToOverwriteWithoutForce) {
  TempDir dir;
  const std::string prefix = dir.File("k");
  ASSERT_EQ(Signet({"generate-key-pair", "--output-key-prefix", prefix}, "a").exit_code, 0);
  const std::string key_before = ReadFile(prefix + ".key");
  const std::string pub_before = ReadFile(prefix + ".pub");

  auto again = Signet({"generate-key-pair", "--output-key-prefix", prefix}, "b");
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find(prefix + ".key"), std::string::npos) << again.err;
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
  EXPECT_EQ(ReadFile(prefix + ".key"), key_before);
  EXPECT_EQ(ReadFile(prefix + ".pub"), pub_before);
  EXPECT_EQ(FileMode(prefix + ".key"), 0600);

  // Only the .pub exists: still refused, and no .key appears.
  TempDir other;
  const std::string p2 = other.File("only");
  WriteFile(p2 + ".pub", "keep me");
  auto partial = Signet({"generate-key-pair", "--output-key-prefix", p2}, "a");
  EXPECT_NE(partial.exit_code, 0);
  EXPECT_NE(partial.err.find(p2 + ".pub"), std::string::npos) << partial.err;
  EXPECT_EQ(ReadFile(p2 + ".pub"), "keep me");
  EXPECT_FALSE(FileExists(p2 + ".key"));

  auto forced = Signet({"generate-key-pair", "--output-key-prefix", prefix, "--force"}, "b");
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_NE(ReadFile(prefix + ".key"), key_before);
  EXPECT_NE(ReadFile(prefix + ".pub"), pub_before);
  EXPECT_EQ(FileMode(prefix + ".key"), 0600);
  EXPECT_EQ(FileMode(prefix + ".pub"), 0644);
  EXPECT_TRUE(crypto::LoadPrivateKeyFile(prefix + ".key", "b").ok());
}

TEST(GenerateKeyPair, PasswordFromStdinIsVerbatim) {
  TempDir dir;
  const std::string prefix = dir.File("stdin");
  auto r = Signet({"generate-key-pair", "--output-key-prefix", prefix}, nullptr, "secret\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(crypto::LoadPrivateKeyFile(prefix + ".key", "secret\n").ok());
  auto without_newline = crypto::LoadPrivateKeyFile(prefix + ".key", "secret");
  ASSERT_FALSE(without_newline.ok());
  EXPECT_EQ(without_newline.error().code(), ErrorCode::kDecryptionFailed);
}

TEST(GenerateKeyPair, EnvironmentWinsOverStdin) {
  TempDir dir;
  const std::string prefix = dir.File("env");
  auto r = Signet({"generate-key-pair", "--output-key-prefix", prefix}, "from-env", "from-stdin");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(crypto::LoadPrivateKeyFile(prefix + ".key", "from-env").ok());
  EXPECT_FALSE(crypto::LoadPrivateKeyFile(prefix + ".key", "from-stdin").ok());
}

TEST(GenerateKeyPair, UnwritableDirectoryIsAnError) {
  auto r = Signet({"generate-key-pair", "--output-key-prefix", "/nonexistent-dir/k"}, "a");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("/nonexistent-dir/k.key"), std::string::npos) << r.err;
}

TEST(PublicKey, PrintsAndWritesThePublicKey) {
  const std::string expected = ReadFile(Vector("cosign-keys_test-pemsigstorekey.derived.pub"));
  auto r = Signet({"public-key", "--key", Vector("cosign-keys_test-pemsigstorekey.key")}, "hello");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, expected);

  TempDir dir;
  auto w = Signet({"public-key", "--key", Vector("cosign-keys_test-pemcosignkey.key"), "--outfile",
                   dir.File("out.pub")},
                  nullptr, "hello");
  ASSERT_EQ(w.exit_code, 0) << w.err;
  EXPECT_EQ(ReadFile(dir.File("out.pub")),
            ReadFile(Vector("cosign-keys_test-pemcosignkey.derived.pub")));
  EXPECT_EQ(FileMode(dir.File("out.pub")), 0644);

  auto empty =
      Signet({"public-key", "--key", Vector("conforma-cli-vsa_test-emptypw-N65536.key")}, "");
  ASSERT_EQ(empty.exit_code, 0) << empty.err;
  EXPECT_EQ(empty.out, ReadFile(Vector("conforma-cli-vsa_test-emptypw-N65536.derived.pub")));
}

struct ErrorCase {
  std::vector<std::string> args;
  const char* password;
  std::string must_mention;  // the file
  std::string cause;
};

TEST(KeyCommands, EveryErrorNamesTheFileAndTheCause) {
  TempDir dir;
  WriteFile(dir.File("garbage.key"), "this is not a key\n");
  const std::string sigstore = Vector("cosign-keys_test-pemsigstorekey.key");
  const std::string sec1 = Vector("cosign-keys_test-pemcosigneckey.key");
  const std::string pub = Vector("containers-image-fixtures-cosign.pub");
  const std::vector<ErrorCase> cases = {
      {{"public-key", "--key", sigstore}, "wrong", sigstore, "wrong password"},
      {{"public-key", "--key", sec1}, "hello", sec1, "PKCS#8"},
      {{"public-key", "--key", pub}, "hello", pub, "unsupported PEM type"},
      {{"public-key", "--key", dir.File("garbage.key")},
       "x",
       dir.File("garbage.key"),
       "no PEM block"},
      {{"public-key", "--key", dir.File("missing.key")},
       "x",
       dir.File("missing.key"),
       "cannot open"},
      {{"import-key-pair", "--key", sigstore, "-o", dir.File("imp")},
       "x",
       sigstore,
       "unsupported PEM type"},
      {{"import-key-pair", "--key", dir.File("missing.pem"), "-o", dir.File("imp")},
       "x",
       dir.File("missing.pem"),
       "cannot open"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.args[0] + " " + c.must_mention);
    auto r = Signet(c.args, c.password);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(r.err.rfind("Error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(c.must_mention), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.cause), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  EXPECT_FALSE(FileExists(dir.File("imp.key")));
}

TEST(ImportKeyPair, ImportsVectorsWithDefaultModes) {
  TempDir dir;
  for (const char* name :
       {"cosign-keys_test-validecp256.sec1.pem", "cosign-keys_test-validecpkcs8.pem",
        "cosign-keys_test-validrsapkcs8.pem", "cosign-keys_test-ed25519.pkcs8.pem"}) {
    SCOPED_TRACE(name);
    const std::string prefix = dir.File(std::string("imp-") + name);
    auto r =
        Signet({"import-key-pair", "--key", Vector(name), "--output-key-prefix", prefix}, "ipw");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(FileMode(prefix + ".key"), 0600);
    EXPECT_EQ(FileMode(prefix + ".pub"), 0644);
    auto signer = crypto::LoadPrivateKeyFile(prefix + ".key", "ipw");
    ASSERT_TRUE(signer.ok()) << signer.error().message();
    EXPECT_EQ((*signer)->PublicKeyPem(), ReadFile(prefix + ".pub"));
    // A second import without --force does not touch the files.
    const std::string before = ReadFile(prefix + ".key");
    auto again =
        Signet({"import-key-pair", "--key", Vector(name), "--output-key-prefix", prefix}, "ipw");
    EXPECT_NE(again.exit_code, 0);
    EXPECT_EQ(ReadFile(prefix + ".key"), before);
  }
}

TEST(ImportKeyPair, DefaultPrefixAndWeakKeyRefused) {
  TempDir dir;
  auto sh = signet::testing::RunCommand(
      {"sh", "-c", "cd \"$1\" && \"$2\" import-key-pair --key \"$3\"", "sh", dir.path(),
       signet::testing::SignetBinary(), Vector("cosign-keys_test-validecpkcs8.pem")},
      {"COSIGN_PASSWORD=p"});
  ASSERT_EQ(sh.exit_code, 0) << sh.err;
  EXPECT_TRUE(FileExists(dir.File("import-cosign.key")));
  EXPECT_TRUE(FileExists(dir.File("import-cosign.pub")));

  auto weak = signet::testing::RunCommand(
      {"openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"});
  ASSERT_EQ(weak.exit_code, 0);
  WriteFile(dir.File("weak.pem"), weak.out);
  auto r = Signet({"import-key-pair", "--key", dir.File("weak.pem"), "-o", dir.File("weak")}, "p");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find(dir.File("weak.pem")), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("1024"), std::string::npos) << r.err;
  EXPECT_FALSE(FileExists(dir.File("weak.key")));
}

TEST(KeyCommands, HelpExplainsPasswordAndFlags) {
  auto r = Signet({"generate-key-pair", "--help"}, "x");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("COSIGN_PASSWORD"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--output-key-prefix"), std::string::npos);
  EXPECT_NE(r.out.find("--force"), std::string::npos);
  auto missing = Signet({"public-key"}, "x");
  EXPECT_EQ(missing.exit_code, 2);  // usage error: --key is required
}

TEST(KeyCommands, TopLevelHelpIsAnIndexOfEveryCommand) {
  auto r = Signet({"--help"}, "x");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* command :
       {"generate-key-pair", "import-key-pair", "public-key", "sign-blob", "verify-blob", "sign",
        "verify", "attest", "verify-attestation", "triangulate", "serve"}) {
    EXPECT_NE(r.out.find(std::string("  ") + command + " "), std::string::npos) << command;
  }
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_LT(line.size(), 160u) << "help line too long: " << line;
  }
}

}  // namespace
}  // namespace signet::cli

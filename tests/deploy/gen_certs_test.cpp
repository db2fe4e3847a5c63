// deploy/gen-certs.sh makes a CA and a server certificate whose DNS SANs are
// the Service names Gatekeeper dials, and prints exactly that CA as caBundle.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "deploy/deploy_files.h"

namespace signet::deploytest {
namespace {

using signet::testing::ReadFile;
using signet::testing::RunCommand;
using signet::testing::TempDir;

std::string LastLine(const std::string& text) {
  std::string trimmed = text;
  while (!trimmed.empty() && trimmed.back() == '\n') trimmed.pop_back();
  const auto nl = trimmed.rfind('\n');
  return nl == std::string::npos ? trimmed : trimmed.substr(nl + 1);
}

TEST(GenCerts, CreatesCaAndServerCertificateForTheServiceName) {
  TempDir dir;
  const auto out = dir.File("certs");
  const auto result =
      RunCommand({DeployDir() + "/gen-certs.sh", "-n", "payments", "-s", "verifier", "-o", out});
  ASSERT_EQ(result.exit_code, 0) << result.err;

  // stdout is the caBundle and nothing else: base64 of ca.crt.
  const std::string bundle = LastLine(result.out);
  EXPECT_EQ(result.out, bundle + "\n");
  const auto decoded = RunCommand({"openssl", "base64", "-d", "-A"}, {}, bundle);
  ASSERT_EQ(decoded.exit_code, 0);
  EXPECT_EQ(decoded.out, ReadFile(out + "/ca.crt"));
  EXPECT_EQ(ReadFile(out + "/ca-bundle.b64"), bundle + "\n");

  const auto verify =
      RunCommand({"openssl", "verify", "-CAfile", out + "/ca.crt", out + "/tls.crt"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;

  const auto san = RunCommand({"openssl", "x509", "-in", out + "/tls.crt", "-noout", "-ext",
                               "subjectAltName,extendedKeyUsage"});
  ASSERT_EQ(san.exit_code, 0) << san.err;
  EXPECT_NE(san.out.find("DNS:verifier.payments,"), std::string::npos) << san.out;
  EXPECT_NE(san.out.find("DNS:verifier.payments.svc,"), std::string::npos) << san.out;
  EXPECT_NE(san.out.find("TLS Web Server Authentication"), std::string::npos) << san.out;

  for (const char* key : {"/ca.key", "/tls.key"}) {
    struct stat st {};
    ASSERT_EQ(stat((out + key).c_str(), &st), 0) << key;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << key;
  }
}

TEST(GenCerts, RejectsNamesThatAreNotDnsLabels) {
  TempDir dir;
  for (const char* bad : {"Bad_Name", "-x", "a.b"}) {
    const auto result = RunCommand({DeployDir() + "/gen-certs.sh", "-n", bad, "-o", dir.path()});
    EXPECT_EQ(result.exit_code, 2) << bad;
    EXPECT_TRUE(result.out.empty()) << bad;
  }
}

TEST(GenCerts, HelpPrintsUsageAndExitsZero) {
  const auto help = RunCommand({DeployDir() + "/gen-certs.sh", "-h"});
  EXPECT_EQ(help.exit_code, 0) << help.err;
  EXPECT_NE(help.out.find("Usage: deploy/gen-certs.sh [-r]"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("renew"), std::string::npos) << help.out;
  // Control: an unknown option prints the same usage as an error.
  const auto bad = RunCommand({DeployDir() + "/gen-certs.sh", "-x"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_TRUE(bad.out.empty());
  EXPECT_NE(bad.err.find("Usage: deploy/gen-certs.sh"), std::string::npos) << bad.err;
}

// openssl verify of `cert` against the CA file `ca`.
bool VerifiesAgainst(const std::string& ca, const std::string& cert) {
  return RunCommand({"openssl", "verify", "-CAfile", ca, cert}).exit_code == 0;
}

// Rotation: -r issues a new server key and certificate with the existing CA,
// so the caBundle Gatekeeper holds stays valid; a run without -r makes a new
// CA, which the old caBundle does not trust.
TEST(GenCerts, RenewKeepsTheCaAndAFreshRunMakesANewOne) {
  TempDir dir;
  const auto out = dir.File("certs");
  const auto first = RunCommand({DeployDir() + "/gen-certs.sh", "-o", out});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  signet::testing::WriteFile(dir.File("old-ca.crt"), ReadFile(out + "/ca.crt"));
  const std::string old_key = ReadFile(out + "/tls.key");
  const std::string old_cert = ReadFile(out + "/tls.crt");

  const auto renewed = RunCommand({DeployDir() + "/gen-certs.sh", "-r", "-o", out, "-d", "30"});
  ASSERT_EQ(renewed.exit_code, 0) << renewed.err;
  EXPECT_EQ(renewed.out, first.out) << "renewal changed the caBundle";
  EXPECT_EQ(ReadFile(out + "/ca.crt"), ReadFile(dir.File("old-ca.crt")));
  EXPECT_NE(ReadFile(out + "/tls.key"), old_key);
  EXPECT_NE(ReadFile(out + "/tls.crt"), old_cert);
  EXPECT_TRUE(VerifiesAgainst(dir.File("old-ca.crt"), out + "/tls.crt"));
  // The old caBundle, decoded, is what the renewed certificate verifies against.
  const auto decoded = RunCommand({"openssl", "base64", "-d", "-A"}, {}, LastLine(first.out));
  ASSERT_EQ(decoded.exit_code, 0);
  signet::testing::WriteFile(dir.File("bundle.pem"), decoded.out);
  EXPECT_TRUE(VerifiesAgainst(dir.File("bundle.pem"), out + "/tls.crt"));

  const auto fresh = RunCommand({DeployDir() + "/gen-certs.sh", "-o", out});
  ASSERT_EQ(fresh.exit_code, 0) << fresh.err;
  EXPECT_NE(fresh.out, first.out);
  EXPECT_NE(fresh.err.find("replacing the CA"), std::string::npos) << fresh.err;
  EXPECT_NE(ReadFile(out + "/ca.crt"), ReadFile(dir.File("old-ca.crt")));
  EXPECT_FALSE(VerifiesAgainst(dir.File("old-ca.crt"), out + "/tls.crt"));
  EXPECT_TRUE(VerifiesAgainst(out + "/ca.crt", out + "/tls.crt"));

  // Renewing without a CA fails and writes nothing.
  const auto empty = dir.File("empty");
  const auto no_ca = RunCommand({DeployDir() + "/gen-certs.sh", "-r", "-o", empty});
  EXPECT_EQ(no_ca.exit_code, 1);
  EXPECT_TRUE(no_ca.out.empty());
  EXPECT_NE(no_ca.err.find("ca.crt is missing"), std::string::npos) << no_ca.err;
  EXPECT_FALSE(std::filesystem::exists(empty + "/tls.crt"));
}

}  // namespace
}  // namespace signet::deploytest

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

}  // namespace
}  // namespace signet::deploytest

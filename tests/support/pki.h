// TestPki: certificate authorities and leaf certificates for tests, made with
// the openssl command-line tool (so the certificates under test are not
// produced by the code under test).
//
// Contract: every file is written into the directory given to the
// constructor, which the caller owns (usually a TempDir). Private keys are
// unencrypted PEM with mode 0600; certificates are PEM. A failing openssl
// invocation throws std::runtime_error with openssl's stderr, which fails the
// calling test. Not thread-safe: use one TestPki per thread.
#pragma once

#include <string>
#include <vector>

namespace signet::testing {

enum class KeyType { kEcP256, kRsa2048 };

// Paths of a certificate and its private key.
struct CertFiles {
  std::string cert_file;
  std::string key_file;
};

// What to put into a leaf certificate.
struct LeafSpec {
  std::string common_name;
  std::vector<std::string> dns_names;     // subjectAltName DNS entries
  std::vector<std::string> ip_addresses;  // subjectAltName IP entries
  bool server_auth = true;                // extendedKeyUsage serverAuth
  bool client_auth = false;               // extendedKeyUsage clientAuth
  KeyType key_type = KeyType::kEcP256;
  int days = 30;
  // Validity start relative to now, in days (negative = in the past). With
  // days_offset = -10 and days = 5 the certificate has already expired.
  int days_offset = 0;
};

class TestPki {
 public:
  explicit TestPki(std::string dir);

  // A self-signed CA (CA:TRUE, keyCertSign) with subject CN=common_name,
  // written to <dir>/<name>.crt and <dir>/<name>.key.
  CertFiles CreateCa(const std::string& name, const std::string& common_name,
                     KeyType key_type = KeyType::kEcP256, int days = 30);

  // A leaf signed by `ca`, written to <dir>/<name>.crt and <dir>/<name>.key.
  CertFiles IssueLeaf(const CertFiles& ca, const std::string& name, const LeafSpec& spec);

  // A server leaf for loopback: SANs DNS:localhost and IP:127.0.0.1,
  // serverAuth.
  CertFiles IssueLoopbackServer(const CertFiles& ca, const std::string& name);

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

}  // namespace signet::testing

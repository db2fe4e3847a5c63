#include "support/pki.h"

#include <sys/stat.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <stdexcept>

#include "support/process.h"

namespace signet::testing {
namespace {

void RunOpenssl(const std::vector<std::string>& args, const std::string& what) {
  std::vector<std::string> argv = {"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  const CommandResult r = RunCommand(argv, {}, "", std::chrono::seconds(60));
  if (r.exit_code != 0) {
    throw std::runtime_error("openssl failed to " + what + ": " + r.err);
  }
}

void GenerateKey(const std::string& path, KeyType type) {
  if (type == KeyType::kEcP256) {
    RunOpenssl({"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path},
               "generate an EC key");
  } else {
    RunOpenssl({"genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path},
               "generate an RSA key");
  }
  chmod(path.c_str(), 0600);
}

// openssl ca's date format, UTC: YYYYMMDDHHMMSSZ.
std::string OpensslDate(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%d%H%M%SZ", &tm);
  return buf;
}

std::string Join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

}  // namespace

TestPki::TestPki(std::string dir) : dir_(std::move(dir)) {
  std::filesystem::create_directories(dir_);
}

CertFiles TestPki::CreateCa(const std::string& name, const std::string& common_name,
                            KeyType key_type, int days) {
  CertFiles ca{dir_ + "/" + name + ".crt", dir_ + "/" + name + ".key"};
  const std::string config = dir_ + "/" + name + ".req.cnf";
  WriteFile(config,
            "[ req ]\n"
            "distinguished_name = dn\n"
            "prompt = no\n"
            "x509_extensions = ca_ext\n"
            "[ dn ]\n"
            "CN = " +
                common_name +
                "\n"
                "[ ca_ext ]\n"
                "basicConstraints = critical,CA:TRUE\n"
                "keyUsage = critical,keyCertSign,cRLSign,digitalSignature\n"
                "subjectKeyIdentifier = hash\n"
                "authorityKeyIdentifier = keyid:always\n");
  GenerateKey(ca.key_file, key_type);
  RunOpenssl({"req", "-config", config, "-new", "-x509", "-sha256", "-key", ca.key_file, "-days",
              std::to_string(days), "-out", ca.cert_file},
             "create CA " + name);
  // openssl ca's bookkeeping for the leaves this CA issues.
  WriteFile(dir_ + "/" + name + ".index", "");
  WriteFile(dir_ + "/" + name + ".serial", "1000\n");
  std::filesystem::create_directories(dir_ + "/" + name + ".issued");
  return ca;
}

CertFiles TestPki::IssueLeaf(const CertFiles& ca, const std::string& name, const LeafSpec& spec) {
  CertFiles leaf{dir_ + "/" + name + ".crt", dir_ + "/" + name + ".key"};
  const std::string ca_base = ca.cert_file.substr(0, ca.cert_file.size() - 4);  // strip ".crt"
  if (!std::filesystem::exists(ca_base + ".index")) {
    throw std::runtime_error("IssueLeaf: " + ca.cert_file + " was not made by TestPki::CreateCa");
  }

  std::vector<std::string> sans;
  for (const auto& d : spec.dns_names) sans.push_back("DNS:" + d);
  for (const auto& ip : spec.ip_addresses) sans.push_back("IP:" + ip);
  std::vector<std::string> ekus;
  if (spec.server_auth) ekus.push_back("serverAuth");
  if (spec.client_auth) ekus.push_back("clientAuth");

  std::string ext =
      "[ leaf_ext ]\n"
      "basicConstraints = critical,CA:FALSE\n"
      "keyUsage = critical,digitalSignature,keyEncipherment\n"
      "subjectKeyIdentifier = hash\n"
      "authorityKeyIdentifier = keyid,issuer\n";
  if (!ekus.empty()) ext += "extendedKeyUsage = " + Join(ekus, ",") + "\n";
  if (!sans.empty()) ext += "subjectAltName = " + Join(sans, ",") + "\n";

  const std::string config = dir_ + "/" + name + ".cnf";
  WriteFile(config,
            "[ req ]\n"
            "distinguished_name = dn\n"
            "prompt = no\n"
            "[ dn ]\n"
            "CN = " +
                spec.common_name +
                "\n"
                "[ ca ]\n"
                "default_ca = test_ca\n"
                "[ test_ca ]\n"
                "database = " +
                ca_base +
                ".index\n"
                "new_certs_dir = " +
                ca_base +
                ".issued\n"
                "serial = " +
                ca_base +
                ".serial\n"
                "default_md = sha256\n"
                "policy = policy_any\n"
                "unique_subject = no\n"
                "copy_extensions = none\n"
                "[ policy_any ]\n"
                "commonName = supplied\n" +
                ext);

  GenerateKey(leaf.key_file, spec.key_type);
  const std::string csr = dir_ + "/" + name + ".csr";
  RunOpenssl({"req", "-config", config, "-new", "-key", leaf.key_file, "-out", csr},
             "create a CSR for " + name);

  const auto now = std::chrono::system_clock::now();
  const auto start = now + std::chrono::hours(24) * spec.days_offset - std::chrono::minutes(5);
  const auto end = now + std::chrono::hours(24) * (spec.days_offset + spec.days);
  RunOpenssl({"ca",
              "-batch",
              "-config",
              config,
              "-cert",
              ca.cert_file,
              "-keyfile",
              ca.key_file,
              "-in",
              csr,
              "-out",
              leaf.cert_file,
              "-extensions",
              "leaf_ext",
              "-notext",
              "-startdate",
              OpensslDate(start),
              "-enddate",
              OpensslDate(end),
              "-rand_serial"},
             "issue " + name);
  return leaf;
}

CertFiles TestPki::IssueLoopbackServer(const CertFiles& ca, const std::string& name) {
  LeafSpec spec;
  spec.common_name = "localhost";
  spec.dns_names = {"localhost"};
  spec.ip_addresses = {"127.0.0.1"};
  spec.server_auth = true;
  return IssueLeaf(ca, name, spec);
}

}  // namespace signet::testing

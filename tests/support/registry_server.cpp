#include "support/registry_server.h"

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/pki.h"

namespace signet::testing {
namespace {

constexpr const char* kProbeUserAgent = "signet-readiness-probe";
constexpr const char* kTokenService = "signet-test-registry";
constexpr const char* kTokenIssuer = "signet-test-token-issuer";

std::string RandomHex(size_t bytes) {
  std::random_device rd;
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < bytes; ++i) {
    const unsigned v = rd() & 0xff;
    out += kHex[v >> 4];
    out += kHex[v & 0xf];
  }
  return out;
}

// YAML double-quoted scalar.
std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// Debian's interpreter, which has python3-cryptography; another python3 on
// PATH may lack it.
std::string PythonInterpreter() {
  return std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

std::string TokenServerScript() { return SourceDir() + "/tests/support/token_server.py"; }

// The CA, certificates and credentials that every fixture in this process
// shares: made once, because openssl and bcrypt dominate start-up time.
struct SharedSecrets {
  TempDir dir;
  CertFiles ca;
  CertFiles server;
  CertFiles token_signer;
  std::string username = "signet-tester";
  std::string password = RandomHex(12);
  std::string htpasswd_file;

  static const SharedSecrets& Get() {
    static const SharedSecrets secrets;
    return secrets;
  }

 private:
  SharedSecrets() {
    TestPki pki(dir.File("pki"));
    ca = pki.CreateCa("registry-ca", "signet test registry CA");
    server = pki.IssueLoopbackServer(ca, "registry");
    LeafSpec spec;
    spec.common_name = "signet test token signer";
    spec.server_auth = false;
    token_signer = pki.IssueLeaf(ca, "token-signer", spec);
    const CommandResult h = RunCommand({"htpasswd", "-Bbn", username, password});
    if (h.exit_code != 0) throw std::runtime_error("htpasswd failed: " + h.err);
    htpasswd_file = dir.File("htpasswd");
    WriteFile(htpasswd_file, h.out, 0600);
  }
};

}  // namespace

RegistryServer::RegistryServer(ConstructionKey, Mode mode, const Options& options)
    : mode_(mode), options_(options) {}

RegistryServer::~RegistryServer() {
  registry_.Stop(SIGKILL, std::chrono::milliseconds(0));
  token_server_.Stop(SIGKILL, std::chrono::milliseconds(0));
}

std::unique_ptr<RegistryServer> RegistryServer::Start(Mode mode, const Options& options) {
  auto server = std::make_unique<RegistryServer>(ConstructionKey(), mode, options);
  server->Configure();
  // The token server (slow to import its crypto module) starts while the
  // registry does.
  if (mode == Mode::kTokenAuth) server->StartTokenServer();
  server->Start();
  if (mode == Mode::kTokenAuth) server->WaitForTokenServer();
  return server;
}

std::string RegistryServer::ModeName(Mode mode) {
  switch (mode) {
    case Mode::kPlainHttp:
      return "PlainHttp";
    case Mode::kTlsBasicAuth:
      return "TlsBasicAuth";
    case Mode::kTokenAuth:
      return "TokenAuth";
  }
  return "Unknown";
}

std::string RegistryServer::url() const {
  return std::string(tls() ? "https://" : "http://") + host_;
}

void RegistryServer::Configure() {
  port_ = FreePort();
  host_ = "127.0.0.1:" + std::to_string(port_);
  storage_dir_ = dir_.File("storage");
  config_file_ = dir_.File("config.yml");
  log_file_ = dir_.File("registry.log");
  std::filesystem::create_directories(storage_dir_);

  std::ostringstream y;
  y << "version: 0.1\n"
       "log:\n"
       "  level: info\n"
       "  formatter: text\n"
       "  accesslog:\n"
       "    disabled: false\n"
       "storage:\n"
       "  filesystem:\n"
       "    rootdirectory: "
    << Quote(storage_dir_)
    << "\n"
       "  delete:\n"
       "    enabled: true\n"
       "  maintenance:\n"
       "    uploadpurging:\n"
       "      enabled: false\n"
       "http:\n"
       "  addr: "
    << host_ << "\n  secret: " << RandomHex(16) << "\n";

  if (mode_ != Mode::kPlainHttp) {
    const SharedSecrets& secrets = SharedSecrets::Get();
    ca_file_ = secrets.ca.cert_file;
    cert_file_ = secrets.server.cert_file;
    key_file_ = secrets.server.key_file;
    token_signer_ = secrets.token_signer;
    username_ = secrets.username;
    password_ = secrets.password;
    y << "  tls:\n"
         "    certificate: "
      << Quote(cert_file_) << "\n    key: " << Quote(key_file_) << "\n";
  }

  if (mode_ == Mode::kTlsBasicAuth) {
    const std::string htpasswd = SharedSecrets::Get().htpasswd_file;
    y << "auth:\n"
         "  htpasswd:\n"
         "    realm: signet-test-registry\n"
         "    path: "
      << Quote(htpasswd) << "\n";
  } else if (mode_ == Mode::kTokenAuth) {
    const int token_port = FreePort();
    // The token server serves HTTPS on the registry's own host (with the
    // registry's certificate), as a deployment would: signet sends a
    // registry's credentials to a token realm only over HTTPS, on the
    // registry's host or on a realm host listed for it.
    token_realm_ = "https://127.0.0.1:" + std::to_string(token_port) + "/token";
    y << "auth:\n"
         "  token:\n"
         "    realm: "
      << Quote(token_realm_) << "\n    service: " << kTokenService
      << "\n    issuer: " << kTokenIssuer << "\n    rootcertbundle: " << Quote(ca_file_) << "\n";
  }
  WriteFile(config_file_, y.str());
}

void RegistryServer::StartTokenServer() {
  token_log_file_ = dir_.File("token-server.log");
  const std::string port = token_realm_.substr(
      token_realm_.rfind(':') + 1, token_realm_.rfind('/') - token_realm_.rfind(':') - 1);
  std::vector<std::string> argv = {PythonInterpreter(),
                                   TokenServerScript(),
                                   "--port",
                                   port,
                                   "--key",
                                   token_signer_.key_file,
                                   "--cert",
                                   token_signer_.cert_file,
                                   "--issuer",
                                   kTokenIssuer,
                                   "--service",
                                   kTokenService,
                                   "--username",
                                   username_,
                                   "--password",
                                   password_,
                                   "--expires-in",
                                   std::to_string(options_.token_expires_in_seconds),
                                   "--tls-cert",
                                   cert_file_,
                                   "--tls-key",
                                   key_file_};
  if (options_.token_anonymous_pull) argv.push_back("--anonymous-pull");
  token_server_ = ChildProcess(argv, {"PYTHONUNBUFFERED=1"}, token_log_file_);
}

void RegistryServer::WaitForTokenServer() {
  const std::string port = token_realm_.substr(
      token_realm_.rfind(':') + 1, token_realm_.rfind('/') - token_realm_.rfind(':') - 1);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!WaitForPort(std::stoi(port), std::chrono::milliseconds(50))) {
    if (!token_server_.Running() || std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("token server did not start on port " + port + ":\n" +
                               LogTail(token_log_file_));
    }
  }
}

void RegistryServer::Start() {
  if (registry_.Running()) return;
  registry_ = ChildProcess({"docker-registry", "serve", config_file_}, {}, log_file_);
  WaitUntilServing(registry_, url() + "/v2/", log_file_, "docker-registry");
}

void RegistryServer::Stop() { registry_.Stop(SIGTERM, std::chrono::seconds(5)); }

void RegistryServer::Restart() {
  Stop();
  Start();
}

bool RegistryServer::running() { return registry_.Running(); }

void RegistryServer::WaitUntilServing(ChildProcess& child, const std::string& url,
                                      const std::string& log_file, const std::string& what) {
  std::vector<std::string> probe = {
      "curl",          "-s",         "-o", "/dev/null", "-w", "%{http_code}", "-A",
      kProbeUserAgent, "--max-time", "2"};
  if (!ca_file_.empty()) {
    probe.push_back("--cacert");
    probe.push_back(ca_file_);
  }
  probe.push_back(url);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  // Cheap connect polling first; one HTTP probe once the port is open.
  while (!WaitForPort(port_, std::chrono::milliseconds(10))) {
    if (!child.Running()) {
      throw std::runtime_error(what + " exited during startup:\n" + LogTail(log_file));
    }
    if (std::chrono::steady_clock::now() > deadline) break;
  }
  std::string last;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!child.Running()) {
      throw std::runtime_error(what + " exited during startup:\n" + LogTail(log_file));
    }
    const CommandResult r = RunCommand(probe, {}, "", std::chrono::seconds(5));
    last = r.out;
    if (last == "200" || last == "401") return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error(what + " did not answer " + url + " (last status '" + last + "'):\n" +
                           LogTail(log_file));
}

std::string RegistryServer::LogTail(const std::string& path) const {
  const std::string text = ReadFile(path);
  return text.size() <= 4000 ? text : text.substr(text.size() - 4000);
}

std::string RegistryServer::BlobPath(const std::string& digest) const {
  const std::string hex = digest.rfind("sha256:", 0) == 0 ? digest.substr(7) : digest;
  return storage_dir_ + "/docker/registry/v2/blobs/sha256/" + hex.substr(0, 2) + "/" + hex +
         "/data";
}

std::string RegistryServer::log() const { return ReadFile(log_file_); }

int RegistryServer::CountRequests(const std::string& method,
                                  const std::string& path_substring) const {
  // Combined format: 127.0.0.1 - - [date] "GET /v2/ HTTP/1.1" 200 2 "" "agent"
  std::istringstream in(log());
  std::string line;
  int count = 0;
  while (std::getline(in, line)) {
    const auto start = line.find("] \"");
    if (start == std::string::npos || line.rfind("time=", 0) == 0) continue;
    if (line.find(std::string("\"") + kProbeUserAgent + "\"") != std::string::npos) continue;
    const auto method_begin = start + 3;
    const auto method_end = line.find(' ', method_begin);
    if (method_end == std::string::npos) continue;
    const auto uri_end = line.find(' ', method_end + 1);
    if (uri_end == std::string::npos) continue;
    const std::string m = line.substr(method_begin, method_end - method_begin);
    const std::string uri = line.substr(method_end + 1, uri_end - method_end - 1);
    if (m == method && uri.find(path_substring) != std::string::npos) ++count;
  }
  return count;
}

int RegistryServer::token_requests() const {
  std::istringstream in(token_server_log());
  std::string line;
  int count = 0;
  while (std::getline(in, line)) {
    if (line.rfind("token-request ", 0) == 0) ++count;
  }
  return count;
}

std::string RegistryServer::token_server_log() const {
  return token_log_file_.empty() ? "" : ReadFile(token_log_file_);
}

}  // namespace signet::testing

// RegistryServer: a real Debian docker-registry (distribution 2.8) on
// 127.0.0.1 for integration tests, in one of three configurations:
//
//   kPlainHttp    - http://, anonymous push and pull.
//   kTlsBasicAuth - https:// with a certificate from a fresh test CA
//                   (ca_file()), htpasswd Basic auth (username()/password()).
//   kTokenAuth    - https:// as above, Bearer token auth: the registry trusts
//                   tokens from tests/support/token_server.py, which runs
//                   beside it over HTTPS on the same host and certificate
//                   (realm token_realm(), https://127.0.0.1:<other port>)
//                   and checks username()/password() with Basic auth.
//
// Contract: Start() returns only once GET /v2/ answers (200, or 401 in the
// auth modes) and throws std::runtime_error, with the tail of the registry's
// log, when that does not happen. Everything lives in a private temp dir that
// the destructor removes after killing every child process, so a failing test
// cleans up too. Stop() takes the registry down (the port then refuses
// connections); Start()/Restart() bring it back on the same port with the
// same storage, configuration and credentials. The token server keeps running
// across Stop()/Start(). All fixtures in one process share one CA, server
// certificate and username/password (made once, for speed); tests that need
// other certificates make them with TestPki. Not thread-safe: drive one instance from one thread
// (the registry itself serves any number of concurrent clients).
#pragma once

#include <memory>
#include <string>

#include "support/paths.h"
#include "support/pki.h"
#include "support/process.h"

namespace signet::testing {

class RegistryServer {
 public:
  enum class Mode { kPlainHttp, kTlsBasicAuth, kTokenAuth };

  struct Options {
    // Lifetime of issued tokens (kTokenAuth): "expires_in" and exp - iat.
    // Short values test a client's token refresh (count token_requests()).
    // Note that distribution accepts a token up to 60 s past its exp
    // (clock-skew leeway), so the registry itself rejects it only later.
    int token_expires_in_seconds = 300;
    // kTokenAuth: anonymous token requests get a pull-only token instead of
    // a 401.
    bool token_anonymous_pull = false;
  };

  // "PlainHttp", "TlsBasicAuth", "TokenAuth" (e.g. for test names).
  static std::string ModeName(Mode mode);

  static std::unique_ptr<RegistryServer> Start(Mode mode) { return Start(mode, Options()); }
  static std::unique_ptr<RegistryServer> Start(Mode mode, const Options& options);
  ~RegistryServer();
  RegistryServer(const RegistryServer&) = delete;
  RegistryServer& operator=(const RegistryServer&) = delete;

  Mode mode() const { return mode_; }
  bool tls() const { return mode_ != Mode::kPlainHttp; }
  // "127.0.0.1:<port>": the registry part of image references.
  const std::string& host() const { return host_; }
  int port() const { return port_; }
  // "http://127.0.0.1:<port>" or "https://127.0.0.1:<port>".
  std::string url() const;
  // PEM CA that signed the registry's (and token server's) certificate; ""
  // in kPlainHttp.
  const std::string& ca_file() const { return ca_file_; }
  // Credentials accepted in the auth modes ("" in kPlainHttp).
  const std::string& username() const { return username_; }
  const std::string& password() const { return password_; }

  // Filesystem storage root. Blobs live at BlobPath(digest) =
  // <root>/docker/registry/v2/blobs/sha256/<first2>/<hex>/data.
  const std::string& storage_dir() const { return storage_dir_; }
  std::string BlobPath(const std::string& digest) const;

  // The registry's whole log (application log and access log, across
  // restarts).
  std::string log() const;
  // Access-log lines (Apache combined format) whose method equals `method`
  // and whose request URI contains `path_substring`. The fixture's own
  // readiness probes are not counted.
  int CountRequests(const std::string& method, const std::string& path_substring) const;

  // kTokenAuth: the realm URL and the number of token requests served so far
  // (granted or refused).
  const std::string& token_realm() const { return token_realm_; }
  int token_requests() const;
  std::string token_server_log() const;

  // Stops the registry (SIGTERM, then SIGKILL). Idempotent.
  void Stop();
  // Starts the registry again on the same port and storage; waits until it
  // answers. No-op when already running.
  void Start();
  void Restart();
  bool running();

 private:
  struct ConstructionKey {};  // only Start() can construct

 public:
  RegistryServer(ConstructionKey, Mode mode, const Options& options);

 private:
  void Configure();
  void StartTokenServer();
  void WaitForTokenServer();
  void WaitUntilServing(ChildProcess& child, const std::string& url, const std::string& log_file,
                        const std::string& what);
  std::string LogTail(const std::string& path) const;

  Mode mode_;
  Options options_;
  TempDir dir_;
  int port_ = 0;
  std::string host_;
  std::string ca_file_;
  std::string cert_file_;
  std::string key_file_;
  std::string username_;
  std::string password_;
  std::string storage_dir_;
  std::string config_file_;
  std::string log_file_;
  std::string token_realm_;
  std::string token_log_file_;
  CertFiles token_signer_;
  ChildProcess registry_;
  ChildProcess token_server_;
};

}  // namespace signet::testing

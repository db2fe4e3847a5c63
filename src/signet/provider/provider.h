// The whole External Data provider assembled from a Config: trusted keys,
// registry credentials and clients, the verification engine, the handlers,
// the health/readiness/metrics routes and the HTTPS server, and (unless
// server.healthAddress is "off") a plain-HTTP health listener serving only
// /healthz, /readyz and /metrics on its own port and with its own connection
// limits, so that probes and scrapes need no client certificate and still
// answer while the main port is flooded. The main port serves those three
// routes too.
//
// Create() loads everything that must be there before serving (keys, registry
// CA files, TLS files, policies) and fails with a reason otherwise; nothing listens until
// Start(). /readyz reports ready once the server is started, which implies
// keys, certificates and configuration loaded, and while at least one trusted
// key is still loaded; otherwise it answers 503 with the reason (a removed
// or broken key file).
//
// Thread-safety: Start/Shutdown/Wait follow server::HttpsServer; metrics()
// may be read from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "signet/policy/config.h"
#include "signet/provider/image_verifier.h"
#include "signet/result.h"
#include "signet/server/metrics.h"

namespace signet::provider {

struct ProviderOptions {
  // Replaces the registry-backed verifier (tests).
  std::shared_ptr<ImageVerifier> verifier;
};

class Provider {
 public:
  // From a Config checked already (policy::CheckConfig; signet serve checks
  // its own once, after its flags), which is not checked again.
  static Result<std::unique_ptr<Provider>> Create(const policy::ValidConfig& valid,
                                                  ProviderOptions options = {});
  ~Provider();
  Provider(const Provider&) = delete;
  Provider& operator=(const Provider&) = delete;

  Status Start();
  int port() const;
  // The health listener's bound port; 0 when it is off or not started.
  int health_port() const;
  // Drains the main server; the health listener stops in Wait(), after it.
  void Shutdown(std::chrono::milliseconds drain);
  void Wait();
  // Drains on SIGTERM/SIGINT; see server::HttpsServer::ShutdownOnSignals.
  void ShutdownOnSignals(std::chrono::milliseconds drain, std::function<void(int)> on_signal = {});

  server::MetricsRegistry& metrics();

 private:
  struct Parts;
  explicit Provider(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace signet::provider

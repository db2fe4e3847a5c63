// ReferrersRegistryServer: go-containerregistry's registry with the OCI 1.1
// referrers API enabled (tests/referrers_registry, ReferrersRegistryBinary())
// on 127.0.0.1, plain HTTP, anonymous push and pull, in-memory storage.
//
// Contract: Start() returns once the registry accepts connections (it
// listens before it serves, so requests then queue) and throws
// std::runtime_error (with the log) when the binary is missing or
// the registry does not come up. The destructor kills the process and removes
// its temp dir. Not thread-safe: drive one instance from one thread (the
// registry serves any number of concurrent clients).
#pragma once

#include <memory>
#include <string>

#include "support/paths.h"
#include "support/process.h"

namespace signet::testing {

class ReferrersRegistryServer {
 public:
  static std::unique_ptr<ReferrersRegistryServer> Start();
  ~ReferrersRegistryServer();
  ReferrersRegistryServer(const ReferrersRegistryServer&) = delete;
  ReferrersRegistryServer& operator=(const ReferrersRegistryServer&) = delete;

  // "127.0.0.1:<port>": the registry part of image references.
  const std::string& host() const { return host_; }
  // The registry's log (one line per request).
  std::string log() const { return ReadFile(log_file_); }

 private:
  ReferrersRegistryServer() = default;

  TempDir dir_;
  std::string host_;
  std::string log_file_;
  ChildProcess process_;
};

}  // namespace signet::testing

#include "support/referrers_registry_server.h"

#include <unistd.h>

#include <chrono>
#include <stdexcept>

namespace signet::testing {

std::unique_ptr<ReferrersRegistryServer> ReferrersRegistryServer::Start() {
  std::string binary = ReferrersRegistryBinary();
  if (access(binary.c_str(), X_OK) != 0) {
    throw std::runtime_error(binary +
                             " is missing: build the CMake target referrers_registry "
                             "(scripts/build-referrers-registry.sh)");
  }
  std::unique_ptr<ReferrersRegistryServer> server(new ReferrersRegistryServer());
  int port = FreePort();
  server->host_ = "127.0.0.1:" + std::to_string(port);
  server->log_file_ = server->dir_.File("registry.log");
  server->process_ = ChildProcess({binary, "-addr", server->host_}, {}, server->log_file_);
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!WaitForPort(port, std::chrono::milliseconds(20))) {
    if (!server->process_.Running() || std::chrono::steady_clock::now() > give_up) {
      throw std::runtime_error("the referrers registry did not start on " + server->host_ + ":\n" +
                               server->log());
    }
  }
  return server;
}

ReferrersRegistryServer::~ReferrersRegistryServer() { process_.Stop(); }

}  // namespace signet::testing

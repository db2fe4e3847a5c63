// RedisServer: a real Debian redis-server on 127.0.0.1, on a free port, with
// no persistence (no RDB snapshots, no append-only file) and its working
// directory in a private temp dir, for tests of the provider's shared
// verdict cache.
//
// Contract: Launch() and Start() return once the server answers PING (with the password
// when one is set) and throws std::runtime_error with the tail of its log
// otherwise. Stop() kills it (SIGKILL: the port then refuses connections, as
// when a Redis pod dies); Start() brings it back, empty, on the same port.
// Command() runs one command through redis-cli (the real client). The
// destructor kills the server. Not thread-safe: drive it from one thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "support/paths.h"
#include "support/process.h"

namespace signet::testing {

class RedisServer {
 public:
  // `password`: when not empty, clients must AUTH with it (requirepass).
  static std::unique_ptr<RedisServer> Launch(const std::string& password = "");
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  // "127.0.0.1:<port>", as cache.redis.address takes it.
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Runs `args` (e.g. {"SET", "k", "v"}) with redis-cli and returns its
  // standard output without the trailing newline; throws when redis-cli fails.
  std::string Command(const std::vector<std::string>& args) const;

  void Stop();
  void Start();
  bool running();

 private:
  struct ConstructionKey {};

 public:
  RedisServer(ConstructionKey, std::string password);

 private:
  TempDir dir_;
  std::string password_;
  int port_ = 0;
  std::string log_file_;
  ChildProcess server_;
};

}  // namespace signet::testing

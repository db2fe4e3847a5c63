#include "support/redis_server.h"

#include <signal.h>

#include <stdexcept>
#include <thread>

namespace signet::testing {

std::unique_ptr<RedisServer> RedisServer::Launch(const std::string& password) {
  auto server = std::make_unique<RedisServer>(ConstructionKey{}, password);
  server->Start();
  return server;
}

RedisServer::RedisServer(ConstructionKey, std::string password)
    : password_(std::move(password)), port_(FreePort()), log_file_(dir_.File("redis.log")) {}

RedisServer::~RedisServer() { Stop(); }

bool RedisServer::running() { return server_.Running(); }

void RedisServer::Start() {
  if (server_.Running()) return;
  std::vector<std::string> argv = {"redis-server",
                                   "--bind",
                                   "127.0.0.1",
                                   "--port",
                                   std::to_string(port_),
                                   "--save",
                                   "",
                                   "--appendonly",
                                   "no",
                                   "--dir",
                                   dir_.path(),
                                   "--daemonize",
                                   "no",
                                   "--loglevel",
                                   "notice"};
  if (!password_.empty()) argv.insert(argv.end(), {"--requirepass", password_});
  server_ = ChildProcess(argv, {}, log_file_);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::string last;
  while (std::chrono::steady_clock::now() < give_up) {
    if (!server_.Running()) break;
    if (WaitForPort(port_, std::chrono::milliseconds(50))) {
      try {
        last = Command({"PING"});
        if (last == "PONG") return;
      } catch (const std::exception& e) {
        last = e.what();
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("redis-server did not answer PING on port " + std::to_string(port_) +
                           " (last: " + last + "):\n" + ReadFile(log_file_));
}

void RedisServer::Stop() { server_.Stop(SIGKILL, std::chrono::seconds(5)); }

std::string RedisServer::Command(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {"redis-cli", "-h", "127.0.0.1", "-p", std::to_string(port_)};
  std::vector<std::string> env;
  // REDISCLI_AUTH keeps the password off the command line.
  if (!password_.empty()) env.push_back("REDISCLI_AUTH=" + password_);
  argv.insert(argv.end(), args.begin(), args.end());
  const CommandResult result = RunCommand(argv, env, "", std::chrono::seconds(20));
  if (result.exit_code != 0) {
    throw std::runtime_error("redis-cli failed (" + std::to_string(result.exit_code) +
                             "): " + result.err);
  }
  std::string out = result.out;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

}  // namespace signet::testing

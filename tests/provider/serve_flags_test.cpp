// `signet serve`'s flags override the YAML file into one Config, which one
// function (ValidateConfig) checks: a flag and its key refuse the same bad
// value with the same message, the flag or the file's line in front.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "signet/policy/config.h"
#include "support/paths.h"
#include "support/process.h"
#include "support/redis_server.h"

namespace signet::policy {
namespace {

using signet::testing::ReadFile;
using signet::testing::RunCommand;
using signet::testing::TempDir;
using signet::testing::WriteFile;

std::string KeyFile() {
  return signet::testing::TestDataDir() + "/cosign/containers-image-fixtures-cosign.pub";
}

// `signet serve` on a free loopback port with `args` after the usual ones.
std::vector<std::string> ServeArgv(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {signet::testing::SignetBinary(),
                                   "serve",
                                   "--insecure-http",
                                   "--address",
                                   "127.0.0.1",
                                   "--health-addr",
                                   "127.0.0.1:0",
                                   "--key",
                                   KeyFile()};
  if (std::find(args.begin(), args.end(), "--port") == args.end()) {
    argv.insert(argv.end(), {"--port", "0"});
  }
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// The error message after "Error: <location>: ", where the location is the
// flag or "file:line".
std::string ErrorAfter(const std::string& err, const std::string& location) {
  const std::string prefix = "Error: " + location + ": ";
  EXPECT_EQ(err.rfind(prefix, 0), 0u) << err;
  if (err.rfind(prefix, 0) != 0) return "";
  std::string rest = err.substr(prefix.size());
  while (!rest.empty() && rest.back() == '\n') rest.pop_back();
  return rest;
}

struct Case {
  std::string flag;
  std::string section;  // YAML section of the key
  std::string key;      // its key in that section
  std::string bad;      // a value refused
  std::string message;  // ...with this message (after the location)
};

TEST(ServeFlagsTest, FlagAndKeyRefuseTheSameValueWithTheSameMessage) {
  TempDir dir;
  const std::vector<Case> cases = {
      {"--workers", "verification", "workers", "0",
       "verification.workers: must be between 1 and 1024"},
      {"--workers", "verification", "workers", "1025",
       "verification.workers: must be between 1 and 1024"},
      {"--max-keys", "server", "maxKeys", "0", "server.maxKeys: must be between 1 and 1000000"},
      {"--max-body-bytes", "server", "maxBodyBytes", "0",
       "server.maxBodyBytes: must be between 1 and 4294967296"},
      {"--max-connections-per-peer", "server", "maxConnectionsPerPeer", "1000001",
       "server.maxConnectionsPerPeer: must be between 1 and 1000000"},
      {"--port", "server", "port", "70000", "server.port: must be between 0 and 65535"},
      {"--tls-min-version", "server", "tlsMinVersion", "1.1",
       "server.tlsMinVersion: must be \"1.2\" or \"1.3\""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.flag + " " + c.bad);
    const auto by_flag = RunCommand(ServeArgv({c.flag, c.bad}), {}, "", std::chrono::seconds(20));
    EXPECT_EQ(by_flag.exit_code, 1) << by_flag.err;
    EXPECT_EQ(ErrorAfter(by_flag.err, c.flag), c.message);

    const std::string file = dir.File("bad.yaml");
    WriteFile(file, c.section + ":\n  " + c.key + ": \"" + c.bad + "\"\n");
    const auto by_key = RunCommand(ServeArgv({"--config", file}), {}, "", std::chrono::seconds(20));
    EXPECT_EQ(by_key.exit_code, 1) << by_key.err;
    EXPECT_EQ(ErrorAfter(by_key.err, file + ":2"), c.message);

    // The same check, on a Config built in code.
    auto config = ParseConfig("", "empty.yaml");
    ASSERT_TRUE(config.ok());
    config->keys = {{"default", KeyFile()}};
    if (c.key == "workers") config->verification.workers = std::stoi(c.bad);
    if (c.key == "maxKeys") config->server.max_keys = std::stoull(c.bad);
    if (c.key == "maxBodyBytes") config->server.max_body_bytes = std::stoull(c.bad);
    if (c.key == "maxConnectionsPerPeer")
      config->server.max_connections_per_peer = std::stoull(c.bad);
    if (c.key == "port") config->server.port = std::stoi(c.bad);
    if (c.key == "tlsMinVersion") config->server.tls_min_version = c.bad;
    const Status status = ValidateConfig(*config);
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error().message(), c.message);
  }
}

// Control: the largest value of each range is accepted from the flag and the
// file alike, and the server starts with it.
TEST(ServeFlagsTest, FlagAndKeyAcceptTheLimitsOfTheRange) {
  TempDir dir;
  const auto started = [&](const std::vector<std::string>& args, const std::string& log) {
    signet::testing::ChildProcess serve(ServeArgv(args), {}, log);
    for (int i = 0; i < 200 && ReadFile(log).find("provider_started") == std::string::npos; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return ReadFile(log);
  };
  const std::string by_flag =
      started({"--workers", "1024", "--max-keys", "1000000", "--tls-min-version", "1.2"},
              dir.File("flag.log"));
  EXPECT_NE(by_flag.find("\"workers\":1024"), std::string::npos) << by_flag;
  EXPECT_NE(by_flag.find("\"tls_min_version\":\"1.2\""), std::string::npos) << by_flag;

  WriteFile(dir.File("good.yaml"),
            "server:\n  maxKeys: 1000000\n  tlsMinVersion: \"1.2\"\nverification:\n  workers: "
            "1024\n");
  const std::string by_key = started({"--config", dir.File("good.yaml")}, dir.File("key.log"));
  EXPECT_NE(by_key.find("\"workers\":1024"), std::string::npos) << by_key;
  EXPECT_NE(by_key.find("\"tls_min_version\":\"1.2\""), std::string::npos) << by_key;
}

// cache.redis.hmacKeyFile in the file and the address by --redis-address (the
// flag of cache.redis.address): the check that the key comes with an address
// runs on the file with the flags applied, so serve starts with that Redis.
// Negative control: the same file without the flag is refused, the file's
// name in front of the reason; a bad address by flag is refused with the flag
// in front.
TEST(ServeFlagsTest, RedisAddressByFlagMeetsTheHmacKeyInTheFile) {
  TempDir dir;
  auto redis = signet::testing::RedisServer::Launch();
  WriteFile(dir.File("hmac.key"), "serve-flags-test-hmac-key-0123456789abcdef\n", 0600);
  const std::string file = dir.File("shared-cache.yaml");
  WriteFile(file, "cache:\n  redis:\n    hmacKeyFile: \"" + dir.File("hmac.key") + "\"\n");

  const auto refused = RunCommand(ServeArgv({"--config", file}), {}, "", std::chrono::seconds(20));
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  EXPECT_EQ(ErrorAfter(refused.err, file),
            "cache.redis.address: needed with hmacKeyFile or hmacKeyEnv");

  const auto bad_address = RunCommand(ServeArgv({"--config", file, "--redis-address", "redis"}), {},
                                      "", std::chrono::seconds(20));
  EXPECT_EQ(bad_address.exit_code, 1) << bad_address.err;
  EXPECT_EQ(ErrorAfter(bad_address.err, "--redis-address"),
            "cache.redis.address: \"redis\": no port (expected host:port or [v6]:port)");

  const std::string log = dir.File("serve.log");
  signet::testing::ChildProcess serve(
      ServeArgv({"--config", file, "--redis-address", redis->address()}), {}, log);
  for (int i = 0; i < 200 && ReadFile(log).find("provider_started") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(ReadFile(log).find("\"shared_cache\":\"" + redis->address() + "\""), std::string::npos)
      << ReadFile(log);
  EXPECT_TRUE(serve.Running()) << ReadFile(log);
}

// The configuration is checked once, as serve will run with it: the file
// with the flags applied. A file whose keys are wrong is refused, its name in
// front; --key replaces those keys before the check, and serve starts.
TEST(ServeFlagsTest, TheFileIsCheckedOnceWithTheFlagsApplied) {
  TempDir dir;
  const std::string file = dir.File("duplicate-keys.yaml");
  WriteFile(file, "keys:\n  - {name: a, path: \"" + KeyFile() + "\"}\n  - {name: a, path: \"" +
                      KeyFile() + "\"}\n");
  std::vector<std::string> without_key = ServeArgv({"--config", file});
  const auto key_flag = std::find(without_key.begin(), without_key.end(), "--key");
  ASSERT_NE(key_flag, without_key.end());
  without_key.erase(key_flag, key_flag + 2);
  const auto refused = RunCommand(without_key, {}, "", std::chrono::seconds(20));
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  EXPECT_EQ(ErrorAfter(refused.err, file), "keys: duplicate key name \"a\"");

  const std::string log = dir.File("serve.log");
  signet::testing::ChildProcess serve(ServeArgv({"--config", file}), {}, log);
  for (int i = 0; i < 200 && ReadFile(log).find("provider_started") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(ReadFile(log).find("provider_started"), std::string::npos) << ReadFile(log);
  EXPECT_TRUE(serve.Running()) << ReadFile(log);
}

}  // namespace
}  // namespace signet::policy

#include "signet/oci/keychain.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "signet/bounded_json.h"
#include "signet/crypto/encoding.h"

extern char** environ;

namespace signet::oci {
namespace {

constexpr std::size_t kMaxConfigBytes = 4 * 1024 * 1024;
constexpr std::size_t kMaxHelperOutputBytes = 64 * 1024;
constexpr std::string_view kDockerHub = "index.docker.io";
// What Docker and its credential helpers call Docker Hub.
constexpr std::string_view kDockerHubServerUrl = "https://index.docker.io/v1/";

// "https://host/v1/", "http://host", "host/path" and Docker Hub aliases all
// become the bare lowercase "host[:port]" that Repository uses.
std::string NormaliseRegistry(std::string_view key) {
  if (std::size_t scheme = key.find("://"); scheme != std::string_view::npos) {
    key = key.substr(scheme + 3);
  }
  key = key.substr(0, key.find('/'));
  std::string host(key);
  for (char& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (host == "docker.io" || host == "index.docker.io" || host == "registry-1.docker.io" ||
      host == "registry.hub.docker.com") {
    return std::string(kDockerHub);
  }
  return host;
}

class AnonymousKeychainImpl : public Keychain {
 public:
  Result<Credentials> Resolve(const std::string&) const override { return Credentials{}; }
};

class StaticKeychainImpl : public Keychain {
 public:
  StaticKeychainImpl(std::string registry, Credentials credentials)
      : registry_(registry.empty() ? "" : NormaliseRegistry(registry)),
        credentials_(std::move(credentials)) {}

  Result<Credentials> Resolve(const std::string& registry) const override {
    if (registry_.empty() || registry_ == NormaliseRegistry(registry)) return credentials_;
    return Credentials{};
  }

 private:
  std::string registry_;
  Credentials credentials_;
};

class ChainKeychainImpl : public Keychain {
 public:
  explicit ChainKeychainImpl(std::vector<std::shared_ptr<Keychain>> keychains)
      : keychains_(std::move(keychains)) {}

  Result<Credentials> Resolve(const std::string& registry) const override {
    for (const auto& keychain : keychains_) {
      if (!keychain) continue;
      auto creds = keychain->Resolve(registry);
      if (!creds.ok() || !creds->anonymous()) return creds;
    }
    return Credentials{};
  }

 private:
  std::vector<std::shared_ptr<Keychain>> keychains_;
};

// Closes a file descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Close(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

struct HelperOutput {
  int exit_code = -1;
  std::string stdout_text;
};

// Writes `input` to a pipe without letting a closed reader raise SIGPIPE.
void WriteIgnoringSigpipe(int fd, const std::string& input) {
  sigset_t pipe_set, old_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
  std::size_t written = 0;
  while (written < input.size()) {
    ssize_t n = ::write(fd, input.data() + written, input.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    written += static_cast<std::size_t>(n);
  }
  timespec zero{0, 0};
  while (sigtimedwait(&pipe_set, nullptr, &zero) > 0) {
  }
  pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
}

// Runs `program get` (found on PATH) with `input` on stdin; captures stdout.
Result<HelperOutput> RunHelper(const std::string& program, const std::string& input) {
  int in_pipe[2];
  int out_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0)
    return Error(ErrorCode::kIo, "pipe: " + std::string(strerror(errno)));
  Fd in_read(in_pipe[0]), in_write(in_pipe[1]);
  if (pipe2(out_pipe, O_CLOEXEC) != 0)
    return Error(ErrorCode::kIo, "pipe: " + std::string(strerror(errno)));
  Fd out_read(out_pipe[0]), out_write(out_pipe[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_read.get(), 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  std::string verb = "get";
  std::vector<char*> argv{const_cast<char*>(program.c_str()), verb.data(), nullptr};
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return Error(ErrorCode::kNotFound,
                 "cannot run credential helper " + program + ": " + std::string(strerror(rc)));
  }
  in_read.Close();
  out_write.Close();
  WriteIgnoringSigpipe(in_write.get(), input);
  in_write.Close();

  HelperOutput output;
  char buffer[4096];
  bool too_large = false;
  while (true) {
    ssize_t n = ::read(out_read.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (output.stdout_text.size() + static_cast<std::size_t>(n) > kMaxHelperOutputBytes) {
      too_large = true;
      break;
    }
    output.stdout_text.append(buffer, static_cast<std::size_t>(n));
  }
  out_read.Close();
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (too_large) {
    return Error(ErrorCode::kTooLarge, "credential helper " + program + " wrote too much output");
  }
  output.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  return output;
}

bool IsValidHelperName(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

// Asks docker-credential-<helper> for `registry`. Anonymous when the helper
// has no entry ("credentials not found").
Result<Credentials> AskHelper(const std::string& helper, const std::string& registry) {
  if (!IsValidHelperName(helper)) {
    return Error(ErrorCode::kInvalidArgument, "invalid credential helper name \"" + helper + "\"");
  }
  std::string program = "docker-credential-" + helper;
  std::string server = registry == kDockerHub ? std::string(kDockerHubServerUrl) : registry;
  auto output = RunHelper(program, server);
  if (!output.ok()) return output.error();
  if (output->exit_code != 0) {
    if (output->stdout_text.find("credentials not found") != std::string::npos) {
      return Credentials{};
    }
    // Helpers print a one-line reason; it names no secret.
    std::string reason = output->stdout_text.substr(0, output->stdout_text.find('\n'));
    return Error(ErrorCode::kAuth, program + " get failed for " + registry + " (exit " +
                                       std::to_string(output->exit_code) +
                                       "): " + reason.substr(0, 200));
  }
  Credentials creds;
  try {
    auto parsed = ParseBoundedJson(output->stdout_text, program + " get");
    if (!parsed.ok()) return parsed.error();
    auto& doc = *parsed;
    if (!doc.is_object() || !doc.contains("Username") || !doc["Username"].is_string() ||
        !doc.contains("Secret") || !doc["Secret"].is_string()) {
      return Error(ErrorCode::kParse,
                   program + " get: output lacks string Username and Secret fields");
    }
    std::string username = doc["Username"].get<std::string>();
    std::string secret = doc["Secret"].get<std::string>();
    if (username == "<token>") {
      creds.identity_token = secret;
    } else {
      creds.username = username;
      creds.password = secret;
    }
  } catch (const nlohmann::json::exception&) {
    return Error(ErrorCode::kParse, program + " get: output is not JSON");
  }
  return creds;
}

// One "auths" entry of a docker config.json or containers auth.json.
Result<Credentials> ParseAuthEntry(const nlohmann::json& entry, const std::string& where) {
  Credentials creds;
  if (!entry.is_object()) return Error(ErrorCode::kParse, where + ": entry is not an object");
  auto string_field = [&](const char* key) -> std::string {
    auto it = entry.find(key);
    return it != entry.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::string auth = string_field("auth");
  if (!auth.empty()) {
    auto decoded = crypto::Base64Decode(auth);
    if (!decoded.ok()) return Error(ErrorCode::kParse, where + ": \"auth\" is not valid base64");
    std::size_t colon = decoded->find(':');
    if (colon == std::string::npos) {
      return Error(ErrorCode::kParse, where + ": \"auth\" does not decode to user:password");
    }
    creds.username = decoded->substr(0, colon);
    creds.password = decoded->substr(colon + 1);
  } else {
    creds.username = string_field("username");
    creds.password = string_field("password");
  }
  creds.identity_token = string_field("identitytoken");
  return creds;
}

// The whole of `path`, read without ever holding more than kMaxConfigBytes + 1
// bytes: a config file may be anything a Secret or a user put there (a huge
// file, /dev/zero behind a symlink).
Result<std::string> ReadBounded(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(ErrorCode::kIo, "cannot read " + path);
  std::string text;
  char buffer[8192];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    text.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxConfigBytes) {
      return Error(ErrorCode::kTooLarge,
                   path + " is larger than " + std::to_string(kMaxConfigBytes) + " bytes");
    }
  }
  if (in.bad()) return Error(ErrorCode::kIo, "cannot read " + path);
  return text;
}

class DockerConfigKeychainImpl : public Keychain {
 public:
  explicit DockerConfigKeychainImpl(std::string path) : path_(std::move(path)) {}
  const std::string& path() const { return path_; }

  Result<Credentials> Resolve(const std::string& registry) const override {
    std::string wanted = NormaliseRegistry(registry);
    struct stat info;
    if (::stat(path_.c_str(), &info) != 0 && errno == ENOENT) {
      return Credentials{};  // no config: nothing known
    }
    auto text = ReadBounded(path_);
    if (!text.ok()) return text.error();
    auto parsed = ParseBoundedJson(*text, path_);
    if (!parsed.ok()) return parsed.error();
    nlohmann::json& doc = *parsed;
    if (!doc.is_object()) return Error(ErrorCode::kParse, path_ + " is not a JSON object");

    if (auto helpers = doc.find("credHelpers"); helpers != doc.end() && helpers->is_object()) {
      for (const auto& [key, helper] : helpers->items()) {
        if (NormaliseRegistry(key) == wanted && helper.is_string()) {
          auto creds = AskHelper(helper.get<std::string>(), wanted);
          if (!creds.ok()) return creds.error().WithContext(path_ + " credHelpers");
          if (!creds->anonymous()) return creds;
        }
      }
    }
    if (auto store = doc.find("credsStore");
        store != doc.end() && store->is_string() && !store->get<std::string>().empty()) {
      auto creds = AskHelper(store->get<std::string>(), wanted);
      if (!creds.ok()) return creds.error().WithContext(path_ + " credsStore");
      if (!creds->anonymous()) return creds;
    }
    if (auto auths = doc.find("auths"); auths != doc.end()) {
      if (!auths->is_object())
        return Error(ErrorCode::kParse, path_ + ": \"auths\" is not an object");
      for (const auto& [key, entry] : auths->items()) {
        if (NormaliseRegistry(key) != wanted) continue;
        auto creds = ParseAuthEntry(entry, path_ + " auths[\"" + key + "\"]");
        if (!creds.ok()) return creds.error();
        if (!creds->anonymous()) return creds;
      }
    }
    return Credentials{};
  }

 private:
  std::string path_;
};

// A docker config directory: config.json when it exists, else
// .dockerconfigjson (a kubernetes.io/dockerconfigjson Secret mounted as a
// directory). The file is chosen on every Resolve, as Secret volumes change.
class DockerConfigDirKeychainImpl : public Keychain {
 public:
  explicit DockerConfigDirKeychainImpl(const std::string& dir)
      : config_json_(dir + "/config.json"), dockerconfigjson_(dir + "/.dockerconfigjson") {}

  Result<Credentials> Resolve(const std::string& registry) const override {
    struct stat info;
    // Anything but "does not exist" (a file, or one we may not read) selects
    // config.json, so a broken config.json fails instead of falling through.
    if (::stat(config_json_.path().c_str(), &info) == 0 || errno != ENOENT) {
      return config_json_.Resolve(registry);
    }
    return dockerconfigjson_.Resolve(registry);
  }

 private:
  DockerConfigKeychainImpl config_json_;
  DockerConfigKeychainImpl dockerconfigjson_;
};

std::string EnvOrEmpty(const char* name) {
  const char* value = std::getenv(name);
  return value ? std::string(value) : std::string();
}

}  // namespace

std::shared_ptr<Keychain> AnonymousKeychain() { return std::make_shared<AnonymousKeychainImpl>(); }

std::shared_ptr<Keychain> StaticKeychain(std::string registry, Credentials credentials) {
  return std::make_shared<StaticKeychainImpl>(std::move(registry), std::move(credentials));
}

std::shared_ptr<Keychain> DockerConfigKeychain(std::string path) {
  return std::make_shared<DockerConfigKeychainImpl>(std::move(path));
}

std::shared_ptr<Keychain> DockerConfigDirKeychain(const std::string& dir) {
  return std::make_shared<DockerConfigDirKeychainImpl>(dir);
}

std::shared_ptr<Keychain> ChainKeychain(std::vector<std::shared_ptr<Keychain>> keychains) {
  return std::make_shared<ChainKeychainImpl>(std::move(keychains));
}

std::shared_ptr<Keychain> DefaultKeychain(const ExplicitCredentials& explicit_credentials) {
  std::vector<std::shared_ptr<Keychain>> chain;
  if (!explicit_credentials.credentials.anonymous()) {
    for (const std::string& registry : explicit_credentials.registries) {
      if (registry.empty()) continue;  // "" would mean every host
      chain.push_back(StaticKeychain(registry, explicit_credentials.credentials));
    }
  }
  if (std::string auth_file = EnvOrEmpty("REGISTRY_AUTH_FILE"); !auth_file.empty()) {
    chain.push_back(DockerConfigKeychain(auth_file));
  }
  if (std::string dir = EnvOrEmpty("DOCKER_CONFIG"); !dir.empty()) {
    chain.push_back(DockerConfigDirKeychain(dir));
  } else if (std::string home = EnvOrEmpty("HOME"); !home.empty()) {
    chain.push_back(DockerConfigDirKeychain(home + "/.docker"));
  }
  return ChainKeychain(std::move(chain));
}

}  // namespace signet::oci

#include "signet/oci/docker_config_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include "signet/bounded_json.h"
#include "signet/crypto/encoding.h"
#include "signet/oci/host.h"

namespace signet::oci {
namespace {

// As DockerConfigKeychain reads.
constexpr std::size_t kMaxConfigBytes = 4 * 1024 * 1024;

std::string SystemError(const std::string& what) { return what + ": " + std::strerror(errno); }

// Closes a file descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// The existing config as a JSON object; an empty object when there is none.
Result<nlohmann::json> ReadConfig(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return nlohmann::json::object();
    return Error(ErrorCode::kIo, SystemError("cannot read " + path));
  }
  std::string text;
  char buffer[16384];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error(ErrorCode::kIo, SystemError("cannot read " + path));
    if (n == 0) break;
    if (text.size() + static_cast<std::size_t>(n) > kMaxConfigBytes) {
      return Error(ErrorCode::kTooLarge, path + " is larger than 4 MiB; not rewriting it");
    }
    text.append(buffer, static_cast<std::size_t>(n));
  }
  // docker treats an empty file as an empty config.
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return nlohmann::json::object();
  auto doc = ParseBoundedJson(text, path);
  if (!doc.ok()) return doc.error();
  if (!doc->is_object()) return Error(ErrorCode::kParse, path + " is not a JSON object");
  if (auto auths = doc->find("auths"); auths != doc->end() && !auths->is_object()) {
    return Error(ErrorCode::kParse, path + ": \"auths\" is not an object");
  }
  return doc;
}

// Creates `dir` and any missing parents with mode 0700.
Status MakeDirectories(const std::string& dir) {
  if (dir.empty()) return Status();
  struct stat info;
  if (::stat(dir.c_str(), &info) == 0) {
    if (!S_ISDIR(info.st_mode)) return Error(ErrorCode::kIo, dir + " is not a directory");
    return Status();
  }
  if (const auto slash = dir.find_last_of('/'); slash != std::string::npos && slash > 0) {
    if (auto parent = MakeDirectories(dir.substr(0, slash)); !parent.ok()) return parent;
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Error(ErrorCode::kIo, SystemError("cannot create " + dir));
  }
  return Status();
}

Status WriteAll(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error(ErrorCode::kIo, SystemError("cannot write " + path));
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return Status();
}

// Writes `bytes` to a new 0600 file beside `path` and renames it over `path`.
Status ReplaceFileAtomically(const std::string& path, const std::string& bytes) {
  const auto slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  std::string temp = (slash == std::string::npos ? std::string() : path.substr(0, slash + 1)) +
                     ".config.json.XXXXXX";
  // mkstemp creates the file with mode 0600.
  Fd fd(::mkstemp(temp.data()));
  if (fd.get() < 0) return Error(ErrorCode::kIo, SystemError("cannot create a file in " + dir));
  auto fail = [&](Status status) {
    ::unlink(temp.c_str());
    return status;
  };
  if (::fchmod(fd.get(), 0600) != 0) {
    return fail(Error(ErrorCode::kIo, SystemError("cannot set the mode of " + temp)));
  }
  if (auto written = WriteAll(fd.get(), bytes, temp); !written.ok()) return fail(written);
  if (::fsync(fd.get()) != 0)
    return fail(Error(ErrorCode::kIo, SystemError("cannot sync " + temp)));
  if (::close(fd.release()) != 0) {
    return fail(Error(ErrorCode::kIo, SystemError("cannot write " + temp)));
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    return fail(Error(ErrorCode::kIo, SystemError("cannot replace " + path)));
  }
  return Status();
}

}  // namespace

Result<std::string> DockerConfigAuthKey(std::string_view registry) {
  std::string_view host = registry;
  if (const auto scheme = host.find("://"); scheme != std::string_view::npos) {
    host = host.substr(scheme + 3);
  }
  host = host.substr(0, host.find('/'));
  if (host.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "registry \"" + std::string(registry) + "\" names no host");
  }
  for (const char c : host) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '@' || c == '\x7f') {
      return Error(ErrorCode::kInvalidArgument,
                   "registry \"" + std::string(registry) + "\" is not a host[:port]");
    }
  }
  auto canonical = CanonicalRegistry(host);
  if (!canonical.ok()) return canonical.error();
  if (*canonical == kDockerHubRegistry) return std::string(kDockerHubConfigKey);
  return AsciiLower(host);
}

Result<std::string> DefaultDockerConfigPath() {
  if (const char* dir = std::getenv("DOCKER_CONFIG"); dir != nullptr && *dir != '\0') {
    return std::string(dir) + "/config.json";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::string(home) + "/.docker/config.json";
  }
  return Error(ErrorCode::kInvalidArgument,
               "neither DOCKER_CONFIG nor HOME is set: no docker config to write");
}

Result<std::string> WriteDockerLogin(const std::string& path, const DockerLogin& login) {
  auto key = DockerConfigAuthKey(login.registry);
  if (!key.ok()) return key.error();
  if (login.username.empty()) return Error(ErrorCode::kInvalidArgument, "the username is empty");
  if (login.username.find(':') != std::string::npos) {
    return Error(ErrorCode::kInvalidArgument,
                 "the username contains ':', which the docker config's auth field cannot hold");
  }
  if (login.password.empty()) return Error(ErrorCode::kInvalidArgument, "the password is empty");

  // A symlinked config.json (dotfile managers) is updated where it points.
  std::string target = path;
  struct stat link_info;
  if (::lstat(path.c_str(), &link_info) == 0 && S_ISLNK(link_info.st_mode)) {
    char resolved[PATH_MAX];
    if (::realpath(path.c_str(), resolved) == nullptr) {
      return Error(ErrorCode::kIo, SystemError("cannot resolve the link " + path));
    }
    target = resolved;
  }
  auto doc = ReadConfig(target);
  if (!doc.ok()) return doc.error();
  const auto slash = target.find_last_of('/');
  if (slash != std::string::npos && slash > 0) {
    if (auto made = MakeDirectories(target.substr(0, slash)); !made.ok()) return made.error();
  }
  nlohmann::json entry = nlohmann::json::object();
  entry["auth"] = crypto::Base64Encode(login.username + ":" + login.password);
  if (!doc->contains("auths")) (*doc)["auths"] = nlohmann::json::object();
  (*doc)["auths"][*key] = std::move(entry);
  if (auto written = ReplaceFileAtomically(target, doc->dump(1, '\t') + "\n"); !written.ok()) {
    return written.error();
  }
  return *key;
}

}  // namespace signet::oci

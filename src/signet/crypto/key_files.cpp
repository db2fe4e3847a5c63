#include "signet/crypto/key_files.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "signet/crypto/encoding.h"

namespace signet::crypto {
namespace {

Error ErrnoError(const std::string& path, const std::string& what, int err) {
  const ErrorCode code = err == EACCES || err == EPERM ? ErrorCode::kPermissionDenied
                         : err == ENOENT               ? ErrorCode::kNotFound
                                                       : ErrorCode::kIo;
  return Error(code, path + ": " + what + ": " + std::strerror(err));
}

bool Exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

Error AlreadyExists(const std::string& path) {
  return Error(
      ErrorCode::kAlreadyExists,
      path + ": file already exists; refusing to overwrite it (use --force to replace it)");
}

// Writes all of `contents` to `fd`.
bool WriteAll(int fd, std::string_view contents) {
  while (!contents.empty()) {
    const ssize_t n = write(fd, contents.data(), contents.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    contents.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

Status WriteFileAtomically(const std::string& path, std::string_view contents, mode_t mode,
                           bool overwrite) {
  if (!overwrite && Exists(path)) return AlreadyExists(path);
  std::string random(8, '\0');
  randombytes_buf(random.data(), random.size());
  const std::string temp = path + ".tmp-" + HexEncode(random);
  const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoError(path, "cannot create file", errno);
  int err = 0;
  if (fchmod(fd, mode) != 0 || !WriteAll(fd, contents) || fsync(fd) != 0) err = errno;
  if (close(fd) != 0 && err == 0) err = errno;
  if (err != 0) {
    unlink(temp.c_str());
    return ErrnoError(path, "cannot write file", err);
  }
  if (overwrite) {
    if (rename(temp.c_str(), path.c_str()) != 0) {
      err = errno;
      unlink(temp.c_str());
      return ErrnoError(path, "cannot replace file", err);
    }
    return OkStatus();
  }
  // link() fails with EEXIST instead of replacing a file that appeared meanwhile.
  const int rc = link(temp.c_str(), path.c_str());
  err = errno;
  unlink(temp.c_str());
  if (rc != 0)
    return err == EEXIST ? AlreadyExists(path) : ErrnoError(path, "cannot create file", err);
  return OkStatus();
}

Result<KeyPairPaths> WriteKeyPairFiles(const KeyPairPem& pair, const std::string& prefix,
                                       bool force) {
  KeyPairPaths paths{prefix + ".key", prefix + ".pub"};
  if (!force) {
    for (const std::string& path : {paths.private_key, paths.public_key}) {
      if (Exists(path)) return AlreadyExists(path);
    }
  }
  if (auto status = WriteFileAtomically(paths.private_key, pair.private_pem, 0600, force);
      !status.ok()) {
    return status.error();
  }
  if (auto status = WriteFileAtomically(paths.public_key, pair.public_pem, 0644, force);
      !status.ok()) {
    return status.error();
  }
  return paths;
}

}  // namespace signet::crypto

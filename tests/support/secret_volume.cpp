#include "support/secret_volume.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "signet/crypto/encoding.h"
#include "support/process.h"

namespace signet::testing {
namespace {

void Check(int rc, const std::string& what) {
  if (rc != 0) throw std::runtime_error(what + ": " + std::strerror(errno));
}

}  // namespace

void ProjectSecretVolume(const std::string& dir, const std::map<std::string, std::string>& files,
                         int mode) {
  const std::string stamp = "..2026_12_01_10_00_00.123456789";
  Check(mkdir(dir.c_str(), 0755), "mkdir " + dir);
  Check(mkdir((dir + "/" + stamp).c_str(), 0755), "mkdir " + dir + "/" + stamp);
  for (const auto& [key, text] : files) {
    const std::string file = dir + "/" + stamp + "/" + key;
    WriteFile(file, text, mode);
    if (geteuid() == 0) Check(chown(file.c_str(), 0, 0), "chown " + file);
    Check(chmod(file.c_str(), static_cast<mode_t>(mode)), "chmod " + file);
    Check(symlink(("..data/" + key).c_str(), (dir + "/" + key).c_str()), "symlink " + key);
  }
  Check(symlink(stamp.c_str(), (dir + "/..data").c_str()), "symlink " + dir + "/..data");
}

std::string DockerRegistrySecretJson(const std::string& server, const std::string& user,
                                     const std::string& password) {
  return R"({"auths":{")" + server + R"(":{"username":")" + user + R"(","password":")" + password +
         R"(","auth":")" + crypto::Base64Encode(user + ":" + password) + R"("}}})";
}

}  // namespace signet::testing

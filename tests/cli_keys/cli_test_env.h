// Runs the built signet CLI for the cli_keys suite.
#pragma once

#include <sys/stat.h>

#include <string>
#include <vector>

#include "support/paths.h"
#include "support/process.h"

namespace signet::cli::test {

// Runs `signet args...` with COSIGN_PASSWORD set to `password`, or removed
// from the environment when `password` is nullptr (then `input` is stdin).
inline signet::testing::CommandResult Signet(const std::vector<std::string>& args,
                                             const char* password, const std::string& input = "") {
  std::vector<std::string> argv = {signet::testing::SignetBinary()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> env = {password ? std::string("COSIGN_PASSWORD=") + password
                                           : std::string("COSIGN_PASSWORD")};
  return signet::testing::RunCommand(argv, env, input);
}

inline int FileMode(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

inline bool FileExists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

}  // namespace signet::cli::test

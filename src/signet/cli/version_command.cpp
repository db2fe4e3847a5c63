// version: what this signet is and which libraries it runs against, as text
// or (--json) as one JSON object for scripts.
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <sodium.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "signet/cli/command.h"

#ifndef SIGNET_GIT_COMMIT
#define SIGNET_GIT_COMMIT ""
#endif
#ifndef SIGNET_BUILD_TYPE
#define SIGNET_BUILD_TYPE ""
#endif

namespace signet::cli {
namespace {

struct VersionFlags {
  bool json = false;
};

int RunVersion(const VersionFlags& flags) {
  const curl_version_info_data* curl = curl_version_info(CURLVERSION_NOW);
  const std::string commit = SIGNET_GIT_COMMIT;
  nlohmann::json info = {
      {"version", SIGNET_VERSION},
      {"gitCommit", commit.empty() ? nlohmann::json(nullptr) : nlohmann::json(commit)},
      {"buildType", SIGNET_BUILD_TYPE},
      {"openssl", OpenSSL_version(OPENSSL_VERSION)},
      {"libcurl", curl != nullptr && curl->version != nullptr ? curl->version : "unknown"},
      {"libsodium", sodium_version_string()},
  };
  if (flags.json) {
    std::cout << info.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << "signet " << SIGNET_VERSION << "\n"
            << "git commit:  " << (commit.empty() ? "unknown" : commit) << "\n"
            << "build type:  " << info["buildType"].get<std::string>() << "\n"
            << "OpenSSL:     " << info["openssl"].get<std::string>() << "\n"
            << "libcurl:     " << info["libcurl"].get<std::string>() << "\n"
            << "libsodium:   " << info["libsodium"].get<std::string>() << "\n";
  return kExitOk;
}

}  // namespace

void RegisterVersionCommand(CLI::App& app, Action& action) {
  auto flags = std::make_shared<VersionFlags>();
  CLI::App* version = app.add_subcommand(
      "version",
      "Print signet's version, git commit and build type, and the OpenSSL, libcurl and "
      "libsodium versions it runs against.\n"
      "The git commit is the one the build was configured from (absent when the source was "
      "not a git checkout); library versions are those loaded at run time.");
  version->add_flag("--json", flags->json,
                    "Print one JSON object: version, gitCommit (null when unknown), buildType, "
                    "openssl, libcurl, libsodium");
  version->callback([flags, &action] { action = [flags] { return RunVersion(*flags); }; });
}

}  // namespace signet::cli

// login: stores registry credentials in the Docker config, as `cosign login`
// and `docker login` do. The file handling lives in
// signet::oci::WriteDockerLogin; this file parses flags, reads the password
// and prints where the credentials went (never the password).
#include <openssl/crypto.h>

#include <iostream>
#include <iterator>
#include <memory>

#include "signet/cli/command.h"
#include "signet/oci/docker_config_writer.h"

namespace signet::cli {
namespace {

struct LoginFlags {
  std::string registry;
  std::string username;
  std::string password;
  bool password_stdin = false;
  CLI::Option* password_option = nullptr;
};

// All of stdin with one trailing newline ("\n" or "\r\n") removed, as
// `docker login --password-stdin` reads it.
std::string ReadPasswordFromStdin() {
  std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty() && text.back() == '\r') text.pop_back();
  return text;
}

int RunLogin(LoginFlags& flags) {
  oci::DockerLogin login{flags.registry, flags.username, {}};
  if (flags.password_stdin) {
    login.password = ReadPasswordFromStdin();
  } else if (flags.password_option->count() > 0) {
    login.password = flags.password;
    std::cerr << "WARNING: a password given with -p/--password is visible to other users of "
                 "this machine (process list, shell history); prefer --password-stdin.\n";
  } else {
    std::cerr << "Error: no password given: pass it on stdin with --password-stdin (or with "
                 "-p/--password)\n";
    return kExitUsage;
  }
  auto path = oci::DefaultDockerConfigPath();
  if (!path.ok()) return ReportError(path.error());
  auto key = oci::WriteDockerLogin(*path, login);
  OPENSSL_cleanse(login.password.data(), login.password.size());
  OPENSSL_cleanse(flags.password.data(), flags.password.size());
  if (!key.ok()) return ReportError(key.error());
  std::cerr << "Credentials for " << *key << " saved in " << *path << "\n";
  return kExitOk;
}

}  // namespace

void RegisterLoginCommand(CLI::App& app, Action& action) {
  auto flags = std::make_shared<LoginFlags>();
  CLI::App* login = app.add_subcommand(
      "login",
      "Store a registry's username and password in the Docker config, as cosign login does.\n"
      "Writes auths[REGISTRY].auth (base64 of user:password) into $DOCKER_CONFIG/config.json, "
      "or ~/.docker/config.json when DOCKER_CONFIG is unset, keeping every other entry of the "
      "file. The file is replaced atomically with mode 0600 (a new directory gets 0700). "
      "Docker Hub is stored under https://index.docker.io/v1/, as docker does; other registries "
      "under their lowercase host[:port]. The credentials are not checked against the registry; "
      "the next sign or verify uses them.");
  login->add_option("REGISTRY", flags->registry, "Registry host[:port] (docker.io for Docker Hub)")
      ->required();
  login->add_option("-u,--username", flags->username, "Registry username")->required();
  flags->password_option =
      login->add_option("-p,--password", flags->password,
                        "Registry password (visible in the process list; prefer "
                        "--password-stdin)");
  CLI::Option* from_stdin = login->add_flag("--password-stdin", flags->password_stdin,
                                            "Read the password from stdin (one trailing newline "
                                            "is removed)");
  flags->password_option->excludes(from_stdin);
  login->callback([flags, &action] { action = [flags] { return RunLogin(*flags); }; });
}

}  // namespace signet::cli

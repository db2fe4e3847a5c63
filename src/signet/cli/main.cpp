#include <openssl/crypto.h>

#include <iostream>

#include "signet/cli/command.h"

namespace signet::cli {

int ExitCodeFor(const Error& error) { return InfoOf(error.code()).exit_code; }

void KeepTopLevelHelpShort(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    const std::string full = sub->get_description();
    const auto cut = full.find_first_of(".\n");
    if (cut == std::string::npos || cut + 1 >= full.size()) continue;
    sub->description(full.substr(0, cut));
    sub->footer(full);
  }
}

void AddInsecureIgnoreTlogFlag(CLI::App& command, bool& ignore_tlog) {
  const CLI::Validator only_true(
      [](std::string& value) -> std::string {
        bool requested = true;
        // An unconvertible value is reported by CLI11's own conversion.
        if (!CLI::detail::lexical_cast(value, requested) || requested) return "";
        return "signet cannot verify a transparency log yet, so it cannot honour \"" + value +
               "\"; pass --insecure-ignore-tlog (or =true) to verify without the log";
      },
      "", "only true");
  command
      .add_flag("--insecure-ignore-tlog", ignore_tlog,
                "Verify without a transparency log, as signet always does (it cannot verify "
                "one yet); only true is accepted")
      ->check(only_true);
}

CLI::Validator OnlyFalse(const std::string& refusal) {
  return CLI::Validator(
      [refusal](std::string& value) -> std::string {
        bool requested = false;
        // An unconvertible value is reported by CLI11's own conversion.
        if (!CLI::detail::lexical_cast(value, requested) || !requested) return "";
        return refusal;
      },
      "", "only false");
}

int ReportError(const Error& error) {
  std::cerr << "Error: " << error.message() << "\n";
  return ExitCodeFor(error);
}

}  // namespace signet::cli

int main(int argc, char** argv) {
  using namespace signet::cli;
  // A CLI process exits right after its one command: OpenSSL's atexit
  // clean-up only frees memory the kernel reclaims anyway (4% of a verify's
  // instructions, bench/results/cli-startup.md).
  OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr);
  CLI::App app{
      "signet: sign and verify container images with cosign-compatible keys,\n"
      "and answer Gatekeeper's External Data requests."};
  app.set_version_flag("--version", std::string("signet ") + SIGNET_VERSION);
  app.require_subcommand(1);
  Action action;
  RegisterKeyCommands(app, action);
  RegisterBlobCommands(app, action);
  RegisterImageCommands(app, action);
  RegisterServeCommand(app, action);
  RegisterLoginCommand(app, action);
  RegisterVersionCommand(app, action);
  RegisterTreeCommand(app, action);
  KeepTopLevelHelpShort(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  if (!action) return kExitUsage;
  return action();
}

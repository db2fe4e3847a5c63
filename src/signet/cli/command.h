// The command layer's contract. Each group of subcommands registers itself on
// the CLI11 app; when the user picks one, its callback stores the work to run
// in `action`. Commands only parse flags, call the library core and print.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "signet/result.h"

namespace signet::cli {

// Work selected by the parsed command line; returns the process exit code.
using Action = std::function<int()>;

void RegisterKeyCommands(CLI::App& app,
                         Action& action);  // generate-key-pair, import-key-pair, public-key
void RegisterBlobCommands(CLI::App& app, Action& action);  // sign-blob, verify-blob
// sign, verify, triangulate, attest, verify-attestation
void RegisterImageCommands(CLI::App& app, Action& action);
void RegisterServeCommand(CLI::App& app, Action& action);  // serve

// login
void RegisterLoginCommand(CLI::App& app, Action& action);
// version
void RegisterVersionCommand(CLI::App& app, Action& action);
// tree
void RegisterTreeCommand(CLI::App& app, Action& action);

// Exit codes that scripts can rely on. They follow cosign where cosign has one.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitNoSignatures = 10;          // cosign: no signatures found
inline constexpr int kExitImageNotFound = 11;         // cosign: image not found
inline constexpr int kExitNoMatchingSignatures = 12;  // cosign: no matching signatures

// Shortens each subcommand's description to its first sentence, so that
// `signet --help` stays a one-line-per-command index; the full text moves to
// the subcommand's own --help.
void KeepTopLevelHelpShort(CLI::App& app);

// Registers cosign's `--insecure-ignore-tlog` on a verifying command and sets
// `ignore_tlog` to true when it is given. signet cannot verify a transparency
// log, so only the flag alone or a true value (`=true`) is accepted; a false
// value (`=false`, `=0`, ...) asks for a log check signet cannot make and is
// refused as a usage error at parse time, before anything is verified.
void AddInsecureIgnoreTlogFlag(CLI::App& command, bool& ignore_tlog);

// A validator for cosign boolean flags that signet can honour only as false
// (--tlog-upload, --use-signing-config): a true value (the flag alone, =true,
// =1, ...) is refused as a usage error at parse time with `refusal` (CLI11
// names the flag before it).
CLI::Validator OnlyFalse(const std::string& refusal);

// Maps an error to its exit code.
int ExitCodeFor(const Error& error);

// Prints "Error: <message>" to stderr and returns ExitCodeFor(error).
int ReportError(const Error& error);

}  // namespace signet::cli

#include "signet/cli/command.h"

namespace signet::cli {

void RegisterBlobCommands(CLI::App& /*app*/, Action& /*action*/) {}

}  // namespace signet::cli

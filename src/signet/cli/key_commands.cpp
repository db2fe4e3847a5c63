#include "signet/cli/command.h"

namespace signet::cli {

void RegisterKeyCommands(CLI::App& /*app*/, Action& /*action*/) {}

}  // namespace signet::cli

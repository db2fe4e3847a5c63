#include "signet/cli/command.h"

namespace signet::cli {

void RegisterServeCommand(CLI::App& /*app*/, Action& /*action*/) {}

}  // namespace signet::cli

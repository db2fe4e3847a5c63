#include "signet/cli/command.h"

namespace signet::cli {

void RegisterImageCommands(CLI::App& /*app*/, Action& /*action*/) {}

}  // namespace signet::cli

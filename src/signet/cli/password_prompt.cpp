#include "signet/cli/password_prompt.h"

#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>

namespace signet::cli {
namespace {

// Reads one line from the terminal on stdin with echo turned off.
Result<Password> PromptWithoutEcho(const char* prompt) {
  std::cerr << prompt << std::flush;
  termios old_mode{};
  const bool have_mode = tcgetattr(STDIN_FILENO, &old_mode) == 0;
  if (have_mode) {
    termios quiet = old_mode;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  Password password;
  char c = 0;
  ssize_t n = 0;
  while ((n = read(STDIN_FILENO, &c, 1)) == 1 && c != '\n')
    password.Append(std::string_view(&c, 1));
  const int read_errno = errno;
  if (have_mode) tcsetattr(STDIN_FILENO, TCSAFLUSH, &old_mode);
  c = 0;
  if (!password.empty() && password.view().back() == '\r') password.PopBack();
  if (n < 0) {
    return Error(ErrorCode::kIo,
                 std::string("reading password from terminal: ") + std::strerror(read_errno));
  }
  return password;
}

Result<Password> ReadAllStdin() {
  Password bytes;
  char buffer[1024];
  Status status = OkStatus();
  for (;;) {
    const ssize_t n = read(STDIN_FILENO, buffer, sizeof(buffer));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      status = Error(ErrorCode::kIo,
                     std::string("reading password from stdin: ") + std::strerror(errno));
      break;
    }
    bytes.Append(std::string_view(buffer, static_cast<size_t>(n)));
  }
  sodium_memzero(buffer, sizeof(buffer));
  if (!status.ok()) return status.error();
  return bytes;
}

}  // namespace

Result<Password> ReadKeyPassword(PasswordConfirmation confirmation) {
  if (const char* env = std::getenv("COSIGN_PASSWORD"); env != nullptr) {
    return Password(std::string_view(env));
  }
  if (!isatty(STDIN_FILENO)) return ReadAllStdin();
  auto first = PromptWithoutEcho("Enter password for private key: ");
  if (!first.ok() || confirmation == PasswordConfirmation::kOnce) return first;
  auto second = PromptWithoutEcho("Enter password for private key again: ");
  if (!second.ok()) return second;
  if (first->view() != second->view()) {
    return Error(ErrorCode::kInvalidArgument, "passwords do not match");
  }
  return first;
}

}  // namespace signet::cli

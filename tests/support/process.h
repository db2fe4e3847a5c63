// Running and controlling child processes from tests: one-shot commands with
// captured output, and long-lived servers that are killed when their handle
// goes out of scope (even when a test fails).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace signet::testing {

struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal or timed out
  bool timed_out = false;
  std::string out;
  std::string err;
};

// Runs argv (argv[0] is a path or a name looked up in PATH). `env` entries
// "K=V" are added to, or override, the current environment; an entry "K" with
// no '=' removes K. `input` is written to stdin, which is then closed. The
// process is killed after `timeout`.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::vector<std::string>& env = {}, const std::string& input = "",
                         std::chrono::milliseconds timeout = std::chrono::seconds(120));

// A background process whose stdout and stderr go to `log_file`.
class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env,
               const std::string& log_file);
  ~ChildProcess();
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool Running();
  // Sends `signal`, waits up to `grace`, then SIGKILLs. Returns the exit
  // status as from waitpid (or -1 when not running).
  int Stop(int signal = 15, std::chrono::milliseconds grace = std::chrono::seconds(5));

 private:
  pid_t pid_ = -1;
  int status_ = -1;
};

// A TCP port on 127.0.0.1 that was free a moment ago: random, below the
// kernel's ephemeral port range (so no outgoing connection takes it in the
// meantime), never the same one twice in a process.
int FreePort();

// Polls until a TCP connection to 127.0.0.1:port succeeds or `timeout` passes.
bool WaitForPort(int port, std::chrono::milliseconds timeout = std::chrono::seconds(20));

// Reads a whole file ("" when missing) / writes one, creating parent dirs.
std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& contents, int mode = 0644);

}  // namespace signet::testing

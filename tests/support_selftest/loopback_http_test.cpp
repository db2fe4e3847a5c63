// tests/support/loopback_http.py, the base of the Python test servers and the
// bench proxy, through a small server built on it: the port it announces,
// its replies, the body cap, the request log and the clean stop on SIGTERM.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "support/paths.h"
#include "support/process.h"

namespace signet::testing {
namespace {

constexpr char kServer[] = R"(import sys
sys.path.insert(0, sys.argv[1])
from loopback_http import LoopbackServer, QuietHandler, RequestLog, serve_until_stopped

log = RequestLog(sys.argv[2])


class Handler(QuietHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.read_body(cap=8)
        log.write({"path": self.path, "size": len(body)})
        self.reply_json(200, {"size": len(body)})

    def do_GET(self):
        self.reply_registry_error(404, "NAME_UNKNOWN", "no route", {"X-Test": "1"})


server = LoopbackServer(0, Handler)
server.announce("selftest")
serve_until_stopped(server)
)";

// The port the server announced on stdout, or 0 when it has not (yet).
int AnnouncedPort(const std::string& log) {
  const std::string prefix = "selftest listening on 127.0.0.1:";
  const auto at = log.find(prefix);
  if (at == std::string::npos || log.find('\n', at) == std::string::npos) return 0;
  return std::stoi(log.substr(at + prefix.size()));
}

// "<body>\n<status>" of curl with `args` against `url`.
std::string Curl(const std::vector<std::string>& args, const std::string& url) {
  std::vector<std::string> argv = {"curl", "-s", "-w", "\n%{http_code}"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back(url);
  return RunCommand(argv).out;
}

TEST(LoopbackHttpSupport, AnnouncesItsPortAnswersCapsBodiesAndStopsCleanly) {
  TempDir dir;
  WriteFile(dir.File("server.py"), kServer);
  ChildProcess server(
      {"python3", dir.File("server.py"), SourceDir() + "/tests/support", dir.File("requests.log")},
      {"PYTHONUNBUFFERED=1"}, dir.File("server.log"));
  int port = 0;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while ((port = AnnouncedPort(ReadFile(dir.File("server.log")))) == 0 &&
         std::chrono::steady_clock::now() < give_up && server.Running()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GT(port, 0) << ReadFile(dir.File("server.log"));
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/v2/x";

  EXPECT_EQ(Curl({}, url),
            "{\"errors\":[{\"code\":\"NAME_UNKNOWN\",\"message\":\"no route\"}]}\n404");
  const std::string headers = Curl({"-D", "-", "-o", "/dev/null"}, url);
  EXPECT_NE(headers.find("X-Test: 1"), std::string::npos) << headers;
  EXPECT_NE(headers.find("Content-Type: application/json"), std::string::npos) << headers;
  // A body within the cap is read whole; a longer one only up to the cap.
  EXPECT_EQ(Curl({"--data-binary", "12345"}, url), "{\"size\":5}\n200");
  EXPECT_EQ(Curl({"--data-binary", "0123456789abcdefghij"}, url), "{\"size\":8}\n200");
  EXPECT_EQ(ReadFile(dir.File("requests.log")),
            "{\"path\": \"/v2/x\", \"size\": 5}\n{\"path\": \"/v2/x\", \"size\": 8}\n");

  // SIGTERM: exit status 0, and the port is closed.
  const int status = server.Stop(SIGTERM, std::chrono::seconds(10));
  ASSERT_TRUE(WIFEXITED(status)) << status << "\n" << ReadFile(dir.File("server.log"));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_FALSE(WaitForPort(port, std::chrono::milliseconds(200)));
}

}  // namespace
}  // namespace signet::testing

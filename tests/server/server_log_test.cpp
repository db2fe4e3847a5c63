// The server's own log lines go through signet::log: each one is a single
// JSON object with "event", "time" and "level", like the provider's.
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "server/server_test_support.h"
#include "signet/log/json_log.h"
#include "signet/server/router.h"
#include "signet/server/tls_context_source.h"
#include "support/paths.h"
#include "support/pki.h"

namespace signet::server {
namespace {

// The JSON format installed on a logger whose lines the test reads.
class ServerLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    previous_ = spdlog::default_logger();
    sink_ = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("server-log-test", sink_));
    spdlog::set_level(spdlog::level::info);
    log::InstallJsonLogFormat();
  }
  void TearDown() override { spdlog::set_default_logger(previous_); }

  // Every line written so far, each of which must be one JSON object.
  std::vector<nlohmann::json> Lines() {
    std::vector<nlohmann::json> lines;
    for (std::string line : sink_->last_formatted()) {
      while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
      EXPECT_EQ(line.find('\n'), std::string::npos) << line;
      auto parsed = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      EXPECT_TRUE(parsed.is_object()) << line;
      lines.push_back(parsed.is_object() ? parsed : nlohmann::json::object());
    }
    return lines;
  }

  // The lines whose "event" is `event`.
  std::vector<nlohmann::json> Events(const std::string& event) {
    std::vector<nlohmann::json> found;
    for (const auto& line : Lines()) {
      if (line.value("event", "") == event) found.push_back(line);
    }
    return found;
  }

  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

// Every line carries an event name, a time and a level.
void ExpectEventLine(const nlohmann::json& line) {
  EXPECT_TRUE(line.contains("event") && line["event"].is_string()) << line.dump();
  EXPECT_TRUE(line.contains("time") && line["time"].is_string()) << line.dump();
  EXPECT_TRUE(line.contains("level") && line["level"].is_string()) << line.dump();
  EXPECT_FALSE(line.contains("msg")) << line.dump();
}

TEST_F(ServerLogTest, ListenerLinesAreJsonEvents) {
  Router router;
  router.Handle("GET", "/ping", [](const HttpRequest&) {
    HttpResponse response;
    response.body = "pong";
    return response;
  });
  ServerOptions options;
  options.insecure_http = true;
  auto server = testing::StartServer(options, std::move(router), nullptr);
  ASSERT_NE(server, nullptr);
  testing::HttpClient client;
  const auto answer =
      client.Request("GET", "http://127.0.0.1:" + std::to_string(server->port()) + "/ping");
  ASSERT_TRUE(answer.transport_ok) << answer.error;
  // The request's line follows its answer.
  EXPECT_TRUE(testing::Eventually([&] { return !Events("http_request").empty(); }));
  server->Shutdown(std::chrono::milliseconds(0));
  server->Wait();

  const auto lines = Lines();
  ASSERT_GE(lines.size(), 4u);
  for (const auto& line : lines) ExpectEventLine(line);
  const auto started = Events("listener_started");
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0]["level"], "info");
  EXPECT_EQ(started[0]["address"], "127.0.0.1");
  EXPECT_EQ(started[0]["port"], server->port());
  EXPECT_EQ(started[0]["tls"], false);
  EXPECT_EQ(started[0]["mtls"], false);
  const auto requests = Events("http_request");
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0]["method"], "GET");
  EXPECT_EQ(requests[0]["path"], "/ping");
  EXPECT_EQ(requests[0]["status"], 200);
  EXPECT_TRUE(requests[0]["duration_ms"].is_number());
  EXPECT_EQ(requests[0]["level"], "info");
  EXPECT_NE(requests[0].value("peer", ""), "");
  EXPECT_NE(requests[0].value("request_id", ""), "");
  EXPECT_EQ(Events("server_draining").size(), 1u);
  EXPECT_EQ(Events("server_stopped").size(), 1u);

  // Control: a line that does not go through LogEvent is still JSON, but
  // has no "event", which the checks above would catch.
  spdlog::info("not an event");
  const auto after = Lines();
  ASSERT_EQ(after.size(), lines.size() + 1);
  EXPECT_FALSE(after.back().contains("event"));
  EXPECT_EQ(after.back()["msg"], "not an event");
}

// Writes `text` over `path`, giving it a new size and time stamp.
void Overwrite(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

TEST_F(ServerLogTest, TlsReloadFailureAndReloadAreOneJsonObjectEach) {
  testing::TempDir dir;
  testing::TestPki pki(dir.path());
  const auto ca = pki.CreateCa("ca", "log test CA");
  const auto leaf = pki.IssueLoopbackServer(ca, "server");
  TlsSettings settings;
  settings.cert_file = leaf.cert_file;
  settings.key_file = leaf.key_file;
  auto source = TlsContextSource::Create(settings);
  ASSERT_TRUE(source.ok()) << source.error().message();
  ASSERT_EQ(Lines().size(), 0u);

  // A broken certificate: one error line, and the previous context stays.
  Overwrite(leaf.cert_file, "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // files are checked each second
  EXPECT_NE((*source)->Current(), nullptr);
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  ExpectEventLine(lines[0]);
  EXPECT_EQ(lines[0]["event"], "tls_reload_failed");
  EXPECT_EQ(lines[0]["level"], "error");
  EXPECT_FALSE(lines[0].value("error", "").empty()) << lines[0].dump();

  // Positive control: a good certificate again is reloaded and logged.
  const auto renewed = pki.IssueLoopbackServer(ca, "server");
  ASSERT_EQ(renewed.cert_file, leaf.cert_file);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_NE((*source)->Current(), nullptr);
  lines = Lines();
  ASSERT_EQ(lines.size(), 2u);
  ExpectEventLine(lines[1]);
  EXPECT_EQ(lines[1]["event"], "tls_credentials_reloaded");
  EXPECT_EQ(lines[1]["level"], "info");
  EXPECT_EQ(lines[1]["cert_file"], leaf.cert_file);
  EXPECT_EQ(lines[1]["key_file"], leaf.key_file);
  EXPECT_EQ(lines[1]["client_ca_file"], "none");
}

}  // namespace
}  // namespace signet::server

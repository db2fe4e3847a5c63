// signet serve's JSON log lines: LogEvent writes an event in one
// serialisation, and the line is the one the formatter makes of the same
// event logged as text.
#include "signet/log/json_log.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <functional>
#include <regex>
#include <sstream>

namespace signet::log {
namespace {

class JsonLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    previous_ = spdlog::default_logger();
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("json-log-test", sink));
    spdlog::set_level(spdlog::level::info);
    InstallJsonLogFormat();
  }
  void TearDown() override { spdlog::set_default_logger(previous_); }

  // The lines written so far, with each "time" value replaced by T (after
  // checking its shape).
  std::vector<std::string> Lines() {
    std::vector<std::string> lines;
    std::istringstream in(out_.str());
    static const std::regex kTime(
        R"re("time":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")re");
    for (std::string line; std::getline(in, line);) {
      EXPECT_TRUE(std::regex_search(line, kTime)) << line;
      lines.push_back(std::regex_replace(line, kTime, R"("time":T)"));
    }
    out_.str("");
    return lines;
  }

  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

nlohmann::json Event() {
  nlohmann::json images = nlohmann::json::array();
  images.push_back({{"key", "reg/a@sha256:1"}, {"decision", "valid"}, {"cached", true}});
  images.push_back({{"key", "bad \xc3\x28 \"key\"\n"}, {"decision", "invalid"}});
  return {{"event", "provider_request"}, {"duration_ms", 1.25}, {"images", images},
          {"api_version", "v1"},         {"zeta", nullptr},     {"count", 3}};
}

TEST_F(JsonLogTest, EventLineIsTheLineOfTheSameEventLoggedAsText) {
  LogEvent(spdlog::level::warn, Event());
  spdlog::warn("{}", Event().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  const auto lines = Lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], lines[1]);
  EXPECT_EQ(lines[0].rfind(R"({"api_version":"v1","count":3,"duration_ms":1.25,)", 0), 0u)
      << lines[0];
  EXPECT_NE(lines[0].find(R"("level":"warning","time":T,"zeta":null})"), std::string::npos)
      << lines[0];
}

TEST_F(JsonLogTest, FieldsOfTheEventWinOverTimeAndLevel) {
  // Its "time" is not a time stamp: compared here, not through Lines().
  LogEvent(spdlog::level::info, {{"event", "e"}, {"level", "own"}, {"time", "then"}});
  EXPECT_EQ(out_.str(), "{\"event\":\"e\",\"level\":\"own\",\"time\":\"then\"}\n");
}

TEST_F(JsonLogTest, OtherMessagesBecomeTheMsgField) {
  spdlog::info("listening on {}", "127.0.0.1:1");
  spdlog::info("{}", "{not json");
  LogEvent(spdlog::level::info, "a string event");
  const auto lines = Lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], R"({"level":"info","msg":"listening on 127.0.0.1:1","time":T})");
  EXPECT_EQ(lines[1], R"({"level":"info","msg":"{not json","time":T})");
  EXPECT_EQ(lines[2], R"({"level":"info","msg":"\"a string event\"","time":T})");
}

TEST_F(JsonLogTest, BelowTheLevelNothingIsWritten) {
  LogEvent(spdlog::level::debug, Event());
  EXPECT_EQ(out_.str(), "");
  LogEvent(spdlog::level::info, {{"event", "e"}});  // positive control
  EXPECT_EQ(Lines().size(), 1u);
}

// LogEventFields writes the line LogEvent writes for the same event, with
// "level" and "time" in their place among fields before, between and after
// them.
TEST_F(JsonLogTest, FieldsWrittenByTheCallerMakeTheLineOfTheSameEvent) {
  const nlohmann::json event = Event();
  std::vector<std::string> texts;
  for (auto it = event.begin(); it != event.end(); ++it) {
    texts.push_back(it.value().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  // Event() sorted: api_version, count, duration_ms, event, images, zeta.
  LogEvent(spdlog::level::warn, event);
  LogEventFields(spdlog::level::warn, {{"api_version", texts[0]},
                                       {"count", texts[1]},
                                       {"duration_ms", texts[2]},
                                       {"event", texts[3]},
                                       {"images", texts[4]},
                                       {"zeta", texts[5]}});
  // A field between "level" and "time", and none after "time".
  LogEvent(spdlog::level::info, {{"a", 1}, {"outcome", "allowed"}});
  LogEventFields(spdlog::level::info, {{"a", "1"}, {"outcome", R"("allowed")"}});
  // Only fields after both.
  LogEvent(spdlog::level::err, {{"zz", true}});
  LogEventFields(spdlog::level::err, {{"zz", "true"}});
  // No fields at all.
  LogEvent(spdlog::level::info, nlohmann::json::object());
  LogEventFields(spdlog::level::info, {});
  const auto lines = Lines();
  ASSERT_EQ(lines.size(), 8u);
  for (std::size_t i = 0; i < lines.size(); i += 2) EXPECT_EQ(lines[i + 1], lines[i]) << i;
  EXPECT_EQ(lines[2], R"({"a":1,"level":"info","outcome":"allowed","time":T})");
  EXPECT_EQ(lines[6], R"({"level":"info","time":T})");
}

TEST_F(JsonLogTest, FieldsBelowTheLevelAreNotWritten) {
  spdlog::set_level(spdlog::level::warn);
  EXPECT_FALSE(Enabled(spdlog::level::info));
  LogEventFields(spdlog::level::info, {{"event", R"("dropped")"}});
  EXPECT_EQ(out_.str(), "");
  // Control: a warn line at the same setting is written.
  EXPECT_TRUE(Enabled(spdlog::level::warn));
  LogEventFields(spdlog::level::warn, {{"event", R"("kept")"}});
  const auto lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], R"({"event":"kept","level":"warning","time":T})");
}

// Without the JSON format installed, LogEvent logs the event alone (the
// sink's pattern adds time and level); LogEventFields does the same.
// What `log` writes to a plain logger whose sink has `pattern` (no JSON
// format of its own); the default logger is restored afterwards.
std::string LoggedWithPattern(const std::string& pattern, const std::function<void()>& log) {
  std::ostringstream out;
  const auto previous = spdlog::default_logger();
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  sink->set_pattern(pattern);
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("plain", sink));
  spdlog::set_level(spdlog::level::info);
  log();
  spdlog::set_default_logger(previous);
  return out.str();
}

TEST(JsonLogWithoutFormatTest, FieldsMakeTheSameMessageAsTheEvent) {
  // InstallJsonLogFormat cannot be undone: this needs a process of its own
  // (ctest runs every test alone), not one where another test installed it.
  if (LoggedWithPattern("%v", [] { LogEvent(spdlog::level::info, {{"p", 1}}); }) !=
      "{\"p\":1}\n") {
    GTEST_SKIP() << "the JSON format is installed in this process";
  }
  EXPECT_EQ(LoggedWithPattern("%l %v",
                              [] {
                                LogEvent(spdlog::level::info, {{"a", 1}, {"outcome", "allowed"}});
                                LogEventFields(spdlog::level::info,
                                               {{"a", "1"}, {"outcome", R"("allowed")"}});
                              }),
            "info {\"a\":1,\"outcome\":\"allowed\"}\n"
            "info {\"a\":1,\"outcome\":\"allowed\"}\n");
}

}  // namespace
}  // namespace signet::log

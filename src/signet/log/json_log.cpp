#include "signet/log/json_log.h"

#include <spdlog/pattern_formatter.h>

#include <atomic>
#include <ctime>

#include "signet/bounded_json.h"
#include "signet/json_writer.h"

namespace signet::log {

namespace {

// Set by InstallJsonLogFormat: LogEvent may then write whole lines itself.
std::atomic<bool> json_format_installed{false};
// The source "file" of a message LogEvent made into a whole line already,
// which the formatter copies as it is. Compared by address: no other message
// carries it, and copies of the message (a backtrace, an asynchronous sink)
// keep it.
constexpr char kWholeLine[] = "signet::log::LogEvent whole line";

std::string TimeStamp(spdlog::log_clock::time_point time) {
  const auto since_epoch = time.time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
  const std::time_t t = static_cast<std::time_t>(seconds.count());
  std::tm utc{};
  gmtime_r(&t, &utc);
  char stamp[40];
  const std::size_t n = std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &utc);
  char with_millis[64];
  std::snprintf(with_millis, sizeof(with_millis), "%.*s.%03dZ", static_cast<int>(n), stamp,
                static_cast<int>(millis));
  return with_millis;
}

std::string LevelName(spdlog::level::level_enum level) {
  const auto name = spdlog::level::to_string_view(level);
  return std::string(name.data(), name.size());
}

std::string Dump(const nlohmann::json& value) { return DumpJson(value); }

// Formats the whole line; used as the only flag of the pattern.
class JsonLineFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string_view text(msg.payload.data(), msg.payload.size());
    if (msg.source.filename == kWholeLine) {
      dest.append(text.data(), text.data() + text.size());
      return;
    }
    nlohmann::json line = nlohmann::json::object();
    line["time"] = TimeStamp(msg.time);
    line["level"] = LevelName(msg.level);
    nlohmann::json parsed;
    if (!text.empty() && text.front() == '{') {
      if (auto bounded = ParseBoundedJson(text, "log line"); bounded.ok()) {
        parsed = std::move(*bounded);
      }
    }
    if (parsed.is_object()) {
      for (auto& [key, value] : parsed.items()) line[key] = value;
    } else {
      line["msg"] = std::string(text);
    }
    const std::string out = Dump(line);
    dest.append(out.data(), out.data() + out.size());
  }

  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonLineFlag>();
  }
};

// Hands a line LogEvent or LogEventFields made whole to the logger, which
// the formatter copies as it is.
void WriteWholeLine(spdlog::log_clock::time_point now, spdlog::level::level_enum level,
                    const std::string& line) {
  spdlog::default_logger_raw()->log(now, spdlog::source_loc{kWholeLine, 0, ""}, level,
                                    spdlog::string_view_t(line.data(), line.size()));
}

}  // namespace

void InstallJsonLogFormat() {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<JsonLineFlag>('J').set_pattern("%J");
  spdlog::set_formatter(std::move(formatter));
  json_format_installed.store(true);
}

void LogEvent(spdlog::level::level_enum level, nlohmann::json event) {
  if (!spdlog::should_log(level)) return;
  if (!json_format_installed.load(std::memory_order_relaxed) || !event.is_object()) {
    spdlog::log(level, "{}", Dump(event));
    return;
  }
  // The line the formatter would make of this event (its fields, and "time"
  // and "level" unless the event has its own), serialised once instead of
  // being serialised, parsed again and merged.
  const auto now = spdlog::log_clock::now();
  if (!event.contains("time")) event["time"] = TimeStamp(now);
  if (!event.contains("level")) event["level"] = LevelName(level);
  WriteWholeLine(now, level, Dump(event));
}

bool Enabled(spdlog::level::level_enum level) { return spdlog::should_log(level); }

void LogEventFields(spdlog::level::level_enum level, std::initializer_list<RawField> fields) {
  if (!spdlog::should_log(level)) return;
  // Without the JSON format, LogEvent logs the event alone (the sink's own
  // pattern adds the time and level): the same here.
  const bool whole_line = json_format_installed.load(std::memory_order_relaxed);
  const auto now = spdlog::log_clock::now();
  std::string level_json, time_json;
  if (whole_line) {
    AppendJsonString(level_json, LevelName(level));
    AppendJsonString(time_json, TimeStamp(now));
  }
  std::size_t size = 2 + level_json.size() + time_json.size() + 20;
  for (const RawField& field : fields) size += field.name.size() + field.json.size() + 4;
  std::string line;
  line.reserve(size);
  line.push_back('{');
  auto member = [&line](std::string_view name, std::string_view json) {
    if (line.size() > 1) line.push_back(',');
    AppendJsonString(line, name);
    line.push_back(':');
    line.append(json);
  };
  bool level_written = !whole_line;
  bool time_written = !whole_line;
  for (const RawField& field : fields) {
    if (!level_written && field.name > "level") {
      member("level", level_json);
      level_written = true;
    }
    if (!time_written && field.name > "time") {
      member("time", time_json);
      time_written = true;
    }
    member(field.name, field.json);
  }
  if (!level_written) member("level", level_json);
  if (!time_written) member("time", time_json);
  line.push_back('}');
  if (!whole_line) {
    spdlog::log(level, "{}", line);
    return;
  }
  WriteWholeLine(now, level, line);
}

}  // namespace signet::log

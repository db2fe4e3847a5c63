#include "signet/provider/json_log.h"

#include <spdlog/pattern_formatter.h>

#include <ctime>

#include "signet/bounded_json.h"

namespace signet::provider {

namespace {

// Formats the whole line; used as the only flag of the pattern.
class JsonLineFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const auto since_epoch = msg.time.time_since_epoch();
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

    const std::string_view text(msg.payload.data(), msg.payload.size());
    nlohmann::json line = nlohmann::json::object();
    line["time"] = with_millis;
    line["level"] = std::string(spdlog::level::to_string_view(msg.level).data(),
                                spdlog::level::to_string_view(msg.level).size());
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
    const std::string out = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(out.data(), out.data() + out.size());
  }

  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonLineFlag>();
  }
};

}  // namespace

void InstallJsonLogFormat() {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<JsonLineFlag>('J').set_pattern("%J");
  spdlog::set_formatter(std::move(formatter));
}

void LogEvent(spdlog::level::level_enum level, const nlohmann::json& event) {
  if (!spdlog::should_log(level)) return;
  spdlog::log(level, "{}", event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace signet::provider

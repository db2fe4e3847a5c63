// Structured logging: one JSON object per line on spdlog, the one logger of
// `signet serve`. It sits below server/ and provider/, which both write their
// lines through LogEvent; nothing else in src/ calls spdlog to log.
//
// InstallJsonLogFormat() makes every spdlog line a JSON object with "time"
// (UTC, RFC 3339) and "level". A message that is itself a JSON object (as
// LogEvent writes) has its fields merged in; any other message (from code
// outside signet) becomes the "msg" field, escaped. LogEvent logs an event
// built by the caller: an object whose "event" field names the line, with no
// secrets in it. Once the format is installed, LogEvent writes that line in
// one serialisation (the event is not serialised, parsed and merged again);
// the line is the same.
//
// Thread-safety: LogEvent may be called concurrently; InstallJsonLogFormat
// once at startup.
#pragma once

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <initializer_list>
#include <string_view>

namespace signet::log {

void InstallJsonLogFormat();

void LogEvent(spdlog::level::level_enum level, nlohmann::json event);

// One field of an event whose value the caller has serialised already: `json`
// is the value's JSON text (a quoted string, a number, an array, ...).
struct RawField {
  std::string_view name;
  std::string_view json;
};

// Whether a line at `level` would be written: callers that build a costly
// event check this first.
bool Enabled(spdlog::level::level_enum level);

// The same line LogEvent writes for the event these fields make, for callers
// that write the values themselves instead of building a nlohmann::json tree
// (the per-request lines). `fields` must be in ascending name order (the
// order nlohmann::json keeps), unique, with valid JSON values, and none named
// "time" or "level": those two are added in their place in that order.
void LogEventFields(spdlog::level::level_enum level, std::initializer_list<RawField> fields);

}  // namespace signet::log

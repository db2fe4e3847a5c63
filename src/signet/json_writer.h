// Compact JSON text, the same bytes as nlohmann::json::dump(-1, ' ', false,
// error_handler_t::replace) gives, written faster.
//
// AppendJsonString appends `text` as a quoted JSON string. Printable ASCII
// other than '"' and '\\' (what image references, digests and most messages
// hold) is copied as it is; any other string is escaped by nlohmann's own
// serialiser, so control characters, non-ASCII text and invalid UTF-8 come
// out exactly as dump() writes them. AppendJson appends a whole value the
// same way (object members in the order the value holds them, which for
// nlohmann::json is sorted by key); non-integer numbers and binary values
// are written by dump() itself.
//
// Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace signet {

void AppendJsonString(std::string& out, std::string_view text);

void AppendJson(std::string& out, const nlohmann::json& value);

// AppendJson into a new string: equal to value.dump(-1, ' ', false, replace).
std::string DumpJson(const nlohmann::json& value);

}  // namespace signet

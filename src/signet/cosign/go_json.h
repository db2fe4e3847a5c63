// Go encoding/json output, byte for byte, for the documents cosign writes:
// strings escaped as json.Marshal does (HTML-safe <, >, & as \u003c..., U+2028
// and U+2029 escaped, other control characters as \u00xx or their short
// forms, invalid UTF-8 replaced by \ufffd), object keys sorted bytewise (as Go
// does for maps), numbers formatted as Go formats float64.
//
// Pure functions; thread-safe.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace signet::cosign {

// `text` as a Go JSON string literal, quotes included.
std::string GoJsonQuote(std::string_view text);

// A Go map[string]string as json.Marshal prints it (keys sorted bytewise).
std::string GoMarshalStringMap(const std::map<std::string, std::string>& map);

// `value` as json.Marshal prints it after unmarshalling into interface{}.
std::string GoMarshal(const nlohmann::json& value);

}  // namespace signet::cosign

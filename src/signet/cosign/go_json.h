// Go encoding/json output, byte for byte, for the documents cosign writes:
// strings escaped as json.Marshal does (HTML-safe <, >, & as \u003c..., U+2028
// and U+2029 escaped, other control characters as \u00xx or their short
// forms, invalid UTF-8 replaced by \ufffd), object keys sorted bytewise (as Go
// does for maps), numbers formatted as Go formats float64.
//
// ProtoJsonQuote / ProtoJsonMarshalValue print the same documents as Go's
// protojson does for google.protobuf.Value (Statement predicates and
// annotations, compact form without protojson's randomised spaces): keys
// sorted, numbers as float64, but strings quoted the protojson way (only '"',
// '\\', and control characters escaped; <, >, &, U+2028/9 kept) and
// invalid UTF-8 refused instead of replaced.
//
// Pure functions; thread-safe.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "signet/bounded_json.h"
#include "signet/result.h"

namespace signet::cosign {

// `text` as a Go JSON string literal, quotes included.
std::string GoJsonQuote(std::string_view text);

// A Go map[string]string as json.Marshal prints it (keys sorted bytewise).
std::string GoMarshalStringMap(const std::map<std::string, std::string>& map);

// Containers nested deeper than this are refused by GoMarshal (documents from
// outside are already bounded by ParseBoundedJson, at the same depth).
inline constexpr std::size_t kMaxGoMarshalDepth = kMaxJsonDepth;

// `value` as json.Marshal prints it after unmarshalling into interface{};
// kParse "exceeds max nesting depth N" when containers nest deeper than
// kMaxGoMarshalDepth.
Result<std::string> GoMarshal(const nlohmann::json& value);

// `text` as protojson quotes a string; kParse when it is not valid UTF-8.
Result<std::string> ProtoJsonQuote(std::string_view text);

// `value` as protojson prints it as a google.protobuf.Value; kParse on depth
// (as GoMarshal) or on a string that is not valid UTF-8.
Result<std::string> ProtoJsonMarshalValue(const nlohmann::json& value);

}  // namespace signet::cosign

// Parsing of HTTP WWW-Authenticate headers (RFC 7235 §4.1) as registries send
// them: one or more challenges, each a scheme followed by either auth-params
// (name=token or name="quoted string" with backslash escapes, commas allowed
// inside quotes) or a token68. Pure parsing, no I/O; results are plain values.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "signet/result.h"

namespace signet::oci {

struct AuthChallenge {
  std::string scheme;                         // lowercased: "basic", "bearer", ...
  std::map<std::string, std::string> params;  // names lowercased, values unescaped
  std::string token68;                        // "" unless the challenge carries one

  // The value of `name` (lowercase) or "" when absent.
  std::string Param(const std::string& name) const;
};

// Parses a header value (several header lines may be joined with ", ").
// kParse with the offending position on malformed input.
Result<std::vector<AuthChallenge>> ParseWwwAuthenticate(std::string_view header);

}  // namespace signet::oci

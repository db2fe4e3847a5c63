// Bounded JSON parsing for every document signet reads from outside: registry
// responses (manifests, indexes, signature manifests, token responses, error
// bodies, tag lists), signature payloads, ProviderRequest bodies, encrypted
// key envelopes and docker config files.
//
// ParseBoundedJson scans the text once, without recursion and without
// allocating, and refuses it before any DOM is built when its nesting is
// deeper than JsonLimits::max_depth or it holds more than
// JsonLimits::max_tokens tokens (strings, numbers, literals and containers).
// Only then does nlohmann's parser (itself iterative) build the DOM, so a
// megabyte of "[" costs a linear scan, not a megabyte of nested arrays, and
// code that walks the DOM recursively (dump(), GoMarshal) stays within
// max_depth frames.
//
// With DuplicateKeys::kRejectGoFolded, an object that holds two keys which
// Go's encoding/json would treat as the same struct field (see GoFoldKey) is
// refused, at any level, in document order (nlohmann's DOM sorts keys and
// keeps one of the duplicates, so they are detected while parsing).
//
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "signet/result.h"

namespace signet {

inline constexpr std::size_t kMaxJsonDepth = 64;
inline constexpr std::size_t kMaxJsonTokens = 1 << 20;

struct JsonLimits {
  std::size_t max_depth = kMaxJsonDepth;    // containers nested inside each other
  std::size_t max_tokens = kMaxJsonTokens;  // values and keys, containers included
};

enum class DuplicateKeys {
  kAllow,           // JSON's own rule: the DOM keeps one value per exact key
  kRejectGoFolded,  // refuse keys equal under GoFoldKey within one object
};

struct JsonParseOptions {
  JsonLimits limits;
  DuplicateKeys duplicate_keys = DuplicateKeys::kAllow;
};

// Parses `text`. Errors, their messages prefixed with `what`:
//   kTooLarge "<what>: exceeds max nesting depth N"
//   kTooLarge "<what>: has more than N JSON tokens"
//   kParse    "<what>: duplicate key \"B\" (same field as \"A\")"
//   kParse    "<what>: invalid JSON: <parser message>"
Result<nlohmann::json> ParseBoundedJson(std::string_view text, std::string_view what,
                                        const JsonParseOptions& options = {});

// The structural check alone (depth and token count), as ParseBoundedJson
// runs it before parsing.
Status CheckJsonBounds(std::string_view text, std::string_view what, const JsonLimits& limits);

// A key folded the way Go's encoding/json matches struct fields: ASCII letters
// case-insensitively, U+017F (long s) as 's' and U+212A (Kelvin sign) as 'k',
// the only non-ASCII runes that fold onto ASCII. Other bytes are kept as they
// are, so distinct non-ASCII keys stay distinct (cosign's field names are
// ASCII).
std::string GoFoldKey(std::string_view key);

}  // namespace signet

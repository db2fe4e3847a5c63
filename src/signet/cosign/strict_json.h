// Reading protojson documents (Sigstore bundles, DSSE envelopes, in-toto
// Statements) from outside as Go's protojson.Unmarshal does in its strict
// mode, which is how cosign and sigstore-go read them: every field must be
// known, each has one JSON type, and nothing is coerced. Used only inside
// src/signet/cosign; the documents are already bounded by ParseBoundedJson.
//
// Field names are the protojson (lowerCamel) names; protojson's alternative
// proto (snake_case) names and `null` for an unset field are refused, so
// signet reads a subset of what cosign reads and never more.
//
// Pure functions; thread-safe.
#pragma once

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "signet/result.h"

namespace signet::cosign::strict_json {

// kParse "<what>: not a JSON object" unless `value` is an object, and
// kParse "<what>: unknown field \"k\"" for a key not in `known`.
Status RequireObject(const nlohmann::json& value, std::string_view what,
                     std::initializer_list<std::string_view> known);

// The string at object[key]; kParse when it is absent ("missing field") or
// not a string.
Result<std::string> RequiredString(const nlohmann::json& object, std::string_view key,
                                   std::string_view what);

// As RequiredString, but an absent key yields "" (protojson's default).
Result<std::string> OptionalString(const nlohmann::json& object, std::string_view key,
                                   std::string_view what);

// The strict standard base64 bytes at object[key] (protojson "bytes").
Result<std::string> RequiredBytes(const nlohmann::json& object, std::string_view key,
                                  std::string_view what);

}  // namespace signet::cosign::strict_json

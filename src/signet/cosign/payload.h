// The cosign "simple signing" payload: the JSON document that cosign signs
// for a container image and stores as the signature layer blob.
//
// MarshalPayload produces cosign's exact bytes (Go encoding/json of
// sigstore's SimpleContainerImage: fixed key order, no whitespace, Go's HTML
// and U+2028/U+2029 escaping, invalid UTF-8 replaced by U+FFFD, optional
// keys sorted bytewise, "optional":null when there are no annotations).
// ParsePayload reads a payload the way cosign's claim verifier does: top-level
// and nested keys matched as Go's encoding/json folds them (GoFoldKey),
// unknown fields ignored. Where Go and a sorted-key DOM could read a payload
// differently, it is refused: two keys in one object that fold alike (at any
// level), and a critical.type other than kSimpleSigningType (which cosign
// always writes and containers/image requires).
//
// Pure functions over values; thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "signet/result.h"

namespace signet::cosign {

inline constexpr std::string_view kSimpleSigningType = "cosign container image signature";

// A parsed or to-be-built simple signing payload.
struct SimpleSigningPayload {
  std::string docker_reference;                        // critical.identity.docker-reference
  std::string docker_manifest_digest;                  // critical.image.docker-manifest-digest
  std::string type = std::string(kSimpleSigningType);  // critical.type
  // optional: nullopt when absent or null, else its entries whose values are
  // JSON strings (the only values an annotation requirement can match).
  std::optional<std::map<std::string, std::string>> optional;
  // The whole optional value re-marshalled the Go way (nested objects and
  // numbers included), as ParsePayload saw it; empty for payloads built
  // locally, in which case MarshalPayload derives it from `optional`.
  std::string optional_json;
};

// The payload cosign signs for `docker_reference` (registry/repository, no
// tag) at `digest` with the given annotations (empty => "optional":null).
std::string MarshalPayload(std::string_view docker_reference, std::string_view digest,
                           const std::map<std::string, std::string>& annotations);

// Re-marshals a parsed payload in cosign's normalised form (what
// `cosign verify` prints).
std::string MarshalPayload(const SimpleSigningPayload& payload);

// Parses payload bytes. kParse when they are not a JSON object, when the
// fields present have the wrong JSON types, when an object holds two keys
// that fold alike ("payload: duplicate key ..."), when critical.type is not
// kSimpleSigningType, or when nesting exceeds kMaxJsonDepth.
Result<SimpleSigningPayload> ParsePayload(std::string_view bytes);

}  // namespace signet::cosign
